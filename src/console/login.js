// SPDX-License-Identifier: ISC
// The console's sign-in page: exchanges the one-time token of a link from
// `eca console login` (in the fragment, #TOKEN, or ?token=TOKEN) for a
// session, or signs in with the browser's client certificate.
'use strict';

function show(text, ok) {
  const m = document.getElementById('message');
  m.textContent = text;
  m.className = ok ? 'note' : 'error';
}

async function signin(path, body) {
  let res;
  try {
    res = await fetch(path, {
      method: 'POST',
      credentials: 'same-origin',
      headers: {'Content-Type': 'application/json'},
      body: JSON.stringify(body || {}),
    });
  } catch (e) {
    show('Cannot reach the primary: ' + e.message, false);
    return;
  }
  let data = null;
  try {
    data = await res.json();
  } catch (e) {
    data = null;
  }
  if (res.ok) {
    show('Signed in as ' + data.identity + '.', true);
    window.location.replace('/');
    return;
  }
  const msg = data && data.error ? data.error.message : 'HTTP ' + res.status;
  show('Sign-in refused: ' + msg, false);
}

function tokenFromUrl() {
  const hash = window.location.hash.replace(/^#/, '');
  if (/^[0-9a-f]{64}$/.test(hash)) return hash;
  const q = new URLSearchParams(window.location.search).get('token');
  return q && /^[0-9a-f]{64}$/.test(q) ? q : null;
}

document.addEventListener('DOMContentLoaded', () => {
  document.getElementById('cert-signin')
      .addEventListener('click', () => signin('/console/signin-cert'));
  const token = tokenFromUrl();
  if (!token) {
    if (window.location.hash || window.location.search)
      show('This sign-in link is malformed: run `eca console login` ' +
               'on the primary for a new one.', false);
    return;
  }
  // The token leaves the address bar (and the history) at once.
  window.history.replaceState(null, '', '/login');
  show('Signing in…', true);
  signin('/console/signin', {token: token});
});
