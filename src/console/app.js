// SPDX-License-Identifier: ISC
// The eca console: dashboard, hosts, host page.  Every figure and every
// decision comes from the primary's /v1 API (docs/api.md), called with the
// session cookie and, for a change, the session's CSRF token.  Text from
// the registry is set as text (textContent), never parsed as HTML.
'use strict';

const PAGE = 50;             // hosts per page
let csrf = '';

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(method, path, body) {
  const headers = {};
  if (method !== 'GET') {
    headers['X-CSRF-Token'] = csrf;
    headers['Content-Type'] = 'application/json';
  }
  const res = await fetch(path, {
    method: method,
    credentials: 'same-origin',
    headers: headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try {
    data = await res.json();
  } catch (e) {
    data = null;
  }
  if (res.status === 401) {
    window.location.replace('/login');
    throw new ApiError(401, 'UNAUTHENTICATED', 'signed out');
  }
  if (!res.ok) {
    const err = data && data.error ? data.error : {};
    throw new ApiError(res.status, err.code || 'HTTP',
        err.message || 'HTTP ' + res.status);
  }
  return data;
}

// el('tag', {attr: value}, child, ...): children are nodes or text.
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function status(text, kind) {
  const s = document.getElementById('status');
  s.textContent = text || '';
  s.className = text ? kind || 'note' : '';
}

function render(title, ...nodes) {
  const main = document.getElementById('main');
  main.replaceChildren(el('h1', {}, title), ...nodes);
  document.title = title + ' - eca console';
  // When each page had its content (bench/console reads these marks).
  performance.mark('eca-render');
}

function renderError(title, e) {
  render(title, el('p', {class: 'error', role: 'alert'},
      e.code && e.code !== 'HTTP' ? e.code + ': ' : '', e.message));
}

function when(t) {
  if (!t) return '—';
  return t.replace('T', ' ').replace('Z', ' UTC');
}

function shortFp(fp) {
  return fp ? fp.slice(0, 16) + '…' : '—';
}

function fpGroups(fp) {
  return fp ? fp.match(/.{1,2}/g).join(':') : '—';
}

function tableOf(caption, headers, rows) {
  return el('div', {class: 'scroll'},
      el('table', {},
          el('caption', {}, caption),
          el('thead', {}, el('tr', {},
              headers.map((h) => el('th', {scope: 'col'}, h)))),
          el('tbody', {}, rows)));
}

// ---- dashboard -------------------------------------------------------

function card(label, value, key, href) {
  const v = el('span', {class: 'value', 'data-count': key}, value);
  return el('li', {class: 'card'},
      href ? el('a', {href: href}, v, el('span', {class: 'label'}, label)) :
             [v, el('span', {class: 'label'}, label)]);
}

async function dashboard() {
  render('Dashboard', el('p', {}, 'Counting…'));
  // The three at once: one round trip, not three.
  const [rc, rs, rh] = await Promise.allSettled([
    api('GET', '/v1/summary'), api('GET', '/v1/stats'),
    api('GET', '/v1/health')]);
  if (rc.status === 'rejected' || rs.status === 'rejected') {
    renderError('Dashboard',
        rc.status === 'rejected' ? rc.reason : rs.reason);
    return;
  }
  const c = rc.value;
  const stats = rs.value;
  let health = null; // critical (503): shown by the health page of the API
  if (rh.status === 'fulfilled') {
    health = rh.value;
  } else if (rh.reason.status !== 503) {
    renderError('Dashboard', rh.reason);
    return;
  }
  const s = c.states;
  const cards = el('ul', {class: 'cards', 'aria-label': 'Hosts by state'},
      card('Hosts', c.total, 'TOTAL', '#/hosts'),
      card('Enrolled', s.ENROLLED, 'ENROLLED', '#/hosts?state=ENROLLED'),
      card('Conflicts waiting', s.CONFLICT, 'CONFLICT',
          '#/hosts?state=CONFLICT'),
      card('Certificates waiting', c.waiting, 'WAITING'),
      card('Expiring within 30 days', c.expiring, 'EXPIRING'),
      card('Revoked', s.REVOKED, 'REVOKED', '#/hosts?state=REVOKED'),
      card('Banned', s.BANNED, 'BANNED', '#/hosts?state=BANNED'),
      card('Removed', s.REMOVED, 'REMOVED', '#/hosts?state=REMOVED'),
      card('Roster version', c.version, 'VERSION'));
  const nodes = [cards];
  // NAT hosts: only on a primary whose broker has seen one (docs/nat.md).
  const b = stats.broker;
  if (b && b.known > 0) {
    nodes.push(el('h2', {}, 'NAT hosts'),
        el('ul', {class: 'cards', 'aria-label': 'NAT hosts'},
            card('NAT hosts known since start', b.known, 'NAT'),
            card('NAT hosts online now', b.online, 'NAT_ONLINE')));
  }
  nodes.push(el('h2', {}, 'Storm control since start'),
      el('ul', {class: 'cards', 'aria-label': 'Storm control counters'},
          card('Busy answers (429)', stats.busy_replies, 'BUSY'),
          card('Refusals', stats.refusals, 'REFUSALS'),
          card('Open connections', stats.open_connections, 'OPEN'),
          card('Writes pending', stats.writer_pending, 'PENDING')));
  if (health) {
    nodes.push(tableOf('Health (CRL freshness per CA in the crl check)',
        ['Check', 'Status', 'Detail'], health.checks.map((k) =>
          el('tr', {}, el('th', {scope: 'row'}, k.name),
              el('td', {class: 'health-' + k.status}, k.status),
              el('td', {}, k.detail || '—')))));
  } else {
    nodes.push(el('p', {class: 'error', role: 'alert'},
        'The primary reports a critical health check (GET /v1/health, ' +
        '`eca health`).'));
  }
  if (c.total === 0)
    nodes.push(el('p', {class: 'empty'},
        'No host has enrolled with this primary yet. Hosts enroll with ' +
        '`eca enroll`; they appear here when they do.'));
  render('Dashboard', ...nodes);
}

// ---- hosts list ------------------------------------------------------

const STATES = ['', 'ENROLLED', 'CONFLICT', 'REVOKED', 'BANNED', 'REMOVED'];

function hostRow(r) {
  const cert = r.certificate || {};
  return el('tr', {},
      el('th', {scope: 'row'},
          el('a', {href: '#/host/' + encodeURIComponent(r.host)}, r.host)),
      el('td', {}, el('span', {class: 'state state-' + r.state}, r.state)),
      el('td', {}, r.role || '—'),
      el('td', {class: 'mono'}, shortFp(cert.fingerprint)),
      el('td', {}, when(cert.not_after)),
      el('td', {}, when(r.enrolled_at)),
      el('td', {}, r.candidate_count || 0));
}

// The orders of GET /v1/enrollments?sort=... (docs/api.md).
const SORTS = [['name', 'Name'], ['state', 'State'],
  ['enrolled', 'Enrolled'], ['expiry', 'Expiry']];

// The hosts table, its sorted column marked for assistive technology.
function sortedTable(caption, sort, desc, rows) {
  const cols = [['Host', 'name'], ['State', 'state'], ['Role'],
    ['Fingerprint'], ['Expires', 'expiry'], ['Enrolled', 'enrolled'],
    ['Waiting']];
  return el('div', {class: 'scroll'},
      el('table', {id: 'hosts-table'},
          el('caption', {}, caption),
          el('thead', {}, el('tr', {}, cols.map(([h, k]) =>
            el('th', {scope: 'col', 'aria-sort': k === sort ?
              (desc ? 'descending' : 'ascending') : undefined}, h)))),
          el('tbody', {}, rows)));
}

function filterForm(params) {
  const state = el('select', {id: 'f-state', name: 'state'},
      STATES.map((s) => el('option', {value: s,
        selected: (params.get('state') || '') === s}, s || 'any state')));
  const name = el('input', {id: 'f-prefix', name: 'prefix', type: 'search',
    value: params.get('prefix') || '', autocomplete: 'off',
    placeholder: 'media1', spellcheck: 'false'});
  const sort = el('select', {id: 'f-sort', name: 'sort'},
      SORTS.map(([v, l]) => el('option', {value: v,
        selected: (params.get('sort') || 'name') === v}, l)));
  const order = el('select', {id: 'f-order', name: 'order'},
      el('option', {value: 'asc', selected: params.get('order') !== 'desc'},
          'ascending'),
      el('option', {value: 'desc', selected: params.get('order') === 'desc'},
          'descending'));
  const form = el('form', {class: 'filter', role: 'search'},
      el('label', {for: 'f-state'}, 'State'), state,
      el('label', {for: 'f-prefix'}, 'Name starts with'), name,
      el('label', {for: 'f-sort'}, 'Sort by'), sort,
      el('label', {for: 'f-order'}, 'Order'), order,
      el('button', {type: 'submit'}, 'Show'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const p = new URLSearchParams();
    if (state.value) p.set('state', state.value);
    if (name.value.trim()) p.set('prefix', name.value.trim().toLowerCase());
    if (sort.value !== 'name') p.set('sort', sort.value);
    if (order.value === 'desc') p.set('order', 'desc');
    window.location.hash = '#/hosts' + (p.toString() ? '?' + p : '');
  });
  return form;
}

async function hosts(params) {
  const q = new URLSearchParams();
  q.set('limit', PAGE);
  for (const k of ['state', 'prefix', 'sort', 'order', 'after'])
    if (params.get(k)) q.set(k, params.get(k));
  const form = filterForm(params);
  let page;
  try {
    page = await api('GET', '/v1/enrollments?' + q);
  } catch (e) {
    render('Hosts', form, el('p', {class: 'error', role: 'alert'},
        e.code + ': ' + e.message));
    return;
  }
  const nodes = [form];
  if (page.enrollments.length === 0) {
    const filtered = params.get('state') || params.get('prefix');
    nodes.push(el('p', {class: 'empty'}, filtered ?
        'No host matches this filter.' :
        'No host has enrolled with this primary yet.'));
  } else {
    const by = SORTS.find(([v]) => v === (params.get('sort') || 'name'));
    const caption = 'Hosts by ' + by[1].toLowerCase() +
        (params.get('order') === 'desc' ? ', descending' : '') +
        (params.get('after') ? ' (a later page)' : '');
    nodes.push(sortedTable(caption, by[0], params.get('order') === 'desc',
        page.enrollments.map(hostRow)));
  }
  const pager = el('nav', {class: 'pager', 'aria-label': 'Pages'});
  if (params.get('after')) {
    const first = new URLSearchParams(params);
    first.delete('after');
    pager.append(el('a', {href: '#/hosts?' + first, id: 'page-first'},
        'First page'));
  }
  if (page.next) {
    const next = new URLSearchParams(params);
    next.set('after', page.next);
    pager.append(el('a', {href: '#/hosts?' + next, id: 'page-next'},
        'Next page'));
  }
  nodes.push(pager);
  render('Hosts', ...nodes);
}

// ---- host page -------------------------------------------------------

function certDetails(title, c) {
  if (!c) return el('p', {class: 'empty'}, 'No certificate.');
  const row = (k, v, cls) => [el('dt', {}, k), el('dd', {class: cls}, v)];
  return el('dl', {class: 'details', 'aria-label': title},
      row('Subject', c.subject),
      row('Issuer', c.issuer),
      row('Names', (c.san || []).join(', ') || c.cn || '—'),
      row('Serial', c.serial, 'mono'),
      row('SHA-256 fingerprint', fpGroups(c.fingerprint), 'mono'),
      row('Key', c.key),
      row('Signature', c.signature_algorithm),
      row('Valid from', when(c.not_before)),
      row('Valid until', when(c.not_after)));
}

function confirmDialog(title, lines, okLabel) {
  const d = document.getElementById('confirm');
  document.getElementById('confirm-title').textContent = title;
  document.getElementById('confirm-body').replaceChildren(
      ...lines.map((l) => el('p', {}, l)));
  document.getElementById('confirm-ok').textContent = okLabel;
  return new Promise((resolve) => {
    d.addEventListener('close', () => resolve(d.returnValue === 'ok'),
        {once: true});
    d.returnValue = 'cancel';
    d.showModal();
    document.getElementById('confirm-cancel').focus();
  });
}

async function decide(rec, cand, verb) {
  const others = (rec.candidates || []).length - 1;
  const lines = verb === 'approve' ? [
    'Approve the certificate ' + fpGroups(cand.fingerprint) + ' for ' +
        rec.host + '.',
    rec.certificate ? 'It replaces the enrolled certificate ' +
        fpGroups(rec.certificate.fingerprint) + '.' :
        'It becomes the enrolled certificate.',
    others > 0 ? others + ' other waiting certificate(s) stay waiting: ' +
        'the host stays CONFLICT until each is decided.' :
        'The host becomes ENROLLED; peers learn it with the next roster.',
  ] : [
    'Reject the certificate ' + fpGroups(cand.fingerprint) + ' for ' +
        rec.host + '.',
    'It is dropped; the enrolled certificate ' +
        (rec.certificate ? fpGroups(rec.certificate.fingerprint) : '(none)') +
        ' stays.',
  ];
  const title = (verb === 'approve' ? 'Approve' : 'Reject') + ' certificate';
  if (!await confirmDialog(title, lines, title)) return;
  try {
    const r = await api('POST', '/v1/enrollments/' +
        encodeURIComponent(rec.host) + '/' + verb,
    {fingerprint: cand.fingerprint});
    status(r.outcome + ': ' + rec.host + ' (' + shortFp(cand.fingerprint) +
        ')', 'ok');
  } catch (e) {
    status(e.code + ': ' + e.message, 'error');
  }
  await hostPage(rec.host);
}

function candidateRows(rec) {
  return (rec.candidates || []).map((c) => el('tr', {},
      el('td', {class: 'mono fp'}, fpGroups(c.fingerprint)),
      el('td', {}, c.subject),
      el('td', {}, when(c.not_after)),
      el('td', {}, when(c.at)),
      el('td', {}, c.source || '—'),
      el('td', {class: 'actions'},
          el('button', {type: 'button', 'data-fingerprint': c.fingerprint,
            class: 'approve', onclick: () => decide(rec, c, 'approve'),
            'aria-label': 'Approve ' + c.fingerprint}, 'Approve…'),
          el('button', {type: 'button', class: 'reject',
            onclick: () => decide(rec, c, 'reject'),
            'aria-label': 'Reject ' + c.fingerprint}, 'Reject…'))));
}

function historyRows(h) {
  return h.map((x) => el('tr', {},
      el('td', {}, when(x.at)), el('td', {}, x.event),
      el('td', {}, x.state), el('td', {class: 'mono'}, shortFp(x.fingerprint)),
      el('td', {}, x.actor || '—'), el('td', {}, x.source || '—')));
}

// Ban, unban, remove: each after a confirmation of what changes.
const ACTIONS = {
  ban: {label: 'Ban', method: 'POST', path: '/ban', when: (r) => r.state !== 'BANNED',
    lines: (r) => ['Ban ' + r.host + ': its record becomes BANNED ' +
      '(its certificate is kept) and it cannot enroll, by itself or ' +
      'automatically, until it is unbanned.',
    'Peers refuse its channels once their roster has the change.']},
  unban: {label: 'Unban', method: 'POST', path: '/unban',
    when: (r) => r.state === 'BANNED',
    lines: (r) => ['Unban ' + r.host + ': its record becomes REMOVED ' +
      '(host ID kept); the host must enroll again.']},
  remove: {label: 'Remove', method: 'DELETE', path: '',
    when: (r) => r.state !== 'REMOVED' && r.state !== 'BANNED',
    lines: (r) => ['Remove the enrollment of ' + r.host + ': its record ' +
      'becomes REMOVED (host ID kept) and peers refuse it until it ' +
      'enrolls again.']},
};

async function act(rec, key) {
  const a = ACTIONS[key];
  const title = a.label + ' ' + rec.host;
  if (!await confirmDialog(title, a.lines(rec), a.label)) return;
  try {
    const r = await api(a.method, '/v1/enrollments/' +
        encodeURIComponent(rec.host) + a.path, a.method === 'POST' ? {} :
        undefined);
    status(r.outcome + ': ' + rec.host, 'ok');
  } catch (e) {
    status(e.code + ': ' + e.message, 'error');
  }
  await hostPage(rec.host);
}

function actionButtons(rec) {
  return el('div', {class: 'actions-bar'}, Object.keys(ACTIONS)
      .filter((k) => ACTIONS[k].when(rec))
      .map((k) => el('button', {type: 'button', id: 'action-' + k,
        class: k === 'unban' ? '' : 'reject', onclick: () => act(rec, k)},
      ACTIONS[k].label + '…')));
}

async function hostPage(name) {
  const path = '/v1/enrollments/' + encodeURIComponent(name);
  let rec;
  let hist;
  try {
    rec = await api('GET', path);
    hist = await api('GET', path + '/history');
  } catch (e) {
    if (e.code === 'NOT_ENROLLED')
      render(name, el('p', {class: 'empty'}, name +
          ' has no record on this primary: it never enrolled. ' +
          'Check the name, or enroll the host with `eca enroll` on it.'));
    else
      renderError(name, e);
    return;
  }
  const cands = rec.candidates || [];
  render(rec.host,
      el('p', {}, 'State ', el('span', {class: 'state state-' + rec.state,
        id: 'host-state'}, rec.state), ' · role ', rec.role || '—',
      ' · method ', rec.method || '—', ' · host ID ',
      el('span', {class: 'mono'}, rec.host_id || '—')),
      actionButtons(rec),
      el('h2', {}, 'Enrolled certificate'),
      certDetails('Enrolled certificate', rec.certificate),
      el('h2', {}, 'Waiting certificates'),
      cands.length === 0 ?
          el('p', {class: 'empty'}, 'No certificate is waiting.') :
          tableOf('Certificates waiting for a decision',
              ['SHA-256 fingerprint', 'Subject', 'Valid until', 'First seen',
                'From', 'Decision'], candidateRows(rec)),
      el('h2', {}, 'History'),
      hist.history.length === 0 ? el('p', {class: 'empty'}, 'No history.') :
          tableOf('History, oldest first',
              ['When', 'Event', 'State', 'Fingerprint', 'By', 'From'],
              historyRows(hist.history)));
}

// ---- conflicts queue -------------------------------------------------

async function bulk(verb, picked) {
  const hosts = picked.map((p) => p.host);
  if (verb === 'approve' && new Set(hosts).size !== hosts.length) {
    status('Select at most one certificate per host to approve: the ' +
        'approved one becomes the enrolled certificate.', 'error');
    return;
  }
  const title = (verb === 'approve' ? 'Approve ' : 'Reject ') +
      picked.length + ' certificate(s)';
  const lines = picked.map((p) => p.host + ': ' + fpGroups(p.fingerprint));
  lines.push(verb === 'approve' ?
      'Each becomes its host\'s enrolled certificate.' :
      'Each is dropped; the enrolled certificates stay.');
  if (!await confirmDialog(title, lines, verb === 'approve' ? 'Approve' :
      'Reject')) return;
  const failures = [];
  let done = 0;
  for (const p of picked) {
    try {
      await api('POST', '/v1/enrollments/' + encodeURIComponent(p.host) +
          '/' + verb, {fingerprint: p.fingerprint});
      done++;
    } catch (e) {
      failures.push(p.host + ': ' + e.code + ': ' + e.message);
    }
  }
  await conflicts(new URLSearchParams());
  status((verb === 'approve' ? 'Approved ' : 'Rejected ') + done + ' of ' +
      picked.length + '.' + (failures.length ? ' ' + failures.join('; ') : ''),
  failures.length ? 'error' : 'ok');
}

async function conflicts(params) {
  const q = new URLSearchParams({state: 'CONFLICT', limit: PAGE});
  if (params.get('after')) q.set('after', params.get('after'));
  let page;
  const recs = [];
  try {
    page = await api('GET', '/v1/enrollments?' + q);
    for (const r of page.enrollments)
      recs.push(await api('GET', '/v1/enrollments/' +
          encodeURIComponent(r.host)));
  } catch (e) {
    renderError('Conflicts', e);
    return;
  }
  if (recs.length === 0) {
    render('Conflicts', el('p', {class: 'empty'},
        'No certificate is waiting for a decision.'));
    return;
  }
  const rows = [];
  let n = 0;
  for (const r of recs) {
    for (const c of r.candidates || []) {
      const id = 'pick-' + n++;
      rows.push(el('tr', {},
          el('td', {}, el('input', {type: 'checkbox', id: id, class: 'pick',
            'data-host': r.host, 'data-fingerprint': c.fingerprint})),
          el('th', {scope: 'row'}, el('label', {for: id}, r.host)),
          el('td', {class: 'mono fp'}, fpGroups(c.fingerprint)),
          el('td', {}, c.subject),
          el('td', {}, when(c.at)),
          el('td', {class: 'mono'}, shortFp(r.certificate &&
              r.certificate.fingerprint))));
    }
  }
  const picked = () => [...document.querySelectorAll('input.pick:checked')]
      .map((b) => ({host: b.dataset.host, fingerprint: b.dataset.fingerprint}));
  const run = (verb) => {
    const p = picked();
    if (p.length === 0) status('Select the certificates first.', 'error');
    else bulk(verb, p);
  };
  const nodes = [
    el('div', {class: 'actions-bar'},
        el('button', {type: 'button', id: 'bulk-approve', class: 'approve',
          onclick: () => run('approve')}, 'Approve selected…'),
        el('button', {type: 'button', id: 'bulk-reject', class: 'reject',
          onclick: () => run('reject')}, 'Reject selected…')),
    tableOf('Certificates waiting, by host',
        ['Select', 'Host', 'SHA-256 fingerprint', 'Subject', 'First seen',
          'Enrolled now'], rows),
  ];
  if (page.next) {
    nodes.push(el('nav', {class: 'pager', 'aria-label': 'Pages'},
        el('a', {href: '#/conflicts?after=' + encodeURIComponent(page.next)},
            'Next page')));
  }
  render('Conflicts', ...nodes);
}

// ---- audit journal and configuration ------------------------------------

async function verify() {
  const box = document.getElementById('verify-result');
  box.className = 'note';
  box.textContent = 'Verifying…';
  try {
    const r = await api('GET', '/v1/audit/verify');
    box.className = r.intact ? 'ok' : 'error';
    box.textContent = r.intact ?
        'Chain intact: ' + r.entries + ' entries in ' + r.path + '.' :
        'Line ' + r.first_bad_line + ': ' + r.problem + ' (' + r.entries +
        ' good entries before it; everything from that line on is ' +
        'suspect).';
  } catch (e) {
    box.className = 'error';
    box.textContent = e.code + ': ' + e.message;
  }
}

async function audit(params) {
  const q = new URLSearchParams({limit: PAGE});
  if (params.get('before')) q.set('before', params.get('before'));
  let page;
  try {
    page = await api('GET', '/v1/audit?' + q);
  } catch (e) {
    renderError('Audit journal', e);
    return;
  }
  const nodes = [
    el('div', {class: 'actions-bar'},
        el('button', {type: 'button', id: 'verify', onclick: verify},
            'Verify the chain')),
    el('div', {id: 'verify-result', role: 'status', 'aria-live': 'polite'}),
  ];
  if (page.entries.length === 0) {
    nodes.push(el('p', {class: 'empty'}, 'The journal has no entries yet.'));
  } else {
    nodes.push(tableOf('Journal entries, newest first',
        ['Seq', 'Time', 'Event', 'Host', 'Actor', 'Fingerprint', 'Reason',
          'From'],
        page.entries.map((x) => el('tr', {},
            el('td', {}, x.seq), el('td', {}, when(x.time)),
            el('td', {}, x.event), el('td', {}, x.host || '—'),
            el('td', {}, x.actor || '—'),
            el('td', {class: 'mono'}, shortFp(x.fingerprint)),
            el('td', {}, x.reason || '—'), el('td', {}, x.source || '—')))));
  }
  if (page.next) {
    nodes.push(el('nav', {class: 'pager', 'aria-label': 'Pages'},
        el('a', {href: '#/audit?before=' + page.next, id: 'page-next'},
            'Older entries')));
  }
  render('Audit journal', ...nodes);
}

async function config() {
  let r;
  try {
    r = await api('GET', '/v1/config');
  } catch (e) {
    renderError('Configuration', e);
    return;
  }
  render('Configuration',
      el('p', {}, 'The settings in effect on ' + r.primary + ' (defaults ' +
          'filled in; passwords left out). Change them in eca.conf.'),
      tableOf('Effective settings', ['Key', 'Value'],
          r.settings.map((x) => el('tr', {},
              el('th', {scope: 'row', class: 'mono'}, x.key),
              el('td', {class: 'mono fp'}, x.value)))));
}

// ---- frame -----------------------------------------------------------

async function route() {
  const h = window.location.hash || '#/';
  const [path, query] = h.slice(1).split('?');
  const params = new URLSearchParams(query || '');
  for (const a of document.querySelectorAll('nav a'))
    a.removeAttribute('aria-current');
  const nav = {'/conflicts': 'nav-conflicts', '/audit': 'nav-audit',
    '/config': 'nav-config'};
  if (nav[path])
    document.getElementById(nav[path]).setAttribute('aria-current', 'page');
  if (path === '/audit') {
    await audit(params);
  } else if (path === '/config') {
    await config();
  } else if (path === '/conflicts') {
    await conflicts(params);
  } else if (path.startsWith('/host/')) {
    await hostPage(decodeURIComponent(path.slice(6)));
  } else if (path === '/hosts') {
    document.getElementById('nav-hosts').setAttribute('aria-current', 'page');
    await hosts(params);
  } else {
    document.getElementById('nav-dashboard')
        .setAttribute('aria-current', 'page');
    await dashboard();
  }
  document.getElementById('main').focus({preventScroll: true});
}

async function signout() {
  try {
    await api('POST', '/console/signout', {});
  } catch (e) {
    // Signed out either way.
  }
  window.location.replace('/login');
}

async function start() {
  // The session and the page's own data at once (a GET needs no CSRF
  // token): one round trip before the first render, not two.
  const session = api('GET', '/console/session');
  const page = route();
  let s;
  try {
    s = await session;
  } catch (e) {
    await page.catch(() => {});
    if (e.status !== 401) renderError('eca console', e);
    return;
  }
  csrf = s.csrf;
  document.getElementById('who').textContent = s.identity;
  document.getElementById('primary').textContent = s.primary;
  document.getElementById('signout').addEventListener('click', signout);
  window.addEventListener('hashchange', () => {
    status('');
    route();
  });
  await page;
  document.body.dataset.ready = '1';
}

document.addEventListener('DOMContentLoaded', start);
