// The mock's own Chat Completions endpoint (the oracle for what deltawire forwards unchanged):
// the scripted model answers a chat tool loop, streaming and not, in the Chat API's shapes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startMock, stopAll, httpJson, sse } from './lib/harness.mjs';
import { chatLoop, noReasoning } from './lib/chat.mjs';

let mock;
before(async () => { mock = await startMock(); });
after(stopAll);

for (const stream of [false, true]) {
  test(`a tool loop against the mock's /chat/completions (${stream ? 'streaming' : 'not streaming'})`, async () => {
    const n = (await mock.log()).length;
    const { turns } = await chatLoop(mock.base, { stream });
    assert.deepEqual(turns.map((t) => t.finish), ['tool_calls', 'tool_calls', 'stop']);
    assert.match(turns[1].answer.content, /Running it once more/, 'text and a call in one message');
    assert.match(turns[2].answer.content, /^Done/);
    const entries = (await mock.log()).slice(n);
    assert.ok(entries.every((e) => e.endpoint === 'chat' && e.transport === 'http'));
    // the mock's reading of the messages: the tool results it was given
    assert.equal(entries[2].full_input.filter((i) => i.type === 'function_call_output').length, 2);
  });
}

test('the mock chat endpoint: n choices, logprobs, scripted outputs without reasoning, errors', async () => {
  const r = await httpJson('POST', mock.base + '/chat/completions',
    { model: 'm', messages: [{ role: 'user', content: 'just answer' }], n: 2, logprobs: true });
  assert.equal(r.status, 200);
  assert.equal(r.json.choices.length, 2);
  assert.ok(r.json.choices.every((c, i) => c.index === i && c.logprobs && c.message.role === 'assistant'));
  await mock.script([{ output: [noReasoning.message('Scripted.')] }]);
  const evs = await sse(mock.base + '/chat/completions', { model: 'm', messages: [{ role: 'user', content: 'x' }], stream: true });
  assert.equal(evs.at(-1).data, '[DONE]');
  assert.equal(evs.slice(0, -1).map((e) => e.data.choices[0].delta.content || '').join(''), 'Scripted.');
  const bad = await httpJson('POST', mock.base + '/chat/completions', { model: 'm' });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.param, 'messages');
});
