// The status page (issue 17): GET /status (and GET /) is one self-contained HTML page that renders
// /stats. Headless Chromium from Debian loads it (driven over the DevTools protocol with the
// harness's WebSocket client), and the figures it shows are compared with /stats, before and after
// more traffic, including the recent-latency window. DW_STATUS_SCREENSHOT=FILE saves a screenshot.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startMock, startProxy, stopAll, httpJson, wsConnect, waitFor } from './lib/harness.mjs';
import { runToolLoop } from './lib/loop.mjs';

const CHROMIUM = '/usr/bin/chromium';
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'dw-chromium-'));
let browser = null;

// Chromium forks its helpers into the process group we gave it: the whole group goes, even when the
// browser itself has closed already.
const killBrowser = () => {
  if (browser) try { process.kill(-browser.pid, 'SIGKILL'); } catch { /* gone */ }
};
process.on('exit', killBrowser);
after(async () => {
  if (browser) {
    const exited = browser.exitCode !== null || browser.signalCode !== null ? null : new Promise((r) => browser.once('exit', r));
    killBrowser();
    await exited;
    const gone = () => { try { process.kill(-browser.pid, 0); return false; } catch { return true; } };
    await waitFor(gone, { timeoutMs: 10000 });
  }
  await stopAll();
  fs.rmSync(profile, { recursive: true, force: true });
});

async function launchChromium() {
  browser = spawn(CHROMIUM, ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync', '--hide-scrollbars',
    `--user-data-dir=${profile}`, '--remote-debugging-port=0', 'about:blank'], { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  browser.stderr.on('data', (d) => { err += d; });
  const url = await waitFor(() => /DevTools listening on (ws:\S+)/.exec(err)?.[1], { timeoutMs: 30000, intervalMs: 50 })
    .catch(() => { throw new Error(`chromium did not start:\n${err}`); });
  return cdpClient(await wsConnect(url));
}

// Commands get their answer by id; events are kept for the test to look at.
function cdpClient(ws) {
  let nextId = 1;
  const pending = new Map();
  const events = [];
  (async () => {
    for (;;) {
      const msg = await ws.next(600000).catch(() => null);
      if (!msg) break;
      if (msg.id && pending.has(msg.id)) {
        const { resolve, reject } = pending.get(msg.id);
        pending.delete(msg.id);
        if (msg.error) reject(new Error(`CDP: ${JSON.stringify(msg.error)}`)); else resolve(msg.result);
      } else if (msg.method) {
        events.push(msg);
      }
    }
    for (const { reject } of pending.values()) reject(new Error('CDP connection closed'));
  })();
  const send = (method, params = {}, sessionId) => new Promise((resolve, reject) => {
    const id = nextId++;
    pending.set(id, { resolve, reject });
    ws.send({ id, method, params, ...(sessionId ? { sessionId } : {}) });
  });
  return { send, events, close: () => ws.close() };
}

// The figures as the page shows them: id -> {value (the raw number), text (what a reader sees)}.
const FIGURES = `JSON.stringify({
  refreshes: Number(document.body.dataset.refreshes),
  instance: document.getElementById('instance').textContent,
  state: document.getElementById('state').textContent,
  figures: Object.fromEntries([...document.querySelectorAll('[id][data-value]')]
    .map((e) => [e.id, { value: e.dataset.value, text: e.textContent }])) })`;

// The oracle for the page's quantiles: Prometheus' histogram_quantile over per-bucket counts.
function quantile(q, le, counts) {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < counts.length; i++) {
    if (counts[i] > 0 && below + counts[i] >= rank) {
      if (i === le.length) return le.at(-1);
      const lo = i === 0 ? 0 : le[i - 1];
      return lo + ((le[i] - lo) * (rank - below)) / counts[i];
    }
    below += counts[i];
  }
  return le.at(-1);
}

const close = (a, b) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));
const fmtBytes = (b) => (b >= 1e6 ? `${(b / 1e6).toFixed(1)} MB` : b >= 1e3 ? `${(b / 1e3).toFixed(1)} kB` : `${b} B`);

function assertLatency(f, key, h, le) {
  assert.equal(Number(f[`lat-${key}-count`].value), h.count, `${key} count`);
  if (h.count === 0) {
    for (const k of ['mean', 'p50', 'p99']) assert.equal(f[`lat-${key}-${k}`].value, '', `${key} ${k} empty`);
    return;
  }
  assert.ok(close(Number(f[`lat-${key}-mean`].value), h.sum_seconds / h.count), `${key} mean`);
  assert.ok(close(Number(f[`lat-${key}-p50`].value), quantile(0.5, le, h.counts)), `${key} p50`);
  assert.ok(close(Number(f[`lat-${key}-p99`].value), quantile(0.99, le, h.counts)), `${key} p99`);
  assert.equal(f[`lat-${key}-p99`].text, (quantile(0.99, le, h.counts) * 1000).toFixed(3));
}

// Every figure the page shows against one /stats reading.
function assertMatches(page, s) {
  const f = page.figures;
  const v = (id) => Number(f[id].value);
  assert.equal(page.instance, s.instance);
  assert.equal(page.state, 'serving');
  assert.equal(v('req-total'), s.requests);
  for (const [name, n] of Object.entries(s.by_outcome)) assert.equal(v(`req-${name}`), n, name);
  assert.equal(v('bytes-clients'), s.bytes_from_clients);
  assert.equal(f['bytes-clients'].text, fmtBytes(s.bytes_from_clients));
  assert.equal(v('bytes-upstream'), s.bytes_to_upstream);
  assert.equal(f['bytes-upstream'].text, fmtBytes(s.bytes_to_upstream));
  assert.equal(v('bytes-saved'), s.bytes_saved);
  assert.equal(f['saved-percent'].text, `${s.saved_percent.toFixed(1)}%`);
  assert.equal(v('wire-upstream'), s.wire_to_upstream);
  assert.equal(f['wire-upstream'].text, fmtBytes(s.wire_to_upstream));
  assert.equal(f['wire-saved-percent'].text, `${s.wire_saved_percent.toFixed(1)}%`);
  assert.equal(v('items-total'), s.items_total);
  assert.equal(v('items-elided'), s.items_elided);
  assert.equal(v('conns-open'), s.upstream_connections.open);
  assert.equal(v('conns-busy'), s.upstream_connections.busy);
  assert.equal(v('conns-idle'), s.upstream_connections.open - s.upstream_connections.busy);
  assert.equal(v('conns-connecting'), s.upstream_connections.connecting);
  assert.equal(v('queued'), s.queued);
  assert.equal(v('inflight'), s.inflight);
  assert.equal(v('transcripts'), s.transcripts);
  assertLatency(f, 'added-all', s.latency.added, s.latency.le);
  assertLatency(f, 'ttfb-all', s.latency.ttfb, s.latency.le);
}

const minus = (a, b) => ({ count: a.count - b.count, sum_seconds: a.sum_seconds - b.sum_seconds,
  counts: a.counts.map((c, i) => c - b.counts[i]) });

test('the status page is self-contained and shows what /stats says, refreshed', { timeout: 120000 }, async () => {
  const mock = await startMock();
  const proxy = await startProxy({ upstream: mock.base, args: ['--instance', 'status-test'] });
  const page = await httpJson('GET', `${proxy.url}/status`);
  assert.equal(page.status, 200);
  assert.match(page.headers['content-type'], /^text\/html/);
  assert.doesNotMatch(page.text, /<img|<iframe|src=|url\(|@import|https?:\/\//i, 'no external assets');
  for (const link of page.text.match(/<link[^>]*>/g) || []) assert.match(link, /href='data:/, link);
  const root = await httpJson('GET', `${proxy.url}/`);
  assert.equal(root.text, page.text, 'GET / is the status page too (the API lives under /v1)');

  for (const stream of [false, true]) {
    const run = await runToolLoop(proxy.base, { stream, headers: { authorization: `Bearer sk-status-${stream}` } });
    assert.ok(run.turns.every((t) => t.status === 200),
      `turn statuses ${run.turns.map((t) => t.status)}: ${JSON.stringify(run.turns.at(-1).response)}`);
  }

  const cdp = await launchChromium();
  const { targetId } = await cdp.send('Target.createTarget', { url: 'about:blank' });
  const { sessionId } = await cdp.send('Target.attachToTarget', { targetId, flatten: true });
  const send = (method, params) => cdp.send(method, params, sessionId);
  await send('Network.enable');
  await send('Emulation.setDeviceMetricsOverride', { width: 1200, height: 700, deviceScaleFactor: 1, mobile: false });
  await send('Page.navigate', { url: `${proxy.url}/status?refresh=200` });
  const read = async () => JSON.parse((await send('Runtime.evaluate', { expression: FIGURES, returnByValue: true })).result.value);
  const readAfter = async (pred) => waitFor(async () => {
    try { const p = await read(); return pred(p) ? p : null; } catch { return null; } // navigation not done yet
  }, { timeoutMs: 20000, intervalMs: 100 });

  const first = await readAfter((p) => p.refreshes >= 1);
  const stats1 = (await httpJson('GET', `${proxy.url}/stats`)).json;
  assert.ok(stats1.requests >= 6 && stats1.by_outcome.delta > 0 && stats1.bytes_saved > 0, 'traffic to show');
  assertMatches(first, stats1);
  assert.equal(first.figures['lat-added-count'].value, '0', 'nothing recent before the page saw new requests');

  // more traffic: the page's next refreshes show it, and the recent window holds exactly it
  const more = await runToolLoop(proxy.base, { headers: { authorization: 'Bearer sk-status-more' } });
  assert.ok(more.turns.every((t) => t.status === 200));
  const stats2 = (await httpJson('GET', `${proxy.url}/stats`)).json;
  // two refreshes on, one of them began after the traffic and /stats were read
  const seen = (await readAfter(() => true)).refreshes;
  const second = await readAfter((p) => p.refreshes >= seen + 2);
  assertMatches(second, stats2);
  const le = stats2.latency.le;
  assertLatency(second.figures, 'added', minus(stats2.latency.added, stats1.latency.added), le);
  assertLatency(second.figures, 'ttfb', minus(stats2.latency.ttfb, stats1.latency.ttfb), le);
  assert.equal(Number(second.figures['lat-ttfb-count'].value), more.turns.length);

  // the page fetched nothing but itself and /stats
  const urls = cdp.events.filter((e) => e.method === 'Network.requestWillBeSent').map((e) => new URL(e.params.request.url));
  assert.ok(urls.length >= 3);
  for (const u of urls) {
    assert.equal(u.origin, proxy.url);
    assert.ok(['/status', '/stats'].includes(u.pathname), u.href);
  }

  if (process.env.DW_STATUS_SCREENSHOT) {
    const { data } = await send('Page.captureScreenshot', { format: 'png' });
    fs.writeFileSync(process.env.DW_STATUS_SCREENSHOT, Buffer.from(data, 'base64'));
  }
  await cdp.send('Browser.close').catch(() => { /* closing */ });
  cdp.close();
});
