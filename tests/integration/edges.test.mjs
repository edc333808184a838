// deltawire at the live service's edges (issue 13, proxy side; issue 19 items 2 and 8): messages
// too big for WebSocket, compressed bodies, the headers that shape a request, error envelopes,
// WebSocket-only fields over HTTP, and terminal events.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import zlib from 'node:zlib';
import { startMock, startProxy, stopAll, httpJson, sse, waitFor, canonicalItems } from './lib/harness.mjs';

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

// --- 2. compressed request bodies --------------------------------------------------------------

const encoders = {
  zstd: (b) => execFileSync('zstd', ['-q', '-c'], { input: b }),
  gzip: (b) => zlib.gzipSync(b),
};

// Turn 1 in plain JSON; returns turn 2's body (turn 1's input, its output, a new user message).
async function secondTurn(proxy, key) {
  const first = body('Say hi.');
  const r = await httpJson('POST', proxy.base + '/responses', first, auth(key));
  assert.equal(r.status, 200);
  return body('', { input: [...first.input, ...r.json.output, { role: 'user', content: 'And again.' }] });
}

for (const enc of Object.keys(encoders)) {
  test(`a ${enc} body gets a delta, and the upstream sees exactly the client's input`, { timeout: 20000 }, async () => {
    const proxy = await startProxy({ upstream: mock.base });
    const next = await secondTurn(proxy, `sk-${enc}`);
    const r = await httpJson('POST', proxy.base + '/responses', encoders[enc](Buffer.from(JSON.stringify(next))),
      { ...auth(`sk-${enc}`), 'content-type': 'application/json', 'content-encoding': enc });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.status, 'completed');
    const e = (await mock.log()).at(-1);
    assert.equal(e.transport, 'ws');
    assert.notEqual(e.previous_response_id, null, 'a delta');
    assert.deepEqual(canonicalItems(e.full_input), canonicalItems(next.input));
    await proxy.stop();
  });
}

test('a decompression bomb gets 413 in OpenAI\'s format', { timeout: 20000 }, async () => {
  const proxy = await startProxy({ upstream: mock.base, args: ['--max-body', String(1 * MiB)] });
  const bomb = zlib.gzipSync(Buffer.from(JSON.stringify(body(' '.repeat(8 * MiB)))));
  assert.ok(bomb.length < 64 * 1024);
  const r = await httpJson('POST', proxy.base + '/responses', bomb,
    { ...auth('sk-bomb'), 'content-type': 'application/json', 'content-encoding': 'gzip' });
  assert.equal(r.status, 413);
  assert.equal(r.json.error.code, 'request_too_large');
  assert.equal(r.json.error.type, 'invalid_request_error');
  assert.equal((await mock.log()).length, 0);
  const corrupt = await httpJson('POST', proxy.base + '/responses', Buffer.from('not gzip at all'),
    { ...auth('sk-bomb'), 'content-type': 'application/json', 'content-encoding': 'gzip' });
  assert.equal(corrupt.status, 400);
  assert.equal(corrupt.json.error.type, 'invalid_request_error');
  await proxy.stop();
});

test('--transport http forwards the compressed bytes and Content-Encoding unchanged', { timeout: 20000 }, async () => {
  const proxy = await startProxy({ upstream: mock.base, args: ['--transport', 'http'] });
  const raw = Buffer.from(JSON.stringify(body('compressed over http')));
  const z = encoders.zstd(raw);
  const r = await httpJson('POST', proxy.base + '/responses', z,
    { ...auth('sk-zhttp'), 'content-type': 'application/json', 'content-encoding': 'zstd' });
  assert.equal(r.status, 200, r.text);
  const e = (await mock.log()).at(-1);
  assert.equal(e.transport, 'http');
  assert.equal(e.content_encoding, 'zstd');
  assert.equal(e.headers['content-length'], String(z.length), 'the compressed bytes, as the client sent them');
  assert.equal(e.decoded_bytes, raw.length);
  await proxy.stop();
});

test('an encoding deltawire does not know goes over HTTP unchanged', { timeout: 20000 }, async () => {
  const proxy = await startProxy({ upstream: mock.base });
  const raw = Buffer.from(JSON.stringify(body('unknown encoding')));
  const r = await httpJson('POST', proxy.base + '/responses', raw,
    { ...auth('sk-unk'), 'content-type': 'application/json', 'content-encoding': 'x-custom' });
  const e = (await mock.log()).at(-1);
  assert.equal(e.transport, 'http', 'not over WebSocket');
  assert.equal(e.content_encoding, 'x-custom');
  assert.equal(r.status, 400, 'the upstream\'s own answer: it does not know it either');
  await waitFor(() => requestLines(proxy).length === 1);
  assert.equal(requestLines(proxy)[0].reason, 'content-encoding');
  await proxy.stop();
});

// --- 3. headers that shape a request -----------------------------------------------------------

test('requests with different OpenAI-Beta values never share a socket; each handshake carries its own', { timeout: 20000 }, async () => {
  // one socket per key: each request must close the other value's idle socket to get its own
  const proxy = await startProxy({ upstream: mock.base, args: ['--max-conns-per-key', '1'] });
  const send = (beta) => httpJson('POST', proxy.base + '/responses', body(`beta ${beta}`), { ...auth('sk-beta'), 'openai-beta': beta });
  for (const beta of ['assistants=v2', 'other=1', 'assistants=v2', 'other=1']) assert.equal((await send(beta)).status, 200);
  const log = await mock.log();
  assert.deepEqual(log.map((e) => e.transport), ['ws', 'ws', 'ws', 'ws']);
  const hs = await mock.handshakes();
  const betaOf = Object.fromEntries(hs.map((h) => [h.conn, h.headers['openai-beta']]));
  assert.equal(hs.length, 4, 'no socket serves the other value');
  assert.deepEqual(log.map((e) => betaOf[e.conn]), [
    'assistants=v2, responses_websockets=2026-02-06', 'other=1, responses_websockets=2026-02-06',
    'assistants=v2, responses_websockets=2026-02-06', 'other=1, responses_websockets=2026-02-06']);
  // the connection headers reach the handshake; the per-request ones do not
  await httpJson('POST', proxy.base + '/responses', body('session'),
    { ...auth('sk-beta'), 'session-id': 's-1', originator: 'codex_exec', 'x-codex-window-id': 'w:0' });
  const last = (await mock.handshakes()).at(-1);
  assert.equal(last.headers['session-id'], 's-1');
  assert.equal(last.headers.originator, 'codex_exec');
  assert.equal(last.headers['x-codex-window-id'], undefined);
  assert.equal((await mock.log()).at(-1).client_metadata['x-codex-window-id'], 'w:0');
  await proxy.stop();
});

test('Codex\'s lite header arrives in client_metadata exactly as Codex sends it over WebSocket', { timeout: 20000 }, async () => {
  const fixture = JSON.parse(fs.readFileSync(new URL('../fixtures/clients/codex-0.169.0-default-model-ws/turn-1.json', import.meta.url)));
  const key = 'ws_request_header_x_openai_internal_codex_responses_lite';
  assert.equal(fixture.client_metadata[key], 'true');
  const proxy = await startProxy({ upstream: mock.base });
  const r = await httpJson('POST', proxy.base + '/responses', body('lite', { client_metadata: { turn_id: 't-1' } }),
    { ...auth('sk-lite'), 'x-openai-internal-codex-responses-lite': 'true' });
  assert.equal(r.status, 200);
  const e = (await mock.log()).at(-1);
  assert.equal(e.transport, 'ws');
  assert.deepEqual(e.client_metadata, { turn_id: 't-1', [key]: fixture.client_metadata[key] });
  await proxy.stop();
});

test('an unknown header sends the request over plain HTTP unchanged, and the log says why', { timeout: 20000 }, async () => {
  const m = await startMock({ args: ['--log-headers', 'x-foo'] });
  const proxy = await startProxy({ upstream: m.base });
  const r = await httpJson('POST', proxy.base + '/responses', body('foo'), { ...auth('sk-foo'), 'x-foo': 'bar' });
  assert.equal(r.status, 200);
  const e = (await m.log()).at(-1);
  assert.equal(e.transport, 'http');
  assert.equal(e.headers['x-foo'], 'bar');
  await waitFor(() => requestLines(proxy).length === 1);
  assert.equal(requestLines(proxy)[0].reason, 'header x-foo');
  await proxy.stop();
  await m.stop();
});

test('an oversized Authorization gets 431 in OpenAI\'s format, and the proxy keeps serving others', { timeout: 20000 }, async () => {
  const proxy = await startProxy({ upstream: mock.base });
  const huge = await httpJson('POST', proxy.base + '/responses', body('huge'), auth('k'.repeat(70 * 1024)));
  assert.equal(huge.status, 431);
  assert.equal(huge.json.error.code, 'request_header_fields_too_large');
  assert.equal(huge.json.error.type, 'invalid_request_error');
  assert.equal((await mock.log()).length, 0);
  assert.deepEqual(await mock.handshakes(), []);
  for (let i = 0; i < 3; i++) {
    const ok = await httpJson('POST', proxy.base + '/responses', body('fine'), auth(`sk-fine-${i}`));
    assert.equal(ok.status, 200);
  }
  await proxy.stop();
});

// --- 4. error envelopes, both ways -------------------------------------------------------------

const withFault = (text, fault, extra = {}) => body(text, { metadata: { mock_fault: fault }, ...extra });

test('every error envelope shape gives the status, body and headers the HTTP API gives', { timeout: 30000 }, async () => {
  const proxy = await startProxy({ upstream: mock.base });
  for (const shape of ['nested', 'status_code', 'flat', 'headers', 'headers_top', 'flat+status_code+headers_top']) {
    const fault = `error_status=429;retry_after_ms=1500;error_shape=${shape}`;
    const r = await httpJson('POST', proxy.base + '/responses', withFault(shape, fault), auth('sk-env'));
    const direct = await httpJson('POST', mock.base + '/responses', withFault(shape, fault), auth('sk-env'));
    assert.equal((await mock.log()).at(-2).transport, 'ws', shape);
    assert.equal(r.status, 429, shape);
    assert.equal(r.status, direct.status, shape);
    assert.equal(r.json.error.code, 'rate_limit_exceeded', shape);
    assert.equal(r.json.error.message, direct.json.error.message, shape);
    assert.deepEqual(Object.keys(r.json.error).sort(), ['code', 'message', 'param', 'type'], shape);
    if (!shape.startsWith('flat')) assert.deepEqual(r.json, direct.json, shape);
    if (shape.includes('headers')) {
      // a wrapped 429 keeps its retry headers: the SDK waits as long as the service says
      for (const h of ['retry-after', 'retry-after-ms', 'x-ratelimit-remaining-requests', 'x-ratelimit-reset-requests'])
        assert.equal(r.headers[h], direct.headers[h], `${shape}: ${h}`);
      assert.match(r.headers['x-request-id'], /^req_/, shape);
    } else {
      assert.equal(r.headers['retry-after'], undefined, `${shape}: nothing invented`);
    }
  }
  // status_code 400 stays 400
  const bad = await httpJson('POST', proxy.base + '/responses', withFault('400', 'error_status=400;error_shape=status_code'), auth('sk-env'));
  assert.equal(bad.status, 400);
  await proxy.stop();
});

for (const shape of ['nested', 'flat', 'status_code', 'flat+status_code']) {
  test(`previous_response_not_found in the ${shape} shape is recovered with the full input`, { timeout: 20000 }, async () => {
    const proxy = await startProxy({ upstream: mock.base });
    const next = await secondTurn(proxy, `sk-stale-${shape}`);
    await mock.fault({ forget_cache: true, error_shape: shape, count: 1 });
    const r = await httpJson('POST', proxy.base + '/responses', next, auth(`sk-stale-${shape}`));
    assert.equal(r.status, 200, r.text);
    const e = (await mock.log()).slice(-2);
    assert.equal(e[0].error.code, 'previous_response_not_found');
    assert.notEqual(e[0].previous_response_id, null, 'the first try was a delta');
    assert.equal(e[1].previous_response_id, null, 'the retry carries the full input');
    assert.deepEqual(canonicalItems(e[1].full_input), canonicalItems(next.input));
    assert.equal(await recoveries(proxy, 'previous_response_not_found'), 1);
    await proxy.stop();
  });
}

test('after the first byte, the error is the HTTP API\'s flat SSE error event', { timeout: 20000 }, async () => {
  const proxy = await startProxy({ upstream: mock.base });
  const fault = 'error_status=500;error_after_events=3';
  const r = await sse(proxy.base + '/responses', withFault('mid', fault, { stream: true }), auth('sk-mid'));
  const direct = await sse(mock.base + '/responses', withFault('mid', fault, { stream: true }), auth('sk-mid'));
  assert.equal(r.status, 200);
  const last = [...r].at(-1), want = [...direct].at(-1);
  assert.equal(last.event, 'error');
  assert.equal(want.event, 'error');
  assert.deepEqual(Object.keys(last.data).sort(), Object.keys(want.data).sort());
  assert.equal(last.data.error, undefined, 'flat: no nested error object');
  assert.equal(last.data.code, want.data.code);
  assert.equal(last.data.message, want.data.message);
  assert.equal(last.data.sequence_number, [...r].length - 1);
  await proxy.stop();
});

// --- 5. WebSocket-only fields from HTTP clients ------------------------------------------------

test('generate and stream_id in an HTTP body get the HTTP API\'s 400 and never reach the upstream', { timeout: 20000 }, async () => {
  const proxy = await startProxy({ upstream: mock.base });
  for (const extra of [{ generate: false }, { stream_id: 's-1' }]) {
    const r = await httpJson('POST', proxy.base + '/responses', body('ws only', extra), auth('sk-wsonly'));
    const direct = await httpJson('POST', mock.base + '/responses', body('ws only', extra), auth('sk-wsonly'));
    assert.equal(r.status, 400);
    assert.equal(direct.status, 400);
    assert.deepEqual(r.json, direct.json);
  }
  assert.deepEqual((await mock.log()).map((e) => e.transport), ['http', 'http'], 'only the direct calls reached the mock');
  await proxy.stop();
});

// --- 6. terminal events -----------------------------------------------------------------------

test('response.done ends a response like the terminal event its status names, and is recorded', { timeout: 20000 }, async () => {
  const proxy = await startProxy({ upstream: mock.base });
  const first = body('done, json', { metadata: { mock_fault: 'done_event=1' } });
  const r = await httpJson('POST', proxy.base + '/responses', first, auth('sk-done'));
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.status, 'completed');
  // recorded: the next turn is a delta
  const next = { ...first, input: [...first.input, ...r.json.output, { role: 'user', content: 'more' }] };
  const r2 = await httpJson('POST', proxy.base + '/responses', next, auth('sk-done'));
  assert.equal(r2.status, 200);
  assert.notEqual((await mock.log()).at(-1).previous_response_id, null, 'a delta after a response.done');
  const s = await sse(proxy.base + '/responses', body('done, sse', { stream: true, metadata: { mock_fault: 'done_event=1' } }), auth('sk-done'));
  assert.equal(s.status, 200);
  assert.equal(s.error, null);
  // the HTTP API has no response.done: the client sees the event its status names, name and type
  assert.equal([...s].at(-1).event, 'response.completed');
  assert.equal([...s].at(-1).data.type, 'response.completed');
  assert.equal([...s].at(-1).data.response.status, 'completed');
  await proxy.stop();
});

// A WebSocket upstream that answers every request with response.created and then a terminal
// event that lacks its response object (issue 19 item 8).
async function hollowUpstream() {
  const server = http.createServer((req, res) => { res.writeHead(404); res.end(); });
  const sockets = new Set();
  const frame = (obj) => {
    const p = Buffer.from(JSON.stringify(obj));
    const head = p.length < 126 ? Buffer.from([0x81, p.length]) : Buffer.from([0x81, 126, p.length >> 8, p.length & 255]);
    return Buffer.concat([head, p]);
  };
  server.on('upgrade', (req, sock) => {
    sockets.add(sock);
    const accept = crypto.createHash('sha1').update(req.headers['sec-websocket-key'] + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
    sock.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    sock.on('data', () => {
      sock.write(frame({ type: 'response.created', sequence_number: 0, response: { id: 'resp_hollow', object: 'response', status: 'in_progress', output: [] } }));
      sock.write(frame({ type: 'response.completed', sequence_number: 1 }));
    });
    sock.on('error', () => {});
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    base: `http://127.0.0.1:${server.address().port}/v1`,
    close: () => { for (const s of sockets) s.destroy(); return new Promise((r) => server.close(r)); },
  };
}

test('a terminal event without its response object ends the answer instead of hanging', { timeout: 20000 }, async () => {
  const up = await hollowUpstream();
  const proxy = await startProxy({ upstream: up.base, args: ['--transport', 'ws'] });
  try {
    const r = await httpJson('POST', proxy.base + '/responses', body('hollow'), auth('sk-hollow'), { timeoutMs: 10000 });
    assert.equal(r.status, 502);
    assert.equal(r.json.error.code, 'upstream_error');
    const s = await sse(proxy.base + '/responses', body('hollow', { stream: true }), auth('sk-hollow'), { timeoutMs: 10000 });
    assert.equal(s.status, 200);
    assert.equal(s.error, null, 'the stream ended');
    assert.deepEqual([...s].map((e) => e.event), ['response.created', 'response.completed']);
  } finally {
    await proxy.stop();
    await up.close();
  }
});
