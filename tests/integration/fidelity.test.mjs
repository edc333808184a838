// Fidelity (issue 11): a client may leave out what the server added, never change it. Each turn
// goes through the proxy to the mock, and the mock's reconstructed input (what the model read) must
// be the client's input item for item: every field the client sent, with the value it sent.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startMock, startProxy, stopAll, httpJson, sse } from './lib/harness.mjs';

let mock, proxy;
before(async () => {
  mock = await startMock();
  proxy = await startProxy({ upstream: mock.base });
});
after(stopAll);

const wsEntries = async () => (await mock.log()).filter((e) => e.transport === 'ws');
const user = (text, extra = {}) => ({ role: 'user', content: text, ...extra });
const msg = (id, text, extra = {}) => ({
  id, type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text, annotations: [], logprobs: [] }], ...extra,
});
const reasoning = (id) => ({ id, type: 'reasoning', summary: [{ type: 'summary_text', text: 'Thinking.' }] });
const call = (id, callId) => ({ id, type: 'function_call', status: 'completed', call_id: callId, name: 'run_shell', arguments: '{"command":"ls"}' });
const search = (id) => ({ id, type: 'web_search_call', status: 'completed', action: { type: 'search', query: id } });

// The client's item as the API reads it: null is absent, a missing type on a message is "message",
// string content is one text part, empty annotations/logprobs and client-side parse results are
// nothing. Deliberately independent of translate/canon.c.
function normal(v, key = '') {
  if (Array.isArray(v)) return v.map((e) => normal(e));
  if (!v || typeof v !== 'object') return v;
  if (['parameters', 'input_schema', 'schema', 'arguments'].includes(key)) return v;
  const o = {};
  for (const k of Object.keys(v).sort()) {
    if (v[k] === null || k === 'parsed' || k === 'parsed_arguments') continue;
    if ((k === 'annotations' || k === 'logprobs') && Array.isArray(v[k]) && v[k].length === 0) continue;
    o[k] = normal(v[k], k);
  }
  return o;
}

function normalItem(item) {
  const it = normal(item);
  if (it.type === undefined && it.role !== undefined) it.type = 'message';
  if (it.type === 'message' && typeof it.content === 'string') {
    it.content = [{ type: it.role === 'assistant' ? 'output_text' : 'input_text', text: it.content }];
  }
  return it;
}

// What the model read equals what the client sent: the same items in order, each carrying every
// field the client sent with the client's value (the upstream's copy may add fields the server
// set, which the client left out).
function assertModelSaw(upstream, client, what) {
  assert.equal(upstream.length, client.length, `${what}: item count`);
  client.forEach((c, i) => {
    const u = normalItem(upstream[i]);
    for (const [k, v] of Object.entries(normalItem(c))) {
      assert.deepEqual(u[k], v, `${what}: item ${i} field ${k}: the model saw ${JSON.stringify(u[k])}, the client sent ${JSON.stringify(v)}`);
    }
  });
}

async function post(body, auth, base = proxy.base) {
  const r = await httpJson('POST', base + '/responses', { model: 'gpt-5.5', ...body }, { authorization: `Bearer ${auth}` });
  return r;
}

// Sends each input in turn through the proxy and checks the mock's context for each; returns the
// ws log entries of these turns.
async function turns(inputs, auth, extra = {}) {
  const before = (await wsEntries()).length;
  const responses = [];
  for (const input of inputs) {
    const r = await post({ input, ...extra }, auth);
    assert.equal(r.status, 200, r.text);
    responses.push(r.json);
  }
  const entries = (await wsEntries()).slice(before);
  assert.equal(entries.length, inputs.length);
  entries.forEach((e, i) => assertModelSaw(e.full_input, inputs[i], `turn ${i + 1}`));
  return { entries, responses };
}

test('case 1: a changed apply_patch_call_output status goes in full; unchanged, a delta', async () => {
  await mock.reset();
  const patch = { type: 'apply_patch_call', id: 'apc_1', call_id: 'call_p', status: 'completed', operation: { type: 'update_file', path: 'a.c', diff: '@@ -1 +1 @@\n-a\n+b' } };
  const failed = { type: 'apply_patch_call_output', call_id: 'call_p', status: 'failed', output: 'patch did not apply' };
  const done1 = msg('msg_p1', 'It failed.');
  const done2 = msg('msg_p2', 'Noted.');
  await mock.script([{ output: [done1] }, { output: [done2] }, { output: [msg('msg_p3', 'ok')] }]);
  const t1 = [user('patch it'), patch, failed];
  const t2 = [...t1, done1, user('and now?')];
  const t3 = [user('patch it'), patch, { ...failed, status: 'completed' }, done1, user('and now?'), done2, user('again')];
  const { entries } = await turns([t1, t2, t3], 'sk-fid-patch');
  assert.equal(entries[1].previous_response_id, entries[0].response_id, 'the control: an unchanged history is a delta');
  assert.equal(entries[2].previous_response_id, null, 'status "failed" became "completed": the full input goes');
  assert.equal(entries[2].items, t3.length);
});

test('case 1: an assistant message whose status changed to incomplete goes in full', async () => {
  await mock.reset();
  const a1 = msg('msg_s1', 'First answer.');
  const a2 = msg('msg_s2', 'Second answer.');
  await mock.script([{ output: [a1] }, { output: [a2] }, { output: [msg('msg_s3', 'x')] }]);
  const t1 = [user('one')];
  const t2 = [...t1, a1, user('two')];
  const t3 = [user('one'), { ...a1, status: 'incomplete' }, user('two'), a2, user('three')];
  const { entries } = await turns([t1, t2, t3], 'sk-fid-status');
  assert.equal(entries[1].previous_response_id, entries[0].response_id);
  assert.equal(entries[2].previous_response_id, null, 'the model must see "incomplete"');
  // leaving the server's status, id and type out is still an echo (of turn 2's stored response)
  await mock.script([{ output: [msg('msg_s4', 'y')] }]);
  const t4 = [user('one'), { role: 'assistant', content: 'First answer.' }, user('two'), a2, user('three, again')];
  const { entries: e4 } = await turns([t4], 'sk-fid-status');
  assert.equal(e4[0].previous_response_id, entries[1].response_id);
  assert.equal(e4[0].items, 1);
});

test('case 1: a user message whose id changed under store:true goes in full, and a later reference to the new id works', async () => {
  await mock.reset();
  const a1 = msg('msg_i1', 'Hello.');
  await mock.script([{ output: [a1] }, { output: [msg('msg_i2', 'Hi again.')] }, { output: [msg('msg_i3', 'Found it.')] }]);
  const t1 = [user('hello', { id: 'msg_user_old' })];
  const t2 = [user('hello', { id: 'msg_user_new' }), a1, user('again')];
  const { entries } = await turns([t1, t2], 'sk-fid-id', { store: true });
  assert.equal(entries[1].previous_response_id, null, 'the upstream keeps the old id: the new one must reach it');
  const r = await post({ store: true, input: [{ type: 'item_reference', id: 'msg_user_new' }, user('what did I say?')] }, 'sk-fid-id');
  assert.equal(r.status, 200, r.text);
});

test('case 2: a reference to an item of a store:false response gets the same 400 as a direct call', async () => {
  const rs = reasoning('rs_unstored');
  const a1 = msg('msg_u1', 'Done.');
  const t1 = [user('think')];
  const t2 = [user('think'), { type: 'item_reference', id: 'rs_unstored' }, a1, user('more')];
  const results = {};
  for (const [name, base] of [['direct', mock.base], ['proxy', proxy.base]]) {
    await mock.reset();
    await mock.script([{ output: [rs, a1] }, { output: [msg('msg_u2', 'x')] }]);
    const r1 = await post({ store: false, input: t1 }, 'sk-fid-ref', base);
    assert.equal(r1.status, 200, r1.text);
    results[name] = await post({ store: false, input: t2 }, 'sk-fid-ref', base);
  }
  assert.equal(results.direct.status, 400, results.direct.text);
  assert.equal(results.proxy.status, results.direct.status, results.proxy.text);
  assert.equal(results.proxy.json.error.code, 'item_not_found');
  assert.equal(results.proxy.json.error.code, results.direct.json.error.code);
  assert.equal(results.proxy.json.error.type, results.direct.json.error.type);

  // stored, the same reference resolves: a delta, and the model read the referenced item
  await mock.reset();
  await mock.script([{ output: [rs, a1] }, { output: [msg('msg_u2', 'x')] }]);
  const { entries } = await turns([t1, t2.map((i) => (i.type === 'item_reference' ? rs : i))], 'sk-fid-ref-stored', { store: true });
  assert.equal(entries[1].previous_response_id, entries[0].response_id);
  await mock.reset();
  await mock.script([{ output: [rs, a1] }, { output: [msg('msg_u2', 'x')] }]);
  await post({ store: true, input: t1 }, 'sk-fid-ref-stored2');
  const r2 = await post({ store: true, input: t2 }, 'sk-fid-ref-stored2');
  assert.equal(r2.status, 200, r2.text);
  const [e1, e2] = await wsEntries();
  assert.equal(e2.previous_response_id, e1.response_id, 'a reference to a stored item is a delta');
  assertModelSaw(e2.full_input, t2.map((i) => (i.type === 'item_reference' ? rs : i)), 'stored reference');
});

test('case 3: echoes written like pydantic model_dump() (nulls for unset fields) are deltas', async () => {
  await mock.reset();
  const out1 = [reasoning('rs_p1'), msg('msg_pd1', 'Let me look.', { phase: 'commentary' }), call('fc_p1', 'call_pd1')];
  await mock.script([{ output: out1 }, { output: [msg('msg_pd2', 'Done.')] }]);
  const dumped = [
    { ...out1[0], encrypted_content: null, content: null, status: null },
    { ...out1[1], content: [{ type: 'output_text', text: 'Let me look.', annotations: null, logprobs: null, parsed: null }] },
    { ...out1[2], namespace: null, parsed_arguments: null },
  ];
  const t1 = [user('look', { type: null })];
  const t2 = [user('look'), ...dumped, { type: 'function_call_output', call_id: 'call_pd1', output: 'a\nb', id: null, status: null }];
  const { entries } = await turns([t1, t2], 'sk-fid-pydantic');
  assert.equal(entries[1].previous_response_id, entries[0].response_id);
  assert.equal(entries[1].items, 1);
  // and phase: null where the server said "commentary" is leaving it out, not changing it
  const t3 = [...t2, msg('msg_pd2', 'Done.'), user('thanks')];
  t3[2] = { ...t3[2], phase: null };
  await mock.script([{ output: [msg('msg_pd3', 'ok')] }]);
  const { entries: e3 } = await turns([t3], 'sk-fid-pydantic');
  assert.equal(e3[0].previous_response_id, entries[1].response_id);
});

test('case 4: response.completed listing fewer items than were streamed is never recorded', async () => {
  await mock.reset();
  const streamed = [reasoning('rs_f1'), call('fc_f1', 'call_f1')];
  await mock.script([{ output: streamed, listed: 1 }, { output: [msg('msg_f2', 'x')] }]);
  const t1 = [user('go')];
  const r1 = await post({ input: t1 }, 'sk-fid-fewer');
  assert.deepEqual(r1.json.output, [streamed[0]]);
  const t2 = [...t1, ...r1.json.output, user('next')];
  const r2 = await post({ input: t2 }, 'sk-fid-fewer');
  assert.equal(r2.status, 200);
  const [, e2] = await wsEntries();
  assert.equal(e2.previous_response_id, null, 'no record, no delta');
  assertModelSaw(e2.full_input, t2, 'turn 2');
});

test('case 4: output items left over from an earlier attempt are never recorded', async () => {
  await mock.reset();
  const first = [search('ws_a0'), search('ws_a1'), search('ws_a2')];
  const second = [search('ws_b0')];
  // attempt 1 streams three items and the connection drops before response.completed; attempt 2
  // streams one, and its response object lists none (the streamed items are the output)
  await mock.script([{ output: first }, { output: second, listed: 0 }, { output: [msg('msg_l2', 'x')] }]);
  await mock.fault({ close_after_events: 8, count: 1 });
  const t1 = [user('search')];
  const r1 = await post({ input: t1 }, 'sk-fid-leftover');
  assert.equal(r1.status, 200, r1.text);
  assert.deepEqual(r1.json.output, []);
  // a client holding the other attempt's items: the upstream has only ws_b0 after the input
  const t2 = [...t1, second[0], first[1], first[2], user('next')];
  const r2 = await post({ input: t2 }, 'sk-fid-leftover');
  assert.equal(r2.status, 200, r2.text);
  const e2 = (await wsEntries()).at(-1);
  assertModelSaw(e2.full_input, t2, 'turn 2');
});

for (const stream of [false, true]) {
  test(`case 4: a response.incomplete is recorded, and the next turn echoing it is a delta (${stream ? 'SSE' : 'JSON'})`, async () => {
    await mock.reset();
    const partial = [reasoning('rs_n1'), msg('msg_n1', 'Half an ans', { status: 'incomplete' })];
    await mock.script([{ output: partial, terminal: 'incomplete' }, { output: [msg('msg_n2', 'x')] }]);
    const auth = { authorization: `Bearer sk-fid-incomplete-${stream}` };
    const t1 = [user('long answer please')];
    let out;
    if (stream) {
      const evs = await sse(proxy.base + '/responses', { model: 'gpt-5.5', input: t1, stream: true }, auth);
      assert.equal(evs.at(-1).event, 'response.incomplete');
      out = evs.at(-1).data.response.output;
    } else {
      const r1 = await httpJson('POST', proxy.base + '/responses', { model: 'gpt-5.5', input: t1 }, auth);
      assert.equal(r1.json.status, 'incomplete');
      out = r1.json.output;
    }
    const t2 = [...t1, ...out, user('go on')];
    const r2 = await httpJson('POST', proxy.base + '/responses', { model: 'gpt-5.5', input: t2 }, auth);
    assert.equal(r2.status, 200);
    const [e1, e2] = await wsEntries();
    assert.equal(e2.previous_response_id, e1.response_id);
    assert.equal(e2.items, 1);
    assertModelSaw(e2.full_input, t2, 'turn 2');
  });
}
