// deltawire-mock and the live service's edges (issue 13; upstream-protocol.md section 2 from
// "Limits and cache" on): the 16 MiB message limit, compressed HTTP bodies, the headers and
// client_metadata a client sends, every error envelope shape, WebSocket-only fields over HTTP,
// and response.done as a terminal event.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import zlib from 'node:zlib';
import { startMock, stopAll, wsConnect, httpJson, sse, parseSse } from './lib/harness.mjs';

const MiB = 1024 * 1024;
const TOOLS = [{ type: 'function', name: 'shell', parameters: { type: 'object', properties: { command: { type: 'string' } } } }];
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

// a response.create frame of exactly `size` bytes
function frameOf(size) {
  const shell = JSON.stringify(create({ input: [{ role: 'user', content: '' }] }));
  const text = JSON.stringify(create({ input: [{ role: 'user', content: 'x'.repeat(size - shell.length) }] }));
  assert.equal(Buffer.byteLength(text), size);
  return text;
}

// events until (and including) one whose type is in `ends`, or until the socket closes
async function until(ws, ends) {
  const out = [];
  for (let e; (e = await ws.next());) {
    out.push(e);
    if (ends.includes(e.type)) break;
  }
  return out;
}

test('a WebSocket message of 16 MiB is closed with 1009 before any event; one byte less is answered; HTTP takes it', { timeout: 60000 }, async () => {
  const under = await connect();
  under.send(frameOf(16 * MiB - 1));
  assert.equal((await under.untilTerminal(30000)).at(-1).type, 'response.completed');
  const at = await connect();
  at.send(frameOf(16 * MiB));
  assert.equal(await at.next(30000), null, 'no event before the close');
  assert.equal((await at.closed).code, 1009);
  assert.equal(at.messages.length, 0);
  const log = await mock.log();
  assert.equal(log.length, 1, 'the refused message never became a request');
  assert.equal(log[0].bytes, 16 * MiB - 1);
  // the same request over plain HTTP succeeds, and so does a bigger one
  const big = JSON.parse(frameOf(20 * MiB));
  delete big.type;
  const r = await httpJson('POST', `${mock.base}/responses`, big);
  assert.equal(r.status, 200);
  assert.equal(r.json.status, 'completed');
});

test('--max-message-bytes moves the WebSocket limit, --max-body-bytes the HTTP one', { timeout: 20000 }, async () => {
  const m = await startMock({ args: ['--max-message-bytes', '4096', '--max-body-bytes', '3000'] });
  const ok = await connect({}, m);
  ok.send(frameOf(4095));
  assert.equal((await ok.untilTerminal()).at(-1).type, 'response.completed');
  const refused = await connect({}, m);
  refused.send(frameOf(4096));
  assert.equal(await refused.next(), null);
  assert.equal((await refused.closed).code, 1009);
  const small = await httpJson('POST', `${m.base}/responses`, body({ input: 'y'.repeat(2000) }));
  assert.equal(small.status, 200);
  const big = await httpJson('POST', `${m.base}/responses`, body({ input: 'y'.repeat(5000) }));
  assert.equal(big.status, 413);
  assert.equal(big.json.error.code, 'request_too_large');
  await m.stop();
});

test('compressed HTTP bodies (zstd, gzip, deflate, br) are decoded; the log keeps the encoding and the decoded size', { timeout: 20000 }, async () => {
  const raw = Buffer.from(JSON.stringify(body({ stream: true, input: [{ role: 'user', content: 'compressed '.repeat(500) }] })));
  const encoded = {
    zstd: execFileSync('zstd', ['-q', '-c'], { input: raw }),
    gzip: zlib.gzipSync(raw),
    deflate: zlib.deflateSync(raw),
    br: zlib.brotliCompressSync(raw),
  };
  for (const [enc, bytes] of Object.entries(encoded)) {
    const r = await httpJson('POST', `${mock.base}/responses`, bytes, { 'content-encoding': enc, 'content-type': 'application/json' });
    assert.equal(r.status, 200, `${enc}: ${r.text.slice(0, 200)}`);
    assert.equal(parseSse(r.text).at(-1).event, 'response.completed', enc);
  }
  // raw deflate (no zlib wrapper), as some clients send it
  assert.equal((await httpJson('POST', `${mock.base}/responses`, zlib.deflateRawSync(raw), { 'content-encoding': 'deflate', 'content-type': 'application/json' })).status, 200);
  const log = await mock.log();
  assert.deepEqual(log.map((e) => e.content_encoding), ['zstd', 'gzip', 'deflate', 'br', 'deflate']);
  for (const [i, e] of log.entries()) {
    assert.equal(e.decoded_bytes, raw.length);
    assert.ok(e.bytes < raw.length / 4, `wire bytes ${e.bytes} are the compressed ones`);
    assert.equal(e.full_input[0].content, 'compressed '.repeat(500), `entry ${i} holds the decoded body`);
  }
});

test('a corrupt or unknown encoding is a 400; a decompression bomb is a 413 at the body limit', { timeout: 20000 }, async () => {
  const raw = Buffer.from(JSON.stringify(body()));
  const corrupt = await httpJson('POST', `${mock.base}/responses`, raw, { 'content-encoding': 'gzip', 'content-type': 'application/json' });
  assert.equal(corrupt.status, 400);
  assert.equal(corrupt.json.error.type, 'invalid_request_error');
  const unknown = await httpJson('POST', `${mock.base}/responses`, raw, { 'content-encoding': 'snappy', 'content-type': 'application/json' });
  assert.equal(unknown.status, 400);
  const m = await startMock({ args: ['--max-body-bytes', String(MiB)] });
  const bomb = zlib.gzipSync(Buffer.alloc(64 * MiB, 0x20));
  assert.ok(bomb.length < MiB);
  const r = await httpJson('POST', `${m.base}/responses`, bomb, { 'content-encoding': 'gzip', 'content-type': 'application/json' });
  assert.equal(r.status, 413);
  assert.equal(r.json.error.code, 'request_too_large');
  const zbomb = execFileSync('zstd', ['-q', '-c'], { input: Buffer.alloc(64 * MiB, 0x20) });
  assert.equal((await httpJson('POST', `${m.base}/responses`, zbomb, { 'content-encoding': 'zstd', 'content-type': 'application/json' })).status, 413);
  await m.stop();
});

test('handshake headers and each frame\'s client_metadata and fields are logged for comparison', { timeout: 10000 }, async () => {
  const hs = {
    authorization: 'Bearer k', 'openai-beta': 'responses_websockets=2026-02-06, responses_multi_agent=v1',
    'session-id': 's-1', 'thread-id': 't-1', originator: 'codex_cli_rs', 'x-codex-beta-features': 'a,b',
  };
  const ws = await connect(hs);
  const meta = { 'x-codex-turn-metadata': '{"turn":1}', ws_request_header_x_openai_internal_codex_responses_lite: 'true' };
  ws.send(create({ client_metadata: meta, stream: true }));
  await ws.untilTerminal();
  const [h] = await mock.handshakes();
  for (const [k, v] of Object.entries(hs)) assert.equal(h.headers[k], v, k);
  const [e] = await mock.log();
  assert.deepEqual(e.client_metadata, meta);
  assert.deepEqual(e.fields, ['type', 'model', 'store', 'tools', 'input', 'client_metadata', 'stream']);
  assert.equal(e.headers['session-id'], 's-1');
  const r = await httpJson('POST', `${mock.base}/responses`, body(), { 'x-openai-internal-codex-responses-lite': 'true', 'x-codex-beta-features': 'c', 'x-unheard-of': 'no' });
  assert.equal(r.status, 200);
  const [, he] = await mock.log();
  assert.equal(he.headers['x-openai-internal-codex-responses-lite'], 'true');
  assert.equal(he.headers['x-codex-beta-features'], 'c');
  assert.equal(he.client_metadata, null);
  // a header the mock does not know is invisible to lws 4.1 unless named with --log-headers
  assert.equal(he.headers['x-unheard-of'], undefined);
  const m = await startMock({ args: ['--log-headers', 'X-Unheard-Of,x-other'] });
  await httpJson('POST', `${m.base}/responses`, body(), { 'x-unheard-of': 'yes' });
  const ws2 = await connect({ 'x-other': 'too' }, m);
  ws2.send(create());
  await ws2.untilTerminal();
  const [first, second] = await m.log();
  assert.equal(first.headers['x-unheard-of'], 'yes');
  assert.equal((await m.handshakes())[0].headers['x-other'], 'too');
  assert.equal(second.headers['x-other'], 'too');
  await m.stop();
});

test('WebSocket error envelopes in every shape the service sends', { timeout: 15000 }, async () => {
  const ws = await connect();
  const err429 = (shape) => { ws.send(create({ metadata: { mock_fault: `error_status=429;error_shape=${shape}` } })); return ws.next(); };
  const detail = { type: 'requests', code: 'rate_limit_exceeded', message: 'Rate limit reached (mock fault).', param: null };
  const nested = await err429('nested');
  assert.deepEqual(nested, { type: 'error', status: 429, error: detail });
  const sc = await err429('status_code');
  assert.deepEqual(sc, { type: 'error', status_code: 429, error: detail });
  const flat = await err429('flat');
  assert.deepEqual(flat, { type: 'error', status: 429, code: detail.code, message: detail.message, param: null });
  const withHeaders = await err429('headers');
  assert.deepEqual(Object.keys(withHeaders), ['type', 'status', 'error']);
  const eh = withHeaders.error.headers;
  assert.equal(eh['retry-after'], '1');
  assert.equal(eh['retry-after-ms'], '1000');
  assert.equal(eh['x-ratelimit-remaining-requests'], '0');
  assert.match(eh['x-request-id'], /^req_[0-9a-f]{32}$/);
  const top = await err429('flat+status_code+headers_top');
  assert.deepEqual(Object.keys(top), ['type', 'status_code', 'code', 'message', 'param', 'headers']);
  assert.equal(top.headers['retry-after'], '1');
  // retry_after_ms sets both retry headers, on any status
  ws.send(create({ metadata: { mock_fault: 'error_status=503;retry_after_ms=2500;error_shape=headers' } }));
  const e503 = await ws.next();
  assert.equal(e503.status, 503);
  assert.equal(e503.error.headers['retry-after'], '3');
  assert.equal(e503.error.headers['retry-after-ms'], '2500');
  // the shape applies to the service's own errors too: a flat previous_response_not_found
  ws.send(create({ previous_response_id: 'resp_nope', input: [], metadata: { mock_fault: 'error_shape=flat' } }));
  assert.deepEqual(await ws.next(), { type: 'error', status: 400, code: 'previous_response_not_found',
    message: "Previous response with id 'resp_nope' not found.", param: 'previous_response_id' });
  // from the command line, and from /__mock/fault
  const m = await startMock({ args: ['--error-status', '429', '--error-shape', 'status_code+headers'] });
  const ws2 = await connect({}, m);
  ws2.send(create());
  const e = await ws2.next();
  assert.equal(e.status_code, 429);
  assert.equal(e.error.headers['retry-after'], '1');
  await m.stop();
  await mock.fault({ error_status: 500, error_shape: 'flat' });
  ws.send(create());
  assert.deepEqual(Object.keys(await ws.next()), ['type', 'status', 'code', 'message', 'param']);
});

test('HTTP errors: the status, {"error":{...}} and the error\'s headers as HTTP headers', { timeout: 10000 }, async () => {
  const r = await httpJson('POST', `${mock.base}/responses`, body({ stream: true }), { 'x-mock-fault': 'error_status=429;retry_after_ms=1500;error_shape=flat' });
  assert.equal(r.status, 429);
  assert.deepEqual(r.json, { error: { message: 'Rate limit reached (mock fault).', type: 'requests', param: null, code: 'rate_limit_exceeded' } });
  assert.equal(r.headers['retry-after'], '2');
  assert.equal(r.headers['retry-after-ms'], '1500');
  assert.equal(r.headers['x-ratelimit-remaining-requests'], '0');
  assert.equal(r.headers['x-ratelimit-reset-requests'], '2s');
  const log = await mock.log();
  assert.equal(r.headers['x-request-id'].length, 36);
  assert.equal(log[0].error.status, 429);
  const ok = await httpJson('POST', `${mock.base}/responses`, body());
  assert.equal(ok.headers['retry-after'], undefined, 'successes carry no retry-after');
});

test('mid-stream errors: the flat SSE error event over HTTP, the envelope with sequence_number over WebSocket', { timeout: 10000 }, async () => {
  const evs = await sse(`${mock.base}/responses`, body({ stream: true }), { 'x-mock-fault': 'error_after_events=3;error_shape=headers' });
  assert.equal(evs.status, 200);
  assert.deepEqual(evs.map((e) => e.event), ['response.created', 'response.in_progress', 'response.output_item.added', 'error']);
  assert.deepEqual(evs.at(-1).data, { type: 'error', code: 'server_error',
    message: 'The server had an error while processing your request. Sorry about that! (mock fault)', param: null, sequence_number: 3 });
  assert.equal(evs.error, null, 'the stream ends cleanly after the error event');
  // not streaming: nothing went out yet, so it is a plain error answer
  const plain = await httpJson('POST', `${mock.base}/responses`, body(), { 'x-mock-fault': 'error_after_events=3;error_status=502' });
  assert.equal(plain.status, 502);
  assert.equal(plain.json.error.type, 'server_error');
  // WebSocket: the events, then the envelope; the failed turn leaves no cache behind
  const ws = await connect();
  ws.send(create());
  const good = (await ws.untilTerminal()).at(-1).response;
  ws.send(create({ previous_response_id: good.id, input: [{ type: 'function_call_output', call_id: good.output[1].call_id, output: 'x' }], metadata: { mock_fault: 'error_after_events=2;error_status=500' } }));
  const cut = await ws.untilTerminal();
  assert.deepEqual(cut.map((e) => e.type), ['response.created', 'response.in_progress', 'error']);
  assert.deepEqual(Object.keys(cut.at(-1)), ['type', 'status', 'error', 'sequence_number']);
  assert.equal(cut.at(-1).sequence_number, 2);
  ws.send(create({ previous_response_id: good.id, input: [] }));
  assert.equal((await ws.next()).error.code, 'previous_response_not_found', 'a failed turn evicts the cache');
});

test('generate and stream_id in an HTTP body get the HTTP API\'s unknown-parameter 400', { timeout: 10000 }, async () => {
  for (const [field, value] of [['generate', false], ['generate', true], ['stream_id', 'lane-1']]) {
    const r = await httpJson('POST', `${mock.base}/responses`, body({ [field]: value, stream: true }));
    assert.equal(r.status, 400, field);
    assert.deepEqual(r.json, { error: { message: `Unknown parameter: '${field}'.`, type: 'invalid_request_error', param: field, code: 'unknown_parameter' } });
  }
  // over WebSocket both are fine
  const ws = await connect();
  ws.send(create({ generate: false }));
  assert.equal((await ws.untilTerminal()).at(-1).type, 'response.completed');
});

test('done_event: the terminal event is response.done, its response.status says how it ended', { timeout: 10000 }, async () => {
  const ws = await connect({ 'x-mock-fault': 'done_event=1' });
  ws.send(create());
  const evs = await until(ws, ['response.done', 'response.completed', 'error']);
  assert.equal(evs.at(-1).type, 'response.done');
  assert.equal(evs.at(-1).response.status, 'completed');
  assert.ok(!evs.some((e) => e.type === 'response.completed'));
  const s = await sse(`${mock.base}/responses`, body({ stream: true }), { 'x-mock-fault': 'done_event=1' });
  assert.equal(s.at(-1).event, 'response.done');
  assert.equal(s.at(-1).data.type, 'response.done');
  const m = await startMock({ args: ['--done-event'] });
  const ws2 = await connect({}, m);
  ws2.send(create());
  assert.equal((await until(ws2, ['response.done', 'response.completed'])).at(-1).type, 'response.done');
  await m.stop();
});
