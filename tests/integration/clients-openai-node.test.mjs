// openai-node 7.57.0 (unmodified) end to end through deltawire to deltawire-mock in WebSocket
// mode: a tool loop (two tool turns, a final answer) and a follow-up "no tools" turn, with
// responses.create non-streaming and streaming, and responses.stream().finalResponse().
// Each scenario also runs once against the mock directly. See tests/clients/scenario.mjs.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { stopAll } from './lib/harness.mjs';
import { runScenario, checkScenario, skip } from '../clients/scenario.mjs';

after(stopAll);

const cases = [
  ['openai-node-nonstream', 'responses.create, non-streaming', false],
  ['openai-node-stream', 'responses.create({stream: true})', true],
  ['openai-node-stream-helper', 'responses.stream().finalResponse()', true],
];
for (const [name, what, streaming] of cases) {
  test(`openai-node ${what}: 4 turns, only the first in full`, { skip, timeout: 180000 }, async (t) => {
    const s = await runScenario(name);
    checkScenario(t, s, { finalCount: 2, fullTurns: [0], check: (_s, pt) => {
      assert.equal(pt.length, 4);
      for (const x of pt) assert.equal(x.body.stream === true, streaming);
      if (name === 'openai-node-stream-helper') {
        // the helper adds parsed_arguments / parsed to echoed items; they reach deltawire
        assert.ok(pt[1].input.some((i) => i.type === 'function_call' && 'parsed_arguments' in i));
      }
    } });
  });
}
