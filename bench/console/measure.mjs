// SPDX-License-Identifier: ISC
// bench/console/measure.mjs: time to first render of the console's pages
// (bench/console/run.sh starts the primary), two ways, BENCH_RUNS times
// each, medians printed with their ratio to the 300 ms target:
//   cold: the page loaded afresh in a new tab (document, CSS, script,
//     session, the page's /v1 calls): from navigation start;
//   in-app: the console already open, the page chosen (its link followed:
//     the page's /v1 calls and the DOM): from the click.
// "Render" is the page's own performance mark ("eca-render", set in
// app.js when its content is in the DOM).  Each /v1 call's total and
// server time (request sent to first byte) come from Resource Timing.
//
// Environment: CONSOLE (https://HOST:PORT), LINK (a sign-in link),
// BENCH_RUNS, CHROMIUM (default /usr/bin/chromium), SPKI (base64 SHA-256
// of the console certificate's key, trusted as a browser trusts its CA;
// without it certificate errors are ignored, and Chromium then caches
// nothing).
import {createRequire} from 'node:module';
import {fileURLToPath} from 'node:url';

const require = createRequire(fileURLToPath(
    new URL('../../tests/browser/package.json', import.meta.url)));
const {chromium} = require('playwright-core');

const env = process.env;
const BASE = env.CONSOLE;
const RUNS = Number(env.BENCH_RUNS || 5);
const TARGET = 300;

const PAGES = [
  ['hosts page', '#/hosts'],
  ['filtered: ENROLLED, name starts h00012',
    '#/hosts?state=ENROLLED&prefix=h00012'],
  ['sorted: name descending', '#/hosts?order=desc'],
  ['sorted: expiry, BANNED only', '#/hosts?state=BANNED&sort=expiry'],
  ['sorted: enrolled descending', '#/hosts?sort=enrolled&order=desc'],
  ['sorted and filtered: expiry, name starts h00012',
    '#/hosts?prefix=h00012&sort=expiry'],
  ['sorted and filtered: expiry descending, name starts h0 (every name)',
    '#/hosts?prefix=h0&sort=expiry&order=desc'],
  ['a page in the middle (after h0500000)',
    '#/hosts?after=h0500000.bench.test'],
];

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

// The marks and calls since t0 (ms on the page's clock).
function since(t0) {
  const url = (e) => new URL(e.name);
  return {
    render: performance.getEntriesByName('eca-render')
        .map((m) => m.startTime).filter((t) => t >= t0).pop(),
    calls: performance.getEntriesByType('resource')
        .filter((e) => e.startTime >= t0 &&
          url(e).pathname.startsWith('/v1/'))
        .map((e) => ({url: url(e).pathname + url(e).search,
          total: e.responseEnd - e.startTime,
          server: e.responseStart - e.requestStart})),
    // The page's own files (cold loads): when each was asked for, its
    // connection's set-up (TCP and TLS; 0 on a reused one), the server's
    // time and when it was in.
    assets: performance.getEntriesByType('resource')
        .filter((e) => e.startTime >= t0 &&
          /\.(js|css)$/.test(url(e).pathname))
        .map((e) => ({url: url(e).pathname, start: e.startTime,
          connect: e.connectEnd - e.connectStart,
          server: e.responseStart - e.requestStart, end: e.responseEnd})),
    rows: document.querySelectorAll('tbody tr').length,
    nav: performance.getEntriesByType('navigation').map((n) =>
      [n.responseEnd, n.domContentLoadedEventEnd])[0] || [0, 0],
  };
}

async function cold(ctx, path) {
  const page = await ctx.newPage();
  page.setDefaultTimeout(60000);
  await page.goto(BASE + '/' + path);
  await page.waitForSelector('main h1');
  await page.waitForSelector('tbody tr, p.empty, p.error');
  const r = await page.evaluate(since, 0);
  await page.close();
  return r;
}

// The browser's own cost of a new tab: a bare document of the same origin
// (the console's 404 answer to an unknown path, JSON that Chromium shows
// as text: no script, no CSS of the console), its DOMContentLoaded from
// navigation start.
async function bare(ctx) {
  const page = await ctx.newPage();
  page.setDefaultTimeout(60000);
  await page.goto(BASE + '/nope');
  const t = await page.evaluate(() => performance
      .getEntriesByType('navigation')[0].domContentLoadedEventEnd);
  await page.close();
  return t;
}

async function inApp(page, path) {
  await page.evaluate(() => {
    window.location.hash = '#/config';
  });
  await page.locator('main h1', {hasText: 'Configuration'}).waitFor();
  const t0 = await page.evaluate((p) => {
    const t = performance.now();
    window.location.hash = p;
    return t;
  }, path);
  for (let i = 0; i < 6000; i++) {
    const r = await page.evaluate(since, t0);
    if (r.render !== undefined) {
      r.render -= t0;
      return r;
    }
    await new Promise((res) => setTimeout(res, 5));
  }
  throw new Error(path + ' never rendered');
}

function report(name, path, how, runs) {
  const render = median(runs.map((r) => r.render));
  console.log(`  ${how}: first render ${render.toFixed(0)} ms, ratio ` +
      `${(render / TARGET).toFixed(2)}, ${runs[0].rows} rows` +
      (how === 'cold' ? `; HTML at ${median(runs.map((r) => r.nav[0]))
          .toFixed(0)} ms, scripts ran at ${median(runs.map((r) =>
        r.nav[1])).toFixed(0)} ms` : ''));
  for (let a = 0; a < (runs[0].assets || []).length; a++) {
    const m = (k) => median(runs.map((r) => (r.assets[a] || {})[k] || 0))
        .toFixed(0);
    console.log(`    ${runs[0].assets[a].url}: asked at ${m('start')} ms, ` +
        `connection set-up ${m('connect')} ms, server ${m('server')} ms, ` +
        `in at ${m('end')} ms`);
  }
  for (let c = 0; c < runs[0].calls.length; c++) {
    const tot = median(runs.map((r) => (r.calls[c] || {}).total || 0));
    const srv = median(runs.map((r) => (r.calls[c] || {}).server || 0));
    console.log(`    GET ${runs[0].calls[c].url}: ${tot.toFixed(1)} ms, ` +
        `server ${srv.toFixed(1)} ms`);
  }
  return render;
}

async function main() {
  const args = process.getuid && process.getuid() === 0 ?
    ['--no-sandbox'] : [];
  if (env.SPKI)
    args.push('--ignore-certificate-errors-spki-list=' + env.SPKI);
  const browser = await chromium.launch({
    executablePath: env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args,
  });
  const ctx = await browser.newContext({ignoreHTTPSErrors: !env.SPKI,
    viewport: {width: 1280, height: 800}});
  const app = await ctx.newPage();
  app.setDefaultTimeout(120000);
  await app.goto(env.LINK);
  await app.waitForSelector('[data-count="TOTAL"]');
  console.log(`signed in; each page ${RUNS} times, medians ` +
      `(target ${TARGET} ms; ratio = time / target):`);
  const base = [];
  for (let i = 0; i < RUNS; i++) base.push(await bare(ctx));
  const baseline = median(base);
  console.log(`baseline: a new tab with a bare document of the same ` +
      `origin is ready at ${baseline.toFixed(0)} ms (runs: ` +
      `${base.map((t) => t.toFixed(0)).join(', ')}); the browser's own ` +
      `share of every cold load below`);
  const worst = {cold: 0, 'in-app': 0};
  for (const [name, path] of PAGES) {
    console.log(`\n${name} (${path})`);
    const c = [];
    const w = [];
    for (let i = 0; i < RUNS; i++) {
      c.push(await cold(ctx, path));
      w.push(await inApp(app, path));
    }
    worst.cold = Math.max(worst.cold, report(name, path, 'cold', c));
    worst['in-app'] = Math.max(worst['in-app'],
        report(name, path, 'in-app', w));
  }
  console.log('');
  for (const [k, v] of Object.entries(worst))
    console.log(`worst page, ${k}: ${v.toFixed(0)} ms, ratio ` +
        `${(v / TARGET).toFixed(2)} ${v <= TARGET ? '(met)' : '(missed)'}`);
  console.log(`worst page, cold, beyond the bare new tab's ` +
      `${baseline.toFixed(0)} ms: ${(worst.cold - baseline).toFixed(0)} ms, ` +
      `ratio ${((worst.cold - baseline) / TARGET).toFixed(2)}`);
  await browser.close();
}

main().catch((e) => {
  console.error('bench/console: ' + (e.stack || e));
  process.exit(1);
});
