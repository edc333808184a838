// permessage-deflate upstream (issue 15): negotiated with the mock, the session as correct as without
// it, and the bytes on the wire counted next to the frame bytes in /stats, /metrics and the log line.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import zlib from 'node:zlib';
import { createHash } from 'node:crypto';
import { startMock, startProxy, stopAll, canonicalItems, httpJson, sse, waitFor } from './lib/harness.mjs';
import { runToolLoop } from './lib/loop.mjs';

after(stopAll);

// Fields every turn repeats, as agents send them: a few KB of tools and instructions.
const tools = Array.from({ length: 12 }, (_, i) => ({
  type: 'function', name: `tool_${i}`, strict: true,
  description: `Tool number ${i}: reads, edits or runs something in the workspace and reports the result.`,
  parameters: { type: 'object', properties: { path: { type: 'string' }, body: { type: 'string' } },
    required: ['path', 'body'], additionalProperties: false },
}));
tools.push({ type: 'function', name: 'run_shell', description: 'Run a shell command', strict: true,
  parameters: { type: 'object', properties: { cmd: { type: 'string' } }, required: ['cmd'], additionalProperties: false } });
const extra = { tools, instructions: 'You are a careful coding agent. Explain nothing; act. '.repeat(40) };

const stats = async (proxy) => (await httpJson('GET', proxy.url + '/stats')).json;

function metric(text, name) {
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  assert.ok(line, `${name} is exported`);
  return Number(line.split(' ').at(-1));
}

async function requestLines(proxy, n) {
  return waitFor(() => {
    const lines = proxy.stderr().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l))
      .filter((l) => l.event === 'request');
    return lines.length >= n ? lines : null;
  });
}

// Runs the tool loop through a proxy with `args`; checks fidelity; returns what both sides counted.
async function session(args, stream) {
  const mock = await startMock();
  const proxy = await startProxy({ upstream: mock.base, args });
  const run = await runToolLoop(proxy.base, { stream, extra });
  assert.ok(run.turns.length >= 3);
  for (const t of run.turns) assert.equal(t.status, 200);
  const log = (await mock.log()).filter((e) => e.transport === 'ws');
  assert.equal(log.length, run.turns.length);
  for (let i = 0; i < log.length; i++) {
    assert.equal(log[i].error, null);
    if (i > 0) assert.equal(log[i].previous_response_id, log[i - 1].response_id, `turn ${i + 1} is a delta`);
    assert.deepEqual(canonicalItems(log[i].full_input), canonicalItems(run.turns[i].request.input),
      `turn ${i + 1}: the mock's reconstructed input equals the client's`);
  }
  const hs = await mock.handshakes();
  assert.equal(hs.length, 1, 'one upstream socket');
  const lines = await requestLines(proxy, run.turns.length);
  const s = await stats(proxy);
  const metrics = await (await fetch(proxy.url + '/metrics')).text();
  return { hs: hs[0], s, lines, metrics, proxy, mock };
}

for (const stream of [false, true]) {
  test(`deflate on (the default, ${stream ? 'streaming' : 'non-streaming'}): negotiated, correct, and the wire bytes far below the frame bytes`, { timeout: 30000 }, async () => {
    const { hs, s, lines, metrics, proxy, mock } = await session([], stream);
    assert.equal(hs.permessage_deflate, true, 'the mock saw permessage-deflate negotiated');
    // the proxy's wire bytes are exactly what the mock received and sent
    assert.equal(s.bytes_to_upstream, hs.rx_payload_bytes, 'frame bytes up');
    assert.equal(s.wire_to_upstream, hs.rx_wire_bytes, 'wire bytes up');
    assert.equal(s.bytes_from_upstream, hs.tx_payload_bytes, 'frame bytes down');
    assert.equal(s.wire_from_upstream, hs.tx_wire_bytes, 'wire bytes down');
    assert.ok(s.wire_to_upstream * 4 < s.bytes_to_upstream,
      `up: ${s.wire_to_upstream} bytes on the wire for ${s.bytes_to_upstream} frame bytes`);
    assert.ok(s.wire_from_upstream * 2 < s.bytes_from_upstream, 'down: compressed too');
    assert.ok(s.wire_saved_percent > s.saved_percent);
    // each request's log line: frame bytes and wire bytes; they add up to the totals
    assert.equal(lines.reduce((a, l) => a + l.bytes_up, 0), s.bytes_to_upstream);
    assert.equal(lines.reduce((a, l) => a + l.wire_up, 0), s.wire_to_upstream);
    for (const l of lines.slice(1)) assert.ok(l.wire_up * 4 < l.bytes_up, 'a delta turn compresses against the previous one');
    assert.equal(metric(metrics, 'deltawire_upstream_wire_bytes_total{direction="up"}'), s.wire_to_upstream);
    assert.equal(metric(metrics, 'deltawire_upstream_wire_bytes_total{direction="down"}'), s.wire_from_upstream);
    assert.equal(metric(metrics, 'deltawire_upstream_received_bytes_total'), s.bytes_from_upstream);
    assert.equal(metric(metrics, 'deltawire_upstream_bytes_total'), s.bytes_to_upstream);
    await proxy.stop();
    await mock.stop();
  });
}

test('--upstream-deflate off: not offered, and the wire bytes are the frame bytes', { timeout: 30000 }, async () => {
  const { hs, s, lines, proxy, mock } = await session(['--upstream-deflate', 'off'], true);
  assert.equal(hs.permessage_deflate, false);
  assert.equal(hs.headers['sec-websocket-extensions'], undefined, 'nothing offered');
  assert.equal(s.wire_to_upstream, s.bytes_to_upstream);
  assert.equal(s.wire_to_upstream, hs.rx_wire_bytes);
  assert.equal(s.wire_from_upstream, s.bytes_from_upstream);
  for (const l of lines) assert.equal(l.wire_up, l.bytes_up);
  await proxy.stop();
  await mock.stop();
});

test('--upstream-deflate no-context-takeover: each message compressed alone, still correct', { timeout: 30000 }, async () => {
  const { hs, s, lines, proxy, mock } = await session(['--upstream-deflate', 'no-context-takeover'], false);
  assert.equal(hs.permessage_deflate, true);
  assert.match(hs.headers['sec-websocket-extensions'], /client_no_context_takeover/);
  assert.equal(s.wire_to_upstream, hs.rx_wire_bytes);
  assert.ok(s.wire_to_upstream < s.bytes_to_upstream);
  // without the previous message as a dictionary a delta turn costs more than with it
  const { s: kept, proxy: p2, mock: m2 } = await session([], false);
  assert.ok(kept.wire_to_upstream < s.wire_to_upstream,
    `context kept: ${kept.wire_to_upstream} bytes, not kept: ${s.wire_to_upstream}`);
  assert.ok(lines.length >= 3);
  for (const p of [proxy, mock, p2, m2]) await p.stop();
});

test('the mock applies its message limit to the uncompressed message: a frame that compresses below it still closes 1009', { timeout: 30000 }, async () => {
  const limit = 20000;
  const mock = await startMock({ args: ['--max-message-bytes', String(limit)] });
  const proxy = await startProxy({ upstream: mock.base, args: ['--transport', 'ws'] });
  const body = { model: 'gpt-5.5', store: false, input: [{ role: 'user', content: 'x'.repeat(limit) }] };
  const r = await httpJson('POST', proxy.base + '/responses', body, { authorization: 'Bearer sk-deflate' });
  assert.notEqual(r.status, 200, 'the upstream refused the message');
  const hs = await mock.handshakes();
  assert.ok(hs.length >= 1);
  for (const h of hs) {
    assert.equal(h.permessage_deflate, true);
    assert.deepEqual(h.close, { code: 1009, reason: 'message too big' });
    assert.ok(h.rx_wire_bytes < 1000, `${h.rx_wire_bytes} bytes on the wire, far below the limit`);
    assert.ok(h.rx_payload_bytes > limit, 'the inflated message is over it');
  }
  await proxy.stop();
  await mock.stop();
});

// A WebSocket upstream that negotiates permessage-deflate but sends some messages uncompressed
// (RSV1 clear), as RFC 7692 allows and servers with a size threshold do: lws 4.1's client drops
// those unless deltawire passes them on (proxy/upstream.c, deflate_ext).
async function startMixedUpstream(plainTypes) {
  const requests = [];
  const sent = { payload: 0, wire: 0 };
  const frame = (obj) => {
    const plain = plainTypes.has(obj.type);
    let payload = Buffer.from(JSON.stringify(obj));
    sent.payload += payload.length;
    if (!plain) payload = zlib.deflateRawSync(payload, { finishFlush: zlib.constants.Z_SYNC_FLUSH }).subarray(0, -4);
    const n = payload.length;
    sent.wire += n;
    const head = n < 126 ? Buffer.from([0x81, n]) : Buffer.from([0x81, 126, n >> 8, n & 255]);
    if (!plain) head[0] |= 0x40;
    return Buffer.concat([head, payload]);
  };
  const server = net.createServer((sock) => {
    let buf = Buffer.alloc(0), upgraded = false, parts = [], compressed = false;
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (!upgraded) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString();
        buf = buf.subarray(end + 4);
        const key = /sec-websocket-key: *(.+)/i.exec(head)[1].trim();
        const accept = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
        sock.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          `Sec-WebSocket-Accept: ${accept}\r\n` +
          'Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n\r\n');
        upgraded = true;
      }
      for (;;) {
        if (buf.length < 2) return;
        let n = buf[1] & 127, off = 2;
        if (n === 126) { if (buf.length < 4) return; n = buf.readUInt16BE(2); off = 4; }
        else if (n === 127) { if (buf.length < 10) return; n = Number(buf.readBigUInt64BE(2)); off = 10; }
        if (buf.length < off + 4 + n) return;
        const mask = buf.subarray(off, off + 4), fin = buf[0] & 0x80, op = buf[0] & 15;
        if (op === 1) compressed = (buf[0] & 0x40) !== 0;
        const p = Buffer.from(buf.subarray(off + 4, off + 4 + n)).map((b, i) => b ^ mask[i & 3]);
        buf = buf.subarray(off + 4 + n);
        if (op === 8) { sock.end(); return; }
        if (op !== 0 && op !== 1) continue;
        parts.push(p);
        if (!fin) continue;
        let msg = Buffer.concat(parts);
        parts = [];
        if (compressed) msg = zlib.inflateRawSync(Buffer.concat([msg, Buffer.from([0, 0, 255, 255])]), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
        const req = JSON.parse(msg);
        requests.push({ req, compressed });
        const id = `resp_mixed_${requests.length}`;
        const output = [{ type: 'message', id: `msg_${requests.length}`, role: 'assistant', status: 'completed',
          content: [{ type: 'output_text', text: 'mixed frames ok '.repeat(20), annotations: [] }] }];
        const base = { id, object: 'response', created_at: 1, model: req.model, previous_response_id: null };
        sock.write(frame({ type: 'response.created', sequence_number: 0, response: { ...base, status: 'in_progress', output: [] } }));
        sock.write(frame({ type: 'response.output_item.done', sequence_number: 1, output_index: 0, item: output[0] }));
        sock.write(frame({ type: 'response.completed', sequence_number: 2, response: { ...base, status: 'completed', output } }));
      }
    });
    sock.on('error', () => {});
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { base: `http://127.0.0.1:${server.address().port}/v1`, requests, sent,
    stop: () => new Promise((r) => { server.close(r); }) };
}

for (const plain of [['response.created'], ['response.completed'], ['response.created', 'response.output_item.done', 'response.completed']]) {
  test(`an upstream that sends ${plain.join(', ')} uncompressed on a deflate socket: every event arrives`, { timeout: 20000 }, async () => {
    const up = await startMixedUpstream(new Set(plain));
    const proxy = await startProxy({ upstream: up.base, args: ['--transport', 'ws'] });
    const body = { model: 'gpt-5.5', store: false, stream: true, tools: extra.tools,
      input: [{ role: 'user', content: 'hello '.repeat(200) }] };
    const r = await sse(proxy.base + '/responses', body, { authorization: 'Bearer sk-mixed' }, { timeoutMs: 10000 });
    assert.equal(r.status, 200);
    assert.deepEqual([...r].map((e) => e.event), ['response.created', 'response.output_item.done', 'response.completed']);
    assert.equal(up.requests.length, 1);
    assert.equal(up.requests[0].compressed, true, 'deltawire compressed its request');
    assert.equal(up.requests[0].req.type, 'response.create');
    const s = await stats(proxy);
    assert.equal(s.bytes_from_upstream, up.sent.payload, 'each event counted once, inflated');
    assert.equal(s.wire_from_upstream, up.sent.wire, 'and as it crossed the socket');
    await proxy.stop();
    await up.stop();
  });
}

// A message that compresses to more than the compressor's 64 KB output leaves lws draining it over
// writeable turns, reading it from deltawire's buffer all the while; a smaller one is consumed in
// the write itself, and its buffer is released at once. Both kinds, interleaved on one socket by
// concurrent conversations, each arrive whole, and the next turn of each still goes as a delta.
test('messages larger than the compressor\'s output buffer, beside small ones on one socket, arrive whole', { timeout: 60000 }, async () => {
  const mock = await startMock();
  const proxy = await startProxy({ upstream: mock.base, args: ['--max-conns-per-key', '1'] });
  const auth = { authorization: 'Bearer sk-drain' };
  // base64 of digests: it compresses to three quarters, past 64 KB from ~90 KB on
  const noise = (kb, seed) => Array.from({ length: Math.ceil(kb * 1024 / 24) },
    (_, i) => createHash('md5').update(`${seed}:${i}`).digest('base64')).join('');
  const first = Array.from({ length: 4 }, (_, k) => ({ model: 'gpt-5.5', store: false,
    input: [{ role: 'user', content: k % 2 ? `small ${k}` : noise(200, k) }] }));
  const one = await Promise.all(first.map((b) => httpJson('POST', proxy.base + '/responses', b, auth)));
  for (const r of one) assert.equal(r.status, 200);
  const second = first.map((b, k) => ({ ...b, input: [...b.input, ...one[k].json.output,
    { role: 'user', content: k % 2 ? noise(120, 10 + k) : 'and small again' }] }));
  const two = await Promise.all(second.map((b) => httpJson('POST', proxy.base + '/responses', b, auth)));
  for (const r of two) assert.equal(r.status, 200);
  const log = (await mock.log()).filter((e) => e.transport === 'ws');
  assert.equal(log.length, 8);
  assert.equal((await mock.handshakes()).length, 1, 'one upstream socket');
  for (const [k, b] of [...first, ...second].entries()) {
    const e = log.find((x) => JSON.stringify(canonicalItems(x.full_input)) === JSON.stringify(canonicalItems(b.input)));
    assert.ok(e, `request ${k}: the mock reconstructed exactly the client's input`);
    assert.equal(e.error, null);
    if (k >= 4) assert.ok(e.previous_response_id, `request ${k} went as a delta`);
  }
  const s = await stats(proxy);
  const hs = (await mock.handshakes())[0];
  assert.ok(s.bytes_to_upstream > 600000, 'the large messages went up');
  assert.ok(s.wire_to_upstream > 400000, 'and did not compress below the compressor\'s buffer');
  assert.equal(s.wire_to_upstream, hs.rx_wire_bytes, 'wire bytes up as the mock counted them');
  assert.equal(s.bytes_to_upstream, hs.rx_payload_bytes, 'frame bytes up as the mock counted them');
  await proxy.stop();
  await mock.stop();
});
