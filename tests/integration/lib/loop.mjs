// A minimal stateless agent loop, as an unmodified client does it: every turn re-sends the whole
// history (input items, then the previous output items, then the tool outputs) over HTTP.
import { httpJson, sse } from './harness.mjs';

// Runs the loop against `base` (…/v1). Returns { turns: [{request, response, events?, status}], input }.
export async function runToolLoop(base, { stream = false, maxTurns = 8, headers = {}, extra = {}, firstInput } = {}) {
  const input = firstInput ? structuredClone(firstInput) : [
    { role: 'developer', content: 'You are a test agent. Use run_shell when asked.' },
    { role: 'user', content: 'Run the shell command echo hello twice, then tell me what it printed.' },
  ];
  const body0 = {
    model: 'gpt-5.5',
    instructions: 'Be brief.',
    tools: [{ type: 'function', name: 'run_shell', description: 'Run a shell command', strict: true,
      parameters: { type: 'object', properties: { cmd: { type: 'string' } }, required: ['cmd'], additionalProperties: false } }],
    store: false,
    include: ['reasoning.encrypted_content'],
    reasoning: { effort: 'low', summary: 'auto' },
    ...extra,
  };
  const turns = [];
  const auth = { authorization: 'Bearer sk-test-loop', ...headers };
  for (let t = 0; t < maxTurns; t++) {
    const request = { ...body0, input: structuredClone(input) };
    if (stream) request.stream = true;
    let response, events, status;
    if (stream) {
      const r = await sse(base + '/responses', request, auth);
      status = r.status;
      events = [...r];
      const done = events.find((e) => e.event === 'response.completed');
      response = done ? done.data.response : null;
    } else {
      const r = await httpJson('POST', base + '/responses', request, auth);
      status = r.status;
      response = r.json;
    }
    turns.push({ request, response, events, status });
    if (status !== 200 || !response) break;
    input.push(...response.output);
    const calls = response.output.filter((o) => o.type === 'function_call');
    if (calls.length === 0) break;
    for (const c of calls) input.push({ type: 'function_call_output', call_id: c.call_id, output: 'hello\n' });
  }
  return { turns, input };
}

// Replaces ids and other per-run values so two runs of the same script compare equal.
export function normalizeRun(value) {
  const idKeys = new Set(['id', 'call_id', 'item_id', 'created_at', 'completed_at', 'previous_response_id',
    'encrypted_content', 'response_id', 'obfuscation']);
  const walk = (v) => {
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') {
      const out = {};
      for (const k of Object.keys(v).sort()) out[k] = idKeys.has(k) ? (v[k] === null ? null : '<x>') : walk(v[k]);
      return out;
    }
    return v;
  };
  return walk(value);
}
