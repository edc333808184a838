// POST /v1/chat/completions through deltawire (issue 18): tool loops streaming and not; the model
// reads exactly the translation of the client's messages on every turn; deltas for a model without
// reasoning items, full sends (default) or deltas (--chat-reasoning carry) for one with them; what
// the translation cannot carry, and what the upstream refuses, goes to /chat/completions unchanged.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { startMock, startProxy, stopAll, httpJson, sse, canonicalItems, waitFor } from './lib/harness.mjs';
import { chatLoop, itemsOf, noReasoning, SHELL_TOOL } from './lib/chat.mjs';

let mock, proxy, carry;
before(async () => {
  mock = await startMock();
  proxy = await startProxy({ upstream: mock.base });
  carry = await startProxy({ upstream: mock.base, args: ['--chat-reasoning', 'carry'] });
});
after(stopAll);

const logSince = async (n) => (await mock.log()).slice(n);

// Every turn's reconstructed input (what the model read) is the translation of that turn's
// messages; with `reasoning` the model also read its own reasoning items, which no client sent.
function assertModelReadMessages(entries, turns, { reasoning = false } = {}) {
  assert.equal(entries.length, turns.length);
  entries.forEach((e, i) => {
    const read = reasoning ? e.full_input.filter((it) => it.type !== 'reasoning') : e.full_input;
    assert.deepEqual(canonicalItems(read), canonicalItems(itemsOf(turns[i].messages)), `turn ${i + 1}`);
  });
}

const scriptLoop = () => mock.script([
  { output: [noReasoning.call()] },
  { output: [noReasoning.message('Ran once; again.'), noReasoning.call()] },
  { output: [noReasoning.message('Done: hello twice.')] },
]);

for (const stream of [false, true]) {
  test(`a model without reasoning items: a tool loop (${stream ? 'streaming' : 'not streaming'}) goes as deltas after the first turn`, async () => {
    await scriptLoop();
    const n = (await mock.log()).length;
    const { turns } = await chatLoop(proxy.base, { stream, auth: `sk-plain-${stream}` });
    assert.equal(turns.length, 3);
    assert.equal(turns[2].answer.content, 'Done: hello twice.');
    const entries = await logSince(n);
    assert.ok(entries.every((e) => e.transport === 'ws'), 'over the WebSocket');
    assertModelReadMessages(entries, turns);
    assert.equal(entries[0].previous_response_id, null);
    for (let i = 1; i < entries.length; i++) {
      assert.equal(entries[i].previous_response_id, entries[i - 1].response_id, `turn ${i + 1} is a delta`);
      assert.ok(entries[i].items < itemsOf(turns[i].messages).length, `turn ${i + 1} sends only the new items`);
    }
  });
}

test('a reasoning model, by default: every turn in full over the warm socket, the model reads exactly the messages', async () => {
  const n = (await mock.log()).length;
  const { turns } = await chatLoop(proxy.base, { stream: true, auth: 'sk-reasoning-full' });
  assert.equal(turns.length, 3);
  const entries = await logSince(n);
  assertModelReadMessages(entries, turns);
  assert.ok(entries.every((e) => e.transport === 'ws' && e.previous_response_id === null), 'full sends');
  assert.ok(entries.every((e) => e.conn === entries[0].conn), `one warm connection: ${entries.map((e) => e.conn)}`);
});

test('a reasoning model with --chat-reasoning carry: deltas, and the model keeps its own reasoning', async () => {
  const n = (await mock.log()).length;
  const { turns } = await chatLoop(carry.base, { auth: 'sk-reasoning-carry' });
  assert.equal(turns.length, 3);
  const entries = await logSince(n);
  assertModelReadMessages(entries, turns, { reasoning: true });
  for (let i = 1; i < entries.length; i++) {
    assert.equal(entries[i].previous_response_id, entries[i - 1].response_id, `turn ${i + 1} is a delta`);
    assert.equal(entries[i].full_input.filter((it) => it.type === 'reasoning').length, i, 'earlier reasoning is in context');
  }
});

for (const [what, extra, check] of [
  ['n: 2', { n: 2 }, (j) => assert.equal(j.choices.length, 2)],
  ['logprobs: true', { logprobs: true }, (j) => assert.ok(j.choices[0].logprobs)],
  ['stop', { stop: ['\n'] }, (j) => assert.equal(j.object, 'chat.completion')],
]) {
  test(`unsupported (${what}): forwarded unchanged to /chat/completions, the log says why`, async () => {
    const n = (await mock.log()).length;
    const body = { model: 'gpt-5.5', messages: [{ role: 'user', content: 'just answer' }], tools: [SHELL_TOOL], ...extra };
    const r = await httpJson('POST', proxy.base + '/chat/completions', body, { authorization: 'Bearer sk-pass' });
    assert.equal(r.status, 200, r.text);
    check(r.json);
    const entries = await logSince(n);
    assert.equal(entries.length, 1);
    assert.equal(entries[0].endpoint, 'chat');
    assert.equal(entries[0].transport, 'http');
    assert.deepEqual(entries[0].fields, Object.keys(body), 'the body as the client sent it');
    const key = Object.keys(extra)[0];
    await waitFor(() => proxy.stderr().split('\n').some((l) => /"api":"chat"/.test(l) && /"outcome":"fallback_http"/.test(l) &&
      new RegExp(`"reason":"${key}`).test(l)));
  });
}

for (const stream of [false, true]) {
  test(`the upstream refuses the translation (${stream ? 'streaming' : 'not streaming'}): retried once as the original request over HTTP`, async () => {
    const n = (await mock.log()).length;
    const body = {
      model: 'gpt-5.5', messages: [{ role: 'user', content: 'just answer' }],
      metadata: { mock_fault: 'error_status=400' }, stream,
    };
    let answer;
    if (stream) {
      const evs = await sse(proxy.base + '/chat/completions', body, { authorization: 'Bearer sk-refused' });
      assert.equal(evs.status, 200, evs.raw);
      assert.equal(evs.at(-1).data, '[DONE]');
      answer = evs.filter((e) => e.data !== '[DONE]').map((e) => e.data.choices[0]?.delta?.content || '').join('');
    } else {
      const r = await httpJson('POST', proxy.base + '/chat/completions', body, { authorization: 'Bearer sk-refused' });
      assert.equal(r.status, 200, r.text);
      answer = r.json.choices[0].message.content;
    }
    assert.match(answer, /Done/);
    const entries = await logSince(n);
    assert.deepEqual(entries.map((e) => [e.transport, e.endpoint ?? 'responses']), [['ws', 'responses'], ['http', 'chat']]);
    assert.deepEqual(entries[1].fields, Object.keys(body), 'the original body');
    await waitFor(() => proxy.stderr().split('\n').some((l) => /"api":"chat"/.test(l) && /"reason":"retried as the original request over HTTP/.test(l)));
  });
}

test('a rate limit before any output is answered as it is, never retried as the original request', async () => {
  const n = (await mock.log()).length;
  const body = {
    model: 'gpt-5.5', messages: [{ role: 'user', content: 'just answer' }],
    metadata: { mock_fault: 'error_status=429;error_shape=headers' },
  };
  const r = await httpJson('POST', proxy.base + '/chat/completions', body, { authorization: 'Bearer sk-limited' });
  assert.equal(r.status, 429, r.text);
  assert.equal(r.json.error.code, 'rate_limit_exceeded');
  assert.equal(r.headers['retry-after'], '1');
  const entries = await logSince(n);
  assert.deepEqual(entries.map((e) => [e.transport, e.endpoint ?? 'responses']), [['ws', 'responses']], 'sent once');
});

test('an upstream error after output reached the client ends the stream with a Chat error, never a replay', async () => {
  await mock.script([{ output: [noReasoning.message('Hello there, my friend.')] }]);
  const n = (await mock.log()).length;
  const evs = await sse(proxy.base + '/chat/completions',
    { model: 'gpt-5.5', messages: [{ role: 'user', content: 'hi' }], stream: true, metadata: { mock_fault: 'error_after_events=5' } },
    { authorization: 'Bearer sk-err' });
  assert.equal(evs.status, 200);
  assert.equal(evs[0].data.choices[0].delta.role, 'assistant');
  assert.ok(evs.some((e) => e.data?.choices?.[0]?.delta?.content === 'Hello '), evs.raw);
  const last = evs.at(-1).data;
  assert.equal(typeof last.error?.message, 'string', JSON.stringify(await logSince(n)).slice(0, 3000));
  assert.ok(!evs.some((e) => e.data === '[DONE]'));
  assert.equal((await logSince(n)).length, 1, JSON.stringify(await logSince(n)).slice(0, 1500));
});

test('the upstream connection lost after output reached the client: a Chat error chunk ends the stream', async () => {
  await mock.script([{ output: [noReasoning.message('Hello there, my friend.')] }]);
  const n = (await mock.log()).length;
  const evs = await sse(proxy.base + '/chat/completions',
    { model: 'gpt-5.5', messages: [{ role: 'user', content: 'hi' }], stream: true, metadata: { mock_fault: 'close_after_events=5' } },
    { authorization: 'Bearer sk-lost' });
  assert.equal(evs.status, 200);
  assert.ok(evs.some((e) => e.data?.choices?.[0]?.delta?.content === 'Hello '), evs.raw);
  const last = evs.at(-1);
  assert.equal(last.event, null, 'a Chat chunk, not a Responses SSE event');
  assert.equal(typeof last.data.error?.message, 'string', evs.raw.slice(-500));
  assert.ok(!evs.some((e) => e.data === '[DONE]'));
  assert.equal((await logSince(n)).length, 1, 'no replay once output went out');
});

test('a gzip-encoded chat body is decoded and translated; one the proxy cannot decode goes unchanged', async () => {
  const body = { model: 'gpt-5.5', messages: [{ role: 'user', content: 'just answer' }] };
  const n = (await mock.log()).length;
  const r = await httpJson('POST', proxy.base + '/chat/completions', zlib.gzipSync(JSON.stringify(body)),
    { authorization: 'Bearer sk-gzip', 'content-type': 'application/json', 'content-encoding': 'gzip' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.object, 'chat.completion');
  const bad = await httpJson('POST', proxy.base + '/chat/completions', 'not gzip at all',
    { authorization: 'Bearer sk-gzip', 'content-type': 'application/json', 'content-encoding': 'gzip' });
  assert.equal(bad.status, 400, 'the upstream answers it');
  const entries = await logSince(n);
  assert.deepEqual(entries.map((e) => [e.transport, e.endpoint ?? 'responses']), [['ws', 'responses'], ['http', 'chat']]);
  assert.deepEqual(canonicalItems(entries[0].full_input), canonicalItems(itemsOf(body.messages)));
  await waitFor(() => proxy.stderr().split('\n').some((l) => /"api":"chat"/.test(l) && /"reason":"content-encoding: /.test(l)));
});

test('legacy functions: the answer is a function_call, its result a function message, through the chat front end', async () => {
  const fn = { name: 'shell', description: 'Runs a command.', parameters: SHELL_TOOL.function.parameters };
  const messages = [{ role: 'user', content: 'Run echo hello.' }];
  const n = (await mock.log()).length;
  const r1 = await httpJson('POST', proxy.base + '/chat/completions', { model: 'gpt-5.5', messages, functions: [fn] },
    { authorization: 'Bearer sk-legacy' });
  assert.equal(r1.status, 200, r1.text);
  const c1 = r1.json.choices[0];
  assert.equal(c1.finish_reason, 'function_call');
  assert.equal(c1.message.function_call.name, 'shell');
  assert.equal(c1.message.tool_calls, undefined);
  messages.push({ role: 'assistant', content: null, function_call: c1.message.function_call });
  messages.push({ role: 'function', name: 'shell', content: 'hello' });
  const r2 = await httpJson('POST', proxy.base + '/chat/completions', { model: 'gpt-5.5', messages, functions: [fn] },
    { authorization: 'Bearer sk-legacy' });
  assert.equal(r2.status, 200, r2.text);
  const entries = await logSince(n);
  assert.ok(entries.every((e) => e.transport === 'ws'), 'translated, over the WebSocket');
  const read = entries[1].full_input.filter((i) => i.type !== 'reasoning');
  assert.deepEqual(read.map((i) => i.type), ['message', 'function_call', 'function_call_output']);
  assert.equal(read[1].call_id, read[2].call_id, 'the legacy call and its result are paired');
  assert.equal(read[1].arguments, c1.message.function_call.arguments);
});
