// deltawire-mock fault injection: each kind, from each source (flags, the
// x-mock-fault header on a request or an upgrade, metadata.mock_fault, and
// POST /__mock/fault with a count).
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { startMock, stopAll, wsConnect, httpJson, sse } from './lib/harness.mjs';

const TOOLS = [{ type: 'function', name: 'shell', parameters: { type: 'object', properties: { command: { type: 'array' } } } }];
const body = (extra = {}) => ({ model: 'gpt-5.5', store: false, tools: TOOLS, input: [{ role: 'user', content: 'go' }], ...extra });
const create = (extra = {}) => ({ type: 'response.create', ...body(extra) });

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

test('refuse_upgrade from the command line: every upgrade gets the status', { timeout: 10000 }, async () => {
  const m = await startMock({ args: ['--refuse-upgrade', '426'] });
  for (let i = 0; i < 2; i++) {
    const ws = await connect({ 'x-codex-window-id': 'w' }, m);
    assert.equal(ws.status, 426);
    assert.equal(JSON.parse(ws.body).error.type, 'invalid_request_error');
  }
  const hs = await m.handshakes();
  assert.deepEqual(hs.map((h) => h.status), [426, 426]);
  assert.equal(hs[0].headers['x-codex-window-id'], 'w');
  // HTTP still works
  assert.equal((await httpJson('POST', `${m.base}/responses`, body())).status, 200);
  await m.stop();
});

test('refuse_upgrade from the upgrade header and from /__mock/fault with a count', { timeout: 10000 }, async () => {
  const viaHeader = await connect({ 'x-mock-fault': 'refuse_upgrade=404' });
  assert.equal(viaHeader.status, 404);
  await mock.fault({ refuse_upgrade: 401, count: 2 });
  assert.equal((await connect()).status, 401);
  assert.equal((await connect()).status, 401);
  const ok = await connect();
  assert.equal(ok.status, 101);
  // requests do not use up upgrade refusals, and vice versa
  await mock.fault({ refuse_upgrade: 426, count: 1 });
  assert.equal((await httpJson('POST', `${mock.base}/responses`, body())).status, 200);
  assert.equal((await connect()).status, 426);
  const hs = await mock.handshakes();
  assert.deepEqual(hs.map((h) => h.status), [404, 401, 401, 101, 426]);
  assert.equal(hs[0].headers['x-mock-fault'], 'refuse_upgrade=404');
});

test('close_after_events over WebSocket (upgrade header applies to each request on it)', { timeout: 10000 }, async () => {
  const ws = await connect({ 'x-mock-fault': 'close_after_events=3' });
  ws.send(create());
  const got = [];
  for (let e; (e = await ws.next());) got.push(e);
  assert.deepEqual(got.map((e) => e.type), ['response.created', 'response.in_progress', 'response.output_item.added']);
  const [entry] = await mock.log();
  assert.deepEqual(entry.fault, { close_after_events: 3 });
  assert.equal(entry.headers['x-mock-fault'], 'close_after_events=3');
});

test('close_after_events over HTTP SSE: the stream is cut without a terminal event', { timeout: 10000 }, async () => {
  const evs = await sse(`${mock.base}/responses`, body({ stream: true }), { 'x-mock-fault': 'close_after_events=4' });
  assert.equal(evs.status, 200);
  assert.equal(evs.length, 4);
  assert.ok(evs.error, 'the body ends abnormally');
  assert.ok(!evs.some((e) => e.event === 'response.completed'));
  // non-streaming: the connection drops before any response
  await assert.rejects(httpJson('POST', `${mock.base}/responses`, body({ metadata: { mock_fault: 'close_after_events=1' } })));
  const log = await mock.log();
  assert.deepEqual(log.map((e) => e.fault), [{ close_after_events: 4 }, { close_after_events: 1 }]);
});

test('first_event_delay_ms delays the first event (ws, sse, json)', { timeout: 10000 }, async () => {
  const ws = await connect();
  let t0 = Date.now();
  ws.send(create({ metadata: { mock_fault: 'first_event_delay_ms=300' } }));
  await ws.next();
  assert.ok(Date.now() - t0 >= 280, `ws first event after ${Date.now() - t0} ms`);
  await ws.untilTerminal();
  t0 = Date.now();
  const evs = await sse(`${mock.base}/responses`, body({ stream: true }), { 'x-mock-fault': 'first_event_delay_ms=300' });
  assert.ok(Date.now() - t0 >= 280);
  assert.equal(evs.at(-1).event, 'response.completed');
  t0 = Date.now();
  await mock.fault({ first_event_delay_ms: 300 });
  assert.equal((await httpJson('POST', `${mock.base}/responses`, body())).status, 200);
  assert.ok(Date.now() - t0 >= 280);
  assert.equal((await httpJson('POST', `${mock.base}/responses`, body())).status, 200);
  const faults = (await mock.log()).map((e) => e.fault);
  assert.deepEqual(faults.slice(-2), [{ first_event_delay_ms: 300 }, null], 'count defaults to 1');
});

test('slow_ms spaces the events out', { timeout: 10000 }, async () => {
  const t0 = Date.now();
  const evs = await sse(`${mock.base}/responses`, body({ stream: true }), { 'x-mock-fault': 'slow_ms=20' });
  const took = Date.now() - t0;
  assert.ok(took >= 20 * (evs.length - 2), `took ${took} ms for ${evs.length} events`);
  const ws = await connect({ 'x-mock-fault': 'slow_ms=20' });
  const t1 = Date.now();
  ws.send(create());
  const wevs = await ws.untilTerminal();
  assert.ok(Date.now() - t1 >= 20 * (wevs.length - 2));
});

test('error_status: HTTP error body and WebSocket error envelope, from every source', { timeout: 10000 }, async () => {
  const h = await httpJson('POST', `${mock.base}/responses`, body({ stream: true }), { 'x-mock-fault': 'error_status=503' });
  assert.equal(h.status, 503);
  assert.equal(h.json.error.type, 'server_error');
  assert.deepEqual(Object.keys(h.json.error).sort(), ['code', 'message', 'param', 'type']);
  await mock.fault({ error_status: 502, count: 2 });
  assert.equal((await httpJson('POST', `${mock.base}/responses`, body())).status, 502);
  const ws = await connect();
  ws.send(create());
  const e = await ws.next();
  assert.deepEqual([e.type, e.status, e.error.type], ['error', 502, 'server_error']);
  ws.send(create());
  assert.equal((await ws.untilTerminal()).at(-1).type, 'response.completed', 'count used up');
  ws.send(create({ metadata: { mock_fault: 'error_status=500' } }));
  assert.equal((await ws.next()).status, 500);
  const m = await startMock({ args: ['--error-status', '500'] });
  assert.equal((await httpJson('POST', `${m.base}/responses`, body())).status, 500);
  await m.stop();
  const log = await mock.log();
  assert.deepEqual(log.map((x) => x.error?.status ?? null), [503, 502, 502, null, 500]);
  assert.deepEqual(log[1].fault, { error_status: 502 });
});

test('forget_cache: store=false chains fail, store=true ones still load from the store', { timeout: 10000 }, async () => {
  const ws = await connect();
  ws.send(create());
  const a = (await ws.untilTerminal()).at(-1).response;
  await mock.fault({ forget_cache: true });
  ws.send(create({ previous_response_id: a.id, input: [] }));
  assert.equal((await ws.next()).error.code, 'previous_response_not_found');
  const forgetful = await connect({ 'x-mock-fault': 'forget_cache=1' });
  forgetful.send(create({ store: true }));
  const b = (await forgetful.untilTerminal()).at(-1).response;
  forgetful.send(create({ store: true, previous_response_id: b.id, input: [{ type: 'function_call_output', call_id: b.output[1].call_id, output: 'x' }] }));
  assert.equal((await forgetful.untilTerminal()).at(-1).type, 'response.completed');
  const m = await startMock({ args: ['--forget-cache'] });
  const ws2 = await connect({}, m);
  ws2.send(create());
  const c = (await ws2.untilTerminal()).at(-1).response;
  ws2.send(create({ previous_response_id: c.id, input: [] }));
  assert.equal((await ws2.next()).error.code, 'previous_response_not_found');
  await m.stop();
});

test('a malformed x-mock-fault is a 400, and run-wide faults come from DELTAWIRE_MOCK_* too', { timeout: 10000 }, async () => {
  const r = await httpJson('POST', `${mock.base}/responses`, body(), { 'x-mock-fault': 'explode=1' });
  assert.equal(r.status, 400);
  const m = await startMock({ env: { DELTAWIRE_MOCK_ERROR_STATUS: '504' } });
  assert.equal((await httpJson('POST', `${m.base}/responses`, body())).status, 504);
  await m.stop();
  assert.equal((await httpJson('POST', `${mock.url}/__mock/fault`, { slow_ms: 'x' })).status, 400);
});
