// deltawire-mock in WebSocket mode: chaining, queueing, the one-response cache,
// store=true across connections, item_reference, eviction on failure, warm-up,
// connection age limit, validation envelopes, log reconstruction.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { startMock, stopAll, wsConnect, httpJson, canonicalItems, waitFor } from './lib/harness.mjs';

const TOOLS = [{ type: 'function', name: 'exec_command', parameters: { type: 'object', properties: { cmd: { type: 'string' }, yield_time_ms: { type: 'number' } } } }];
const USER = { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Run echo hello twice.' }] };

let mock;
const open = [];
before(async () => { mock = await startMock(); });
after(async () => { for (const w of open) await w.close(); await stopAll(); });
beforeEach(async () => { await mock.reset(); });

async function connect(headers = {}, m = mock) {
  const ws = await wsConnect(`ws://127.0.0.1:${m.port}/v1/responses`, headers);
  open.push(ws);
  return ws;
}

const create = (extra = {}) => ({ type: 'response.create', model: 'gpt-5.5', store: false, tools: TOOLS, input: [USER], ...extra });

async function turn(ws, extra) {
  ws.send(create(extra));
  const evs = await ws.untilTerminal();
  return { evs, last: evs.at(-1), resp: evs.at(-1).response };
}

test('upgrade on /v1/responses, events as text frames, numbered from 0', { timeout: 10000 }, async () => {
  const ws = await connect({ authorization: 'Bearer k', 'openai-beta': 'responses_websockets=2026-02-06' });
  assert.equal(ws.status, 101);
  const { evs, resp } = await turn(ws, { stream: true });
  evs.forEach((e, i) => assert.equal(e.sequence_number, i));
  assert.equal(evs[0].type, 'response.created');
  assert.equal(resp.status, 'completed');
  assert.deepEqual(resp.output.map((i) => i.type), ['reasoning', 'function_call']);
  assert.equal(resp.output[1].arguments, '{"cmd":"echo hello","yield_time_ms":1000}');
  const [hs] = await mock.handshakes();
  assert.equal(hs.status, 101);
  assert.ok(Number.isInteger(hs.conn));
  assert.equal(hs.headers['openai-beta'], 'responses_websockets=2026-02-06');
  assert.equal(hs.headers.upgrade, 'websocket');
});

test('an upgrade anywhere but .../responses is refused with 404', { timeout: 10000 }, async () => {
  const ws = await wsConnect(`ws://127.0.0.1:${mock.port}/v1/realtime`);
  assert.equal(ws.status, 404);
  const ok = await wsConnect(`ws://127.0.0.1:${mock.port}/openai/v1/responses`);
  open.push(ok);
  assert.equal(ok.status, 101);
  assert.deepEqual((await mock.handshakes()).map((h) => h.status), [404, 101]);
});

test('Codex-style chain: warm-up, then previous_response_id + only new items to the final answer', { timeout: 15000 }, async () => {
  const ws = await connect();
  const warm = await turn(ws, { generate: false, input: [] });
  assert.deepEqual(warm.evs.map((e) => e.type), ['response.created', 'response.in_progress', 'response.completed']);
  assert.deepEqual(warm.resp.output, []);
  let prev = warm.resp.id;
  const full = [USER];
  let r = await turn(ws, { previous_response_id: prev, input: [USER] });
  assert.equal(r.resp.previous_response_id, prev);
  for (let i = 0; i < 2; i++) {
    full.push(...r.resp.output);
    const call = r.resp.output.find((it) => it.type === 'function_call');
    assert.ok(call, `turn ${i + 1} has a call`);
    const out = { type: 'function_call_output', call_id: call.call_id, output: 'hello\n' };
    full.push(out);
    prev = r.resp.id;
    r = await turn(ws, { previous_response_id: prev, input: [out] });
  }
  assert.deepEqual(r.resp.output.map((i) => i.type), ['reasoning', 'message']);
  assert.match(r.resp.output[1].content[0].text, /both times/);
  const log = await mock.log();
  assert.deepEqual(log.map((e) => e.items), [0, 1, 1, 1]);
  assert.deepEqual(log.map((e) => e.generate), [false, true, true, true]);
  const [hs] = await mock.handshakes();
  assert.ok(log.every((e) => e.transport === 'ws' && e.conn === hs.conn && e.stream === null));
  assert.deepEqual(canonicalItems(log[3].full_input), canonicalItems(full));
  assert.deepEqual(log[3].full_input, full, 'chain holds the items exactly as stored');
});

test('a create sent while one is in flight is queued and answered in order', { timeout: 15000 }, async () => {
  const ws = await connect();
  ws.send(create({ metadata: { mock_fault: 'slow_ms=15' } }));
  ws.send(create({ input: [{ role: 'user', content: 'say hi, no tools' }] }));
  const a = await ws.untilTerminal();
  const b = await ws.untilTerminal();
  assert.equal(a.at(-1).type, 'response.completed');
  assert.equal(b.at(-1).type, 'response.completed');
  assert.equal(b[0].type, 'response.created');
  assert.notEqual(a.at(-1).response.id, b.at(-1).response.id);
  assert.deepEqual(a.at(-1).response.output.map((i) => i.type), ['reasoning', 'function_call']);
  assert.deepEqual(b.at(-1).response.output.map((i) => i.type), ['reasoning', 'message']);
  // the queued one may chain from the one in flight: it resolves when its turn comes
  ws.send(create({ metadata: { mock_fault: 'slow_ms=10' } }));
  const first = await ws.next();
  const c = [first, ...(await ws.untilTerminal())];
  const call = c.at(-1).response.output[1];
  ws.send(create({ previous_response_id: first.response.id, input: [{ type: 'function_call_output', call_id: call.call_id, output: 'x' }] }));
  const d = await ws.untilTerminal();
  assert.equal(d.at(-1).type, 'response.completed');
  assert.equal(d.at(-1).response.output[1].type, 'message');
});

test('only the most recent response is cached: an older one is previous_response_not_found', { timeout: 10000 }, async () => {
  const ws = await connect();
  const a = await turn(ws);
  const b = await turn(ws, { previous_response_id: a.resp.id, input: [{ type: 'function_call_output', call_id: a.resp.output[1].call_id, output: 'x' }] });
  assert.equal(b.last.type, 'response.completed');
  const c = await turn(ws, { previous_response_id: a.resp.id, input: [] });
  assert.deepEqual(c.evs, [{ type: 'error', status: 400, error: {
    type: 'invalid_request_error', code: 'previous_response_not_found',
    message: `Previous response with id '${a.resp.id}' not found.`, param: 'previous_response_id',
  } }]);
  // and a store=false response from another connection is not found either
  const other = await connect();
  const d = await turn(other, { previous_response_id: b.resp.id, input: [] });
  assert.equal(d.last.error.code, 'previous_response_not_found');
  const log = await mock.log();
  const hs = await mock.handshakes();
  assert.equal(hs.length, 2);
  assert.equal(log[0].conn, hs[0].conn);
  assert.equal(log.at(-1).conn, hs[1].conn);
  assert.equal(log.at(-1).error.code, 'previous_response_not_found');
  assert.equal(log.at(-1).response_id, null);
});

test('store=true responses chain from any connection (and over HTTP)', { timeout: 10000 }, async () => {
  const ws1 = await connect();
  const a = await turn(ws1, { store: true });
  await ws1.close();
  const ws2 = await connect();
  const call = a.resp.output[1];
  const b = await turn(ws2, { store: true, previous_response_id: a.resp.id, input: [{ type: 'function_call_output', call_id: call.call_id, output: 'x' }] });
  assert.equal(b.last.type, 'response.completed');
  assert.equal(b.resp.output[1].type, 'message');
  const h = await httpJson('POST', `${mock.base}/responses`, { model: 'gpt-5.5', previous_response_id: b.resp.id, input: [{ role: 'user', content: 'no tools now' }] });
  assert.equal(h.status, 200);
  const log = await mock.log();
  assert.equal(log[2].full_input.length, 1 + 2 + 1 + 3 + 1);
});

test('item_reference over WebSocket resolves store=true items; unknown gives an error envelope', { timeout: 10000 }, async () => {
  const ws = await connect();
  const a = await turn(ws, { store: true, input: [{ type: 'message', id: 'msg_u1', role: 'user', content: 'go' }] });
  const [rs, fc] = a.resp.output;
  const b = await turn(ws, { input: [{ type: 'item_reference', id: 'msg_u1' }, { type: 'item_reference', id: rs.id }, { type: 'item_reference', id: fc.id },
    { type: 'function_call_output', call_id: fc.call_id, output: 'x' }] });
  assert.equal(b.last.type, 'response.completed');
  const log = await mock.log();
  assert.deepEqual(log[1].full_input.slice(1, 3), [rs, fc]);
  const c = await turn(ws, { input: [{ type: 'item_reference', id: 'msg_missing' }] });
  assert.equal(c.last.type, 'error');
  assert.equal(c.last.status, 400);
  assert.match(c.last.error.message, /msg_missing/);
});

test('a failed turn evicts the cached response', { timeout: 10000 }, async () => {
  const ws = await connect();
  const a = await turn(ws);
  const failed = await turn(ws, { previous_response_id: a.resp.id, input: [], metadata: { mock_fault: 'error_status=500' } });
  assert.deepEqual(failed.evs.map((e) => e.type), ['error']);
  assert.equal(failed.last.status, 500);
  assert.equal(failed.last.error.type, 'server_error');
  const again = await turn(ws, { previous_response_id: a.resp.id, input: [] });
  assert.equal(again.last.error.code, 'previous_response_not_found');
  // the connection still works with the full input
  const fresh = await turn(ws);
  assert.equal(fresh.last.type, 'response.completed');
});

test('generate:false warm-up returns an id to chain from, with no output', { timeout: 10000 }, async () => {
  const ws = await connect();
  const w = await turn(ws, { generate: false, input: [{ type: 'message', role: 'developer', content: 'sys' }] });
  assert.deepEqual(w.evs.map((e) => e.type), ['response.created', 'response.in_progress', 'response.completed']);
  assert.deepEqual(w.resp.output, []);
  const r = await turn(ws, { previous_response_id: w.resp.id, input: [USER] });
  assert.equal(r.resp.output[1].type, 'function_call');
  const log = await mock.log();
  assert.deepEqual(log[1].full_input, [{ type: 'message', role: 'developer', content: 'sys' }, USER]);
});

test('WebSocket validation errors are 400 envelopes and the connection survives', { timeout: 10000 }, async () => {
  const ws = await connect();
  ws.send('{"type":"response.create","model":');
  const bad = await ws.next();
  assert.equal(bad.type, 'error');
  assert.equal(bad.status, 400);
  assert.equal(bad.error.type, 'invalid_request_error');
  ws.send({ type: 'response.create', input: [] });
  assert.equal((await ws.next()).error.param, 'model');
  ws.send(create({ input: { role: 'user' } }));
  assert.equal((await ws.next()).error.param, 'input');
  ws.send({ type: 'response.cancel' });
  assert.equal((await ws.next()).error.param, 'type');
  ws.send(create({ background: true }));
  assert.equal((await ws.next()).error.param, 'background');
  const ok = await turn(ws);
  assert.equal(ok.last.type, 'response.completed');
  const log = await mock.log();
  assert.equal(log.length, 6);
  assert.deepEqual(log.slice(0, 5).map((e) => e.error.status), [400, 400, 400, 400, 400]);
});

test('connection age limit: websocket_connection_limit_reached, then close', { timeout: 10000 }, async () => {
  const m = await startMock({ args: ['--max-conn-age', '0.3'] });
  const ws = await connect({}, m);
  const ok = await turn(ws);
  assert.equal(ok.last.type, 'response.completed');
  // turns on the same connection succeed until it is older than the limit, then the error comes
  const e = await waitFor(async () => {
    const { evs, last } = await turn(ws);
    if (last.type === 'response.completed') return null;
    assert.equal(evs.length, 1, 'the error is the only event');
    return last;
  }, { timeoutMs: 5000, intervalMs: 50 });
  assert.equal(e.type, 'error');
  assert.equal(e.status, 400);
  assert.equal(e.error.code, 'websocket_connection_limit_reached');
  assert.equal(await ws.next(), null, 'closed after the error');
  const info = await ws.closed;
  assert.ok(info.code >= 1000);
  const log = await m.log();
  assert.equal(log.at(-1).error.code, 'websocket_connection_limit_reached');
  assert.ok(log.slice(0, -1).every((l) => l.error === null), 'every turn before it succeeded');
  await m.stop();
});

test('large messages: with --max-message-bytes raised, a ~64 MiB frame is accepted', { timeout: 60000 }, async () => {
  const m = await startMock({ args: ['--max-message-bytes', String(80 * 1024 * 1024)] });
  const ws = await connect({}, m);
  const big = 'x'.repeat(64 * 1024 * 1024);
  const r = await turn(ws, { input: [{ role: 'user', content: big }] });
  assert.equal(r.last.type, 'response.completed');
  const log = await m.log();
  assert.ok(log[0].bytes > 64 * 1024 * 1024);
  await m.stop();
});

test('many turns on one connection keep working and the chain keeps growing', { timeout: 20000 }, async () => {
  const m = await startMock({ args: ['--tool-turns', '1000'] });
  const ws = await connect({}, m);
  let r = await turn(ws);
  for (let i = 0; i < 50; i++) {
    const call = r.resp.output.find((it) => it.type === 'function_call');
    r = await turn(ws, { previous_response_id: r.resp.id, input: [{ type: 'function_call_output', call_id: call.call_id, output: String(i) }] });
    assert.equal(r.last.type, 'response.completed');
  }
  const log = await m.log();
  // user + first output (2) + its call output, then 49 turns of 3 output items + 1 call output
  assert.equal(log.at(-1).full_input.length, 1 + 2 + 1 + 49 * 4);
  await m.stop();
});
