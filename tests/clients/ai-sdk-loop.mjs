// Vercel AI SDK agent loop (unmodified ai + @ai-sdk/openai), adapted from the fixture
// harness: generateText/streamText with one tool and stopWhen, then a follow-up call
// with the whole conversation. Prints the steps and texts.
//   env: DW_CLIENTS_DIR, BASE_URL, MODE=generate|stream, STORE=default|false
import { createRequire } from 'node:module';
import path from 'node:path';
import { execSync } from 'node:child_process';

const require = createRequire(path.join(process.env.DW_CLIENTS_DIR, 'node_modules', 'x.js'));
const { generateText, streamText, tool, stepCountIs } = require('ai');
const { createOpenAI } = require('@ai-sdk/openai');
const { z } = require('zod');

const openai = createOpenAI({ baseURL: process.env.BASE_URL, apiKey: 'sk-dummy-not-a-real-key' });
const providerOptions = { openai: { reasoningEffort: 'low', reasoningSummary: 'auto' } };
if (process.env.STORE === 'false') {
  providerOptions.openai.store = false;
  providerOptions.openai.include = ['reasoning.encrypted_content'];
}
const args = {
  model: openai.responses('gpt-5.5'),
  system: 'You are a terse shell assistant.',
  prompt: 'Run `echo hello` twice with run_shell, then tell me what it printed.',
  tools: {
    run_shell: tool({
      description: 'Run a shell command and return stdout.',
      inputSchema: z.object({ command: z.string().describe('command line') }),
      execute: async ({ command }) => execSync(command, { encoding: 'utf8' }),
    }),
  },
  stopWhen: stepCountIs(6),
  maxRetries: 0,
  providerOptions,
};

function report(label, text, steps, messages) {
  console.log(`${label} steps: ${JSON.stringify(steps.map((s) => ({ finishReason: s.finishReason, content: s.content })))}`);
  console.log(`${label} messages: ${JSON.stringify(messages)}`);
  console.log(`${label}: ${text}`);
}

let streamError = null;
const onError = ({ error }) => { streamError = error; };
if (process.env.MODE === 'stream') {
  const r = streamText({ ...args, onError });
  for await (const _ of r.fullStream) { /* drain */ }
  if (streamError) throw streamError;
  const msgs = [{ role: 'user', content: args.prompt }, ...(await r.response).messages, { role: 'user', content: 'Thanks. Now just say hi, no tools.' }];
  report('final', await r.text, await r.steps, (await r.response).messages);
  const r2 = streamText({ ...args, prompt: undefined, messages: msgs, onError });
  for await (const _ of r2.fullStream) { /* drain */ }
  if (streamError) throw streamError;
  report('followup', await r2.text, await r2.steps, (await r2.response).messages);
} else {
  const r = await generateText(args);
  report('final', r.text, r.steps, r.response.messages);
  const msgs = [{ role: 'user', content: args.prompt }, ...r.response.messages, { role: 'user', content: 'Thanks. Now just say hi, no tools.' }];
  const r2 = await generateText({ ...args, prompt: undefined, messages: msgs });
  report('followup', r2.text, r2.steps, r2.response.messages);
}
