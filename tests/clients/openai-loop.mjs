// Agent loop with the official openai Node SDK (unmodified), adapted from the fixture
// harness: every turn re-sends the whole history. Prints one "turn N: <response JSON>"
// line per call and "final: <text>" after each loop.
//   env: DW_CLIENTS_DIR (where openai is installed), BASE_URL, MODE=nonstream|stream|helper
import { createRequire } from 'node:module';
import path from 'node:path';
import { execSync } from 'node:child_process';

const require = createRequire(path.join(process.env.DW_CLIENTS_DIR, 'node_modules', 'x.js'));
const OpenAI = require('openai');
const MODE = process.env.MODE || 'nonstream';
const client = new OpenAI({ apiKey: 'sk-dummy-not-a-real-key', baseURL: process.env.BASE_URL, maxRetries: 0, timeout: 30000 });
const tools = [{
  type: 'function', name: 'run_shell', description: 'Run a shell command and return stdout.',
  parameters: { type: 'object', properties: { command: { type: 'string', description: 'command line' } }, required: ['command'], additionalProperties: false },
  strict: true,
}];
const input = [{ role: 'user', content: 'Run `echo hello` twice with run_shell, then tell me what it printed.' }];
let n = 0;

async function turn() {
  const params = { model: 'gpt-5.5', instructions: 'You are a terse shell assistant.', input, tools, store: false,
    include: ['reasoning.encrypted_content'], reasoning: { effort: 'low', summary: 'auto' } };
  if (MODE === 'nonstream') return client.responses.create(params);
  if (MODE === 'helper') return client.responses.stream(params).finalResponse();
  const stream = await client.responses.create({ ...params, stream: true });
  let final;
  for await (const ev of stream) if (ev.type === 'response.completed') final = ev.response;
  return final;
}

async function loop() {
  for (let i = 0; i < 6; i++) {
    const r = await turn();
    console.log(`turn ${++n}: ${JSON.stringify(r)}`);
    input.push(...r.output); // echo every output item verbatim
    const calls = r.output.filter((o) => o.type === 'function_call');
    // the completed event of a raw stream has no output_text convenience field: collect it
    const text = r.output_text ?? r.output.filter((o) => o.type === 'message')
      .flatMap((o) => o.content).filter((c) => c.type === 'output_text').map((c) => c.text).join('');
    if (!calls.length) { console.log('final:', text); return; }
    for (const c of calls) {
      const { command } = JSON.parse(c.arguments);
      input.push({ type: 'function_call_output', call_id: c.call_id, output: execSync(command, { encoding: 'utf8' }) });
    }
  }
  throw new Error('no final answer within 6 turns');
}

await loop();
input.push({ role: 'user', content: 'Thanks. Now just say hi, no tools.' });
await loop();
