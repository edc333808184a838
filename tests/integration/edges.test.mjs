// deltawire at the live service's edges (issue 13, proxy side; issue 19 items 2 and 8): messages
// too big for WebSocket, compressed bodies, the headers that shape a request, error envelopes,
// WebSocket-only fields over HTTP, and terminal events.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { startMock, startProxy, stopAll, httpJson, sse, waitFor } from './lib/harness.mjs';

const MiB = 1024 * 1024;
const auth = (k) => ({ authorization: `Bearer ${k}` });
const body = (text, extra = {}) => ({ model: 'gpt-5.5', input: [{ role: 'user', content: text }], store: false, ...extra });

let mock;
before(async () => { mock = await startMock(); });
after(stopAll);
beforeEach(async () => { await mock.reset(); });

// The proxy's request log lines so far.
const requestLines = (proxy) => proxy.stderr().split('\n').filter((l) => l.startsWith('{'))
  .map((l) => JSON.parse(l)).filter((l) => l.event === 'request');

async function recoveries(proxy, reason) {
  const text = await (await fetch(proxy.url + '/metrics')).text();
  const line = text.split('\n').find((l) => l.startsWith(`deltawire_recoveries_total{reason="${reason}"} `));
  assert.ok(line, `deltawire_recoveries_total{reason="${reason}"} is exported`);
  return Number(line.split(' ').at(-1));
}

// --- 1. message size ---------------------------------------------------------------------------

test('a 16 MiB request goes over plain HTTP with exactly one upload, no WebSocket try', { timeout: 60000 }, async () => {
  const proxy = await startProxy({ upstream: mock.base });
  const big = body('x'.repeat(16 * MiB));
  const r = await httpJson('POST', proxy.base + '/responses', big, auth('sk-big'));
  assert.equal(r.status, 200);
  assert.equal(r.json.status, 'completed');
  const log = await mock.log();
  assert.equal(log.length, 1, 'one upload');
  assert.equal(log[0].transport, 'http');
  assert.equal(log[0].bytes, Buffer.byteLength(JSON.stringify(big)));
  assert.deepEqual(await mock.handshakes(), [], 'no WebSocket handshake for it');
  await waitFor(() => requestLines(proxy).length === 1);
  const line = requestLines(proxy)[0];
  assert.equal(line.outcome, 'fallback_http');
  assert.equal(line.reason, 'frame over --max-ws-message');
  await proxy.stop();
});

test('a message the upstream refuses with 1009 goes over HTTP once; the close reaches the log and metrics', { timeout: 30000 }, async () => {
  const m = await startMock({ args: ['--max-message-bytes', '4096'] });
  const proxy = await startProxy({ upstream: m.base });
  const req = body('y'.repeat(6000));
  const r = await httpJson('POST', proxy.base + '/responses', req, auth('sk-1009'));
  assert.equal(r.status, 200);
  assert.equal(r.json.status, 'completed');
  const log = await m.log();
  assert.equal(log.length, 1, 'the refused message never became a request; HTTP carried it once');
  assert.equal(log[0].transport, 'http');
  assert.equal((await m.handshakes()).length, 1, 'one WebSocket try');
  await waitFor(() => requestLines(proxy).length === 1);
  const line = requestLines(proxy)[0];
  assert.equal(line.outcome, 'fallback_http');
  assert.equal(line.ws_close, 1009);
  assert.equal(line.ws_close_reason, 'message too big');
  assert.equal(await recoveries(proxy, 'message_refused'), 1);
  // a small one still goes over WebSocket
  const small = await httpJson('POST', proxy.base + '/responses', body('hi'), auth('sk-1009'));
  assert.equal(small.status, 200);
  assert.equal((await m.log()).at(-1).transport, 'ws');
  await proxy.stop();
  await m.stop();
});

test('with --transport ws a message refused with 1009 gets 413, not a replay', { timeout: 30000 }, async () => {
  const m = await startMock({ args: ['--max-message-bytes', '4096'] });
  const proxy = await startProxy({ upstream: m.base, args: ['--transport', 'ws'] });
  const r = await httpJson('POST', proxy.base + '/responses', body('y'.repeat(6000)), auth('sk-1009ws'));
  assert.equal(r.status, 413);
  assert.equal(r.json.error.code, 'request_too_large');
  assert.equal((await m.log()).length, 0);
  await proxy.stop();
  await m.stop();
});
