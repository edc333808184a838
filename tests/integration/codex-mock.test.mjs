// Codex CLI 0.169.0 (native binary) against deltawire-mock directly over
// WebSocket: a full tool loop chained with previous_response_id.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { CLIENTS_DIR, stopAll } from './lib/harness.mjs';
import { runCodex } from './lib/codex-spawn.mjs';

after(async () => { await stopAll(); });

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
