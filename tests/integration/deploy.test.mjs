// The deploy files pass the checks available here: systemd's own verifier and a YAML parse with
// the structure an operator relies on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { BUILD_DIR } from './lib/harness.mjs';

const DEPLOY = path.resolve(import.meta.dirname, '../../deploy');

const yaml = (file) => JSON.parse(execFileSync('/usr/bin/python3', ['-c',
  'import sys, json, yaml; print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))', file], { encoding: 'utf8' }));

test('the systemd unit verifies and is hardened', () => {
  const unit = fs.readFileSync(path.join(DEPLOY, 'deltawire.service'), 'utf8');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dw-unit-'));
  const file = path.join(tmp, 'deltawire.service');
  fs.writeFileSync(file, unit.replace('ExecStart=/usr/local/bin/deltawire', 'ExecStart=' + path.join(BUILD_DIR, 'proxy', 'deltawire')));
  const out = execFileSync('systemd-analyze', ['verify', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  assert.equal(out.trim(), '');
  for (const k of ['DynamicUser=yes', 'NoNewPrivileges=yes', 'ProtectSystem=strict', 'CapabilityBoundingSet=', 'KillSignal=SIGTERM'])
    assert.ok(unit.includes(k), k);
  fs.rmSync(tmp, { recursive: true });
});

test('the Kubernetes sidecar example wires env, probes and resources', () => {
  const [dep] = yaml(path.join(DEPLOY, 'kubernetes', 'sidecar.yaml'));
  const containers = dep.spec.template.spec.containers;
  const dw = containers.find((c) => c.name === 'deltawire');
  const agent = containers.find((c) => c.name === 'agent');
  assert.equal(agent.env.find((e) => e.name === 'OPENAI_BASE_URL').value, 'http://127.0.0.1:8787/v1');
  assert.equal(dw.readinessProbe.httpGet.path, '/readyz');
  assert.equal(dw.livenessProbe.httpGet.path, '/healthz');
  assert.ok(dw.resources.limits.memory);
  assert.ok(dw.env.every((e) => e.name.startsWith('DELTAWIRE_')));
  assert.equal(dw.securityContext.runAsNonRoot, true);
});

test('the shared-deployment example hashes conversations onto replicas', () => {
  const [cfg] = yaml(path.join(DEPLOY, 'envoy', 'shared.yaml'));
  const cluster = cfg.static_resources.clusters[0];
  assert.equal(cluster.lb_policy, 'RING_HASH');
  assert.equal(cluster.health_checks[0].http_health_check.path, '/readyz');
  const route = cfg.static_resources.listeners[0].filter_chains[0].filters[0].typed_config
    .route_config.virtual_hosts[0].routes[0].route;
  assert.ok(route.hash_policy.length >= 1);
});

test('the container build file is Debian 12, apt only, non-root', () => {
  const c = fs.readFileSync(path.join(DEPLOY, 'Containerfile'), 'utf8');
  assert.match(c, /^FROM debian:12/m);
  assert.match(c, /apt-get install/);
  assert.match(c, /^USER 10001$/m);
  assert.doesNotMatch(c, /curl .*\| *sh|wget /);
});
