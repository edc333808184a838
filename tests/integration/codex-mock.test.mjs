// Codex CLI 0.169.0 (native binary) against deltawire-mock directly over
// WebSocket: a full tool loop chained with previous_response_id.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLIENTS_DIR, track, stopAll } from './lib/harness.mjs';

const runner = path.join(path.dirname(fileURLToPath(import.meta.url)), 'lib', 'codex-run.mjs');
after(async () => { await stopAll(); });

// A new network and pid namespace: loopback only, and killing unshare kills all inside.
function netnsWorks() {
  const r = spawnSync('unshare', ['-n', '-p', '-f', '--kill-child', 'sh', '-c', 'ip link set lo up'], { timeout: 5000 });
  return r.status === 0;
}

function runCodex(env) {
  const isolated = netnsWorks();
  const cmd = isolated
    ? ['unshare', ['-n', '-p', '-f', '--kill-child', 'sh', '-c', 'ip link set lo up && exec "$0" "$1"', process.execPath, runner]]
    : [process.execPath, [runner]];
  if (!isolated) process.stderr.write('codex-mock: unshare -n unavailable; running on the host loopback\n');
  const child = track(spawn(cmd[0], cmd[1], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`codex runner exited ${code}:\n${err}`));
      try { resolve(JSON.parse(out)); } catch (e) { reject(new Error(`bad runner output: ${e}\n${out.slice(0, 2000)}\n${err}`)); }
    });
  });
}

function explain(s) {
  return `codex rc=${s.rc}\n--- codex stderr ---\n${s.stderr.slice(-4000)}\n--- codex stdout ---\n${s.stdout.slice(-4000)}\n` +
    `--- mock log (summary) ---\n${JSON.stringify(s.log.map((e) => ({ seq: e.seq, t: e.transport, items: e.items, prev: e.previous_response_id, gen: e.generate, err: e.error })))}`;
}

function checkChain(s, callType) {
  assert.equal(s.rc, 0, explain(s));
  assert.match(s.stdout, /printed \\"hello\\" both times/, explain(s));
  assert.ok(s.handshakes.some((h) => h.status === 101), 'Codex upgraded to WebSocket');
  const ws = s.log.filter((e) => e.transport === 'ws');
  assert.equal(ws.length, s.log.length, 'no HTTP fallback');
  assert.ok(ws.every((e) => !e.error), explain(s));
  assert.equal(ws[0].generate, false, 'Codex prewarms with generate:false');
  assert.ok(ws.length >= 4, explain(s));
  for (let i = 1; i < ws.length; i++) {
    // every later turn continues from the response just before it, sending only new items
    assert.equal(ws[i].previous_response_id, ws[i - 1].response_id, explain(s));
    assert.equal(ws[i].conn, ws[0].conn);
    const prevFull = ws[i - 1].full_input.length;
    assert.ok(ws[i].full_input.length > prevFull);
    if (i >= 2) {
      assert.equal(ws[i].items, 1, `turn ${i} sends only the tool output`);
      assert.equal(ws[i].full_input.at(-1).type, callType);
    }
  }
  const last = ws.at(-1).full_input;
  assert.equal(last.filter((it) => it.type === callType).length, 2, 'both tool results are in the chain');
}

const skip = !CLIENTS_DIR && 'DW_CLIENTS_DIR is not set (run tests/clients/install.sh DIR and export DW_CLIENTS_DIR=DIR)';

test('codex exec -m gpt-5.5 over WebSocket: exec_command loop chained by previous_response_id', { skip, timeout: 240000 }, async () => {
  const s = await runCodex({ CODEX_MODEL: 'gpt-5.5' });
  checkChain(s, 'function_call_output');
});

test('codex exec, default model ("responses-lite"): custom exec tool over WebSocket', { skip, timeout: 240000 }, async () => {
  const s = await runCodex({});
  checkChain(s, 'custom_tool_call_output');
});
