// A Chat Completions tool loop as a client runs it (the full `messages` array every turn), and the
// test's own reading of the Chat → Responses mapping (README, "Chat Completions"), independent of
// translate/chat_request.c: what the model must read for those messages.
import assert from 'node:assert/strict';
import { httpJson, sse } from './harness.mjs';

export const SHELL_TOOL = {
  type: 'function',
  function: {
    name: 'shell', description: 'Runs a command.',
    parameters: { type: 'object', properties: { cmd: { type: 'string' } }, required: ['cmd'] },
  },
};

// Items of a scripted model without reasoning (the mock's script queue plays them verbatim).
let seq = 0;
export const noReasoning = {
  call: (cmd = 'echo hello') => ({
    id: `fc_s${++seq}`, type: 'function_call', status: 'completed', call_id: `call_s${seq}`, name: 'shell',
    arguments: JSON.stringify({ cmd }),
  }),
  message: (text) => ({
    id: `msg_s${++seq}`, type: 'message', status: 'completed', role: 'assistant',
    content: [{ type: 'output_text', text, annotations: [], logprobs: [] }],
  }),
};

// The Responses input items the chat messages stand for.
export function itemsOf(messages) {
  const out = [];
  for (const m of messages) {
    if (m.role === 'tool') {
      out.push({ type: 'function_call_output', call_id: m.tool_call_id, output: m.content });
      continue;
    }
    if (m.role === 'assistant') {
      if (typeof m.content === 'string' && m.content !== '') {
        out.push({ type: 'message', role: 'assistant', content: [{ type: 'output_text', text: m.content }] });
      }
      for (const tc of m.tool_calls || []) {
        out.push({ type: 'function_call', call_id: tc.id, name: tc.function.name, arguments: tc.function.arguments });
      }
      continue;
    }
    out.push({ type: 'message', role: m.role, content: m.content });
  }
  return out;
}

// The assistant message and finish_reason of a streamed answer, from its chunks.
export function assemble(events) {
  const msg = { role: 'assistant', content: null };
  let finish = null;
  let usage = null;
  let done = false;
  for (const { data } of events) {
    if (data === '[DONE]') { done = true; continue; }
    assert.equal(data.object, 'chat.completion.chunk');
    if (data.usage) usage = data.usage;
    for (const ch of data.choices) {
      const d = ch.delta;
      if (typeof d.content === 'string') msg.content = (msg.content || '') + d.content;
      for (const tc of d.tool_calls || []) {
        msg.tool_calls ||= [];
        const t = (msg.tool_calls[tc.index] ||= { id: tc.id, type: 'function', function: { name: tc.function?.name, arguments: '' } });
        if (tc.function?.arguments) t.function.arguments += tc.function.arguments;
      }
      if (ch.finish_reason) finish = ch.finish_reason;
    }
  }
  return { msg, finish, usage, done };
}

// Runs the loop through base (…/v1): each turn the whole history; a tool call is answered with a
// tool message. Returns {turns: [{messages, answer}], messages}.
export async function chatLoop(base, { stream = false, auth = 'sk-chat', extra = {}, maxTurns = 6, first = 'Run echo hello twice.' } = {}) {
  const messages = [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: first }];
  const turns = [];
  for (let t = 0; t < maxTurns; t++) {
    const body = { model: 'gpt-5.5', messages, tools: [SHELL_TOOL], ...extra };
    const sent = structuredClone(messages);
    let msg, finish;
    if (stream) {
      const evs = await sse(base + '/chat/completions', { ...body, stream: true, stream_options: { include_usage: true } },
        { authorization: `Bearer ${auth}` });
      assert.equal(evs.status, 200, evs.raw);
      const a = assemble(evs);
      assert.ok(a.done, 'the stream ends with data: [DONE]');
      assert.ok(a.usage && a.usage.total_tokens > 0, 'include_usage: a usage chunk');
      ({ msg, finish } = a);
    } else {
      const r = await httpJson('POST', base + '/chat/completions', body, { authorization: `Bearer ${auth}` });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.object, 'chat.completion');
      ({ message: msg, finish_reason: finish } = r.json.choices[0]);
      assert.ok(r.json.usage.total_tokens > 0);
    }
    turns.push({ messages: sent, answer: msg, finish });
    const echo = { role: 'assistant', content: msg.content };
    if (msg.tool_calls) echo.tool_calls = msg.tool_calls.map((tc) => ({ id: tc.id, type: 'function', function: { ...tc.function } }));
    messages.push(echo);
    if (finish !== 'tool_calls') break;
    assert.ok(msg.tool_calls.length > 0 && msg.tool_calls.every((tc) => tc.id && tc.function.name === 'shell'));
    for (const tc of msg.tool_calls) messages.push({ role: 'tool', tool_call_id: tc.id, content: `ran ${tc.function.arguments}: hello` });
  }
  return { turns, messages };
}
