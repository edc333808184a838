// The Grafana dashboard (issue 17): deploy/grafana/deltawire.json parses, has its savings, latency and
// socket panels, and every PromQL query in it names only series a running deltawire exports (read
// from its /metrics), so a renamed metric breaks this test rather than a dashboard in production.
// Then Debian's Prometheus scrapes two replicas: every query evaluates, and the fleet sums and the
// per-replica split agree with each replica's /stats.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startMock, startProxy, stopAll, track, httpJson, waitFor } from './lib/harness.mjs';
import { runToolLoop } from './lib/loop.mjs';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dw-prometheus-'));
after(async () => {
  await stopAll();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const DASHBOARD = path.resolve(import.meta.dirname, '../../deploy/grafana/deltawire.json');

const PROMQL_WORDS = new Set(['sum', 'rate', 'irate', 'increase', 'histogram_quantile', 'count', 'avg', 'max', 'min',
  'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset',
  'label_values', 'clamp_min', 'topk']);

// The series names a PromQL expression reads: identifiers left once strings, label matchers, range
// selectors and grouping clauses are gone, minus functions and keywords.
function metricNames(expr) {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '$1')
    .replace(/\$\w+/g, '');
  const names = new Set();
  for (const m of bare.matchAll(/([A-Za-z_:][A-Za-z0-9_:]*)\s*(\()?/g)) {
    if (m[2] || PROMQL_WORDS.has(m[1])) continue;
    names.add(m[1]);
  }
  return [...names];
}

test('the PromQL name extraction sees through functions, matchers and grouping', () => {
  assert.deepEqual(metricNames('sum by (replica) (rate(a_total{instance=~"$instance"}[$__rate_interval]) * on (instance, job) group_left (replica) b_info)'),
    ['a_total', 'b_info']);
  assert.deepEqual(metricNames('histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m])))'), ['x_bucket']);
  assert.deepEqual(metricNames('label_values(deltawire_instance_info, instance)'), ['deltawire_instance_info', 'instance']);
});

test('every dashboard query names only metrics deltawire exports', async () => {
  const dash = JSON.parse(fs.readFileSync(DASHBOARD, 'utf8'));
  // the upstream need not answer for /metrics to list every series
  const proxy = await startProxy({ upstream: 'http://127.0.0.1:9/v1' });
  const text = (await httpJson('GET', `${proxy.url}/metrics`)).text;
  const exported = new Set(text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => /^[A-Za-z_:][A-Za-z0-9_:]*/.exec(l)[0]));
  assert.ok(exported.has('deltawire_instance_info') && exported.has('deltawire_ttfb_seconds_bucket'));

  const panels = dash.panels.filter((p) => p.type !== 'row');
  const titles = panels.map((p) => p.title).join(' | ');
  for (const want of [/bytes saved/i, /latency/i, /first byte/i, /WebSocket connections/i]) assert.match(titles, want);
  const used = new Set();
  for (const p of panels) {
    assert.ok(p.targets?.length > 0, `${p.title}: has queries`);
    for (const t of p.targets) {
      const names = metricNames(t.expr);
      assert.ok(names.length > 0, `${p.title}: ${t.expr} names a metric`);
      for (const n of names) {
        assert.ok(exported.has(n), `${p.title}: ${n} is not exported by deltawire`);
        used.add(n);
      }
    }
  }
  // the replica selector lists the fleet from the info metric (its "instance" is the scrape target's label)
  const selector = dash.templating.list.find((v) => v.name === 'instance');
  assert.deepEqual(metricNames(selector.definition).filter((n) => n !== 'instance'), ['deltawire_instance_info']);
  for (const n of ['deltawire_saved_bytes_total', 'deltawire_added_latency_seconds_bucket', 'deltawire_upstream_connections'])
    assert.ok(used.has(n), `the dashboard shows ${n}`);
  await proxy.stop();
});

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

test('in Prometheus, the dashboard queries evaluate and sum a fleet of two replicas', { timeout: 120000 }, async () => {
  const dash = JSON.parse(fs.readFileSync(DASHBOARD, 'utf8'));
  const mock = await startMock();
  const replicas = [];
  for (const name of ['dw-a', 'dw-b']) replicas.push(await startProxy({ upstream: mock.base, args: ['--instance', name] }));
  for (const [i, r] of replicas.entries()) {
    for (let k = 0; k <= i; k++) {
      const run = await runToolLoop(r.base, { headers: { authorization: `Bearer sk-fleet-${i}-${k}` } });
      assert.ok(run.turns.every((t) => t.status === 200));
    }
  }
  const stats = await Promise.all(replicas.map(async (r) => (await httpJson('GET', `${r.url}/stats`)).json));

  const port = await freePort();
  fs.writeFileSync(path.join(tmp, 'prometheus.yml'), [
    'global: {scrape_interval: 1s, evaluation_interval: 1s}',
    'scrape_configs:',
    '  - job_name: deltawire',
    `    static_configs: [{targets: [${replicas.map((r) => `'127.0.0.1:${r.port}'`).join(', ')}]}]`, ''].join('\n'));
  const prom = track(spawn('/usr/bin/prometheus', [`--config.file=${tmp}/prometheus.yml`, `--storage.tsdb.path=${tmp}/data`,
    `--web.listen-address=127.0.0.1:${port}`], { stdio: ['ignore', 'ignore', 'pipe'] }));
  let log = '';
  prom.stderr.on('data', (d) => { log += d; });
  const query = async (q) => {
    const r = await httpJson('GET', `http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(q)}`);
    assert.equal(r.json?.status, 'success', `${q}: ${r.text}`);
    return r.json.data.result;
  };
  const total = stats.reduce((a, s) => a + s.requests, 0);
  // two scrapes of each replica after the traffic, so that rate() has its two points
  await waitFor(async () => {
    try { return Number((await query('count(count_over_time(deltawire_requests_total{outcome="delta"}[1m]) >= 2)'))[0]?.value[1]) === 2; } catch { return false; }
  }, { timeoutMs: 30000, intervalMs: 250 }).catch(() => { throw new Error(`Prometheus did not scrape both replicas:\n${log}`); });

  for (const p of dash.panels.filter((x) => x.type !== 'row')) {
    for (const t of p.targets) {
      const result = await query(t.expr.replaceAll('$__rate_interval', '1m').replaceAll('$instance', '.*'));
      assert.ok(result.length > 0, `${p.title}: ${t.expr} returns series`);
    }
  }
  assert.equal(Number((await query('sum(deltawire_requests_total)'))[0].value[1]), total, 'the fleet sums');
  assert.equal(Number((await query('count(deltawire_instance_info)'))[0].value[1]), 2);
  const split = await query('sum by (replica) (deltawire_saved_bytes_total * on (instance, job) group_left (replica) deltawire_instance_info)');
  assert.deepEqual(Object.fromEntries(split.map((s) => [s.metric.replica, Number(s.value[1])])),
    Object.fromEntries(stats.map((s) => [s.instance, s.bytes_saved])), 'split by replica name');
});
