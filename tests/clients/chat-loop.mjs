// A Chat Completions tool loop with a real, unmodified client: every turn re-sends the whole
// `messages` history to BASE_URL/chat/completions. Prints "final: <text>".
//   env: DW_CLIENTS_DIR, BASE_URL, CLIENT=openai-node|ai-sdk|langchain
//   openai-node: chat.completions.runTools (streaming), the SDK's own tool runner;
//   ai-sdk: generateText with openai.chat(...); langchain: ChatOpenAI.bindTools + invoke.
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(path.join(process.env.DW_CLIENTS_DIR, 'node_modules', 'x.js'));
const BASE_URL = process.env.BASE_URL;
const KEY = 'sk-dummy-not-a-real-key';
const PROMPT = 'Run `echo hello` twice with run_shell, then tell me what it printed.';
const SYSTEM = 'You are a terse shell assistant.';
const runShell = (command) => (command.includes('echo hello') ? 'hello\n' : `ran: ${command}\n`);

async function openaiNode() {
  const OpenAI = require('openai');
  const client = new OpenAI({ apiKey: KEY, baseURL: BASE_URL, maxRetries: 0, timeout: 30000 });
  const runner = client.chat.completions.runTools({
    model: 'gpt-5.5', stream: true,
    messages: [{ role: 'system', content: SYSTEM }, { role: 'user', content: PROMPT }],
    tools: [{
      type: 'function',
      function: {
        name: 'run_shell', description: 'Run a shell command and return stdout.',
        parameters: { type: 'object', properties: { command: { type: 'string' } }, required: ['command'] },
        parse: JSON.parse,
        function: ({ command }) => runShell(command),
      },
    }],
  }, { maxChatCompletions: 6 });
  return runner.finalContent();
}

async function aiSdk() {
  const { generateText, tool, stepCountIs } = require('ai');
  const { createOpenAI } = require('@ai-sdk/openai');
  const { z } = require('zod');
  const openai = createOpenAI({ baseURL: BASE_URL, apiKey: KEY });
  const r = await generateText({
    model: openai.chat('gpt-5.5'), system: SYSTEM, prompt: PROMPT, maxRetries: 0, stopWhen: stepCountIs(6),
    tools: {
      run_shell: tool({
        description: 'Run a shell command and return stdout.',
        inputSchema: z.object({ command: z.string() }),
        execute: async ({ command }) => runShell(command),
      }),
    },
  });
  return r.text;
}

async function langchain() {
  const { ChatOpenAI } = require('@langchain/openai');
  const { tool } = require('@langchain/core/tools');
  const { HumanMessage, SystemMessage, ToolMessage } = require('@langchain/core/messages');
  const { z } = require('zod');
  const shell = tool(async ({ command }) => runShell(command), {
    name: 'run_shell', description: 'Run a shell command and return stdout.', schema: z.object({ command: z.string() }),
  });
  const llm = new ChatOpenAI({ model: 'gpt-5.5', apiKey: KEY, configuration: { baseURL: BASE_URL }, maxRetries: 0, useResponsesApi: false })
    .bindTools([shell]);
  const messages = [new SystemMessage(SYSTEM), new HumanMessage(PROMPT)];
  for (let i = 0; i < 6; i++) {
    const ai = await llm.invoke(messages);
    messages.push(ai);
    if (!ai.tool_calls?.length) return ai.content;
    for (const tc of ai.tool_calls) messages.push(new ToolMessage({ tool_call_id: tc.id, content: await shell.invoke(tc.args) }));
  }
  throw new Error('no final answer within 6 turns');
}

const run = { 'openai-node': openaiNode, 'ai-sdk': aiSdk, langchain }[process.env.CLIENT];
console.log('final:', await run());
