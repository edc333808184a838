// `deltawire demo`: the first run for someone without an API key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { BUILD_DIR } from './lib/harness.mjs';

test('deltawire demo runs a session through the proxy and prints the per-turn bytes table', () => {
  const out = execFileSync(path.join(BUILD_DIR, 'proxy', 'deltawire'), ['demo'], { encoding: 'utf8', timeout: 60000 });
  const rows = out.split('\n').filter((l) => /^\s+\d+\s/.test(l));
  assert.ok(rows.length >= 3, out);
  assert.match(rows[0], /full/);
  for (const r of rows.slice(1)) assert.match(r, /delta \(1 items\)/);
  const total = out.split('\n').find((l) => l.startsWith('total'));
  const saved = Number(/([\d.]+)%\s*$/.exec(total)[1]);
  assert.ok(saved > 80, total);
});
