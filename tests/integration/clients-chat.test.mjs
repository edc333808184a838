// Real, unmodified Chat Completions clients through deltawire's chat front end (issue 18):
// openai-node chat.completions.runTools (streaming), the AI SDK with openai.chat(...), and
// LangChain's ChatOpenAI with tools, each completing a tool loop against deltawire-mock in
// WebSocket mode, with the upstream bytes of every turn reported. By default the mock's model
// (reasoning items) gets every turn in full; with --chat-reasoning carry, deltas after the first.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startMock, startProxy, stopAll, track, CLIENTS_DIR } from './lib/harness.mjs';

const script = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'clients', 'chat-loop.mjs');
const skip = !CLIENTS_DIR && 'DW_CLIENTS_DIR is not set (run tests/clients/install.sh DIR and export DW_CLIENTS_DIR=DIR)';
const FINAL = 'Done: `echo hello` printed "hello" both times.';

let mock, full, carry;
before(async () => {
  if (skip) return;
  mock = await startMock();
  full = await startProxy({ upstream: mock.base });
  carry = await startProxy({ upstream: mock.base, args: ['--chat-reasoning', 'carry'] });
});
after(stopAll);

function runClient(client, base) {
  const env = { ...process.env, DW_CLIENTS_DIR: CLIENTS_DIR, BASE_URL: base, CLIENT: client, NO_PROXY: '*' };
  for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy', 'ALL_PROXY', 'all_proxy']) delete env[k];
  const child = track(spawn(process.execPath, [script], { env, stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  const timer = setTimeout(() => child.kill('SIGKILL'), 60000);
  return new Promise((resolve) => child.once('exit', (code) => { clearTimeout(timer); resolve({ code, out, err }); }));
}

for (const client of ['openai-node', 'ai-sdk', 'langchain']) {
  for (const [mode, proxy] of [['full', () => full], ['carry', () => carry]]) {
    test(`${client} (chat): a tool loop through deltawire, --chat-reasoning ${mode}`, { skip, timeout: 90000 }, async (t) => {
      const n = (await mock.log()).length;
      const r = await runClient(client, proxy().base);
      assert.equal(r.code, 0, `${client} exits 0\n${r.err.slice(-3000)}\n${proxy().stderr().slice(-2000)}`);
      assert.ok(r.out.includes(FINAL), r.out);
      const entries = (await mock.log()).slice(n);
      t.diagnostic(`${client} ${mode}: upstream bytes per turn ${entries.map((e) => e.bytes).join(', ')}` +
        ` (${entries.map((e) => (e.previous_response_id ? 'delta' : 'full')).join(', ')})`);
      assert.equal(entries.length, 3, 'two tool turns and the answer');
      assert.ok(entries.every((e) => e.transport === 'ws' && !e.error), 'every turn over the WebSocket');
      entries.forEach((e, i) => {
        if (mode === 'carry' && i > 0) assert.equal(e.previous_response_id, entries[i - 1].response_id, `turn ${i + 1} is a delta`);
        else assert.equal(e.previous_response_id, null, `turn ${i + 1} goes in full`);
      });
    });
  }
}
