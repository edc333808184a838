// Upstream pool, recovery and HTTP fallback (issue 5): every failure is invisible to the client
// while nothing has reached it, and an honest error after that, never a replay.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startMock, startProxy, stopAll, canonicalItems, httpJson, sse, wsConnect, waitFor } from './lib/harness.mjs';
import { runToolLoop } from './lib/loop.mjs';

let mock;
before(async () => { mock = await startMock(); });
after(stopAll);

const ws = (log) => log.filter((e) => e.transport === 'ws');
const auth = (k) => ({ authorization: `Bearer ${k}` });
const body = (text, extra = {}) => ({ model: 'gpt-5.5', input: [{ role: 'user', content: text }], store: false, ...extra });

// The proxy's upstream connections in one state ("open", "busy", "idle", "connecting"), from /metrics.
async function connections(proxy, state) {
  const text = await (await fetch(proxy.url + '/metrics')).text();
  const line = text.split('\n').find((l) => l.startsWith(`deltawire_upstream_connections{state="${state}"} `));
  assert.ok(line, `deltawire_upstream_connections{state="${state}"} is exported`);
  return Number(line.split(' ').at(-1));
}

// Returns once a WebSocket connection opened now has passed the mock's --max-conn-age, as the mock
// itself judges it; every connection opened earlier has passed it too.
async function pastConnAge(m) {
  const probe = await wsConnect(`ws://127.0.0.1:${m.port}/v1/responses`, auth('sk-age-probe'));
  try {
    await waitFor(async () => {
      probe.send({ type: 'response.create', model: 'gpt-5.5', store: false, generate: false, input: [] });
      const last = (await probe.untilTerminal()).at(-1);
      return last?.type === 'error' && last.error.code === 'websocket_connection_limit_reached';
    }, { timeoutMs: 10000, intervalMs: 50 });
  } finally {
    await probe.close();
  }
}

// Runs turns 1 and 2 of a tool loop and returns what turn 3 would send.
async function twoTurns(base, key) {
  const run = await runToolLoop(base, { maxTurns: 2, headers: auth(key) });
  return { run, next: { ...run.turns[1].request, input: run.input } };
}

test('previous_response_not_found: the full input is resent without previous_response_id', async () => {
  const proxy = await startProxy({ upstream: mock.base });
  await mock.reset();
  const { next } = await twoTurns(proxy.base, 'sk-stale');
  await mock.fault({ forget_cache: true, count: 1 });
  const r = await httpJson('POST', proxy.base + '/responses', next, auth('sk-stale'));
  assert.equal(r.status, 200);
  const e = ws(await mock.log()).slice(-2);
  assert.equal(e[0].error.code, 'previous_response_not_found');
  assert.notEqual(e[0].previous_response_id, null, 'the first try was a delta');
  assert.equal(e[1].previous_response_id, null, 'the retry carries the full input');
  assert.equal(e[1].items, next.input.length);
  assert.deepEqual(canonicalItems(e[1].full_input), canonicalItems(next.input));
  await proxy.stop();
});

test('websocket_connection_limit_reached: a new connection with the full input', async () => {
  const aged = await startMock({ args: ['--max-conn-age', '0.4'] });
  const proxy = await startProxy({ upstream: aged.base });
  const { next } = await twoTurns(proxy.base, 'sk-aged');
  await pastConnAge(aged);
  const r = await httpJson('POST', proxy.base + '/responses', next, auth('sk-aged'));
  assert.equal(r.status, 200);
  const e = ws(await aged.log()).slice(-2);
  assert.equal(e[0].error.code, 'websocket_connection_limit_reached');
  assert.equal(e[1].previous_response_id, null);
  assert.notEqual(e[1].conn, e[0].conn, 'on a new connection');
  assert.deepEqual(canonicalItems(e[1].full_input), canonicalItems(next.input));
  await proxy.stop();
  await aged.stop();
});

test('the socket closing before the first event: a new connection, full input, the client never knows', async () => {
  const proxy = await startProxy({ upstream: mock.base });
  await mock.reset();
  const { next } = await twoTurns(proxy.base, 'sk-close0');
  await mock.fault({ close_after_events: 0, count: 1 });
  const r = await sse(proxy.base + '/responses', { ...next, stream: true }, auth('sk-close0'));
  assert.equal(r.status, 200);
  assert.equal(r.at(-1).event, 'response.completed');
  assert.equal(r.filter((ev) => ev.event === 'response.created').length, 1, 'no replayed events');
  const e = ws(await mock.log()).slice(-1)[0];
  assert.equal(e.previous_response_id, null);
  assert.deepEqual(canonicalItems(e.full_input), canonicalItems(next.input));
  await proxy.stop();
});

test('a failure after part of a stream reached the client: an SSE error event, and nothing is recorded', async () => {
  const proxy = await startProxy({ upstream: mock.base });
  await mock.reset();
  const { next } = await twoTurns(proxy.base, 'sk-midstream');
  await mock.fault({ close_after_events: 3, count: 1 });
  const r = await sse(proxy.base + '/responses', { ...next, stream: true }, auth('sk-midstream'));
  assert.equal(r.status, 200);
  assert.ok(r.length >= 2, 'part of the stream arrived');
  assert.equal(r.at(-1).event, 'error', 'the stream ends with an honest error');
  // flat, as the HTTP API's stream error event, numbered after the events that went out
  assert.deepEqual(Object.keys(r.at(-1).data).sort(), ['code', 'message', 'param', 'sequence_number', 'type']);
  assert.ok(r.at(-1).data.message);
  assert.equal(r.at(-1).data.sequence_number, r.length - 1);
  assert.equal(r.filter((ev) => ev.event === 'response.completed').length, 0);
  // the broken response was not recorded: the same request goes again, chained from turn 2
  const again = await httpJson('POST', proxy.base + '/responses', next, auth('sk-midstream'));
  assert.equal(again.status, 200);
  const e = ws(await mock.log()).slice(-1)[0];
  assert.deepEqual(canonicalItems(e.full_input), canonicalItems(next.input));
  await proxy.stop();
});

test('non-streaming: retried while nothing reached the client, then a 502 with an OpenAI-style body', async () => {
  const proxy = await startProxy({ upstream: mock.base });
  await mock.reset();
  await mock.fault({ close_after_events: 2, count: 1 });
  const ok = await httpJson('POST', proxy.base + '/responses', body('retry me, no tools'), auth('sk-nonstream'));
  assert.equal(ok.status, 200, 'one failure is invisible');
  assert.equal(ok.json.status, 'completed');
  await mock.fault({ close_after_events: 2, count: 10 });
  const bad = await httpJson('POST', proxy.base + '/responses', body('fail me, no tools'), auth('sk-nonstream'));
  assert.equal(bad.status, 502);
  assert.equal(typeof bad.json.error.message, 'string');
  await mock.fault({ count: 0 });
  await mock.reset();
  await proxy.stop();
});

test('upstream 5xx error envelopes reach the client with their status', async () => {
  const proxy = await startProxy({ upstream: mock.base });
  await mock.reset();
  await mock.fault({ error_status: 503, count: 1 });
  const r = await httpJson('POST', proxy.base + '/responses', body('hi'), auth('sk-5xx'));
  assert.equal(r.status, 503);
  assert.equal(r.json.error.type, 'server_error');
  await proxy.stop();
});

test('upgrade refused (426): the request goes unchanged over HTTP, and WebSocket mode comes back later', async () => {
  const proxy = await startProxy({ upstream: mock.base });
  await mock.reset();
  await mock.fault({ refuse_upgrade: 426, count: 1 });
  const b1 = body('over http, no tools', { stream: true });
  const r1 = await sse(proxy.base + '/responses', b1, auth('sk-426'));
  assert.equal(r1.status, 200);
  assert.equal(r1.at(-1).event, 'response.completed');
  let log = await mock.log();
  assert.equal(log.at(-1).transport, 'http', 'fell back to plain HTTP');
  assert.deepEqual(canonicalItems(log.at(-1).full_input), canonicalItems(b1.input));
  // within the backoff: still HTTP, without another handshake
  const hs = (await mock.handshakes()).length;
  await httpJson('POST', proxy.base + '/responses', body('still http, no tools'), auth('sk-426'));
  assert.equal((await mock.log()).at(-1).transport, 'http');
  assert.equal((await mock.handshakes()).length, hs);
  // after the backoff: WebSocket mode again, polled with requests that go over HTTP until then
  await waitFor(async () => {
    const r3 = await httpJson('POST', proxy.base + '/responses', body('websocket again, no tools'), auth('sk-426'));
    assert.equal(r3.status, 200);
    log = await mock.log();
    return log.at(-1).transport === 'ws';
  }, { timeoutMs: 10000, intervalMs: 100 });
  await proxy.stop();
});

test('--transport http sends everything over plain HTTP, streaming included', async () => {
  const proxy = await startProxy({ upstream: mock.base, args: ['--transport', 'http'] });
  await mock.reset();
  const r = await sse(proxy.base + '/responses', body('plain, no tools', { stream: true }), auth('sk-http'));
  assert.equal(r.status, 200);
  assert.equal(r.at(-1).event, 'response.completed');
  assert.equal((await mock.log()).at(-1).transport, 'http');
  assert.equal((await mock.handshakes()).length, 0);
  await proxy.stop();
});

test('passthrough: GET /v1/models and GET /v1/responses/{id} go to the upstream unchanged', async () => {
  const proxy = await startProxy({ upstream: mock.base });
  await mock.reset();
  const models = await httpJson('GET', proxy.base + '/models', undefined, auth('sk-pass'));
  assert.equal(models.status, 200);
  assert.equal(models.json.object, 'list');
  const created = await httpJson('POST', proxy.base + '/responses', body('stored, no tools', { store: true }), auth('sk-pass'));
  const got = await httpJson('GET', proxy.base + '/responses/' + created.json.id, undefined, auth('sk-pass'));
  assert.equal(got.status, 200);
  assert.equal(got.json.id, created.json.id);
  const missing = await httpJson('GET', proxy.base + '/responses/resp_nope', undefined, auth('sk-pass'));
  assert.equal(missing.status, 404);
  // background responses do not exist over WebSocket: passed through over HTTP
  await httpJson('POST', proxy.base + '/responses', body('bg, no tools', { background: true, store: true }), auth('sk-pass'));
  assert.equal((await mock.log()).at(-1).transport, 'http');
  await proxy.stop();
});

test('a client WebSocket upgrade on /v1/responses gets 426', async () => {
  const proxy = await startProxy({ upstream: mock.base });
  const r = await wsConnect(proxy.base.replace('http:', 'ws:') + '/responses', auth('sk-ws-client'));
  assert.equal(r.status, 426);
  r.close();
  await proxy.stop();
});

test('8 concurrent tool loops under one key each keep their deltas', async () => {
  const proxy = await startProxy({ upstream: mock.base });
  await mock.reset();
  const runs = await Promise.all([...Array(8).keys()].map((i) => runToolLoop(proxy.base, {
    headers: auth('sk-many'),
    firstInput: [{ role: 'user', content: `Loop ${i}: run echo hello twice, then tell me what it printed.` }],
  })));
  const log = ws(await mock.log());
  for (const [i, run] of runs.entries()) {
    const mine = log.filter((e) => JSON.stringify(e.full_input[0]).includes(`Loop ${i}:`));
    assert.equal(mine.length, run.turns.length, `loop ${i}: one upstream request per turn`);
    for (let t = 0; t < run.turns.length; t++) {
      assert.deepEqual(canonicalItems(mine[t].full_input), canonicalItems(run.turns[t].request.input));
      if (t > 0) assert.equal(mine[t].previous_response_id, mine[t - 1].response_id, `loop ${i} turn ${t + 1} is a delta`);
    }
  }
  await proxy.stop();
});

test('a forked conversation: two requests extending the same prefix differently both get correct answers', async () => {
  const proxy = await startProxy({ upstream: mock.base });
  await mock.reset();
  const { next } = await twoTurns(proxy.base, 'sk-fork');
  const a = { ...next, input: [...next.input.slice(0, -1), { ...next.input.at(-1), output: 'branch A\n' }] };
  const b = { ...next, input: [...next.input.slice(0, -1), { ...next.input.at(-1), output: 'branch B\n' }] };
  const [ra, rb] = await Promise.all([a, b].map((x) => httpJson('POST', proxy.base + '/responses', x, auth('sk-fork'))));
  assert.equal(ra.status, 200);
  assert.equal(rb.status, 200);
  const log = ws(await mock.log()).slice(-2);
  const byBranch = (tag) => log.find((e) => JSON.stringify(e.full_input).includes(tag));
  assert.deepEqual(canonicalItems(byBranch('branch A').full_input), canonicalItems(a.input));
  assert.deepEqual(canonicalItems(byBranch('branch B').full_input), canonicalItems(b.input));
  assert.ok(log.some((e) => e.previous_response_id === null), 'the branch that found the connection busy went in full');
  await proxy.stop();
});

test('more requests than connections: queued up to a bound, then 429 with Retry-After', async () => {
  // one response per connection (without lanes; lanes.test.mjs has the 16-per-connection bound)
  const proxy = await startProxy({ upstream: mock.base, args: ['--lanes', 'off', '--max-conns-per-key', '1', '--max-queue', '1'] });
  await mock.reset();
  await mock.fault({ slow_ms: 30, count: 3 });
  const rs = await Promise.all([0, 1, 2].map((i) => fetch(proxy.base + '/responses', {
    method: 'POST', headers: { 'content-type': 'application/json', ...auth('sk-queue') },
    body: JSON.stringify(body(`queued ${i}, no tools`)),
  })));
  const statuses = rs.map((r) => r.status).sort();
  assert.deepEqual(statuses, [200, 200, 429]);
  const refused = rs.find((r) => r.status === 429);
  assert.equal(refused.headers.get('retry-after'), '1');
  assert.equal((await refused.json()).error.code, 'too_many_requests');
  assert.equal(new Set(ws(await mock.log()).map((e) => e.conn)).size, 1, 'one connection for the key');
  await proxy.stop();
});

test('a client that goes away mid-response: its connection is not reused until that response ended', async () => {
  // without lanes (with them, its lane is not: lanes.test.mjs)
  const proxy = await startProxy({ upstream: mock.base, args: ['--lanes', 'off'] });
  await mock.reset();
  await mock.fault({ slow_ms: 40, count: 1 });
  const ac = new AbortController();
  const res = await fetch(proxy.base + '/responses', { method: 'POST', signal: ac.signal,
    headers: { 'content-type': 'application/json', ...auth('sk-gone') }, body: JSON.stringify(body('slow, no tools', { stream: true })) });
  const reader = res.body.getReader();
  await reader.read();
  ac.abort();
  const r2 = await httpJson('POST', proxy.base + '/responses', body('next, no tools'), auth('sk-gone'));
  assert.equal(r2.status, 200);
  const log = ws(await mock.log());
  assert.notEqual(log[1].conn, log[0].conn, 'the abandoned response still held its connection');
  await waitFor(async () => (await connections(proxy, 'busy')) === 0, { timeoutMs: 10000 }); // the abandoned response ended
  const r3 = await httpJson('POST', proxy.base + '/responses', body('after, no tools'), auth('sk-gone'));
  assert.equal(r3.status, 200);
  await proxy.stop();
});

test('the transcript index is bounded: the least recently used conversation goes in full next time', async () => {
  const proxy = await startProxy({ upstream: mock.base, args: ['--max-conversations', '2'] });
  await mock.reset();
  const first = await twoTurns(proxy.base, 'sk-lru');
  await twoTurns(proxy.base, 'sk-lru-2');
  await twoTurns(proxy.base, 'sk-lru-3');
  const r = await httpJson('POST', proxy.base + '/responses', first.next, auth('sk-lru'));
  assert.equal(r.status, 200);
  const e = ws(await mock.log()).at(-1);
  assert.equal(e.previous_response_id, null);
  assert.deepEqual(canonicalItems(e.full_input), canonicalItems(first.next.input));
  await proxy.stop();
});

test('a retired connection: store=false continues in full on a new one, store=true chains by id from any', async () => {
  const proxy = await startProxy({ upstream: mock.base, args: ['--max-conn-age', '0.3'] });
  for (const store of [false, true]) {
    await mock.reset();
    const key = `sk-retired-${store}`;
    const run = await runToolLoop(proxy.base, { maxTurns: 2, headers: auth(key), extra: { store } });
    const next = { ...run.turns[1].request, input: run.input };
    // older than --max-conn-age and idle: the sweep (every second) retires it
    await waitFor(async () => (await connections(proxy, 'open')) === 0, { timeoutMs: 10000 });
    const r = await httpJson('POST', proxy.base + '/responses', next, auth(key));
    assert.equal(r.status, 200);
    const e = ws(await mock.log());
    assert.notEqual(e.at(-1).conn, e.at(-2).conn, 'a new connection');
    assert.deepEqual(canonicalItems(e.at(-1).full_input), canonicalItems(next.input));
    if (store) assert.equal(e.at(-1).previous_response_id, e.at(-2).response_id, 'stored: chained by id');
    else assert.equal(e.at(-1).previous_response_id, null, 'not stored: the full input');
  }
  await proxy.stop();
});
