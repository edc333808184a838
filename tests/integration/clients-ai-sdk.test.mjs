// Vercel AI SDK (ai 6.0.326 + @ai-sdk/openai 3.0.141, unmodified) end to end through deltawire
// to deltawire-mock in WebSocket mode: generateText / streamText with a tool and
// stopWhen(stepCountIs(6)), then a follow-up call with the whole conversation. With `store`
// left at its default the SDK echoes reasoning and assistant messages as item_references.
// Each scenario also runs once against the mock directly. See tests/clients/scenario.mjs.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { stopAll } from './lib/harness.mjs';
import { runScenario, checkScenario, skip } from '../clients/scenario.mjs';

after(stopAll);

for (const mode of ['generateText', 'streamText']) {
  for (const store of ['default', 'false']) {
    const name = `ai-sdk-${mode}-store-${store}`;
    test(`AI SDK ${mode}, store ${store}: 4 requests, only the first in full`, { skip, timeout: 180000 }, async (t) => {
      const s = await runScenario(name);
      checkScenario(t, s, { finalCount: 2, fullTurns: [0], check: (_s, pt) => {
        assert.equal(pt.length, 4);
        const refs = pt.reduce((a, x) => a + x.refs, 0);
        if (store === 'default') assert.ok(refs > 0, 'the SDK sent item_references');
        else assert.equal(refs, 0);
        for (const x of pt) assert.equal(x.body.store, store === 'false' ? false : undefined);
      } });
    });
  }
}
