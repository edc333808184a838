// Shared part of tests/integration/clients-*.test.mjs: run one scenario (run-scenario.mjs)
// inside a loopback-only network namespace, and check it.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLIENTS_DIR, track, canonicalItems } from '../integration/lib/harness.mjs';
import { normalizeRun } from '../integration/lib/loop.mjs';
import { finalResponse } from './recorder.mjs';

const runner = path.join(path.dirname(fileURLToPath(import.meta.url)), 'run-scenario.mjs');

export const FINAL = 'Done: `echo hello` printed "hello" both times.';
export const skip = !CLIENTS_DIR &&
  'DW_CLIENTS_DIR is not set (run tests/clients/install.sh DIR and export DW_CLIENTS_DIR=DIR)';

let nsChecked = null;
// A new network and pid namespace: only loopback, and killing unshare kills everything inside.
// Its own /proc too: LeakSanitizer (ASan builds) reads /proc/PID/task and fails with the host /proc.
export function netnsWorks() {
  if (process.env.DW_CLIENTS_NO_NETNS) return false; // debugging: run on the host loopback
  if (nsChecked === null) {
    const r = spawnSync('unshare', ['-n', '-p', '-f', '--mount-proc', '--kill-child', 'sh', '-c', 'ip link set lo up'], { timeout: 5000 });
    nsChecked = r.status === 0;
  }
  return nsChecked;
}

export function runScenario(scenario, { timeoutMs = 300000 } = {}) {
  const isolated = netnsWorks();
  const cmd = isolated
    ? ['unshare', ['-n', '-p', '-f', '--mount-proc', '--kill-child', 'sh', '-c', 'ip link set lo up && exec "$0" "$1"', process.execPath, runner]]
    : [process.execPath, [runner]];
  if (!isolated) {
    process.stderr.write(`${scenario}: unshare -n unavailable; running on the host loopback ` +
      '(proxy variables removed, NO_PROXY=*, Codex update check and analytics off)\n');
  }
  // outside a namespace the runner gets its own process group, so a timeout can kill it all
  const child = track(spawn(cmd[0], cmd[1], { env: { ...process.env, SCENARIO: scenario }, stdio: ['ignore', 'pipe', 'pipe'], detached: !isolated }));
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  const timer = setTimeout(() => {
    try { if (isolated) child.kill('SIGKILL'); else process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
  }, timeoutMs);
  return new Promise((resolve, reject) => {
    child.once('exit', (code, sig) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`${scenario} runner exited ${code ?? sig}:\n${err}`));
      try {
        const s = JSON.parse(out);
        s.isolated = isolated;
        // in the namespace the clients (and mock and proxy) see nothing but loopback
        if (isolated) assert.deepEqual(s.netIfs, ['lo'], 'the scenario ran with loopback only');
        resolve(s);
      } catch (e) { reject(new Error(`bad runner output: ${e}\n${out.slice(0, 2000)}\n${err}`)); }
    });
  });
}

// ---------------------------------------------------------------- normalising

const ID_RES = [
  /\b(?:resp|rs|msg|fc|ctc|ctco|fco|at)_[0-9a-f]{8}[0-9a-f-]*/g,
  /\bcall_[A-Za-z0-9]{16}\b/g,
  /\bgAAAAAB[0-9a-f]+/g,
  /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/g,
];
// The mock counts input tokens from the bytes of the input it reconstructed (mock/turn.c), and a
// client's echo of an item is not byte-identical to the item the mock stored (Codex adds
// "content":null to reasoning, SDKs reorder keys), so token counts differ by a few between
// direct and proxied runs; they are not the client's doing, so they are masked.
const NUM_RE = /"((?:input|output|total|cached|cached_input|reasoning|reasoning_output|cache_write_input)_tokens|inputTokens|outputTokens|totalTokens|reasoningTokens|cachedInputTokens|noCacheTokens|cacheReadTokens|cacheWriteTokens|textTokens|created_at|completed_at|timestamp|[a-z_]*ms)":\s*\d+(\.\d+)?/g;

// Replaces ids by placeholders numbered in order of first appearance (so the same id twice
// stays the same placeholder), and masks token counts and times.
export function normalizeText(text) {
  const seen = new Map();
  let s = text;
  for (const re of ID_RES) {
    s = s.replace(re, (m) => {
      if (!seen.has(m)) seen.set(m, `<id${seen.size}>`);
      return seen.get(m);
    });
  }
  s = s.replace(/"(?:created_at|completed_at)":\s*"[^"]*"/g, '"<time>"');
  s = s.replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, '<time>');
  return s.replace(NUM_RE, '"$1":0');
}

const maskUsage = (v) => {
  const r = normalizeRun(v);
  if (r && typeof r === 'object' && r.usage) r.usage = '<usage>';
  if (r && typeof r.prompt_cache_key === 'string') r.prompt_cache_key = '<thread id>'; // Codex: a fresh UUIDv7
  return r;
};

// ---------------------------------------------------------------- checks

const posts = (p) => p.requests.filter((r) => r.method === 'POST' && /\/responses$/.test(r.url.split('?')[0]));

export function explain(s, phase = 'proxy') {
  const p = s[phase];
  const runs = p.runs.map((r) => `--- ${r.name}: rc=${r.rc} (${r.ms} ms)\nstderr: ${r.stderr.slice(-3000)}\nstdout: ${r.stdout.slice(-3000)}`).join('\n');
  const log = p.log.map((e) => ({ seq: e.seq, t: e.transport, conn: e.conn, bytes: e.bytes, items: e.items, prev: e.previous_response_id, resp: e.response_id, err: e.error, gen: e.generate }));
  const reqs = posts(p).map((r) => ({ bytes: r.bytes, status: r.status, n: JSON.parse(r.body).input?.length, resp: r.status !== 200 ? r.respBody.slice(0, 500) : undefined }));
  return `[${s.scenario} ${phase}]\n${runs}\n--- client requests: ${JSON.stringify(reqs)}\n--- upgrades: ${JSON.stringify(p.upgrades.map((u) => [u.url, u.status]))}` +
    `\n--- mock log: ${JSON.stringify(log)}\n--- proxy stderr:\n${(p.proxyStderr || '').slice(-4000)}`;
}

// The client's own input with item_references replaced by the items they name (from the
// responses the client received earlier in the same phase): the mock logs full_input that way.
function resolveRefs(input, byId) {
  if (typeof input === 'string') return [{ type: 'message', role: 'user', content: input }];
  return input.map((it) => (it && it.type === 'item_reference' && byId.has(it.id) ? byId.get(it.id) : it));
}

// Analyse one phase: per client request its input (refs resolved), the response output, and
// the mock log entry it produced.
function turns(p) {
  const reqs = posts(p);
  const byId = new Map();
  return reqs.map((r) => {
    const body = JSON.parse(r.body);
    const input = resolveRefs(body.input, byId);
    const resp = finalResponse(r);
    for (const it of resp?.output || []) if (it.id) byId.set(it.id, it);
    return { rec: r, body, input, resp, refs: (Array.isArray(body.input) ? body.input : []).filter((i) => i.type === 'item_reference').length };
  });
}

// opts.fullTurns: indexes (0-based) of client requests that are expected to go upstream in full.
export function checkScenario(t, s, { finalCount, fullTurns = [0], check } = {}) {
  const P = s.proxy;
  const D = s.direct;
  // 1. the client exits 0 with the scripted final answer, through deltawire and directly
  for (const [name, ph] of [['direct', D], ['proxy', P]]) {
    assert.ok(ph.runs.length >= 1, explain(s, name));
    for (const r of ph.runs) assert.equal(r.rc, 0, `${name}: ${r.name} exits 0\n${explain(s, name)}`);
    const answers = ph.runs.map((r) => r.stdout).join('\n').split(FINAL.replace(/"/g, s.kind === 'codex' ? '\\"' : '"')).length - 1;
    assert.equal(answers, finalCount, `${name}: the final answer appears ${finalCount} times\n${explain(s, name)}`);
  }

  const pt = turns(P);
  const dt = turns(D);
  for (const x of pt) assert.equal(x.rec.status, 200, explain(s));
  // 2. one upstream WebSocket request per client request, none failed
  assert.equal(P.log.length, pt.length, `one upstream request per client request\n${explain(s)}`);
  for (const e of P.log) {
    assert.equal(e.transport, 'ws', `upstream request ${e.seq} went over the WebSocket\n${explain(s)}`);
    assert.equal(e.error, null, `upstream request ${e.seq} succeeded\n${explain(s)}`);
  }
  const deltas = [];
  for (let i = 0; i < pt.length; i++) {
    const e = P.log[i];
    const cur = pt[i];
    // 3. the mock's reconstructed input equals the client's own input, compared canonically
    assert.deepEqual(canonicalItems(e.full_input), canonicalItems(cur.input),
      `turn ${i + 1}: upstream reconstructed the client's input\n${explain(s)}`);
    if (fullTurns.includes(i)) {
      assert.equal(e.previous_response_id, null, `turn ${i + 1} goes in full\n${explain(s)}`);
      assert.equal(e.items, cur.input.length, `turn ${i + 1} carries the whole input`);
      continue;
    }
    // 4. a delta: chained on the previous response, only the items that are new
    const prev = pt[i - 1];
    const known = [...prev.input, ...(prev.resp?.output || [])];
    assert.deepEqual(canonicalItems(cur.input.slice(0, known.length)), canonicalItems(known),
      `turn ${i + 1}: the client re-sent the previous input and output as a prefix (precondition)`);
    assert.equal(e.previous_response_id, P.log[i - 1].response_id, `turn ${i + 1} chains on the previous response\n${explain(s)}`);
    assert.equal(e.items, cur.input.length - known.length, `turn ${i + 1} carries only the new items\n${explain(s)}`);
    assert.equal(e.conn, P.log[i - 1].conn, `turn ${i + 1} on the same upstream connection`);
    deltas.push(i + 1);
  }
  // 5. the client behaves as it does against the mock directly: same requests (by shape), same
  //    responses (ids and token counts aside), same output
  assert.equal(pt.length, dt.length, `as many requests as direct\n${explain(s)}\n${explain(s, 'direct')}`);
  for (let i = 0; i < pt.length; i++) {
    const shape = (x) => x.input.map((it) => it.type || (it.role ? `message:${it.role}` : '?'));
    assert.deepEqual(shape(pt[i]), shape(dt[i]), `turn ${i + 1}: same input item types as direct`);
    assert.equal(pt[i].refs, dt[i].refs, `turn ${i + 1}: as many item_references as direct`);
    assert.deepEqual(maskUsage(pt[i].resp), maskUsage(dt[i].resp), `turn ${i + 1}: the same response as direct`);
    const evs = (x) => (/event-stream/.test(x.rec.respHeaders['content-type'] || '')
      ? [...x.rec.respBody.matchAll(/^event: *(.+)$/gm)].map((m) => m[1]) : 'json');
    assert.deepEqual(evs(pt[i]), evs(dt[i]), `turn ${i + 1}: the same SSE events as direct`);
  }
  assert.equal(P.runs.length, D.runs.length);
  for (let i = 0; i < P.runs.length; i++) {
    assert.equal(normalizeText(P.runs[i].stdout), normalizeText(D.runs[i].stdout),
      `${P.runs[i].name}: the same stdout as direct (ids normalised)`);
  }
  if (check) check(s, pt, dt);

  // 6. bytes
  const clientBytes = pt.reduce((a, x) => a + x.rec.bytes, 0);
  const upstreamBytes = P.log.filter((e) => e.transport === 'ws').reduce((a, e) => a + e.bytes, 0);
  if (P.stats) {
    assert.equal(P.stats.bytes_from_clients, clientBytes, 'deltawire /stats counts the bytes the client sent');
    assert.equal(P.stats.bytes_to_upstream, upstreamBytes, 'deltawire /stats counts the bytes the mock received');
  }
  // bytes on the wire after permessage-deflate: deltawire's count, which is the mock's
  let wireBytes = null;
  if (P.stats) {
    wireBytes = P.stats.wire_to_upstream;
    const ws = P.handshakes.filter((h) => h.status === 101);
    assert.equal(wireBytes, ws.reduce((a, h) => a + h.rx_wire_bytes, 0), 'deltawire /stats counts the wire bytes the mock received');
    assert.ok(ws.every((h) => h.permessage_deflate), 'permessage-deflate negotiated on every upstream socket');
  }
  const line = `${s.scenario}: client bytes sent ${clientBytes}, upstream bytes sent ${upstreamBytes}, ` +
    `ratio ${(upstreamBytes / clientBytes).toFixed(3)}` +
    (wireBytes === null ? '' : `, on the wire ${wireBytes}, wire ratio ${(wireBytes / clientBytes).toFixed(3)}`);
  process.stdout.write(line + '\n');
  t.diagnostic(`${s.scenario}: ${pt.length} requests; full: ${fullTurns.map((i) => i + 1).join(',')}; deltas: ${deltas.join(',')}; ` +
    `per-request client/upstream bytes: ${pt.map((x, i) => `${x.rec.bytes}/${P.log[i].bytes}`).join(' ')}`);
  // deltawire drains and exits 0 on SIGTERM after a real client session (the client's idle
  // keep-alive connection is still open then)
  if (P.proxyExit) assert.deepEqual(P.proxyExit, { code: 0, signal: null }, `deltawire exit on SIGTERM\n${(P.proxyStderr || '').slice(-2000)}`);
  return { pt, dt, clientBytes, upstreamBytes, wireBytes };
}
