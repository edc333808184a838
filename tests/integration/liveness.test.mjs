// Liveness (issue 14 items 1, 2, 3 and 5): a pooled socket that died without a FIN, an upstream
// that goes quiet mid-response, silent streams, and slow readers. Each test bounds its time with
// the test's timeout and the client's own, far below what the failure cost before (lws's 300 s
// idle ping; for ever), and checks what the client receives.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { startMock, startProxy, stopAll, canonicalItems, httpJson, sse, waitFor, sleep, CLIENTS_DIR } from './lib/harness.mjs';

let mock;
before(async () => { mock = await startMock(); });
after(stopAll);

const auth = (k) => ({ authorization: `Bearer ${k}` });
const TOOLS = [{ type: 'function', name: 'run_shell', parameters: { type: 'object', properties: { cmd: { type: 'string' } } } }];
const first = (extra = {}) => ({ model: 'gpt-5.5', store: false, tools: TOOLS, input: [{ role: 'user', content: 'run echo hello, twice' }], ...extra });
// the next turn of a stateless loop: everything sent, everything answered, the tool outputs
const next = (req, res) => ({ ...req, input: [...req.input, ...res.output,
  ...res.output.filter((o) => o.type === 'function_call').map((c) => ({ type: 'function_call_output', call_id: c.call_id, output: 'hello\n' }))] });
const wsLog = async (m = mock) => (await m.log()).filter((e) => e.transport === 'ws');

async function gauge(proxy, name) {
  const text = await (await fetch(proxy.url + '/metrics')).text();
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  assert.ok(line, `${name} is exported`);
  return Number(line.split(' ').at(-1));
}

// Two turns, the second answered on a socket that then goes black (no event, no pong, no FIN).
async function blackHoledConversation(proxy, key) {
  const t1 = first();
  const r1 = await httpJson('POST', proxy.base + '/responses', t1, auth(key));
  assert.equal(r1.status, 200);
  const t2 = next(t1, r1.json);
  await mock.fault({ black_hole: true, count: 1 });
  const r2 = await httpJson('POST', proxy.base + '/responses', t2, auth(key));
  assert.equal(r2.status, 200);
  await waitFor(async () => (await mock.handshakes()).some((h) => h.black_hole));
  return next(t2, r2.json);
}

test('a silent drop right after a response: the next turn goes again in full on a new socket within the first-event bound', { timeout: 20000 }, async (t) => {
  await mock.reset();
  const proxy = await startProxy({ upstream: mock.base, args: ['--upstream-ping-interval', '1', '--upstream-pong-timeout', '1', '--first-event-timeout', '1'] });
  const t3 = await blackHoledConversation(proxy, 'sk-drop');
  const t0 = Date.now();
  // bounded by the client: lws's own idle ping would have taken about 308 s
  const r3 = await httpJson('POST', proxy.base + '/responses', t3, auth('sk-drop'), { timeoutMs: 5000 });
  t.diagnostic(`recovery after a silent drop (first-event-timeout 1 s, pong timeout 1 s): ${Date.now() - t0} ms`);
  assert.equal(r3.status, 200);
  assert.equal(r3.json.status, 'completed');
  const log = await wsLog();
  const last = log.at(-1);
  assert.equal(last.previous_response_id, null, 'the retry carries the full input');
  assert.deepEqual(canonicalItems(last.full_input), canonicalItems(t3.input));
  assert.notEqual(last.conn, log.at(-2).conn, 'on another socket');
  await proxy.stop();
});

test('an idle pooled socket that died is pinged and closed when the pong is late; a live one stays', { timeout: 20000 }, async (t) => {
  await mock.reset();
  // the first-event bound is out of the way: only the keepalive can find the dead socket
  const proxy = await startProxy({ upstream: mock.base, args: ['--upstream-ping-interval', '1', '--upstream-pong-timeout', '1', '--first-event-timeout', '60'] });
  const t3 = await blackHoledConversation(proxy, 'sk-idle-drop');
  const t0 = Date.now();
  await waitFor(async () => (await gauge(proxy, 'deltawire_upstream_connections{state="open"}')) === 0, { timeoutMs: 6000, intervalMs: 50 });
  t.diagnostic(`dead idle socket closed ${Date.now() - t0} ms after its last response (ping 1 s + pong 1 s)`);
  const r3 = await httpJson('POST', proxy.base + '/responses', t3, auth('sk-idle-drop'), { timeoutMs: 5000 });
  assert.equal(r3.status, 200);
  assert.equal((await wsLog()).at(-1).previous_response_id, null);
  // a live socket answers the pings and stays: after several ping intervals the next turn is a delta on it
  const t4 = next(t3, r3.json);
  await sleep(3500); // watching for a close that must not happen (ping 1 s + pong 1 s < 3.5 s)
  const r4 = await httpJson('POST', proxy.base + '/responses', t4, auth('sk-idle-drop'), { timeoutMs: 5000 });
  assert.equal(r4.status, 200);
  const log = await wsLog();
  assert.equal(log.at(-1).previous_response_id, r3.json.id, 'a delta');
  assert.equal(log.at(-1).conn, log.at(-2).conn, 'on the same socket');
  await proxy.stop();
});

test('a stream that goes quiet after events reached the client: closed after --upstream-idle-timeout, a flat SSE error, the key served again', { timeout: 20000 }, async () => {
  await mock.reset();
  const proxy = await startProxy({ upstream: mock.base, args: ['--upstream-idle-timeout', '1', '--max-conns-per-key', '1'] });
  const stalled = sse(proxy.base + '/responses', first({ stream: true, metadata: { mock_fault: 'stall_after_events=3' } }), auth('sk-stall'), { timeoutMs: 8000 });
  await waitFor(async () => (await wsLog()).length === 1);
  // the one socket of this key is busy: this request waits for it
  const queued = httpJson('POST', proxy.base + '/responses', first(), auth('sk-stall'), { timeoutMs: 8000 });
  const s = await stalled;
  assert.equal(s.status, 200);
  assert.deepEqual(s.slice(0, 3).map((e) => e.event), ['response.created', 'response.in_progress', 'response.output_item.added']);
  assert.equal(s.length, 4);
  assert.equal(s[3].event, 'error');
  assert.equal(s[3].data.type, 'error');
  assert.equal(s[3].data.sequence_number, 3);
  assert.equal(s[3].data.param, null);
  assert.match(s[3].data.message, /upstream-idle-timeout/);
  assert.ok('code' in s[3].data);
  const q = await queued;
  assert.equal(q.status, 200);
  assert.equal(q.json.status, 'completed');
  await proxy.stop();
});

test('a client that goes away from a stalled stream leaves no socket pinned (--max-conns-per-key 1)', { timeout: 20000 }, async () => {
  await mock.reset();
  const proxy = await startProxy({ upstream: mock.base, args: ['--upstream-idle-timeout', '1', '--max-conns-per-key', '1'] });
  const ctl = new AbortController();
  const res = await fetch(proxy.base + '/responses', { method: 'POST', headers: { 'content-type': 'application/json', ...auth('sk-gone') }, body: JSON.stringify(first({ stream: true, metadata: { mock_fault: 'stall_after_events=2' } })), signal: ctl.signal });
  assert.equal(res.status, 200);
  const reader = res.body.getReader();
  await reader.read();
  ctl.abort();
  const r = await httpJson('POST', proxy.base + '/responses', first(), auth('sk-gone'), { timeoutMs: 8000 });
  assert.equal(r.status, 200);
  assert.equal(r.json.status, 'completed');
  await proxy.stop();
});

test('a quiet upstream before anything reached the client: retried in full; quiet every time: an error status', { timeout: 20000 }, async () => {
  await mock.reset();
  const proxy = await startProxy({ upstream: mock.base, args: ['--upstream-idle-timeout', '1'] });
  await mock.fault({ stall_after_events: 3, count: 1 });
  const body = first();
  const r = await httpJson('POST', proxy.base + '/responses', body, auth('sk-quiet'), { timeoutMs: 8000 });
  assert.equal(r.status, 200);
  assert.equal(r.json.status, 'completed');
  const log = await wsLog();
  assert.equal(log.length, 2);
  assert.notEqual(log[1].conn, log[0].conn, 'the retry is on another socket');
  assert.deepEqual(canonicalItems(log[1].full_input), canonicalItems(body.input));
  // a non-streaming answer keeps its status line to the end: an error status, never an early 200
  const bad = await httpJson('POST', proxy.base + '/responses', first({ metadata: { mock_fault: 'stall_after_events=3' } }), auth('sk-quiet'), { timeoutMs: 10000 });
  assert.equal(bad.status, 502);
  assert.match(bad.json.error.message, /upstream-idle-timeout/);
  await proxy.stop();
});

test('--sse-keepalive: comments during silence before the first event and between events; the events unchanged', { timeout: 20000 }, async () => {
  await mock.reset();
  const proxy = await startProxy({ upstream: mock.base, args: ['--sse-keepalive', '0.2'] });
  const early = await sse(proxy.base + '/responses', first({ stream: true, metadata: { mock_fault: 'first_event_delay_ms=900' } }), auth('sk-ka'), { timeoutMs: 8000 });
  assert.equal(early.status, 200);
  const head = early.raw.slice(0, early.raw.indexOf('event: response.created'));
  assert.ok((head.match(/^: keepalive\n\n/gm) || []).length >= 2, `keepalive comments before the first event: ${JSON.stringify(head)}`);
  assert.equal(head.replace(/: keepalive\n\n/g, ''), '', 'nothing but comments before the first event');
  const real = early.filter((e) => e.event);
  assert.equal(real.at(-1).event, 'response.completed');
  real.forEach((e, i) => assert.equal(e.data.sequence_number, i));
  const mid = await sse(proxy.base + '/responses', first({ stream: true, metadata: { mock_fault: 'stall_after_events=3;stall_ms=900' } }), auth('sk-ka'), { timeoutMs: 8000 });
  const afterThird = mid.raw.split('event: response.output_item.added')[1];
  assert.match(afterThird, /\n\n: keepalive\n\n/, 'comments between events');
  assert.equal(mid.filter((e) => e.event).at(-1).event, 'response.completed');
  // a non-streaming answer gets no comment: one JSON body, its status at the end
  const plain = await httpJson('POST', proxy.base + '/responses', first({ metadata: { mock_fault: 'first_event_delay_ms=600' } }), auth('sk-ka'), { timeoutMs: 8000 });
  assert.equal(plain.status, 200);
  assert.equal(plain.json.status, 'completed');
  await proxy.stop();
});

test('--sse-keepalive on a Chat Completions stream: comments, then the chunks and [DONE]', { timeout: 20000 }, async () => {
  await mock.reset();
  const proxy = await startProxy({ upstream: mock.base, args: ['--sse-keepalive', '0.2'] });
  const evs = await sse(proxy.base + '/chat/completions', { model: 'gpt-5.5', messages: [{ role: 'user', content: 'hi' }], stream: true,
    metadata: { mock_fault: 'first_event_delay_ms=900' } }, auth('sk-ka-chat'), { timeoutMs: 8000 });
  assert.equal(evs.status, 200);
  const head = evs.raw.slice(0, evs.raw.indexOf('data:'));
  assert.ok((head.match(/^: keepalive\n\n/gm) || []).length >= 2, JSON.stringify(head));
  assert.equal(head.replace(/: keepalive\n\n/g, ''), '');
  assert.equal(evs.filter((e) => e.data !== '').at(-1).data, '[DONE]');
  assert.ok(evs.some((e) => e.data?.object === 'chat.completion.chunk'));
  await proxy.stop();
});

test('--sse-keepalive: the openai-node SDK streams through the comments', { timeout: 20000 }, async (t) => {
  const sdk = CLIENTS_DIR && path.join(CLIENTS_DIR, 'node_modules', 'openai', 'index.mjs');
  if (!sdk || !fs.existsSync(sdk)) { t.skip('openai-node is not installed (DW_CLIENTS_DIR)'); return; }
  const { default: OpenAI } = await import(sdk);
  await mock.reset();
  const proxy = await startProxy({ upstream: mock.base, args: ['--sse-keepalive', '0.2'] });
  const client = new OpenAI({ apiKey: 'sk-ka-sdk', baseURL: proxy.base, timeout: 8000, maxRetries: 0 });
  const stream = await client.responses.create({ ...first({ stream: true, metadata: { mock_fault: 'first_event_delay_ms=700' } }) });
  const types = [];
  for await (const ev of stream) types.push(ev.type);
  assert.equal(types[0], 'response.created');
  assert.equal(types.at(-1), 'response.completed');
  await proxy.stop();
});

// Streams a big answer to a reader that stops reading; returns what the proxy held meanwhile.
function slowRead(proxy, body, key, onPaused) {
  return new Promise((resolve, reject) => {
    const req = http.request(proxy.base + '/responses', { method: 'POST', headers: { 'content-type': 'application/json', ...auth(key) } }, (res) => {
      res.pause(); // reads nothing: TCP pushes back to the proxy
      onPaused().then((held) => {
        let raw = '';
        res.setEncoding('utf8');
        res.on('data', (d) => { raw += d; });
        res.on('end', () => resolve({ status: res.statusCode, raw, held }));
        res.resume();
      }, reject);
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

test('a slow reader: the proxy stops reading the upstream at --client-buffer, then every byte arrives in order', { timeout: 60000 }, async (t) => {
  const big = await startMock({ args: ['--text-bytes', String(8 << 20), '--tool-turns', '0'] });
  const bound = 256 << 10;
  const proxy = await startProxy({ upstream: big.base, args: ['--client-buffer', String(bound)] });
  const rss = () => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${proxy.child.pid}/status`, 'utf8'))[1]) * 1024;
  const { status, raw, held } = await slowRead(proxy, first({ stream: true }), 'sk-slow', async () => {
    // the proxy's buffer for this client settles (the upstream is no longer read)
    let last = -1, same = 0;
    await waitFor(async () => {
      const g = await gauge(proxy, 'deltawire_client_buffered_bytes');
      same = g > 0 && g === last ? same + 1 : 0;
      last = g;
      return same >= 8;
    }, { timeoutMs: 20000, intervalMs: 100 });
    return { buffered: last, rss: rss() };
  });
  t.diagnostic(`paused reader: ${held.buffered} bytes held for the client (bound ${bound}), proxy VmRSS ${(held.rss / 1048576).toFixed(1)} MiB`);
  assert.equal(status, 200);
  // at most the bound plus the one event that crossed it (the answer's biggest events are 8 MiB each)
  assert.ok(held.buffered <= bound + (8 << 20) + 65536, `held ${held.buffered} bytes`);
  const evs = raw.split('\n\n').filter((b) => b.startsWith('event:')).map((b) => JSON.parse(b.slice(b.indexOf('data: ') + 6)));
  evs.forEach((e, i) => assert.equal(e.sequence_number, i, 'in order, none missing'));
  const done = evs.at(-1);
  assert.equal(done.type, 'response.completed');
  const text = evs.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta).join('');
  const msg = done.response.output.find((o) => o.type === 'message');
  assert.equal(text, msg.content[0].text, 'every delta byte arrived');
  assert.ok(text.length >= 8 << 20);
  await proxy.stop();
  await big.stop();
});

test('a reader paused longer than the keepalive: its paused socket answers no ping, and the stream ends with an honest error', { timeout: 60000 }, async () => {
  const big = await startMock({ args: ['--text-bytes', String(8 << 20), '--tool-turns', '0'] });
  const proxy = await startProxy({ upstream: big.base, args: ['--client-buffer', String(256 << 10), '--upstream-ping-interval', '1', '--upstream-pong-timeout', '1'] });
  const { status, raw } = await slowRead(proxy, first({ stream: true }), 'sk-paused', async () => {
    // the upstream socket closes (ping 1 s + pong 1 s without a read)
    await waitFor(async () => (await gauge(proxy, 'deltawire_upstream_connections{state="open"}')) === 0, { timeoutMs: 15000, intervalMs: 100 });
  });
  assert.equal(status, 200);
  const evs = raw.split('\n\n').filter((b) => b.startsWith('event:')).map((b) => JSON.parse(b.slice(b.indexOf('data: ') + 6)));
  evs.forEach((e, i) => assert.equal(e.sequence_number, i));
  assert.equal(evs.at(-1).type, 'error');
  assert.ok(!evs.some((e) => e.type === 'response.completed'));
  await proxy.stop();
  await big.stop();
});

test('a slow reader that goes away while its socket is paused leaves no socket pinned (--max-conns-per-key 1)', { timeout: 120000 }, async () => {
  const big = await startMock({ args: ['--text-bytes', String(4 << 20), '--tool-turns', '0'] });
  const proxy = await startProxy({ upstream: big.base, args: ['--client-buffer', String(256 << 10), '--max-conns-per-key', '1'] });
  await new Promise((resolve, reject) => {
    const req = http.request(proxy.base + '/responses', { method: 'POST', headers: { 'content-type': 'application/json', ...auth('sk-paused-gone') } }, (res) => {
      res.pause();
      waitFor(async () => (await gauge(proxy, 'deltawire_client_buffered_bytes')) >= 256 << 10, { timeoutMs: 20000 })
        .then(() => { req.destroy(); resolve(); }, reject);
    });
    req.on('error', () => {});
    req.end(JSON.stringify(first({ stream: true })));
  });
  // served once the abandoned answer (about 20 MB of events) has run to its end upstream: slow under valgrind
  const r = await httpJson('POST', proxy.base + '/responses', first(), auth('sk-paused-gone'), { timeoutMs: 90000 });
  assert.equal(r.status, 200);
  assert.equal(r.json.status, 'completed');
  await waitFor(async () => (await gauge(proxy, 'deltawire_client_buffered_bytes')) === 0);
  await proxy.stop();
  await big.stop();
});
