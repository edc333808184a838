// deltawire-mock liveness faults (issue 14): a connection that goes black after a response (no
// reads, no pongs, no FIN), a response that stalls mid-way (for a while or for ever), silence
// with the HTTP API's {"type":"keepalive"} SSE events, and the service's own keepalive pings
// closing with 1011 when the pong is late.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startMock, stopAll, wsConnect, sse, parseSse, waitFor, sleep } from './lib/harness.mjs';

const TOOLS = [{ type: 'function', name: 'shell', parameters: { type: 'object', properties: { command: { type: 'string' } } } }];
const body = (extra = {}) => ({ model: 'gpt-5.5', store: false, tools: TOOLS, input: [{ role: 'user', content: 'go' }], ...extra });
const create = (extra = {}) => ({ type: 'response.create', ...body(extra) });
// how long a test watches for something that must not happen
const QUIET_MS = 400;

let mock;
const sockets = [];
before(async () => { mock = await startMock(); });
after(async () => { for (const w of sockets) await w.close(); await stopAll(); });
beforeEach(async () => { await mock.reset(); });

async function connect(headers = {}, m = mock) {
  const ws = await wsConnect(`ws://127.0.0.1:${m.port}/v1/responses`, headers);
  sockets.push(ws);
  return ws;
}

// a masked client ping frame
function ping(ws, payload = 'are-you-there') {
  const data = Buffer.from(payload);
  const mask = randomBytes(4);
  const masked = Buffer.from(data.map((b, i) => b ^ mask[i & 3]));
  ws.socket.write(Buffer.concat([Buffer.from([0x89, 0x80 | data.length]), mask, masked]));
}

// every byte that arrives on the socket from now on
function tap(ws) {
  const got = [];
  ws.socket.on('data', (d) => got.push(...d));
  return got;
}

const isClosed = (ws) => Promise.race([ws.closed.then(() => true), sleep(0).then(() => false)]);

test('black_hole: after its response the connection never answers, never pongs, never closes', { timeout: 15000 }, async () => {
  const ws = await connect();
  ws.send(create({ metadata: { mock_fault: 'black_hole=1' } }));
  assert.equal((await ws.untilTerminal()).at(-1).type, 'response.completed', 'the response itself is whole');
  await waitFor(async () => (await mock.handshakes())[0].black_hole === true);
  const bytes = tap(ws);
  ping(ws);
  ws.send(create());
  await sleep(QUIET_MS);
  assert.deepEqual(bytes, [], 'no pong, no event, no close frame');
  assert.equal(await isClosed(ws), false, 'no FIN either');
  // other connections are served as usual
  const other = await connect();
  ping(other);
  other.send(create());
  assert.equal((await other.untilTerminal()).at(-1).type, 'response.completed');
  assert.equal((await mock.log()).length, 2, 'the black-holed request was never read');
});

test('black_hole from /__mock/fault, the upgrade header and --black-hole', { timeout: 15000 }, async () => {
  const ws = await connect();
  await mock.fault({ black_hole: true });
  ws.send(create());
  await ws.untilTerminal();
  const bytes = tap(ws);
  ws.send(create());
  await sleep(QUIET_MS);
  assert.deepEqual(bytes, []);
  const viaHeader = await connect({ 'x-mock-fault': 'black_hole=1' });
  viaHeader.send(create());
  await viaHeader.untilTerminal();
  const m = await startMock({ args: ['--black-hole'] });
  const ws2 = await connect({}, m);
  ws2.send(create());
  await ws2.untilTerminal();
  await waitFor(async () => (await m.handshakes())[0].black_hole === true);
  await m.stop();
  const hs = await mock.handshakes();
  assert.deepEqual(hs.map((h) => h.black_hole), [true, true]);
});

test('stall_after_events: WebSocket events stop for ever, while pings are still answered', { timeout: 15000 }, async () => {
  const ws = await connect();
  ws.send(create({ metadata: { mock_fault: 'stall_after_events=3' } }));
  const got = [await ws.next(), await ws.next(), await ws.next()];
  assert.deepEqual(got.map((e) => e.type), ['response.created', 'response.in_progress', 'response.output_item.added']);
  const bytes = tap(ws);
  await sleep(QUIET_MS);
  assert.deepEqual(bytes, [], 'nothing after the third event');
  ping(ws);
  await waitFor(() => bytes.length > 0);
  assert.equal(bytes[0], 0x8a, 'a pong');
  assert.equal(ws.messages.length, 3);
});

test('stall_after_events with stall_ms: the response resumes and completes (WebSocket and SSE)', { timeout: 15000 }, async () => {
  const ws = await connect();
  const t0 = Date.now();
  ws.send(create({ metadata: { mock_fault: 'stall_after_events=2;stall_ms=300' } }));
  const evs = await ws.untilTerminal();
  assert.ok(Date.now() - t0 >= 280);
  assert.equal(evs.at(-1).type, 'response.completed');
  evs.forEach((e, i) => assert.equal(e.sequence_number, i));
  const t1 = Date.now();
  const s = await sse(`${mock.base}/responses`, body({ stream: true }), { 'x-mock-fault': 'stall_after_events=2;stall_ms=300' });
  assert.ok(Date.now() - t1 >= 280);
  assert.equal(s.at(-1).event, 'response.completed');
  assert.ok(!s.some((e) => e.event === 'keepalive'), 'no keepalives unless --sse-keepalive');
});

test('a stalled SSE stream stays open and silent', { timeout: 15000 }, async () => {
  const ctl = new AbortController();
  const res = await fetch(`${mock.base}/responses`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-mock-fault': 'stall_after_events=2' }, body: JSON.stringify(body({ stream: true })), signal: ctl.signal });
  assert.equal(res.status, 200);
  const reader = res.body.getReader();
  let raw = '';
  while (parseSse(raw).length < 2) raw += new TextDecoder().decode((await reader.read()).value);
  const more = await Promise.race([reader.read().then(() => 'data'), sleep(QUIET_MS).then(() => 'quiet')]);
  assert.equal(more, 'quiet');
  assert.deepEqual(parseSse(raw).map((e) => e.event), ['response.created', 'response.in_progress']);
  ctl.abort();
});

test('--sse-keepalive: {"type":"keepalive"} events during silence before the first event and between events', { timeout: 15000 }, async () => {
  const m = await startMock({ args: ['--sse-keepalive', '0.1'] });
  const before1 = await sse(`${m.base}/responses`, body({ stream: true }), { 'x-mock-fault': 'first_event_delay_ms=450' });
  const kinds = before1.map((e) => e.event);
  const firstReal = kinds.indexOf('response.created');
  assert.ok(firstReal >= 3, `keepalives before the first event: ${kinds.join(',')}`);
  assert.ok(kinds.slice(0, firstReal).every((k) => k === 'keepalive'));
  assert.deepEqual(before1[0].data, { type: 'keepalive' });
  assert.equal(kinds.at(-1), 'response.completed');
  const between = await sse(`${m.base}/responses`, body({ stream: true }), { 'x-mock-fault': 'stall_after_events=3;stall_ms=450' });
  const bk = between.map((e) => e.event);
  assert.deepEqual(bk.slice(0, 3), ['response.created', 'response.in_progress', 'response.output_item.added']);
  assert.ok(bk.slice(3).filter((k) => k === 'keepalive').length >= 3, bk.join(','));
  assert.equal(bk.at(-1), 'response.completed');
  // the real events keep their own numbering
  between.filter((e) => e.event !== 'keepalive').forEach((e, i) => assert.equal(e.data.sequence_number, i));
  // no keepalives over WebSocket (there is no JSON ping) and none on a stream that is not silent
  const ws = await connect({}, m);
  ws.send(create({ metadata: { mock_fault: 'first_event_delay_ms=300' } }));
  assert.ok(!(await ws.untilTerminal()).some((e) => e.type === 'keepalive'));
  const busy = await sse(`${m.base}/responses`, body({ stream: true }));
  assert.ok(!busy.some((e) => e.event === 'keepalive'));
  const log = await m.log();
  assert.ok(log[0].keepalives >= 3);
  await m.stop();
});

test('--ws-ping-interval: the mock pings; a client that answers stays, one that does not gets 1011', { timeout: 15000 }, async () => {
  const m = await startMock({ args: ['--ws-ping-interval', '0.1', '--ws-pong-timeout', '0.3'] });
  const good = await connect({}, m);
  await waitFor(async () => (await m.handshakes())[0].pongs >= 3);
  good.send(create());
  assert.equal((await good.untilTerminal()).at(-1).type, 'response.completed');
  assert.equal(await isClosed(good), false);
  const deaf = await connect({}, m);
  deaf.socket.pause(); // reads nothing, so answers no ping
  await waitFor(async () => (await m.handshakes())[1].close !== null, { timeoutMs: 5000 });
  assert.deepEqual((await m.handshakes())[1].close, { code: 1011, reason: 'keepalive ping timeout' });
  deaf.socket.resume();
  assert.deepEqual(await deaf.closed, { code: 1011, reason: 'keepalive ping timeout' });
  await m.stop();
  // off by default
  const ws = await connect();
  ws.send(create());
  await ws.untilTerminal();
  assert.equal((await mock.handshakes())[0].pings, 0);
});
