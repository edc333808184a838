// The core path (issue 3): full-history POST /v1/responses in, WebSocket delta out.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { startMock, startProxy, stopAll, canonicalItems, httpJson, sse } from './lib/harness.mjs';
import { runToolLoop, normalizeRun } from './lib/loop.mjs';

let mock, proxy;
before(async () => {
  mock = await startMock();
  proxy = await startProxy({ upstream: mock.base });
});
after(stopAll);

const wsEntries = (log) => log.filter((e) => e.transport === 'ws');

// Every turn after the first went as previous_response_id + only the new items, and the mock's
// reconstructed input equals what the client sent, item for item (compared canonically).
function assertDeltas(run, entries) {
  assert.equal(entries.length, run.turns.length, 'one upstream request per client request');
  for (let i = 0; i < run.turns.length; i++) {
    const sent = run.turns[i].request.input;
    const e = entries[i];
    assert.equal(e.error, null, `turn ${i + 1}: no upstream error`);
    if (i === 0) {
      assert.equal(e.previous_response_id, null, 'turn 1 goes in full');
      assert.equal(e.items, sent.length);
    } else {
      const prev = run.turns[i - 1];
      assert.equal(e.previous_response_id, entries[i - 1].response_id, `turn ${i + 1} chains from the previous response`);
      const newItems = sent.length - prev.request.input.length - prev.response.output.length;
      assert.equal(e.items, newItems, `turn ${i + 1} carries only the new items`);
      assert.equal(e.conn, entries[i - 1].conn, 'same upstream connection');
    }
    assert.deepEqual(canonicalItems(e.full_input), canonicalItems(sent), `turn ${i + 1}: upstream saw the client's input`);
  }
}

for (const stream of [false, true]) {
  test(`tool loop (${stream ? 'streaming' : 'non-streaming'}): turn 1 full, then deltas, same answers as direct`, async () => {
    await mock.reset();
    const viaProxy = await runToolLoop(proxy.base, { stream });
    assert.ok(viaProxy.turns.length >= 3, 'the script has two tool turns and a final answer');
    for (const t of viaProxy.turns) assert.equal(t.status, 200);
    const last = viaProxy.turns.at(-1).response;
    assert.equal(last.output.at(-1).type, 'message');
    assertDeltas(viaProxy, wsEntries(await mock.log()));
    // the client never sees a previous_response_id it did not send
    for (const t of viaProxy.turns) {
      assert.equal(t.response.previous_response_id, null);
      for (const ev of t.events || []) if (ev.data.response) assert.equal(ev.data.response.previous_response_id, null);
    }

    await mock.reset();
    const direct = await runToolLoop(mock.base, { stream });
    assert.equal(direct.turns.length, viaProxy.turns.length);
    for (let i = 0; i < direct.turns.length; i++) {
      assert.deepEqual(normalizeRun(viaProxy.turns[i].response), normalizeRun(direct.turns[i].response),
        `turn ${i + 1}: the same response object as direct (ids aside)`);
      if (stream) {
        assert.deepEqual(viaProxy.turns[i].events.map((e) => e.event), direct.turns[i].events.map((e) => e.event));
        assert.deepEqual(normalizeRun(viaProxy.turns[i].events.map((e) => e.data)),
          normalizeRun(direct.turns[i].events.map((e) => e.data)));
      }
    }
  });
}

test('SSE framing: event name equals data.type, sequence numbers rise from 0', async () => {
  await mock.reset();
  const r = await sse(proxy.base + '/responses', { model: 'gpt-5.5', input: 'hi', stream: true }, { authorization: 'Bearer k' });
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /text\/event-stream/);
  r.forEach((e, i) => {
    assert.equal(e.event, e.data.type);
    assert.equal(e.data.sequence_number, i);
  });
  assert.equal(r.at(-1).event, 'response.completed');
});

test('a string input is one user message and the next turn continues from it as a delta', async () => {
  await mock.reset();
  const auth = { authorization: 'Bearer sk-string' };
  const t1 = await httpJson('POST', proxy.base + '/responses', { model: 'gpt-5.5', input: 'Say hi, no tools.' }, auth);
  assert.equal(t1.status, 200);
  const input2 = [{ role: 'user', content: 'Say hi, no tools.' }, ...t1.json.output, { role: 'user', content: 'Again, no tools.' }];
  const t2 = await httpJson('POST', proxy.base + '/responses', { model: 'gpt-5.5', input: input2 }, auth);
  assert.equal(t2.status, 200);
  const [e1, e2] = wsEntries(await mock.log());
  assert.equal(e1.previous_response_id, null);
  assert.equal(e2.previous_response_id, e1.response_id);
  assert.equal(e2.items, 1);
  assert.deepEqual(canonicalItems(e2.full_input), canonicalItems(input2));
});

test('an edited history is never sent as a delta', async () => {
  await mock.reset();
  const run = await runToolLoop(proxy.base, { maxTurns: 2 });
  const t2 = run.turns[1].request;
  const input = structuredClone(run.input);
  const call = input.find((i) => i.type === 'function_call');
  call.arguments = JSON.stringify({ cmd: 'rm -rf /tmp/x' });
  const r = await httpJson('POST', proxy.base + '/responses', { ...t2, input }, { authorization: 'Bearer sk-test-loop' });
  assert.equal(r.status, 200);
  const last = wsEntries(await mock.log()).at(-1);
  assert.equal(last.previous_response_id, null, 'a changed function_call breaks the match: full input');
  assert.equal(last.items, input.length);
  assert.deepEqual(canonicalItems(last.full_input), canonicalItems(input));
});

test('a prompt template or context_management shapes the context upstream: never a delta', async () => {
  for (const extra of [{ prompt: { id: 'pmpt_test', version: '1' } }, { context_management: [{ type: 'compaction', compact_threshold: 200000 }] }]) {
    await mock.reset();
    const run = await runToolLoop(proxy.base, { maxTurns: 2, extra, headers: { authorization: 'Bearer sk-shaped' } });
    assert.deepEqual(run.turns.map((t) => t.status), [200, 200]);
    const entries = wsEntries(await mock.log());
    assert.equal(entries.length, 2);
    for (const e of entries) assert.equal(e.previous_response_id, null, JSON.stringify(extra));
  }
});

test('a client that sends previous_response_id itself is forwarded as it is', async () => {
  await mock.reset();
  const auth = { authorization: 'Bearer sk-prev' };
  const t1 = await httpJson('POST', proxy.base + '/responses', { model: 'gpt-5.5', input: 'Hello, no tools.', store: false }, auth);
  const t2 = await httpJson('POST', proxy.base + '/responses',
    { model: 'gpt-5.5', previous_response_id: t1.json.id, input: [{ role: 'user', content: 'More, no tools.' }], store: false }, auth);
  assert.equal(t2.status, 200);
  assert.equal(t2.json.previous_response_id, t1.json.id, 'the id the client sent is echoed back');
  const [, e2] = wsEntries(await mock.log());
  assert.equal(e2.previous_response_id, t1.json.id);
  assert.equal(e2.items, 1);
});

test('credentials isolate transcripts and connections', async () => {
  await mock.reset();
  const a = await runToolLoop(proxy.base, { maxTurns: 2, headers: { authorization: 'Bearer sk-A' } });
  // key B sends byte-identical content, continuing A's conversation
  const t2 = a.turns[1].request;
  const rb = await httpJson('POST', proxy.base + '/responses', t2, { authorization: 'Bearer sk-B' });
  assert.equal(rb.status, 200);
  const entries = wsEntries(await mock.log());
  const eb = entries.at(-1);
  assert.equal(eb.previous_response_id, null, "B never continues A's response");
  assert.notEqual(eb.conn, entries[0].conn, 'B never uses a connection opened for A');
  assert.equal(eb.headers.authorization, 'Bearer sk-B');
});

test('only identity headers reach the upstream handshake', async () => {
  await mock.reset();
  const r = await httpJson('POST', proxy.base + '/responses', { model: 'gpt-5.5', input: 'hi, no tools' }, {
    authorization: 'Bearer sk-hdr', 'openai-organization': 'org-1', 'openai-project': 'proj-1',
    cookie: 'session=secret', 'user-agent': 'client/1.0', 'x-stainless-lang': 'js',
  }); // (an unknown header would send it over plain HTTP: edges.test.mjs)
  assert.equal(r.status, 200);
  const hs = (await mock.handshakes()).filter((h) => h.status === 101).at(-1);
  assert.equal(hs.headers.authorization, 'Bearer sk-hdr');
  assert.equal(hs.headers['openai-organization'], 'org-1');
  assert.equal(hs.headers['openai-project'], 'proj-1');
  for (const leaked of ['cookie', 'x-stainless-lang', 'content-length', 'content-type'])
    assert.equal(hs.headers[leaked], undefined, `${leaked} must not reach the handshake`);
  assert.notEqual(hs.headers['user-agent'], 'client/1.0');
});

test('bad input gets OpenAI-style errors and the process keeps serving', async () => {
  const small = await startProxy({ upstream: mock.base, args: ['--max-body', '2000'] });
  const post = (body, type = 'application/json') => fetch(small.base + '/responses', {
    method: 'POST', body, headers: { 'content-type': type, authorization: 'Bearer k' } });
  const cases = [
    ['{"model":', 400, 'invalid_json'],
    ['[1,2]', 400, 'invalid_json'],
    ['{"model":"gpt-5.5","input":42}', 400, 'invalid_type'],
    ['{"model":"gpt-5.5","input":"a","input":"b"}', 400, 'duplicate_key'],
    [JSON.stringify({ model: 'gpt-5.5', input: 'x'.repeat(3000) }), 413, 'request_too_large'],
  ];
  for (const [body, status, code] of cases) {
    const r = await post(body);
    assert.equal(r.status, status, body.slice(0, 40));
    const j = await r.json();
    assert.equal(j.error.code, code);
    assert.equal(typeof j.error.message, 'string');
    assert.ok('type' in j.error && 'param' in j.error);
  }
  // an upstream validation error envelope becomes its HTTP status and error body
  const r = await post(JSON.stringify({ input: 'no model here' }));
  assert.equal(r.status, 400);
  assert.equal((await r.json()).error.type, 'invalid_request_error');
  // and the process still answers
  const ok = await post(JSON.stringify({ model: 'gpt-5.5', input: 'hi, no tools' }));
  assert.equal(ok.status, 200);
  await small.stop();
});

test('HTTP/2 (cleartext, prior knowledge) works like HTTP/1.1', async () => {
  await mock.reset();
  const session = http2.connect(proxy.url);
  const body = JSON.stringify({ model: 'gpt-5.5', input: 'hi over h2, no tools', stream: true });
  const text = await new Promise((resolve, reject) => {
    const req = session.request({ ':method': 'POST', ':path': '/v1/responses', 'content-type': 'application/json',
      authorization: 'Bearer sk-h2' });
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (c) => { data += c; });
    req.on('end', () => resolve(data));
    req.on('error', reject);
    req.end(body);
  });
  session.close();
  assert.match(text, /event: response.completed/);
});
