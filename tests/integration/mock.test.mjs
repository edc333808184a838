// deltawire-mock over HTTP: JSON vs SSE, scripted turns, store, validation,
// passthrough routes, log contents.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { startMock, stopAll, httpJson, sse, canonicalItems } from './lib/harness.mjs';

const TOOLS = [{
  type: 'function', name: 'run_shell', description: 'Run a shell command',
  parameters: { type: 'object', properties: { command: { type: 'string' } }, required: ['command'] }, strict: true,
}];
const ID = (p) => new RegExp(`^${p}[0-9a-f]{48}$`);

let mock;
before(async () => { mock = await startMock(); });
after(async () => { await stopAll(); });
beforeEach(async () => { await mock.reset(); });

const body = (extra = {}) => ({
  model: 'gpt-5.5', instructions: 'Be terse.', tools: TOOLS, store: false,
  input: [{ role: 'user', content: 'Run echo hello twice, then tell me.' }], ...extra,
});

test('non-streaming POST returns one JSON response object echoing the request', { timeout: 10000 }, async () => {
  const r = await httpJson('POST', `${mock.base}/responses`, body({ metadata: { k: 'v' }, prompt_cache_key: 'pck' }));
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /application\/json/);
  const resp = r.json;
  assert.match(resp.id, ID('resp_'));
  assert.equal(resp.object, 'response');
  assert.equal(resp.status, 'completed');
  assert.equal(resp.model, 'gpt-5.5');
  assert.equal(resp.instructions, 'Be terse.');
  assert.deepEqual(resp.tools, TOOLS);
  assert.equal(resp.store, false);
  assert.equal(resp.previous_response_id, null);
  assert.equal(resp.prompt_cache_key, 'pck');
  assert.deepEqual(resp.metadata, { k: 'v' });
  assert.ok(resp.usage.input_tokens > 0 && resp.usage.total_tokens > resp.usage.input_tokens);
  assert.deepEqual(resp.output.map((i) => i.type), ['reasoning', 'function_call']);
  const [rs, fc] = resp.output;
  assert.match(rs.id, ID('rs_'));
  assert.equal(rs.encrypted_content, undefined, 'no encrypted_content unless included');
  assert.deepEqual(rs.summary, [{ type: 'summary_text', text: 'Planning to run echo hello.' }]);
  assert.match(fc.id, ID('fc_'));
  assert.match(fc.call_id, /^call_[A-Za-z0-9]{16,24}$/);
  assert.equal(fc.name, 'run_shell');
  assert.equal(fc.arguments, '{"command":"echo hello"}');
  assert.equal(fc.status, 'completed');
});

test('store defaults to true when omitted, and is echoed', { timeout: 10000 }, async () => {
  const b = body();
  delete b.store;
  const r = await httpJson('POST', `${mock.base}/responses`, b);
  assert.equal(r.json.store, true);
  const [entry] = await mock.log();
  assert.equal(entry.store, true);
});

test('stream:true gives SSE with the full, numbered, consistent event sequence', { timeout: 10000 }, async () => {
  const evs = await sse(`${mock.base}/responses`, body({ stream: true, include: ['reasoning.encrypted_content'] }));
  assert.equal(evs.status, 200);
  assert.match(evs.headers['content-type'], /^text\/event-stream/);
  assert.ok(!evs.raw.includes('[DONE]'));
  evs.forEach((e, i) => {
    assert.equal(e.event, e.data.type, 'event: name equals data.type');
    assert.equal(e.data.sequence_number, i);
  });
  const types = evs.map((e) => e.event);
  assert.deepEqual(types.slice(0, 5), ['response.created', 'response.in_progress', 'response.output_item.added',
    'response.reasoning_summary_part.added', 'response.reasoning_summary_text.delta']);
  for (const t of ['response.reasoning_summary_text.done', 'response.reasoning_summary_part.done',
    'response.function_call_arguments.delta', 'response.function_call_arguments.done', 'response.output_item.done']) {
    assert.ok(types.includes(t), t);
  }
  assert.equal(types.at(-1), 'response.completed');
  const final = evs.at(-1).data.response;
  assert.equal(evs[0].data.response.status, 'in_progress');
  assert.equal(evs[0].data.response.id, final.id);
  // the three copies of each item agree
  const done = evs.filter((e) => e.event === 'response.output_item.done').map((e) => e.data.item);
  assert.deepEqual(done, final.output);
  const args = evs.filter((e) => e.event === 'response.function_call_arguments.delta').map((e) => e.data.delta).join('');
  assert.equal(args, final.output[1].arguments);
  const summary = evs.filter((e) => e.event === 'response.reasoning_summary_text.delta').map((e) => e.data.delta).join('');
  assert.equal(summary, final.output[0].summary[0].text);
  assert.match(final.output[0].encrypted_content, /^gAAAAAB/);
  const added = evs.filter((e) => e.event === 'response.output_item.added').map((e) => e.data.item);
  assert.equal(added[1].status, 'in_progress');
  assert.equal(added[1].arguments, '');
});

test('full-history HTTP loop: tool call, message + tool call, final message, "no tools" turn', { timeout: 15000 }, async () => {
  const input = [{ role: 'user', content: 'Run echo hello twice.' }];
  const texts = [];
  for (let turn = 1; turn <= 3; turn++) {
    const evs = await sse(`${mock.base}/responses`, body({ stream: true, input }));
    const resp = evs.at(-1).data.response;
    texts.push(evs.filter((e) => e.event === 'response.output_text.delta').map((e) => e.data.delta).join(''));
    input.push(...resp.output);
    const call = resp.output.find((i) => i.type === 'function_call');
    if (turn < 3) {
      assert.ok(call, `turn ${turn} calls the tool`);
      input.push({ type: 'function_call_output', call_id: call.call_id, output: 'hello\n' });
    } else {
      assert.equal(call, undefined);
      assert.deepEqual(resp.output.map((i) => i.type), ['reasoning', 'message']);
    }
  }
  assert.equal(texts[0], '');
  assert.match(texts[1], /Running it once more/);
  assert.match(texts[2], /printed "hello" both times/);
  input.push({ role: 'user', content: 'Now say hi, no tools.' });
  const r = await httpJson('POST', `${mock.base}/responses`, body({ input }));
  assert.deepEqual(r.json.output.map((i) => i.type), ['reasoning', 'message']);
  const log = await mock.log();
  assert.equal(log.length, 4);
  assert.deepEqual(log.map((e) => e.items), [1, 4, 8, 11]);
  assert.deepEqual(canonicalItems(log[3].full_input), canonicalItems(input));
});

test('HTTP previous_response_id resolves from the store only', { timeout: 10000 }, async () => {
  const stored = await httpJson('POST', `${mock.base}/responses`, body({ store: true }));
  const call = stored.json.output[1];
  const next = await httpJson('POST', `${mock.base}/responses`, body({
    store: true, previous_response_id: stored.json.id,
    input: [{ type: 'function_call_output', call_id: call.call_id, output: 'hello' }],
  }));
  assert.equal(next.status, 200);
  assert.equal(next.json.previous_response_id, stored.json.id);
  assert.equal(next.json.output[1].type, 'message', 'continued: second tool turn');
  const log = await mock.log();
  assert.equal(log[1].full_input.length, 4);
  assert.deepEqual(log[1].full_input.slice(1, 3), stored.json.output);

  const unstored = await httpJson('POST', `${mock.base}/responses`, body({ store: false }));
  const bad = await httpJson('POST', `${mock.base}/responses`, body({ previous_response_id: unstored.json.id, input: [] }));
  assert.equal(bad.status, 400);
  assert.deepEqual(bad.json, { error: {
    message: `Previous response with id '${unstored.json.id}' not found.`,
    type: 'invalid_request_error', param: 'previous_response_id', code: 'previous_response_not_found',
  } });
});

test('item_reference resolves against stored input and output items; unknown ones are 400', { timeout: 10000 }, async () => {
  const first = await httpJson('POST', `${mock.base}/responses`, body({
    store: true, input: [{ type: 'message', id: 'msg_user1', role: 'user', content: 'Run it.' }],
  }));
  const [rs, fc] = first.json.output;
  const r = await httpJson('POST', `${mock.base}/responses`, body({
    input: [
      { type: 'item_reference', id: 'msg_user1' },
      { type: 'item_reference', id: rs.id },
      { type: 'function_call', call_id: fc.call_id, name: fc.name, arguments: fc.arguments },
      { type: 'function_call_output', call_id: fc.call_id, output: 'hello' },
    ],
  }));
  assert.equal(r.status, 200);
  assert.equal(r.json.output[1].type, 'message');
  const log = await mock.log();
  assert.deepEqual(log[1].full_input[0], { type: 'message', id: 'msg_user1', role: 'user', content: 'Run it.' });
  assert.deepEqual(log[1].full_input[1], rs);
  assert.equal(log[1].items, 4);

  const bad = await httpJson('POST', `${mock.base}/responses`, body({ input: [{ type: 'item_reference', id: 'rs_nope' }] }));
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.type, 'invalid_request_error');
  assert.match(bad.json.error.message, /rs_nope/);
});

test('HTTP validation errors: malformed JSON, missing model, bad input type', { timeout: 10000 }, async () => {
  const cases = [
    ['{"model": "gpt-5.5", "stream": true, "input": [', null],
    [JSON.stringify({ input: 'hi', stream: true }), 'model'],
    [JSON.stringify({ model: 'gpt-5.5', input: 42 }), 'input'],
    [JSON.stringify({ model: 'gpt-5.5', input: [1], stream: true }), 'input[0]'],
  ];
  for (const [raw, param] of cases) {
    // errors are plain JSON bodies even when streaming was asked for
    const r = await httpJson('POST', `${mock.base}/responses`, raw);
    assert.equal(r.status, 400, raw);
    assert.match(r.headers['content-type'], /application\/json/);
    assert.deepEqual(Object.keys(r.json.error).sort(), ['code', 'message', 'param', 'type']);
    assert.equal(r.json.error.type, 'invalid_request_error');
    assert.equal(r.json.error.param, param);
  }
  const log = await mock.log();
  assert.equal(log.length, 4);
  assert.ok(log.every((e) => e.error && e.error.status === 400 && e.response_id === null));
});

test('GET /v1/models, GET/DELETE /v1/responses/{id}, unknown paths', { timeout: 10000 }, async () => {
  const models = await httpJson('GET', `${mock.base}/models`);
  assert.equal(models.status, 200);
  assert.equal(models.json.object, 'list');
  assert.ok(models.json.data.some((m) => m.id === 'gpt-5.5' && m.object === 'model'));

  const created = await httpJson('POST', `${mock.base}/responses`, body({ store: true }));
  const got = await httpJson('GET', `${mock.base}/responses/${created.json.id}`);
  assert.equal(got.status, 200);
  assert.deepEqual(got.json, created.json);
  const notStored = await httpJson('POST', `${mock.base}/responses`, body({ store: false }));
  const missing = await httpJson('GET', `${mock.base}/responses/${notStored.json.id}`);
  assert.equal(missing.status, 404);
  assert.equal(missing.json.error.type, 'invalid_request_error');
  const del = await httpJson('DELETE', `${mock.base}/responses/${created.json.id}`);
  assert.deepEqual(del.json, { id: created.json.id, object: 'response', deleted: true });
  assert.equal((await httpJson('GET', `${mock.base}/responses/${created.json.id}`)).status, 404);

  const other = await httpJson('GET', `${mock.url}/v1/nothing/here`);
  assert.equal(other.status, 404);
  assert.ok(other.json.error.message.includes('/v1/nothing/here'));
  assert.equal((await httpJson('POST', `${mock.url}/v1/completions`, {})).status, 404);
  assert.equal((await mock.log()).length, 2, 'only generating requests are logged');
});

test('log entries carry transport, sizes, headers, chain fields and reset clears them', { timeout: 10000 }, async () => {
  const raw = JSON.stringify(body({ stream: true }));
  await sse(`${mock.base}/responses`, raw, { 'x-stainless-lang': 'js', 'OpenAI-Organization': 'org-1' });
  const [e] = await mock.log();
  assert.equal(e.seq, 1);
  assert.equal(e.transport, 'http');
  assert.equal(e.conn, null);
  assert.equal(e.bytes, Buffer.byteLength(raw));
  assert.equal(e.items, 1);
  assert.equal(e.previous_response_id, null);
  assert.equal(e.store, false);
  assert.equal(e.generate, true);
  assert.equal(e.stream, true);
  assert.equal(e.model, 'gpt-5.5');
  assert.match(e.response_id, ID('resp_'));
  assert.equal(e.error, null);
  assert.equal(e.fault, null);
  assert.equal(e.headers['x-stainless-lang'], 'js');
  assert.equal(e.headers['openai-organization'], 'org-1');
  assert.equal(e.headers['content-type'], 'application/json');
  assert.deepEqual(e.full_input, body().input);
  await mock.reset();
  assert.deepEqual(await mock.log(), []);
  assert.deepEqual(await mock.handshakes(), []);
});

test('keep-alive: several requests, streamed and not, on one connection', { timeout: 10000 }, async () => {
  for (let i = 0; i < 5; i++) {
    const evs = await sse(`${mock.base}/responses`, body({ stream: true }));
    assert.equal(evs.at(-1).event, 'response.completed');
    const r = await httpJson('POST', `${mock.base}/responses`, body());
    assert.equal(r.status, 200);
  }
  assert.equal((await mock.log()).length, 10);
});
