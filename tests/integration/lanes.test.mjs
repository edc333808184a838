// stream_id lanes (issue 15; upstream-protocol.md section 2, "Lanes"): several conversations of one
// key share an upstream socket, each on its own lane with its own cache; events and errors are
// matched by stream_id, which never reaches the HTTP client; names stay within 32 per socket; an
// upstream that refuses the field still works; a failed turn evicts its own lane only. Fidelity:
// the mock's reconstructed input equals the client's input on every turn.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startMock, startProxy, stopAll, httpJson, sse, parseSse, waitFor, wsConnect } from './lib/harness.mjs';

let mock;
before(async () => { mock = await startMock(); });
after(stopAll);

const auth = (k) => ({ authorization: `Bearer ${k}` });
const wsLog = async (m = mock) => (await m.log()).filter((e) => e.transport === 'ws');

// The client's item as the API reads it (as fidelity.test.mjs: null is absent, string content is
// one text part, empty annotations/logprobs are nothing).
function normal(v, key = '') {
  if (Array.isArray(v)) return v.map((e) => normal(e));
  if (!v || typeof v !== 'object') return v;
  if (['parameters', 'arguments'].includes(key)) return v;
  const o = {};
  for (const k of Object.keys(v).sort()) {
    if (v[k] === null) continue;
    if ((k === 'annotations' || k === 'logprobs') && Array.isArray(v[k]) && v[k].length === 0) continue;
    o[k] = normal(v[k], k);
  }
  if (o.type === undefined && o.role !== undefined) o.type = 'message';
  if (o.type === 'message' && typeof o.content === 'string') {
    o.content = [{ type: o.role === 'assistant' ? 'output_text' : 'input_text', text: o.content }];
  }
  return o;
}

function assertModelSaw(upstream, client, what) {
  assert.equal(upstream.length, client.length, `${what}: item count`);
  client.forEach((c, i) => {
    const u = normal(upstream[i]);
    for (const [k, v] of Object.entries(normal(c))) assert.deepEqual(u[k], v, `${what}: item ${i} field ${k}`);
  });
}

// One stateless conversation: each turn re-sends the whole history, as an unmodified client does.
// A turn returns the mock's log entry of its (last) upstream request.
function conversation(proxy, key, name, m = mock) {
  const input = [{ role: 'user', content: `Conversation ${name}: run echo ${name} a few times.` }];
  return {
    input,
    async turn({ fault, stream = false, expect = 200 } = {}) {
      const req = {
        model: 'gpt-5.5', store: false, input: structuredClone(input),
        tools: [{ type: 'function', name: 'run_shell', parameters: { type: 'object', properties: { cmd: { type: 'string' } } } }],
        metadata: { conversation: name, ...(fault ? { mock_fault: fault } : {}) },
      };
      let out, id, raw;
      if (stream) {
        const evs = await sse(proxy.base + '/responses', { ...req, stream: true }, auth(key), { timeoutMs: 20000 });
        assert.equal(evs.status, expect, evs.raw);
        raw = evs.raw;
        const done = evs.find((e) => e.event === 'response.completed');
        out = done ? done.data.response.output : null;
        id = done ? done.data.response.id : null;
      } else {
        const r = await httpJson('POST', proxy.base + '/responses', req, auth(key), { timeoutMs: 20000 });
        assert.equal(r.status, expect, r.text);
        raw = r.text;
        out = r.status === 200 ? r.json.output : null;
        id = r.status === 200 ? r.json.id : null;
      }
      if (expect === 200) assert.ok(!raw.includes('stream_id'), `${name}: the HTTP client never sees stream_id`);
      const mine = `Conversation ${name}:`;
      const entries = (await wsLog(m)).filter((e) => e.full_input?.length && JSON.stringify(e.full_input[0]).includes(mine));
      const e = id ? entries.find((x) => x.response_id === id) : entries.at(-1);
      if (!e && expect !== 200) return (await wsLog(m)).at(-1); // refused before the mock read its input
      assert.ok(e, `${name}: the mock logged the turn`);
      assertModelSaw(e.full_input, input, `${name}`);
      if (out) {
        input.push(...out);
        const calls = out.filter((o) => o.type === 'function_call');
        for (const c of calls) input.push({ type: 'function_call_output', call_id: c.call_id, output: `${name}\n` });
        if (calls.length === 0) input.push({ role: 'user', content: 'Once more, please.' });
      }
      return e;
    },
  };
}

async function gauge(proxy, name) {
  const text = await (await fetch(proxy.url + '/metrics')).text();
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  return Number(line.split(' ').at(-1));
}

test('concurrency: 6 conversations of one key on one socket at once, each turn after the first a delta', { timeout: 60000 }, async () => {
  const proxy = await startProxy({ upstream: mock.base, args: ['--max-conns-per-key', '1'] });
  try {
    await mock.reset();
    const convs = [0, 1, 2, 3, 4, 5].map((i) => conversation(proxy, 'sk-lanes-conc', `c${i}`));
    for (let turn = 0; turn < 3; turn++) {
      // slow turns overlap: six responses in flight on one socket
      const es = await Promise.all(convs.map((c, i) => c.turn({ fault: 'slow_ms=15', stream: i % 2 === 1 })));
      for (const e of es) {
        assert.equal(e.conn, es[0].conn, 'one socket');
        if (turn > 0) assert.notEqual(e.previous_response_id, null, `turn ${turn + 1} goes as a delta`);
      }
      if (turn > 0) assert.equal(new Set(es.map((e) => e.stream_id)).size, 6, 'each conversation on its own lane');
    }
    const hs = await mock.handshakes();
    assert.equal(hs.length, 1, 'one handshake in all');
    const errors = (await wsLog()).filter((e) => e.error !== null);
    assert.deepEqual(errors, [], 'no upstream errors');
    // each request counts its own lane's bytes, not its neighbours': they add up to the socket's
    const s = (await httpJson('GET', proxy.url + '/stats')).json;
    assert.equal(s.bytes_to_upstream, hs[0].rx_payload_bytes, 'frame bytes up');
    assert.equal(s.wire_to_upstream, hs[0].rx_wire_bytes, 'wire bytes up');
    assert.equal(s.bytes_from_upstream, hs[0].tx_payload_bytes, 'frame bytes down');
    assert.equal(s.wire_from_upstream, hs[0].tx_wire_bytes, 'wire bytes down');
  } finally {
    await proxy.stop();
  }
});

test('per-lane cache: a conversation keeps its lane while others use the socket; --lanes off needs a socket each', { timeout: 60000 }, async () => {
  for (const lanes of ['auto', 'off']) {
    const proxy = await startProxy({ upstream: mock.base, args: ['--lanes', lanes, '--max-conns-per-key', '2'] });
    try {
      await mock.reset();
      const convs = [0, 1, 2, 3].map((i) => conversation(proxy, `sk-lanes-cache-${lanes}`, `${lanes}${i}`));
      await Promise.all(convs.map((c) => c.turn({ fault: 'slow_ms=10' })));
      const second = await Promise.all(convs.map((c) => c.turn({ fault: 'slow_ms=10' })));
      const deltas = second.filter((e) => e.previous_response_id !== null).length;
      if (lanes === 'auto') {
        assert.equal(deltas, 4, 'four conversations, four lanes, four caches');
        assert.equal(second.filter((e) => e.stream_id === null).length <= 2, true, 'at most one default lane per socket');
      } else {
        assert.ok(deltas <= 2, `two sockets cache two conversations at most (${deltas} deltas)`);
        assert.ok(second.every((e) => e.stream_id === null), 'no stream_id without lanes');
      }
    } finally {
      await proxy.stop();
    }
  }
});

test('name recycling: 40 conversations on one socket stay within 32 names; the newest keep their caches', { timeout: 90000 }, async () => {
  const proxy = await startProxy({ upstream: mock.base, args: ['--max-conns-per-key', '1'] });
  try {
    await mock.reset();
    const convs = Array.from({ length: 40 }, (_, i) => conversation(proxy, 'sk-lanes-names', `n${i}`));
    for (const c of convs) await c.turn(); // one after another: each takes a lane that caches nothing, then the oldest
    const hs = await mock.handshakes();
    assert.equal(hs.length, 1, 'one socket');
    assert.equal(hs[0].stream_ids.length, 32, 'all 32 names, and no more');
    const log = await wsLog();
    assert.deepEqual(log.filter((e) => e.error !== null), [], 'no websocket_stream_limit_reached');
    // the 33 most recent conversations hold the 33 lanes (32 names and the default lane)
    for (const c of convs.slice(-8)) {
      const e = await c.turn();
      assert.notEqual(e.previous_response_id, null, 'a recent conversation goes as a delta');
    }
    const e = await convs[0].turn();
    assert.equal(e.previous_response_id, null, 'the oldest lost its lane to recycling: full input');
  } finally {
    await proxy.stop();
  }
});

test('refusal fallback: an upstream that refuses stream_id still answers every request, and lanes stop', { timeout: 60000 }, async () => {
  const refusing = await startMock({ args: ['--refuse-stream-id'] });
  const proxy = await startProxy({ upstream: refusing.base });
  try {
    const convs = [0, 1, 2].map((i) => conversation(proxy, 'sk-lanes-refused', `r${i}`, refusing));
    await convs[0].turn(); // a socket, warm: its default lane caches r0
    // the second goes on a named lane of that socket, is refused and retried without; the third
    // finds lanes off (one at a time: until the upstream echoes a name, a socket carries one response)
    for (const c of convs) await c.turn({ fault: 'slow_ms=20' });
    const second = await Promise.all(convs.map((c) => c.turn({ fault: 'slow_ms=20' })));
    const log = (await refusing.log()).filter((e) => e.transport === 'ws');
    const refused = log.filter((e) => e.stream_id !== null);
    assert.ok(refused.length >= 1 && refused.length <= 2, `lanes were tried, then no more (${refused.length})`);
    assert.ok(refused.every((e) => e.error !== null), 'each was refused');
    assert.ok(second.every((e) => e.stream_id === null && e.previous_response_id !== null),
      'the next turns: no stream_id, each a delta on its own socket');
  } finally {
    await proxy.stop();
  }
  // with --lanes on the refusal is the request's answer
  const strict = await startProxy({ upstream: refusing.base, args: ['--lanes', 'on', '--max-conns-per-key', '1'] });
  try {
    const slow = conversation(strict, 'sk-lanes-strict', 's0', refusing).turn({ fault: 'slow_ms=40' });
    await conversation(strict, 'sk-lanes-strict', 's1', refusing).turn({ expect: 400 });
    await slow;
    const last = (await refusing.log()).filter((e) => e.transport === 'ws').at(-1);
    assert.equal(last.stream_id !== null && last.error !== null, true, 'refused on its lane, and not retried');
  } finally {
    await strict.stop();
    await refusing.stop();
  }
});

test('lane-scoped errors: a failed turn on one lane evicts only that lane', { timeout: 60000 }, async () => {
  const proxy = await startProxy({ upstream: mock.base, args: ['--max-conns-per-key', '1'] });
  try {
    await mock.reset();
    const [a, b] = ['ea', 'eb'].map((n) => conversation(proxy, 'sk-lanes-err', n));
    await Promise.all([a.turn({ fault: 'slow_ms=20' }), b.turn({ fault: 'slow_ms=20' })]);
    // both in flight; b's fails (the mock evicts its lane, and deltawire forgets its record)
    const [ea, eb] = await Promise.all([a.turn({ fault: 'slow_ms=20' }), b.turn({ fault: 'error_status=400', expect: 400 })]);
    assert.equal(ea.conn, eb.conn, 'one socket');
    assert.notEqual(ea.stream_id, eb.stream_id, 'two lanes');
    assert.notEqual(ea.previous_response_id, null);
    const [na, nb] = await Promise.all([a.turn({ fault: 'slow_ms=20' }), b.turn({ fault: 'slow_ms=20' })]);
    assert.notEqual(na.previous_response_id, null, "the other lane's cache stays: a delta");
    assert.equal(nb.previous_response_id, null, 'the failed lane goes in full');
    const notFound = (await wsLog()).filter((e) => e.error && JSON.stringify(e.error).includes('previous_response_not_found'));
    assert.deepEqual(notFound, [], 'no delta was sent against an evicted lane');
    assert.equal(await gauge(proxy, 'deltawire_upstream_connections{state="open"}'), 1);
  } finally {
    await proxy.stop();
  }
});

test('a slow reader on one lane does not stall its neighbour on the same socket', { timeout: 60000 }, async () => {
  const big = await startMock({ args: ['--text-bytes', String(4 << 20), '--tool-turns', '0'] });
  const proxy = await startProxy({ upstream: big.base, args: ['--max-conns-per-key', '1', '--client-buffer', String(256 << 10)] });
  try {
    const body = (text, stream) => JSON.stringify({ model: 'gpt-5.5', store: false, stream, input: [{ role: 'user', content: text }] });
    // two turns one after the other: the second goes on a named lane, and its echoed stream_id
    // shows the upstream tells lanes apart (until then a socket carries one response at a time)
    for (const text of ['warm-up 1', 'warm-up 2']) {
      const w = await httpJson('POST', proxy.base + '/responses', JSON.parse(body(text, false)), auth('sk-lanes-slow'), { timeoutMs: 20000 });
      assert.equal(w.status, 200, w.text);
    }
    await big.reset();
    let resume;
    const slow = new Promise((resolve, reject) => {
      const req = http.request(proxy.base + '/responses', { method: 'POST', headers: { 'content-type': 'application/json', ...auth('sk-lanes-slow') } }, (res) => {
        res.pause(); // reads nothing until the neighbour is done
        resume = () => {
          let raw = '';
          res.setEncoding('utf8');
          res.on('data', (d) => { raw += d; });
          res.on('end', () => resolve({ status: res.statusCode, raw }));
          res.resume();
        };
      });
      req.on('error', reject);
      req.end(body('slow reader', true));
    });
    await waitFor(async () => resume && (await gauge(proxy, 'deltawire_client_buffered_bytes')) > 0, { timeoutMs: 20000, intervalMs: 50 });
    const r = await httpJson('POST', proxy.base + '/responses', JSON.parse(body('neighbour', false)), auth('sk-lanes-slow'), { timeoutMs: 20000 });
    assert.equal(r.status, 200, 'the neighbour is answered while the slow reader reads nothing');
    const log = (await big.log()).filter((e) => e.transport === 'ws');
    assert.equal(log.length, 2);
    assert.equal(log[0].conn, log[1].conn, 'on the same socket');
    assert.notEqual(log[1].stream_id, null, 'on another lane');
    resume();
    const { status, raw } = await slow;
    assert.equal(status, 200);
    const evs = raw.split('\n\n').filter((b) => b.startsWith('event:')).map((b) => JSON.parse(b.slice(b.indexOf('data: ') + 6)));
    evs.forEach((e, i) => assert.equal(e.sequence_number, i, 'in order, none missing'));
    assert.equal(evs.at(-1).type, 'response.completed');
    assert.ok(!raw.includes('stream_id'));
  } finally {
    await proxy.stop();
    await big.stop();
  }
});

test('the connection age limit with several lanes in flight (an error on one, then the close): every turn goes again in full on a new socket', { timeout: 60000 }, async () => {
  const aged = await startMock({ args: ['--max-conn-age', '0.5'] });
  const proxy = await startProxy({ upstream: aged.base, args: ['--max-conns-per-key', '1'] });
  try {
    const convs = [0, 1, 2].map((i) => conversation(proxy, 'sk-lanes-aged', `a${i}`, aged));
    const first = await Promise.all(convs.map((c) => c.turn({ fault: 'slow_ms=10' })));
    assert.equal(new Set(first.map((e) => e.conn)).size, 1, 'one socket');
    // past the mock's age limit: a probe socket opened now reaches it too (as recovery.test.mjs)
    const probe = await wsConnect(`ws://127.0.0.1:${aged.port}/v1/responses`, auth('sk-age-probe'));
    try {
      await waitFor(async () => {
        probe.send({ type: 'response.create', model: 'gpt-5.5', store: false, generate: false, input: [] });
        const last = (await probe.untilTerminal()).at(-1);
        return last?.type === 'error' && last.error.code === 'websocket_connection_limit_reached';
      }, { timeoutMs: 10000, intervalMs: 50 });
    } finally {
      await probe.close();
    }
    const second = await Promise.all(convs.map((c) => c.turn({ fault: 'slow_ms=10' })));
    const log = (await aged.log()).filter((e) => e.transport === 'ws' && e.conn === first[0].conn);
    const limited = log.filter((e) => e.error && e.error.code === 'websocket_connection_limit_reached');
    // the mock closes the socket after the error: the other lanes' turns are lost with it, and retried
    assert.ok(limited.length >= 1, "the limit was reached on the lanes' socket");
    for (const e of second) {
      assert.notEqual(e.conn, first[0].conn, 'on a new socket');
      assert.equal(e.previous_response_id, null, 'with the full input');
    }
  } finally {
    await proxy.stop();
    await aged.stop();
  }
});

// A server that drops fields it does not know (not the service, which echoes stream_id or refuses
// it) answers a named lane's request unnamed. Until the upstream has echoed a name a socket carries
// one response at a time, so that answer can only be its lane's; lanes then stop. Before, the
// answer was dropped and the request waited out --first-event-timeout and went again.
test('an upstream that ignores stream_id: every answer reaches its own request at once, and lanes stop', { timeout: 60000 }, async () => {
  const ignoring = await startMock({ args: ['--ignore-stream-id'] });
  const proxy = await startProxy({ upstream: ignoring.base, args: ['--max-conns-per-key', '1', '--first-event-timeout', '30'] });
  try {
    const convs = [0, 1, 2, 3].map((i) => conversation(proxy, 'sk-lanes-ignored', `i${i}`, ignoring));
    for (let turn = 0; turn < 3; turn++) {
      // concurrent, mixed streaming: an answer given to the wrong request fails conversation()'s
      // check (the response id is looked up among that conversation's own upstream requests)
      await Promise.all(convs.map((c, i) => c.turn({ fault: 'slow_ms=5', stream: i % 2 === 1 })));
    }
    const named = (await ignoring.log()).filter((e) => e.transport === 'ws' && e.stream_id !== null);
    assert.equal(named.length, 1, 'one named lane was tried, then no more');
    await waitFor(() => proxy.stderr().includes('no more lanes'));
    const attempts = proxy.stderr().split('\n').filter((l) => l.includes('"event":"request"')).map((l) => JSON.parse(l).attempts);
    assert.equal(attempts.length, 12, 'twelve requests logged');
    assert.ok(attempts.every((a) => a === 1), `each answered by its first attempt (${attempts})`);
  } finally {
    await proxy.stop();
    await ignoring.stop();
  }
});

// POSTs a streamed request and reads it as it comes: first resolves at its first SSE event, done
// with {status, raw, events} at its end.
function streamed(proxy, key, body) {
  let seen;
  const first = new Promise((r) => { seen = r; });
  const done = (async () => {
    const res = await fetch(proxy.base + '/responses', {
      method: 'POST', headers: { 'content-type': 'application/json', ...auth(key) },
      body: JSON.stringify({ ...body, stream: true }), signal: AbortSignal.timeout(20000),
    });
    let raw = '';
    const decoder = new TextDecoder();
    for await (const chunk of res.body) {
      raw += decoder.decode(chunk, { stream: true });
      if (raw.includes('\n\n')) seen();
    }
    seen();
    return { status: res.status, raw, events: parseSse(raw) };
  })();
  return { first, done };
}

// A close drops the whole socket, every lane in flight with it (the soak's close_after_events faults
// do this to their neighbours, bench/soak.mjs). Only a response nothing of which reached its client
// may go again: a neighbour already streaming ends with an error event after its own events, none
// replayed or borrowed; one whose upstream had said nothing yet goes again in full and completes.
test('a socket dropped during one lane\'s response: a neighbour already streaming gets an error event, one not answered yet goes again', { timeout: 60000 }, async () => {
  const proxy = await startProxy({ upstream: mock.base, args: ['--max-conns-per-key', '1'] });
  try {
    await mock.reset();
    const key = 'sk-lanes-drop';
    const body = (text, fault) => ({ model: 'gpt-5.5', store: false, input: [{ role: 'user', content: text }],
      ...(fault ? { metadata: { mock_fault: fault } } : {}) });
    // two turns one after the other: the second names a lane, whose echo lets lanes run at once
    for (const text of ['drop warm-up 1', 'drop warm-up 2']) {
      const w = await httpJson('POST', proxy.base + '/responses', body(text), auth(key), { timeoutMs: 20000 });
      assert.equal(w.status, 200, w.text);
    }
    const b = streamed(proxy, key, body('drop B streams', 'slow_ms=400')); // its first events reach its client
    await b.first;
    const c = streamed(proxy, key, body('drop C waits', 'first_event_delay_ms=1500')); // nothing reaches its client
    await waitFor(async () => (await wsLog()).some((e) => e.fault && e.fault.first_event_delay_ms === 1500), { timeoutMs: 10000 });
    // A's response drops the socket after its first event; once (its retry is answered)
    await mock.fault({ close_after_events: 1, count: 1 });
    const a = await httpJson('POST', proxy.base + '/responses', body('drop A'), auth(key), { timeoutMs: 20000 });
    assert.equal(a.status, 200, `A's client had nothing yet: it went again (${a.text})`);
    const [rb, rc] = await Promise.all([b.done, c.done]);
    const log = await wsLog();
    const of = (text) => log.filter((e) => JSON.stringify(e.full_input ?? '').includes(text));
    const [eb, ec, ea] = [of('drop B streams'), of('drop C waits'), of('drop A')];
    assert.equal(ea[0].conn, eb[0].conn, 'A and B on one socket');
    assert.equal(ec[0].conn, eb[0].conn, 'C on it too');
    assert.equal(new Set([ea[0].stream_id, eb[0].stream_id, ec[0].stream_id]).size, 3, 'on three lanes');

    // B: its own events, then the error event; never replayed
    assert.equal(rb.status, 200);
    assert.equal(eb.length, 1, 'B did not go again: part of it had reached its client');
    const last = rb.events.at(-1);
    assert.equal(last.event, 'error', rb.raw);
    assert.match(last.data.message, /upstream connection lost/);
    const before = rb.events.slice(0, -1);
    assert.ok(before.length >= 1 && before.every((e) => e.event !== 'response.completed'), rb.raw);
    before.forEach((e, i) => assert.equal(e.data.sequence_number, i, 'in order, none missing'));
    assert.equal(last.data.sequence_number, before.length, 'the error event numbered after them');
    for (const e of before.filter((x) => x.data.response)) assert.equal(e.data.response.id, eb[0].response_id, "B's own response");
    assert.ok(!rb.raw.includes('stream_id'));

    // C: nothing of its first try reached its client: it went again in full on a new socket
    assert.equal(rc.status, 200);
    assert.equal(ec.length, 2, 'C went again');
    assert.notEqual(ec[1].conn, eb[0].conn, 'on a new socket');
    assert.equal(ec[1].previous_response_id, null);
    assert.equal(rc.events.at(-1).event, 'response.completed', rc.raw);
    rc.events.forEach((e, i) => assert.equal(e.data.sequence_number, i, 'one response, from its start'));
    assert.equal(rc.events.at(-1).data.response.id, ec[1].response_id);
  } finally {
    await proxy.stop();
  }
});
