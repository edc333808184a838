// Codex CLI 0.169.0 (unmodified native binary, `codex exec`) end to end through deltawire to
// deltawire-mock in WebSocket mode: a tool loop that really runs `echo hello`, then
// `resume --last` in a new process. Each scenario also runs once against the mock directly.
// See tests/clients/scenario.mjs for what is checked.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { stopAll } from './lib/harness.mjs';
import { runScenario, checkScenario, skip } from '../clients/scenario.mjs';

after(stopAll);

// Turn 1 is the only full upstream request. The resume turn (request 4) comes from a new
// process on a new client connection, but deltawire keys conversations by content, so it is
// still a delta on the same upstream connection.
const opts = { finalCount: 2, fullTurns: [0] };

// Codex really ran `echo hello` twice (in the scratch work dir) in both phases.
function ranTwice(sc) {
  for (const ph of [sc.direct, sc.proxy]) {
    assert.equal((ph.runs[0].stdout.match(/"type":"command_execution"[^\n]*"aggregated_output":"hello\\n","exit_code":0/g) || []).length, 2);
  }
}

test('codex exec -m gpt-5.5 (HTTP provider), then resume --last', { skip, timeout: 300000 }, async (t) => {
  const s = await runScenario('codex-gpt-5.5');
  checkScenario(t, s, { ...opts, check: (sc, pt) => {
    ranTwice(sc);
    assert.equal(pt.length, 4, '3 tool-loop turns + 1 resume turn');
    assert.ok(pt[0].body.tools.some((x) => x.name === 'exec_command'));
    assert.equal(pt[1].input.at(-1).type, 'function_call_output');
  } });
});

test('codex exec, default model ("responses-lite": additional_tools, custom_tool_call), then resume --last',
  { skip, timeout: 300000 }, async (t) => {
    const s = await runScenario('codex-default-model');
    checkScenario(t, s, { ...opts, check: (sc, pt) => {
      ranTwice(sc);
      assert.equal(pt.length, 4, '3 tool-loop turns + 1 resume turn');
      assert.equal(pt[0].body.tools, undefined, 'no top-level tools');
      assert.equal(pt[0].input[0].type, 'additional_tools');
      assert.equal(pt[0].rec.headers['x-openai-internal-codex-responses-lite'], 'true');
      assert.equal(pt[1].input.at(-1).type, 'custom_tool_call_output');
      assert.equal(pt[2].input.filter((i) => i.type === 'custom_tool_call').length, 2);
    } });
  });

test('codex exec -m gpt-5.5 with supports_websockets = true: 426 from deltawire, falls back to HTTP',
  { skip, timeout: 300000 }, async (t) => {
    const s = await runScenario('codex-gpt-5.5-ws-426');
    checkScenario(t, s, { ...opts, check: (sc) => {
      ranTwice(sc);
      const ups = sc.proxy.upgrades;
      assert.ok(ups.length >= 1, 'Codex tried the WebSocket upgrade');
      for (const u of ups) assert.equal(u.status, 426, 'deltawire answers the client upgrade with 426');
      assert.equal(ups.length, 2, 'one attempt per Codex process (the run and the resume), no retries');
      assert.ok(sc.proxy.handshakes.length >= 1 && sc.proxy.handshakes.every((h) => h.status === 101),
        'only deltawire itself opened WebSockets to the mock');
      assert.ok(sc.proxy.handshakes.every((h) => !/codex/.test(h.headers['user-agent'] || '')),
        'the client handshake was not passed upstream');
      assert.equal(sc.direct.upgrades.length, ups.length, 'as many upgrade attempts as against an upstream that answers 426');
    } });
  });
