// deltawire-mock stream_id lanes and permessage-deflate (issue 15; upstream-protocol.md section 2,
// "Lanes" and "Cache"): concurrency across lanes, FIFO within one, 16 in flight, 32 names per
// connection, name validation, per-lane caches and eviction, echoed stream_id, the ChatGPT
// backend's refusal, and compressed frames both ways with the bytes on the wire counted.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import zlib from 'node:zlib';
import { randomBytes, createHash } from 'node:crypto';
import { startMock, stopAll, wsConnect, waitFor } from './lib/harness.mjs';

const TOOLS = [{ type: 'function', name: 'shell', parameters: { type: 'object', properties: { command: { type: 'string' } } } }];
const create = (extra = {}) => ({ type: 'response.create', model: 'gpt-5.5', store: false, tools: TOOLS, input: [{ role: 'user', content: 'go' }], ...extra });
const TERMINAL = new Set(['response.completed', 'response.failed', 'response.incomplete', 'response.done', 'error']);

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

// read until `n` terminal events have arrived; all events in arrival order
async function collect(ws, n) {
  const all = [];
  for (let done = 0; done < n;) {
    const e = await ws.next();
    assert.ok(e, `closed after ${all.length} events`);
    all.push(e);
    if (TERMINAL.has(e.type)) done++;
  }
  return all;
}

const lane = (evs, id) => evs.filter((e) => e.stream_id === id);
const last = (evs, id) => lane(evs, id).at(-1);

test('lanes run concurrently; each lane is FIFO; events echo stream_id, the default lane\'s carry none', { timeout: 15000 }, async () => {
  const ws = await connect();
  ws.send(create({ stream_id: 'a', metadata: { mock_fault: 'slow_ms=20' } }));
  ws.send(create({ stream_id: 'a', input: [{ role: 'user', content: 'second on a' }] }));
  ws.send(create({ stream_id: 'b', metadata: { mock_fault: 'slow_ms=20' } }));
  ws.send(create({ metadata: { mock_fault: 'slow_ms=20' } }));
  const evs = await collect(ws, 4);
  const idx = (pred) => evs.findIndex(pred);
  const aDone = idx((e) => e.stream_id === 'a' && e.type === 'response.completed');
  assert.ok(idx((e) => e.stream_id === 'b') < aDone, 'b started while a was answering');
  assert.ok(idx((e) => !('stream_id' in e)) < aDone, 'the default lane too');
  const a = lane(evs, 'a');
  const firstA = a.findIndex((e) => e.type === 'response.completed');
  assert.equal(a[firstA + 1].type, 'response.created', 'the second request on a starts after the first ends');
  assert.equal(a.filter((e) => e.type === 'response.completed').length, 2);
  assert.notEqual(a[firstA].response.id, a.at(-1).response.id);
  for (const id of ['a', 'b']) lane(evs, id).forEach((e) => assert.equal(e.stream_id, id));
  assert.equal(evs.filter((e) => !('stream_id' in e)).length, lane(evs, undefined).length);
  const log = await mock.log();
  assert.deepEqual(log.map((e) => e.stream_id), ['a', 'a', 'b', null]);
});

test('at most 16 responses in flight per connection; the rest are accepted and queued', { timeout: 20000 }, async () => {
  const ws = await connect();
  for (let i = 0; i < 20; i++) ws.send(create({ stream_id: `lane-${i}`, metadata: { mock_fault: 'slow_ms=15' } }));
  const evs = await collect(ws, 20);
  assert.equal(evs.filter((e) => e.type === 'response.completed').length, 20);
  const [hs] = await mock.handshakes();
  assert.equal(hs.max_in_flight, 16);
  // the 17th lane starts only once one of the first 16 has ended
  const firstEnd = evs.findIndex((e) => e.type === 'response.completed');
  const start17 = evs.findIndex((e) => e.stream_id === 'lane-16');
  assert.ok(start17 > firstEnd);
});

test('32 distinct names per connection, then websocket_stream_limit_reached; names already used still work', { timeout: 20000 }, async () => {
  const ws = await connect();
  for (let i = 0; i < 32; i++) ws.send(create({ stream_id: `n${i}` }));
  const evs = await collect(ws, 32);
  assert.equal(evs.filter((e) => e.type === 'response.completed').length, 32);
  ws.send(create({ stream_id: 'one-too-many' }));
  const [err] = await collect(ws, 1);
  assert.equal(err.type, 'error');
  assert.equal(err.status, 400);
  assert.equal(err.error.code, 'websocket_stream_limit_reached');
  assert.equal(err.stream_id, 'one-too-many');
  assert.deepEqual((await mock.handshakes())[0].stream_ids, Array.from({ length: 32 }, (_, i) => `n${i}`));
  ws.send(create({ stream_id: 'n0' }));
  ws.send(create());
  const more = await collect(ws, 2);
  assert.equal(last(more, 'n0').type, 'response.completed');
  assert.equal(more.filter((e) => !('stream_id' in e)).at(-1).type, 'response.completed', 'the default lane does not count');
  // a new connection starts from zero
  const fresh = await connect();
  fresh.send(create({ stream_id: 'one-too-many' }));
  assert.equal((await collect(fresh, 1)).at(-1).type, 'response.completed');
});

test('a bad stream_id is invalid_stream_id', { timeout: 10000 }, async () => {
  const ws = await connect();
  for (const bad of ['', 'x'.repeat(257), 'a b', 'lane/1', 'ü', 42, null]) {
    ws.send(create({ stream_id: bad }));
    const [e] = await collect(ws, 1);
    assert.equal(e.type, 'error', JSON.stringify(bad));
    assert.deepEqual([e.status, e.error.code, e.error.param], [400, 'invalid_stream_id', 'stream_id'], JSON.stringify(bad));
  }
  const longest = 'Az09_.-'.repeat(37).slice(0, 256);
  ws.send(create({ stream_id: longest }));
  assert.equal((await collect(ws, 1)).at(-1).stream_id, longest);
});

test('one cached response per lane; chaining across lanes is previous_response_not_found (store=false)', { timeout: 15000 }, async () => {
  const ws = await connect();
  ws.send(create({ stream_id: 'a' }));
  ws.send(create({ stream_id: 'b' }));
  ws.send(create());
  const first = await collect(ws, 3);
  const a1 = last(first, 'a').response;
  const b1 = last(first, 'b').response;
  const out = (r) => [{ type: 'function_call_output', call_id: r.output[1].call_id, output: 'x' }];
  ws.send(create({ stream_id: 'a', previous_response_id: a1.id, input: out(a1) }));
  const [a2] = (await collect(ws, 1)).slice(-1);
  assert.equal(a2.type, 'response.completed');
  assert.equal(a2.stream_id, 'a');
  ws.send(create({ stream_id: 'b', previous_response_id: b1.id, input: out(b1) }));
  assert.equal((await collect(ws, 1)).at(-1).type, 'response.completed', 'b kept its own cache while a moved on');
  ws.send(create({ stream_id: 'b', previous_response_id: a2.response.id, input: [] }));
  const [cross] = await collect(ws, 1);
  assert.deepEqual([cross.type, cross.error.code, cross.stream_id], ['error', 'previous_response_not_found', 'b'], 'a lane-scoped error echoes stream_id');
  ws.send(create({ previous_response_id: a2.response.id, input: [] }));
  const [dflt] = await collect(ws, 1);
  assert.equal(dflt.error.code, 'previous_response_not_found');
  assert.ok(!('stream_id' in dflt));
});

test('a failed turn evicts the cache of its own lane only', { timeout: 15000 }, async () => {
  const ws = await connect();
  ws.send(create({ stream_id: 'a' }));
  ws.send(create({ stream_id: 'b' }));
  const first = await collect(ws, 2);
  const a1 = last(first, 'a').response;
  const b1 = last(first, 'b').response;
  ws.send(create({ stream_id: 'a', metadata: { mock_fault: 'error_status=500' } }));
  const [failed] = await collect(ws, 1);
  assert.deepEqual([failed.type, failed.status, failed.stream_id], ['error', 500, 'a']);
  ws.send(create({ stream_id: 'a', previous_response_id: a1.id, input: [] }));
  assert.equal((await collect(ws, 1))[0].error.code, 'previous_response_not_found');
  ws.send(create({ stream_id: 'b', previous_response_id: b1.id, input: [{ type: 'function_call_output', call_id: b1.output[1].call_id, output: 'x' }] }));
  assert.equal((await collect(ws, 1)).at(-1).type, 'response.completed');
});

test('--refuse-stream-id answers the field as the ChatGPT backend does; requests without it still work', { timeout: 15000 }, async () => {
  const m = await startMock({ args: ['--refuse-stream-id'] });
  const ws = await connect({}, m);
  ws.send(create({ stream_id: 'a' }));
  const [e] = await collect(ws, 1);
  assert.deepEqual(e, { type: 'error', status: 400, error: { type: 'invalid_request_error', code: 'unsupported_parameter', message: 'Unsupported parameter: stream_id', param: 'stream_id' } });
  ws.send(create());
  assert.equal((await collect(ws, 1)).at(-1).type, 'response.completed');
  await m.stop();
  // per connection, through the upgrade's x-mock-fault
  const refusing = await connect({ 'x-mock-fault': 'refuse_stream_id=1' });
  refusing.send(create({ stream_id: 'a' }));
  assert.equal((await collect(refusing, 1))[0].error.code, 'unsupported_parameter');
});

// ---------------------------------------------------------------- permessage-deflate

// A small client that offers permessage-deflate (without context takeover, so each message
// inflates on its own) and sends compressed frames.
function pmdConnect(port, offer) {
  const key = randomBytes(16).toString('base64');
  const sock = net.connect({ host: '127.0.0.1', port });
  let buf = Buffer.alloc(0);
  let head = null;
  let frag = null;
  const msgs = [];
  const waiters = [];
  const frame = (payload, compressed) => {
    const mask = randomBytes(4);
    const len = payload.length;
    let h;
    if (len < 126) { h = Buffer.alloc(2); h[1] = 0x80 | len; } else if (len < 65536) { h = Buffer.alloc(4); h[1] = 0x80 | 126; h.writeUInt16BE(len, 2); } else { h = Buffer.alloc(10); h[1] = 0x80 | 127; h.writeBigUInt64BE(BigInt(len), 2); }
    h[0] = 0x81 | (compressed ? 0x40 : 0);
    return Buffer.concat([h, mask, Buffer.from(payload.map((b, i) => b ^ mask[i & 3]))]);
  };
  const parse = () => {
    for (;;) {
      if (buf.length < 2) return;
      const rsv1 = (buf[0] & 0x40) !== 0;
      const opcode = buf[0] & 0x0f;
      let len = buf[1] & 0x7f;
      let off = 2;
      if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); off = 4; } else if (len === 127) { if (buf.length < 10) return; len = Number(buf.readBigUInt64BE(2)); off = 10; }
      if (buf.length < off + len) return;
      const fin = (buf[0] & 0x80) !== 0;
      const payload = buf.subarray(off, off + len);
      buf = buf.subarray(off + len);
      if (opcode === 0x1) frag = { compressed: rsv1, parts: [] };
      else if (opcode !== 0x0) continue; // control frames
      frag.parts.push(Buffer.from(payload));
      if (!fin) continue;
      let data = Buffer.concat(frag.parts);
      if (frag.compressed) data = zlib.inflateRawSync(Buffer.concat([data, Buffer.from([0, 0, 0xff, 0xff])]), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
      const m = { compressed: frag.compressed, event: JSON.parse(data.toString('utf8')) };
      const w = waiters.shift();
      if (w) w(m); else msgs.push(m);
    }
  };
  return new Promise((resolve, reject) => {
    sock.once('connect', () => sock.write([
      'GET /v1/responses HTTP/1.1', `Host: 127.0.0.1:${port}`, 'Upgrade: websocket', 'Connection: Upgrade',
      `Sec-WebSocket-Key: ${key}`, 'Sec-WebSocket-Version: 13', ...(offer ? [`Sec-WebSocket-Extensions: ${offer}`] : []), '', ''].join('\r\n')));
    sock.on('error', reject);
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (!head) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        head = buf.subarray(0, end).toString('latin1');
        buf = buf.subarray(end + 4);
        const accept = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
        if (!head.includes(accept)) { reject(new Error(head)); return; }
        resolve({
          extensions: /sec-websocket-extensions: *([^\r\n]*)/i.exec(head)?.[1] ?? null,
          send: (obj, compressed) => {
            const raw = Buffer.from(JSON.stringify(obj));
            sock.write(frame(compressed ? zlib.deflateRawSync(raw, { finishFlush: zlib.constants.Z_SYNC_FLUSH }).subarray(0, -4) : raw, compressed));
          },
          next: () => (msgs.length ? Promise.resolve(msgs.shift()) : new Promise((r) => waiters.push(r))),
          close: () => sock.destroy(),
        });
      }
      parse();
    });
  });
}

async function untilDone(c) {
  const got = [];
  for (;;) {
    const m = await c.next();
    got.push(m);
    if (TERMINAL.has(m.event.type)) return got;
  }
}

test('permessage-deflate is negotiated when offered: compressed frames both ways, bytes on the wire logged', { timeout: 15000 }, async () => {
  const c = await pmdConnect(mock.port, 'permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits');
  try {
    assert.match(c.extensions, /^permessage-deflate/);
    const big = create({ instructions: 'You are a careful agent. '.repeat(400) });
    c.send(big, true);
    const got = await untilDone(c);
    assert.equal(got.at(-1).event.type, 'response.completed');
    assert.ok(got.every((m) => m.compressed), 'the mock compresses what it sends');
    c.send(create(), false); // an uncompressed message is fine too
    assert.equal((await untilDone(c)).at(-1).event.type, 'response.completed');
    const [hs] = await mock.handshakes();
    assert.equal(hs.permessage_deflate, true);
    assert.match(hs.headers['sec-websocket-extensions'], /permessage-deflate/);
    const uncompressedIn = JSON.stringify(big).length + JSON.stringify(create()).length;
    assert.equal(hs.rx_payload_bytes, uncompressedIn);
    assert.ok(hs.rx_wire_bytes < hs.rx_payload_bytes / 4, `in: ${hs.rx_wire_bytes} on the wire for ${hs.rx_payload_bytes}`);
    assert.ok(hs.tx_wire_bytes < hs.tx_payload_bytes, `out: ${hs.tx_wire_bytes} on the wire for ${hs.tx_payload_bytes}`);
    const log = await mock.log();
    assert.equal(log[0].bytes, JSON.stringify(big).length, 'the request log counts the uncompressed message');
  } finally { c.close(); }
});

test('without an offer, or with --permessage-deflate 0, frames go uncompressed and wire bytes equal payload bytes', { timeout: 15000 }, async () => {
  const plain = await pmdConnect(mock.port, null);
  plain.send(create(), false);
  const got = await untilDone(plain);
  assert.ok(got.every((m) => !m.compressed));
  plain.close();
  const [hs] = await mock.handshakes();
  assert.equal(hs.permessage_deflate, false);
  assert.equal(hs.tx_wire_bytes, hs.tx_payload_bytes);
  assert.equal(hs.rx_wire_bytes, hs.rx_payload_bytes);
  const m = await startMock({ args: ['--permessage-deflate', '0'] });
  const off = await pmdConnect(m.port, 'permessage-deflate; client_max_window_bits');
  assert.equal(off.extensions, null);
  off.send(create(), false);
  assert.ok((await untilDone(off)).every((x) => !x.compressed));
  off.close();
  assert.equal((await m.handshakes())[0].permessage_deflate, false);
  await m.stop();
});

test('the 16 MiB limit counts the uncompressed message', { timeout: 15000 }, async () => {
  const m = await startMock({ args: ['--max-message-bytes', '100000'] });
  const c = await pmdConnect(m.port, 'permessage-deflate; server_no_context_takeover; client_no_context_takeover');
  c.send(create({ instructions: 'z'.repeat(200000) }), true);
  await waitFor(async () => (await m.handshakes())[0]?.close);
  const [hs] = await m.handshakes();
  assert.deepEqual(hs.close, { code: 1009, reason: 'message too big' });
  assert.ok(hs.rx_wire_bytes < 100000, 'what arrived compressed was small');
  assert.equal((await m.log()).length, 0);
  c.close();
  await m.stop();
});
