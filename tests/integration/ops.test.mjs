// Operability (issue 8): metrics that agree with what reached the upstream, health, stats, the
// exit summary, and a drain on SIGTERM that lets a streaming response finish.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { startMock, startProxy, stopAll, httpJson, BUILD_DIR } from './lib/harness.mjs';
import { runToolLoop } from './lib/loop.mjs';

let mock;
before(async () => { mock = await startMock(); });
after(stopAll);

function metric(text, name, labels = '') {
  const line = text.split('\n').find((l) => l.startsWith(name + labels + ' '));
  assert.ok(line, `${name}${labels} is exported`);
  return Number(line.split(' ').at(-1));
}

test('/metrics counters agree with the mock log', async () => {
  const proxy = await startProxy({ upstream: mock.base });
  await mock.reset();
  const run = await runToolLoop(proxy.base, { stream: true });
  const ws = (await mock.log()).filter((e) => e.transport === 'ws');
  const text = await (await fetch(proxy.url + '/metrics')).text();
  assert.equal(metric(text, 'deltawire_requests_total', '{outcome="delta"}'), ws.filter((e) => e.previous_response_id).length);
  assert.equal(metric(text, 'deltawire_requests_total', '{outcome="full"}'), ws.filter((e) => !e.previous_response_id).length);
  assert.equal(metric(text, 'deltawire_upstream_bytes_total'), ws.reduce((s, e) => s + e.bytes, 0));
  const clientBytes = run.turns.reduce((s, t) => s + Buffer.byteLength(JSON.stringify(t.request)), 0);
  assert.equal(metric(text, 'deltawire_client_bytes_total'), clientBytes);
  assert.equal(metric(text, 'deltawire_items_total'), run.turns.reduce((s, t) => s + t.request.input.length, 0));
  const elided = ws.reduce((s, e, i) => s + (run.turns[i].request.input.length - e.items), 0);
  assert.equal(metric(text, 'deltawire_items_elided_total'), elided);
  assert.equal(metric(text, 'deltawire_upstream_connects_total'), new Set(ws.map((e) => e.conn)).size);
  assert.equal(metric(text, 'deltawire_upstream_connections', '{state="open"}'), 1);
  assert.equal(metric(text, 'deltawire_ttfb_seconds_count'), run.turns.length);
  assert.equal(metric(text, 'deltawire_added_latency_seconds_count'), run.turns.length);
  assert.match(text, /deltawire_build_info\{version="[^"]+"\} 1/);

  const stats = (await httpJson('GET', proxy.url + '/stats')).json;
  assert.equal(stats.requests, run.turns.length);
  assert.equal(stats.bytes_from_clients, clientBytes);
  assert.ok(stats.saved_percent > 0);
  // one JSON log line per request, without content or credentials
  const lines = proxy.stderr().split('\n').filter((l) => l.startsWith('{'));
  const reqs = lines.map((l) => JSON.parse(l)).filter((l) => l.event === 'request');
  assert.equal(reqs.length, run.turns.length);
  assert.deepEqual(reqs.map((r) => r.outcome), ws.map((e) => (e.previous_response_id ? 'delta' : 'full')));
  assert.doesNotMatch(proxy.stderr(), /sk-test-loop|echo hello/);
  await proxy.stop();
});

test('/healthz and /readyz', async () => {
  const proxy = await startProxy({ upstream: mock.base });
  assert.equal((await fetch(proxy.url + '/healthz')).status, 200);
  assert.equal((await fetch(proxy.url + '/readyz')).status, 200);
  await proxy.stop();
  // an upstream nobody listens on: not ready once a connect failed
  const dead = await startProxy({ upstream: 'http://127.0.0.1:9/v1', args: ['--transport', 'ws'] });
  const r = await httpJson('POST', dead.base + '/responses', { model: 'gpt-5.5', input: 'hi' }, { authorization: 'Bearer k' });
  assert.equal(r.status, 502);
  assert.equal(typeof r.json.error.message, 'string');
  assert.equal((await fetch(dead.url + '/readyz')).status, 503);
  // three handshakes, with pauses between them, before the honest error; nothing was recovered
  const text = await (await fetch(dead.url + '/metrics')).text();
  assert.equal(metric(text, 'deltawire_upstream_handshake_failures_total', '{reason="network"}'), 3);
  assert.equal(metric(text, 'deltawire_recoveries_total', '{reason="handshake_retry"}'), 0);
  assert.equal((await fetch(dead.url + '/healthz')).status, 200);
  await dead.stop();
});

test('SIGTERM during a streaming response: the response completes, the process exits 0 with a summary', async () => {
  const proxy = await startProxy({ upstream: mock.base });
  await mock.reset();
  await mock.fault({ slow_ms: 40, count: 1 });
  const res = await fetch(proxy.base + '/responses', { method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-term' },
    body: JSON.stringify({ model: 'gpt-5.5', input: 'slow one, no tools', stream: true }) });
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let text = decoder.decode((await reader.read()).value);
  const exited = new Promise((resolve) => proxy.child.once('exit', (code, sig) => resolve({ code, sig })));
  proxy.child.kill('SIGTERM');
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value);
  }
  assert.match(text, /event: response.completed/);
  const { code } = await exited;
  assert.equal(code, 0);
  assert.match(proxy.stderr(), /deltawire: 1 requests, .* from clients, .* upstream, \d+% less/);
});

test('flags are mirrored by DELTAWIRE_* variables, and flags win', async () => {
  const viaEnv = await startProxy({ upstream: mock.base, env: { DELTAWIRE_MAX_BODY: '2000' } });
  const big = JSON.stringify({ model: 'gpt-5.5', input: 'x'.repeat(3000) });
  const post = (p) => fetch(p.base + '/responses', { method: 'POST', body: big, headers: { 'content-type': 'application/json' } });
  assert.equal((await post(viaEnv)).status, 413);
  await viaEnv.stop();
  const flagWins = await startProxy({ upstream: mock.base, env: { DELTAWIRE_MAX_BODY: '2000' }, args: ['--max-body', '100000'] });
  assert.equal((await post(flagWins)).status, 200);
  await flagWins.stop();
  const bin = path.join(BUILD_DIR, 'proxy', 'deltawire');
  assert.match(execFileSync(bin, ['--help'], { encoding: 'utf8' }), /--max-conns-per-key/);
  assert.match(execFileSync(bin, ['--version'], { encoding: 'utf8' }), /^deltawire \d+\.\d+\.\d+/);
  assert.throws(() => execFileSync(bin, ['--transport', 'carrier-pigeon'], { stdio: 'pipe' }),
    (e) => e.status === 2 && /invalid value for --transport/.test(String(e.stderr)));
});
