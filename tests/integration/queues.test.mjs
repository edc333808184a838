// The pool's queues (issue 19 item 3, issue 14 items 2 and 6): one FIFO per key served in turn, a
// key below its own limit is never held up by another's backlog, 429 with Retry-After only for
// the key that is over, a deadline on waiting, and a conversation's own socket kept for it. With
// --lanes off: one response per socket, as against an upstream that refuses stream_id (lanes.test.mjs
// covers sockets shared by lanes).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startMock, startProxy, stopAll, httpJson, waitFor } from './lib/harness.mjs';
import { runToolLoop } from './lib/loop.mjs';

let mock;
before(async () => { mock = await startMock(); });
after(stopAll);

const auth = (k) => ({ authorization: `Bearer ${k}` });
const body = (text, fault) => ({
  model: 'gpt-5.5', input: [{ role: 'user', content: text }], store: false,
  ...(fault ? { metadata: { mock_fault: fault } } : {}),
});

async function gauge(proxy, name) {
  const text = await (await fetch(proxy.url + '/metrics')).text();
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  assert.ok(line, `${name} is exported`);
  return Number(line.split(' ').at(-1));
}
const queued = (proxy) => gauge(proxy, 'deltawire_queued_requests');

// Starts a request that holds its socket until the signal aborts it (the mock waits ms first).
function hold(proxy, key, ms, signal) {
  return fetch(proxy.base + '/responses', {
    method: 'POST', signal, headers: { 'content-type': 'application/json', ...auth(key) },
    body: JSON.stringify(body('hold', `first_event_delay_ms=${ms}`)),
  }).then((r) => r.text().then((t) => ({ status: r.status, headers: r.headers, text: t })), (e) => ({ error: e }));
}

test('another key is answered while key A has every socket busy and a backlog; only A gets 429', async () => {
  const proxy = await startProxy({ upstream: mock.base, args: ['--lanes', 'off', '--max-conns-per-key', '2', '--max-queue', '2'] });
  const stop = new AbortController();
  try {
    const held = [0, 1, 2, 3].map(() => hold(proxy, 'sk-queue-a', 20000, stop.signal));
    await waitFor(async () => (await queued(proxy)) === 2, { timeoutMs: 10000 });
    const over = await httpJson('POST', proxy.base + '/responses', body('one too many'), auth('sk-queue-a'),
      { timeoutMs: 10000 });
    assert.equal(over.status, 429, 'A is over its queue bound');
    assert.ok(over.headers['retry-after'], 'Retry-After is set');
    assert.equal(over.json.error.code, 'too_many_requests');
    const b = await httpJson('POST', proxy.base + '/responses', body('hello from B'), auth('sk-queue-b'),
      { timeoutMs: 10000 });
    assert.equal(b.status, 200, 'B holds no socket: it opens its own and is answered');
    assert.equal(b.json.status, 'completed');
    assert.equal(await queued(proxy), 2, "A's backlog is still waiting");
    stop.abort();
    await Promise.all(held);
  } finally {
    stop.abort();
    await proxy.stop();
  }
});

test('a queued request gets 429 with Retry-After once --queue-timeout passes', async () => {
  const proxy = await startProxy({ upstream: mock.base, args: ['--lanes', 'off', '--max-conns-per-key', '1', '--queue-timeout', '1'] });
  const stop = new AbortController();
  try {
    const held = hold(proxy, 'sk-deadline', 20000, stop.signal);
    await waitFor(async () => (await gauge(proxy, 'deltawire_upstream_connections{state="busy"}')) === 1,
      { timeoutMs: 10000 });
    const r = await httpJson('POST', proxy.base + '/responses', body('waits'), auth('sk-deadline'),
      { timeoutMs: 10000 });
    assert.equal(r.status, 429);
    assert.ok(r.headers['retry-after'], 'Retry-After is set');
    assert.equal(r.json.error.code, 'too_many_requests');
    assert.match(r.json.error.message, /queue-timeout/);
    assert.equal(await queued(proxy), 0, 'it left the queue');
    stop.abort();
    await held;
  } finally {
    stop.abort();
    await proxy.stop();
  }
});

test("fairness: B's request is served in turn, not behind A's whole queue", async () => {
  // two sockets in all, both A's; A queues four more, then B one: keys are served in turn
  const proxy = await startProxy({ upstream: mock.base, args: ['--lanes', 'off', '--max-conns', '2', '--max-conns-per-key', '2'] });
  try {
    const done = [];
    const send = (key, name, fault) =>
      httpJson('POST', proxy.base + '/responses', body(name, fault), auth(key), { timeoutMs: 30000 })
        .then((r) => { assert.equal(r.status, 200, `${name}: ${r.text}`); done.push(name); });
    const all = [send('sk-fair-a', 'a0', 'first_event_delay_ms=1000'), send('sk-fair-a', 'a1', 'first_event_delay_ms=1000')];
    await waitFor(async () => (await gauge(proxy, 'deltawire_upstream_connections{state="busy"}')) === 2,
      { timeoutMs: 10000 });
    for (let i = 2; i < 6; i++) {
      all.push(send('sk-fair-a', `a${i}`, 'first_event_delay_ms=500'));
      await waitFor(async () => (await queued(proxy)) === i - 1, { timeoutMs: 10000 });
    }
    all.push(send('sk-fair-b', 'b', null));
    await waitFor(async () => (await queued(proxy)) === 5, { timeoutMs: 10000 });
    await Promise.all(all);
    const queuedOrder = done.filter((n) => !['a0', 'a1'].includes(n));
    assert.ok(queuedOrder.indexOf('b') <= 1, `B is among the first two served from the queue: ${queuedOrder}`);
  } finally {
    await proxy.stop();
  }
});

// One stateless conversation: each turn re-sends the whole history, as an unmodified client does.
function conversation(proxy, key, name) {
  const input = [{ role: 'user', content: `Conversation ${name}: run echo ${name} a few times.` }];
  return {
    async turn(fault) {
      const req = {
        model: 'gpt-5.5', store: false, input: structuredClone(input),
        tools: [{ type: 'function', name: 'run_shell', parameters: { type: 'object', properties: { cmd: { type: 'string' } } } }],
        ...(fault ? { metadata: { mock_fault: fault } } : {}),
      };
      const r = await httpJson('POST', proxy.base + '/responses', req, auth(key), { timeoutMs: 20000 });
      assert.equal(r.status, 200, r.text);
      input.push(...r.json.output);
      const calls = r.json.output.filter((o) => o.type === 'function_call');
      for (const c of calls) input.push({ type: 'function_call_output', call_id: c.call_id, output: `${name}\n` });
      if (calls.length === 0) input.push({ role: 'user', content: 'Once more, please.' });
      const e = (await mock.log()).filter((x) => x.transport === 'ws' && x.response_id === r.json.id).at(-1);
      assert.ok(e, `the mock logged ${r.json.id}`);
      return { conn: e.conn, delta: e.previous_response_id !== null };
    },
  };
}

test('contention: 3 conversations on 2 sockets keep their own socket, the least recently used cache goes', async () => {
  const proxy = await startProxy({ upstream: mock.base, args: ['--lanes', 'off', '--max-conns-per-key', '2'] });
  try {
    await mock.reset();
    const [c1, c2, c3] = ['one', 'two', 'three'].map((n) => conversation(proxy, 'sk-contention', n));
    const [a, b] = await Promise.all([c1.turn(), c2.turn()]);
    assert.notEqual(a.conn, b.conn, 'a new socket while under the bound');
    const x = a.conn, y = b.conn;
    // c1's turn holds X a while; c3 arrives meanwhile and takes the one free socket, Y
    const slow = c1.turn('first_event_delay_ms=1000');
    await waitFor(async () => (await gauge(proxy, 'deltawire_upstream_connections{state="busy"}')) === 1,
      { timeoutMs: 10000 });
    const t3 = await c3.turn();
    assert.deepEqual(t3, { conn: y, delta: false }, 'no socket caches nothing, none is new: the free one');
    assert.deepEqual(await slow, { conn: x, delta: true });
    // X freed: c1 gets it back and goes as a delta
    assert.deepEqual(await c1.turn(), { conn: x, delta: true }, 'its own socket');
    // c2's cache went to c3: in full, on the least recently used socket (Y: c3's turn is older than c1's)
    assert.deepEqual(await c2.turn(), { conn: y, delta: false }, 'the least recently used cache');
    assert.deepEqual(await c1.turn(), { conn: x, delta: true }, 'c1 kept X');
  } finally {
    await proxy.stop();
  }
});
