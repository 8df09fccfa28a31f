// SPDX-License-Identifier: ISC
// The web console in a real browser (the system's Chromium driven by
// playwright-core), against the primary t_console_browser.sh started.
// Prints `ok - CASE` / `not ok - CASE: why` lines, one per case, and saves
// a screenshot per case in $SHOTS.
//
// Environment: CONSOLE (https://HOST:PORT), ECA (the eca binary), CONF
// (the primary's eca.conf), DIGEST (a command printing the registry's
// digest), CONFLICT_HOST (a host with a waiting certificate), SHOTS,
// CHROMIUM (default /usr/bin/chromium).  The pages' CSP forbids eval, so
// the cases wait with selectors and locators, never page.waitForFunction.
import {execFileSync} from 'node:child_process';
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs';
import {chromium} from 'playwright-core';

const env = process.env;
const BASE = env.CONSOLE;
const SHOTS = env.SHOTS;
const started = Date.now();
// The bound on each wait for a page, a selector or a navigation, not a
// speed check: under `make check`'s parallel load a cold page in a new
// context has taken over 10 s.
const WAIT_MS = 30000;
let browser;
let failed = 0;

function eca(...args) {
  return execFileSync(env.ECA, ['-f', env.CONF, ...args],
      {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
        maxBuffer: 1 << 28});
}

function link() {
  const url = eca('console', 'login').trim();
  if (!url.startsWith(BASE + '/login#')) throw new Error('link ' + url);
  return url;
}

function digest() {
  return execFileSync('sh', ['-c', env.DIGEST], {encoding: 'utf8'}).trim();
}

function check(cond, what) {
  if (!cond) throw new Error(what);
}

// The whole page, or (visible) what a 1280x800 window shows: smaller
// files for the long tables that docs/console.md shows.
async function shot(page, name, visible) {
  await page.screenshot({path: SHOTS + '/' + name + '.png',
    fullPage: !visible});
}

async function newPage(width, height) {
  const ctx = await browser.newContext({
    ignoreHTTPSErrors: true,
    viewport: {width: width || 1280, height: height || 800},
  });
  const page = await ctx.newPage();
  page.setDefaultTimeout(WAIT_MS);
  // Nothing may leave the primary: no CDN, no external request.
  page.on('request', (r) => {
    if (!r.url().startsWith(BASE) && !r.url().startsWith('data:'))
      page.external = r.url();
  });
  return page;
}

// Signs a new page in with a fresh link; the dashboard is shown.
async function signedIn(width, height) {
  const page = await newPage(width, height);
  await page.goto(link());
  await page.waitForSelector('[data-count="TOTAL"]');
  return page;
}

async function run(name, fn) {
  try {
    await fn();
    console.log('ok - ' + name);
  } catch (e) {
    failed++;
    console.log('not ok - ' + name + ': ' +
        String(e.message || e).replace(/\s+/g, ' ').slice(0, 400));
  }
}

async function main() {
  mkdirSync(SHOTS, {recursive: true});
  browser = await chromium.launch({
    executablePath: env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: process.getuid && process.getuid() === 0 ? ['--no-sandbox'] : [],
  });
  // Made first, used last: it expires meanwhile (CONSOLE_LINK_MINUTES 1).
  const expiring = link();
  let page;

  await run('a one-time link signs in and shows the dashboard', async () => {
    const url = link();
    page = await newPage();
    await page.goto(url);
    await page.waitForSelector('[data-count="TOTAL"]');
    check(new URL(page.url()).pathname === '/', 'not on / but ' + page.url());
    check(!page.url().includes(url.split('#')[1]), 'the token stays in the URL');
    const who = await page.textContent('#who');
    check(who === 'local:0', 'signed in as ' + who);
    await shot(page, 'signin');
    // The same link, in another browser, a second time.
    const again = await newPage();
    await again.goto(url);
    await again.waitForSelector('#message.error');
    const msg = await again.textContent('#message');
    check(/used already/.test(msg), 'the refusal says ' + msg);
    await shot(again, 'link-used-twice');
    await again.context().close();
  });

  await run('dashboard counts equal eca list --json', async () => {
    const list = JSON.parse(eca('--json', 'list')).enrollments;
    const by = (s) => list.filter((r) => r.state === s).length;
    await page.goto(BASE + '/#/');
    await page.waitForSelector('[data-count="TOTAL"]');
    const want = {TOTAL: list.length, ENROLLED: by('ENROLLED'),
      CONFLICT: by('CONFLICT'), BANNED: by('BANNED'), REVOKED: by('REVOKED'),
      REMOVED: by('REMOVED')};
    for (const [k, v] of Object.entries(want)) {
      const got = await page.textContent(`[data-count="${k}"]`);
      check(Number(got) === v, `${k}: the dashboard says ${got}, eca list ${v}`);
    }
    check(want.CONFLICT >= 1 && want.ENROLLED >= 1, 'too few hosts to compare');
    const checks = await page.$$eval('caption', (c) => c.map((x) => x.textContent));
    check(checks.some((t) => t.startsWith('Health')), 'no health table');
    await shot(page, 'dashboard');
  });

  await run('NAT hosts online on the dashboard equal eca list --json',
      async () => {
        // The primary restarted (10,000 hosts): wait for the reconnection.
        let nat = [];
        for (let t = 0; t < 150; t++) {
          nat = JSON.parse(eca('--json', 'list')).enrollments
              .filter((r) => r.nat);
          if (nat.some((r) => r.online)) break;
          await new Promise((r) => setTimeout(r, 200));
        }
        const online = nat.filter((r) => r.online).length;
        check(nat.length === 1 && online === 1,
            'eca list: ' + nat.length + ' NAT hosts, ' + online + ' online');
        await page.goto(BASE + '/#/hosts');
        await page.waitForSelector('tbody tr');
        await page.goto(BASE + '/#/');
        await page.waitForSelector('[data-count="NAT_ONLINE"]');
        const known = await page.textContent('[data-count="NAT"]');
        const on = await page.textContent('[data-count="NAT_ONLINE"]');
        check(Number(known) === nat.length && Number(on) === online,
            'the dashboard says ' + known + ' NAT hosts, ' + on + ' online');
        await shot(page, 'dashboard-nat');
      });

  await run('hosts list filters by state and name', async () => {
    await page.goto(BASE + '/#/hosts');
    await page.waitForSelector('table');
    await shot(page, 'hosts');
    await page.selectOption('#f-state', 'CONFLICT');
    await page.click('.filter button');
    await page.waitForURL(/state=CONFLICT/);
    await page.waitForSelector('tbody tr');
    const rows = await page.$$eval('tbody th', (t) => t.map((x) => x.textContent));
    const want = JSON.parse(eca('--json', 'list', '--state', 'CONFLICT'))
        .enrollments.map((r) => r.host);
    check(rows.join(',') === want.join(',') && rows.includes(env_conflict()),
        'CONFLICT rows: ' + rows.join(',') + ', eca list: ' + want.join(','));
    await page.fill('#f-prefix', 'nosuchhost');
    await page.click('.filter button');
    await page.waitForSelector('p.empty');
    const empty = await page.textContent('p.empty');
    check(/No host matches/.test(empty), 'the empty state says ' + empty);
    await shot(page, 'hosts-filter-empty');
  });

  await run('filter and page through 10,000 hosts', async () => {
    const t0 = Date.now();
    await page.goto(BASE + '/#/hosts');
    await page.waitForSelector('tbody tr');
    const first = Date.now() - t0;
    const names = async () => page.$$eval('tbody th', (t) =>
      t.map((x) => x.textContent));
    // Three pages on: names go on in order, 50 a page.
    let seen = await names();
    for (let i = 0; i < 3; i++) {
      await page.click('#page-next');
      let next = await names();
      for (let t = 0; t < 100 && next[0] === seen[0]; t++) {
        await new Promise((r) => setTimeout(r, 100));
        next = await names();
      }
      check(next.length === 50 && next[0] > seen[seen.length - 1],
          'page ' + (i + 2) + ' starts at ' + next[0]);
      seen = next;
    }
    // bulk012: bulk01200 ... bulk01299, two pages and no third.
    await page.fill('#f-prefix', 'bulk012');
    await page.click('.filter button');
    await page.waitForURL(/prefix=bulk012/);
    await page.locator('tbody th', {hasText: 'bulk01200'}).waitFor();
    let rows = await names();
    check(rows.length === 50 && rows[49] === 'bulk01249.browser.test',
        'first filtered page: ' + rows.length + ' rows to ' + rows[49]);
    await shot(page, 'hosts-10000-filtered');
    await page.click('#page-next');
    await page.locator('tbody th', {hasText: 'bulk01250'}).waitFor();
    rows = await names();
    check(rows.length === 50 && rows[49] === 'bulk01299.browser.test',
        'second filtered page: ' + rows.length + ' rows to ' + rows[49]);
    check(await page.$('#page-next') === null, 'a third page is offered');
    console.log('# hosts page first render with 10,006 hosts: ' + first +
        ' ms');
  });

  await run('sort by name descending shows the right first row', async () => {
    const hosts = JSON.parse(eca('--json', 'list')).enrollments
        .map((r) => r.host).sort();
    const last = hosts[hosts.length - 1];
    await page.goto(BASE + '/#/hosts');
    await page.waitForSelector('tbody tr');
    await page.selectOption('#f-sort', 'name');
    await page.selectOption('#f-order', 'desc');
    await page.click('.filter button');
    await page.waitForURL(/order=desc/);
    await page.locator('tbody tr:first-child th', {hasText: last}).waitFor();
    const sorted = await page.getAttribute('th[aria-sort]', 'aria-sort');
    check(sorted === 'descending', 'the Host column says ' + sorted);
    await shot(page, 'hosts-sorted-desc', true);
    // Combined with a filter, and the next page goes on downwards.
    await page.selectOption('#f-state', 'ENROLLED');
    await page.fill('#f-prefix', 'bulk');
    await page.click('.filter button');
    await page.waitForURL(/prefix=bulk/);
    await page.locator('tbody tr:first-child th',
        {hasText: 'bulk09999.browser.test'}).waitFor();
    await page.click('#page-next');
    await page.locator('tbody tr:first-child th',
        {hasText: 'bulk09949.browser.test'}).waitFor();
    // By expiry: the soonest first, as the registry has it.
    await page.goto(BASE + '/#/hosts?sort=expiry');
    await page.waitForSelector('th[aria-sort="ascending"]');
    const rows = await page.$$eval('tbody th', (t) => t.map((x) => x.textContent));
    const want = execFileSync('sh', ['-c', env.SOONEST], {encoding: 'utf8'})
        .trim().split('\n');
    check(rows.slice(0, 3).join(',') === want.join(','),
        'by expiry: ' + rows.slice(0, 3).join(',') + ', the registry: ' +
        want.join(','));
  });

  await run('approve the candidate shown: exactly that fingerprint enrolls',
      async () => {
        const host = env_conflict();
        await page.goto(BASE + '/#/host/' + host);
        const btn = await page.waitForSelector('button.approve');
        const fp = await btn.getAttribute('data-fingerprint');
        await btn.click();
        await page.waitForSelector('dialog[open]');
        const text = await page.textContent('#confirm-body');
        const grouped = fp.match(/.{2}/g).join(':');
        check(text.includes(grouped), 'the confirmation does not show ' + fp);
        await shot(page, 'approve-confirm');
        await page.click('#confirm-ok');
        await page.waitForSelector('#status.ok');
        await page.locator('#host-state', {hasText: 'ENROLLED'}).waitFor();
        const rec = JSON.parse(eca('--json', 'show', host)).enrollment;
        check(rec.state === 'ENROLLED', 'state ' + rec.state);
        check(rec.certificate.fingerprint === fp,
            'enrolled ' + rec.certificate.fingerprint + ', shown ' + fp);
        await shot(page, 'approved');
      });

  await run('conflicts queue: bulk reject of the selected certificate',
      async () => {
        const host = env.BULK_HOST;
        const before = JSON.parse(eca('--json', 'show', host)).enrollment;
        check(before.state === 'CONFLICT', host + ' is ' + before.state);
        await page.goto(BASE + '/#/conflicts');
        const box = await page.waitForSelector(
            `input.pick[data-host="${host}"]`);
        const fp = await box.getAttribute('data-fingerprint');
        await box.check();
        await page.click('#bulk-reject');
        await page.waitForSelector('dialog[open]');
        const text = await page.textContent('#confirm-body');
        check(text.includes(host + ': ' + fp.match(/.{2}/g).join(':')),
            'the confirmation does not list ' + host + ' ' + fp);
        await shot(page, 'conflicts-confirm');
        await page.click('#confirm-ok');
        await page.waitForSelector('#status.ok');
        const after = JSON.parse(eca('--json', 'show', host)).enrollment;
        check(after.state === 'ENROLLED', 'state ' + after.state);
        check(after.certificate.fingerprint === before.certificate.fingerprint,
            'the enrolled certificate changed');
        check((after.candidates || []).length === 0, 'candidates remain');
        await shot(page, 'conflicts-done');
      });

  await run('ban from the host page: the host cannot enroll nor open a channel',
      async () => {
    const host = env.BAN_HOST;
    await page.goto(BASE + '/#/host/' + host);
    await page.click('#action-ban');
    await page.waitForSelector('dialog[open]');
    await shot(page, 'ban-confirm');
    await page.click('#confirm-ok');
    await page.locator('#host-state', {hasText: 'BANNED'}).waitFor();
    const rec = JSON.parse(eca('--json', 'show', host)).enrollment;
    check(rec.state === 'BANNED', 'state ' + rec.state);
    let refused = '';
    try {
      execFileSync(env.ECA, ['-f', env.BAN_CONF, '--json', 'enroll'],
          {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']});
    } catch (e) {
      refused = JSON.parse(e.stdout).error.code;
    }
    check(refused === 'BANNED', 'the host\'s eca enroll: ' + (refused || 'ok'));
    // A channel from the banned host to a media server: refused BANNED.
    let verdict = null;
    try {
      execFileSync(env.ECA, ['-f', env.BAN_CONF, '--json', 'ping',
        env.PEER_HOST], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']});
    } catch (e) {
      verdict = JSON.parse(e.stdout).verdict;
    }
    check(verdict && !verdict.accept && verdict.code === 'BANNED',
        'the host\'s eca ping ' + env.PEER_HOST + ': ' +
        JSON.stringify(verdict));
    const hist = JSON.parse(eca('--json', 'show', host));
    const ban = hist.history.filter((h) => h.event === 'BAN').pop();
    check(ban && ban.actor === 'console:local:0', 'BAN by ' +
        (ban && ban.actor));
    await shot(page, 'banned');
  });

  await run('a POST without the CSRF token is 403', async () => {
    const st = await page.evaluate(async (h) => {
      const r = await fetch('/v1/enrollments/' + h + '/ban',
          {method: 'POST', body: '{}', credentials: 'same-origin'});
      return r.status;
    }, env_conflict());
    check(st === 403, 'status ' + st);
    const rec = JSON.parse(eca('--json', 'show', env_conflict())).enrollment;
    check(rec.state === 'ENROLLED', 'the host is ' + rec.state);
  });

  await run('the registry is unchanged after a visit of every page',
      async () => {
        const before = digest();
        const p = await signedIn();
        const list = JSON.parse(eca('--json', 'list')).enrollments;
        const pages = ['/#/', '/#/hosts', '/#/hosts?state=ENROLLED',
          '/#/hosts?prefix=zz', '/#/host/unknown.example', '/#/conflicts',
          '/#/audit', '/#/config'];
        for (const r of list)
          if (!r.host.startsWith('bulk')) pages.push('/#/host/' + r.host);
        for (const u of pages) {
          await p.goto(BASE + u);
          await p.waitForSelector('main h1');
          await p.waitForLoadState('networkidle');
        }
        const none = await p.textContent('main');
        await p.goto(BASE + '/login');
        await p.waitForSelector('#cert-signin');
        check(digest() === before, 'the registry changed');
        check(!p.external, 'a request left the primary: ' + p.external);
        await p.goto(BASE + '/#/host/unknown.example');
        await p.waitForSelector('p.empty');
        await shot(p, 'host-unknown');
        check(none !== null, 'no page text');
        await p.context().close();
      });

  await run('audit verify reports intact, then the edited line', async () => {
    await page.goto(BASE + '/#/audit');
    await page.waitForSelector('tbody tr');
    await page.click('#verify');
    await page.locator('#verify-result.ok', {hasText: 'Chain intact'})
        .waitFor();
    await shot(page, 'audit-intact');
    const orig = readFileSync(env.AUDIT, 'utf8');
    const lines = orig.split('\n');
    lines[1] = lines[1].replace('"event":"', '"event":"x');
    writeFileSync(env.AUDIT, lines.join('\n'));
    try {
      await page.click('#verify');
      const bad = page.locator('#verify-result.error');
      await bad.waitFor();
      const msg = await bad.textContent();
      check(/^Line 2: edited/.test(msg), 'the verification says ' + msg);
      await shot(page, 'audit-edited');
    } finally {
      writeFileSync(env.AUDIT, orig);
    }
  });

  await run('the configuration page shows the effective settings', async () => {
    await page.goto(BASE + '/#/config');
    await page.locator('caption', {hasText: 'Effective settings'}).waitFor();
    const rows = await page.$$eval('tbody tr', (t) => t.map((r) =>
      r.children[0].textContent + ' = ' + r.children[1].textContent));
    const port = new URL(BASE).port;
    check(rows.includes('CONSOLE_LISTEN = 127.0.0.1:' + port),
        'no CONSOLE_LISTEN row: ' + rows.slice(0, 5).join('; '));
    check(rows.includes('ROLE = primary'), 'no ROLE row');
    await shot(page, 'config');
  });

  await run('readable on a 390-px-wide phone', async () => {
    const p = await signedIn(390, 844);
    await shot(p, 'dashboard-phone');
    await p.goto(BASE + '/#/host/' + env_conflict());
    await p.waitForSelector('dl.details');
    const wide = await p.evaluate(() =>
      document.documentElement.scrollWidth > window.innerWidth + 1);
    check(!wide, 'the host page scrolls sideways at 390 px');
    await shot(p, 'host-phone');
    await p.context().close();
  });

  // The browser presents a client certificate (playwright-core's
  // clientCertificates): a host's is refused, an ADMIN_IDENTITY's signs in.
  const withCert = async (name) => {
    const ctx = await browser.newContext({
      ignoreHTTPSErrors: true,
      viewport: {width: 1280, height: 800},
      clientCertificates: [{origin: BASE,
        certPath: env[name + '_CERT'], keyPath: env[name + '_KEY']}],
    });
    const p = await ctx.newPage();
    p.setDefaultTimeout(WAIT_MS);
    await p.goto(BASE + '/login');
    await p.click('#cert-signin');
    return p;
  };

  await run('a non-admin client certificate cannot sign in', async () => {
    const p = await withCert('HOST');
    await p.waitForSelector('#message.error');
    const msg = await p.textContent('#message');
    check(/not an administrator/.test(msg) && /ADMIN_IDENTITY/.test(msg),
        'the refusal says ' + msg);
    const st = await p.evaluate(async () =>
      (await fetch('/v1/enrollments')).status);
    check(st === 401, 'after the refusal the API answers ' + st);
    await shot(p, 'cert-refused');
    await p.context().close();
  });

  await run('an ADMIN_IDENTITY client certificate signs in', async () => {
    const p = await withCert('ADMIN');
    await p.waitForSelector('[data-count="TOTAL"]');
    const who = await p.textContent('#who');
    check(who === env.ADMIN_NAME, 'signed in as ' + who);
    await p.context().close();
  });

  await run('sign-out ends the session', async () => {
    await page.goto(BASE + '/#/');
    await page.waitForSelector('#signout');
    await page.click('#signout');
    await page.waitForURL(BASE + '/login');
    const st = await page.evaluate(async () =>
      (await fetch('/v1/enrollments')).status);
    check(st === 401, 'after sign-out the API answers ' + st);
    await shot(page, 'signed-out');
  });

  await run('an expired link is refused with a clear message', async () => {
    const wait = 61000 - (Date.now() - started);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const p = await newPage();
    await p.goto(expiring);
    await p.waitForSelector('#message.error');
    const msg = await p.textContent('#message');
    check(/expired/.test(msg) && /eca console login/.test(msg),
        'the refusal says ' + msg);
    await shot(p, 'link-expired');
    await p.context().close();
  });

  await browser.close();
  return failed;
}

function env_conflict() {
  return env.CONFLICT_HOST;
}

main().then((n) => process.exit(n ? 1 : 0), (e) => {
  console.log('not ok - the browser tests: ' + (e.stack || e));
  process.exit(1);
});
