// The Grafana dashboard (issue 17): deploy/grafana/deltawire.json parses, has its savings, latency and
// socket panels, and every PromQL query in it names only series a running deltawire exports (read
// from its /metrics), so a renamed metric breaks this test rather than a dashboard in production.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startProxy, stopAll, httpJson } from './lib/harness.mjs';

after(stopAll);

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
