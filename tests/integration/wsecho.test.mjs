// bench/wsecho, the benchmark's upstream, behind deltawire with its default --upstream-deflate on:
// a request whose compressed message is larger than lws's deflate buffer (64 KiB) reaches wsecho
// as several frames (a text frame without FIN, then continuations), and must still be answered.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { BUILD_DIR, track, startProxy, stopAll, httpJson, waitFor } from './lib/harness.mjs';

after(stopAll);

// Words from a fixed pseudo-random sequence: compresses about as prose does, not to nothing.
function prose(bytes) {
  let x = 2463534242, s = '';
  while (s.length < bytes) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    s += `w${x % 100003} `;
  }
  return s;
}

test('wsecho answers a compressed request that came in several frames', { timeout: 60000 }, async () => {
  const child = track(spawn(path.join(BUILD_DIR, 'bench', 'wsecho'), ['0'], { stdio: ['ignore', 'ignore', 'pipe'] }));
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  await waitFor(() => /listening on 127\.0\.0\.1:\d+/.test(err), { timeoutMs: 5000 });
  const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(err)[1]);
  // an unanswered request fails after a few short silences (one per attempt)
  const proxy = await startProxy({ upstream: `http://127.0.0.1:${port}/v1`, args: ['--first-event-timeout', '2'] });
  try {
    for (const bytes of [1000, 400000, 400000]) { // small, then large twice (the context kept across messages)
      const r = await httpJson('POST', proxy.base + '/responses',
        { model: 'm', store: false, input: [{ role: 'user', content: prose(bytes) }] },
        { authorization: 'Bearer sk-wsecho' }, { timeoutMs: 20000 });
      assert.equal(r.status, 200, `${bytes} bytes: ${r.text}`);
      assert.equal(r.json.status, 'completed');
    }
    const lines = proxy.stderr().split('\n').filter((l) => l.includes('"event":"request"')).map((l) => JSON.parse(l));
    assert.ok(lines.every((l) => l.wire_up < l.bytes_up), 'the requests went compressed');
  } finally {
    await proxy.stop();
  }
});
