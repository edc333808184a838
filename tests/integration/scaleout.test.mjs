// Scale-out (issue 17): three deltawire replicas behind nginx and behind HAProxy, each started from
// the deploy/ configuration with only addresses and ports substituted. Concurrent multi-turn
// conversations with different hashing keys (session-id, Authorization, api-key) must stay on one
// replica each and go as deltas; when a replica dies between turns, its conversations go in full
// once on another replica and then as deltas again, with no client error, and the others do not move;
// nor does anything move again once the balancer has taken the dead replica out. When the replica
// comes back, its conversations return to it: one full send each, then deltas.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startMock, startProxy, stopAll, track, canonicalItems, httpJson, sse, waitFor } from './lib/harness.mjs';

const DEPLOY = path.resolve(import.meta.dirname, '../../deploy');
const NGINX = '/usr/sbin/nginx';
const HAPROXY = '/usr/sbin/haproxy';
const REPLICAS = 3;
const CONVERSATIONS = 12;
const TURNS_BEFORE = 4;
const TURNS_AFTER = 3;

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'dw-scaleout-'));
after(async () => {
  await stopAll();
  fs.rmSync(tmpRoot, { recursive: true, force: true });
});

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

// Replaces the template's three replica addresses with ours, exactly once each.
function substituteReplicas(text, re, ports) {
  let i = 0;
  const out = text.replace(re, (m, pre) => `${pre}127.0.0.1:${ports[i++]}`);
  assert.equal(i, ports.length, 'the template lists one server line per replica');
  return out;
}

// Spawns a balancer in the foreground and waits until it answers GET /readyz through to a replica.
async function startBalancer(name, bin, argv, port, dir) {
  const child = track(spawn(bin, argv, { stdio: ['ignore', 'pipe', 'pipe'] }));
  let err = '';
  child.stdout.on('data', (d) => { err += d; });
  child.stderr.on('data', (d) => { err += d; });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`${name} exited (${child.exitCode}): ${err}`);
      try { return (await httpJson('GET', `${url}/readyz`, null, {}, { timeoutMs: 2000 })).status === 200; } catch { return false; }
    }, { timeoutMs: 10000 });
  } catch (e) {
    throw new Error(`${name} did not come up: ${e.message}\n${err}\n${fs.existsSync(path.join(dir, 'error.log')) ? fs.readFileSync(path.join(dir, 'error.log'), 'utf8') : ''}`);
  }
  const stop = () => new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const t = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => { clearTimeout(t); resolve(); });
    child.kill('SIGTERM');
  });
  return { url, base: `${url}/v1`, stop, output: () => err };
}

async function startNginx(ports) {
  const dir = fs.mkdtempSync(path.join(tmpRoot, 'nginx-'));
  const port = await freePort();
  let site = fs.readFileSync(path.join(DEPLOY, 'nginx', 'deltawire.conf'), 'utf8');
  site = substituteReplicas(site, /^(\s*server )deltawire-\d\.deltawire:8787/gm, ports);
  site = site.replace(/^(\s*)listen 8080;/m, `$1listen 127.0.0.1:${port};`);
  fs.writeFileSync(path.join(dir, 'deltawire.conf'), site);
  // the main context a distribution's nginx.conf provides, with every path inside the temp dir
  fs.writeFileSync(path.join(dir, 'nginx.conf'), [
    // one process (no master and workers), so that killing the child leaves nothing behind
    'daemon off;', 'master_process off;', `pid ${dir}/nginx.pid;`, `error_log ${dir}/error.log warn;`,
    'events { worker_connections 256; }',
    'http {', '  access_log off;',
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${dir}/${t};`),
    `  include ${dir}/deltawire.conf;`, '}', ''].join('\n'));
  return startBalancer('nginx', NGINX, ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log')], port, dir);
}

async function startHaproxy(ports) {
  const dir = fs.mkdtempSync(path.join(tmpRoot, 'haproxy-'));
  const port = await freePort();
  let cfg = fs.readFileSync(path.join(DEPLOY, 'haproxy', 'haproxy.cfg'), 'utf8');
  cfg = substituteReplicas(cfg, /^(\s*server dw\d )deltawire-\d\.deltawire:8787/gm, ports);
  cfg = cfg.replace(/^(\s*)bind :8080$/m, `$1bind 127.0.0.1:${port}`);
  // a stats socket of the test's own, to see when the health check has taken a replica out
  const sock = path.join(dir, 'stats.sock');
  cfg = cfg.replace(/^global$/m, `global\n    stats socket ${sock} level user`);
  fs.writeFileSync(path.join(dir, 'haproxy.cfg'), cfg);
  const lb = await startBalancer('haproxy', HAPROXY, ['-db', '-f', path.join(dir, 'haproxy.cfg')], port, dir);
  // "show stat" CSV: the status column of the backend's server `name`
  lb.serverStatus = (name) => new Promise((resolve, reject) => {
    let out = '';
    const c = net.connect(sock, () => c.end('show stat\n'));
    c.on('data', (d) => { out += d; });
    c.on('error', reject);
    c.on('close', () => {
      const rows = out.split('\n').map((l) => l.split(','));
      const col = rows[0].indexOf('status');
      resolve(rows.find((r) => r[0] === 'deltawire' && r[1] === name)?.[col]);
    });
  });
  return lb;
}

// One agent session: a stateless client re-sending its whole history every turn; after a final
// answer it asks again, so the conversation goes on as long as the test wants.
class Conversation {
  constructor(name, headers, stream) {
    this.name = name;
    this.headers = headers;
    this.stream = stream;
    this.turns = [];
    this.input = [
      { role: 'developer', content: 'You are a test agent. Use run_shell when asked.' },
      { role: 'user', content: `${name}: run the shell command echo hello twice, then tell me what it printed.` },
    ];
  }

  async step(base) {
    const request = {
      model: 'gpt-5.5', instructions: 'Be brief.', store: false, stream: this.stream,
      tools: [{ type: 'function', name: 'run_shell', description: 'Run a shell command', strict: true,
        parameters: { type: 'object', properties: { cmd: { type: 'string' } }, required: ['cmd'], additionalProperties: false } }],
      input: structuredClone(this.input),
    };
    let status, response, headers, error = null;
    try {
      if (this.stream) {
        const r = await sse(base + '/responses', request, this.headers);
        status = r.status;
        headers = r.headers;
        error = r.error;
        const done = r.find((e) => e.event === 'response.completed');
        response = done ? done.data.response : null;
      } else {
        const r = await httpJson('POST', base + '/responses', request, this.headers);
        ({ status, headers } = r);
        response = r.json;
      }
    } catch (e) { error = e; }
    // nginx lists every address it tried; the last one answered
    const tried = headers ? String(headers['x-deltawire-replica'] || '').split(',') : [];
    const replica = (tried.at(-1) || '').trim();
    this.turns.push({ request, response, status, replica, retried: tried.length > 1, error });
    assert.ok(!error && status === 200 && response, `${this.name} turn ${this.turns.length}: ${status} ${error || ''}`);
    this.input.push(...response.output);
    const calls = response.output.filter((o) => o.type === 'function_call');
    for (const c of calls) this.input.push({ type: 'function_call_output', call_id: c.call_id, output: 'hello\n' });
    if (calls.length === 0) this.input.push({ role: 'user', content: `${this.name}: once more, echo hello twice.` });
  }
}

// Hashing keys as clients send them: Codex-like session ids sharing one credential, agents known
// only by their Authorization, one by api-key (Azure style).
function conversations() {
  const out = [];
  for (let i = 0; i < CONVERSATIONS; i++) {
    let headers;
    if (i < 6) headers = { authorization: 'Bearer sk-team', 'session-id': `0199-session-${i}` };
    else if (i < 11) headers = { authorization: `Bearer sk-agent-${i}` };
    else headers = { 'api-key': `azure-key-${i}` };
    out.push(new Conversation(`c${i}`, headers, i % 2 === 1));
  }
  return out;
}

const runTurns = (convs, base, n) => Promise.all(convs.map(async (c) => { for (let t = 0; t < n; t++) await c.step(base); }));

// Checks turns [from, to) of each conversation against the mock's log: the first of them in full
// when `fullAt` says so, every other as a delta chaining from the previous response, and the
// upstream's reconstructed input equal to what the client sent.
function checkUpstream(convs, log, { from, to, fullAt }) {
  const byResponse = new Map(log.filter((e) => e.transport === 'ws').map((e) => [e.response_id, e]));
  let full = 0, deltas = 0, fullBytes = 0, deltaBytes = 0;
  for (const c of convs) {
    for (let i = from; i < to; i++) {
      const turn = c.turns[i];
      const e = byResponse.get(turn.response.id);
      assert.ok(e, `${c.name} turn ${i + 1}: the mock logged the response ${turn.response.id}`);
      assert.equal(e.error, null);
      assert.deepEqual(canonicalItems(e.full_input), canonicalItems(turn.request.input),
        `${c.name} turn ${i + 1}: the upstream saw the client's input`);
      if (fullAt(c, i)) {
        assert.equal(e.previous_response_id, null, `${c.name} turn ${i + 1} goes in full`);
        assert.equal(e.items, turn.request.input.length);
        full++;
        fullBytes += e.bytes;
      } else {
        assert.equal(e.previous_response_id, c.turns[i - 1].response.id, `${c.name} turn ${i + 1} is a delta`);
        const prev = c.turns[i - 1];
        assert.equal(e.items, turn.request.input.length - prev.request.input.length - prev.response.output.length,
          `${c.name} turn ${i + 1} carries only the new items`);
        deltas++;
        deltaBytes += e.bytes;
      }
    }
  }
  return { full, deltas, fullBytes, deltaBytes };
}

const replicaOf = (c, from, to) => {
  const set = new Set(c.turns.slice(from, to).map((t) => t.replica));
  assert.equal(set.size, 1, `${c.name}: turns ${from + 1}..${to} on one replica, got ${[...set]}`);
  const [r] = set;
  assert.ok(r, `${c.name}: the balancer named the replica`);
  return r;
};

async function scrape(url) {
  const r = await httpJson('GET', url + '/metrics');
  assert.equal(r.status, 200);
  return r.text;
}

for (const balancer of ['nginx', 'haproxy']) {
  test(`${balancer}: conversations hash onto replicas, go as deltas, and survive a replica loss and its return`, { timeout: 180000 }, async (t) => {
    const mock = await startMock();
    const replicas = [];
    for (let i = 0; i < REPLICAS; i++) replicas.push(await startProxy({ upstream: mock.base, args: ['--instance', `dw${i}`] }));
    const ports = replicas.map((r) => r.port);
    for (let i = 0; i < REPLICAS; i++)
      assert.match(await scrape(replicas[i].url), new RegExp(`^deltawire_instance_info\\{replica="dw${i}",version="[^"]+"\\} 1$`, 'm'));
    const lb = balancer === 'nginx' ? await startNginx(ports) : await startHaproxy(ports);
    // nginx names the replica by address, HAProxy by server name (dwN, in the template's order)
    const indexOf = (name) => (balancer === 'nginx' ? ports.indexOf(Number(name.split(':').at(-1))) : Number(name.slice(2)));

    // the hashing key, probed with GET /readyz: session-id first, else Authorization, else api-key
    const replicasFor = async (headerSets) => {
      const seen = new Set();
      for (const h of headerSets) {
        const r = await httpJson('GET', `${lb.url}/readyz`, null, h);
        assert.equal(r.status, 200);
        seen.add(r.headers['x-deltawire-replica']);
      }
      return seen.size;
    };
    const n = [...Array(30).keys()];
    assert.ok(await replicasFor(n.map((i) => ({ authorization: 'Bearer k', 'session-id': `s${i}` }))) > 1, 'session ids spread');
    assert.equal(await replicasFor(n.map((i) => ({ authorization: `Bearer k${i}`, 'session-id': 's' }))), 1, 'one session id, one replica');
    assert.ok(await replicasFor(n.map((i) => ({ authorization: `Bearer k${i}` }))) > 1, 'credentials spread');
    assert.equal(await replicasFor(n.map((i) => ({ authorization: 'Bearer k', 'api-key': `a${i}` }))), 1, 'Authorization before api-key');
    assert.ok(await replicasFor(n.map((i) => ({ 'api-key': `a${i}` }))) > 1, 'api-keys spread');
    assert.equal(await replicasFor(n.map(() => ({ 'api-key': 'a' }))), 1, 'one api-key, one replica');

    const convs = conversations();
    await runTurns(convs, lb.base, TURNS_BEFORE);
    const before = checkUpstream(convs, await mock.log(), { from: 0, to: TURNS_BEFORE, fullAt: (c, i) => i === 0 });
    const home = new Map(convs.map((c) => [c, indexOf(replicaOf(c, 0, TURNS_BEFORE))]));
    const load = Array.from({ length: REPLICAS }, (_, i) => [...home.values()].filter((h) => h === i).length);
    assert.ok(load.filter((n) => n > 0).length > 1, `conversations spread over more than one replica: ${load}`);
    // every replica counted exactly the requests of its conversations, as deltas after the first
    for (let i = 0; i < REPLICAS; i++) {
      const m = await scrape(replicas[i].url);
      assert.match(m, new RegExp(`^deltawire_requests_total\\{outcome="delta"\\} ${load[i] * (TURNS_BEFORE - 1)}$`, 'm'));
    }

    // the replica holding the most conversations dies between two turns
    const victim = load.indexOf(Math.max(...load));
    replicas[victim].child.kill('SIGKILL');
    await new Promise((r) => (replicas[victim].child.exitCode !== null || replicas[victim].child.signalCode !== null ? r() : replicas[victim].child.once('exit', r)));

    await runTurns(convs, lb.base, TURNS_AFTER);
    const moved = convs.filter((c) => home.get(c) === victim);
    const end = TURNS_BEFORE + TURNS_AFTER;
    for (const c of convs) {
      const now = indexOf(replicaOf(c, TURNS_BEFORE, end));
      if (moved.includes(c)) assert.notEqual(now, victim, `${c.name} moved off the lost replica`);
      else assert.equal(now, home.get(c), `${c.name} stayed where it was (consistent hashing)`);
    }
    const afterLoss = checkUpstream(convs, await mock.log(), {
      from: TURNS_BEFORE, to: end, fullAt: (c, i) => i === TURNS_BEFORE && moved.includes(c),
    });
    assert.equal(afterLoss.full, moved.length, 'one full send per moved conversation');
    assert.equal(afterLoss.deltas, convs.length * TURNS_AFTER - moved.length);
    // once the balancer has taken the lost replica out (HAProxy: its health check says DOWN; nginx:
    // within fail_timeout, as before), the moved conversations stay where the retries put them
    if (balancer === 'haproxy') await waitFor(async () => (await lb.serverStatus(`dw${victim}`)) === 'DOWN', { timeoutMs: 15000, intervalMs: 100 });
    await runTurns(convs, lb.base, TURNS_AFTER);
    const last = end + TURNS_AFTER;
    for (const c of convs) replicaOf(c, TURNS_BEFORE, last); // did not move again
    const settled = checkUpstream(convs, await mock.log(), { from: end, to: last, fullAt: () => false });
    assert.equal(settled.deltas, convs.length * TURNS_AFTER);

    // the lost replica comes back (empty) at its address: once the balancer sends its keys to it
    // again (HAProxy: the check says UP; nginx: fail_timeout over, one request tried it), its
    // conversations return and go in full once more, then as deltas
    replicas[victim] = await startProxy({ upstream: mock.base, args: ['--instance', `dw${victim}`, '--listen', `127.0.0.1:${ports[victim]}`] });
    const probe = async () => {
      const r = await httpJson('GET', `${lb.url}/readyz`, null, moved[0].headers);
      return indexOf(String(r.headers['x-deltawire-replica'] || '').split(',').at(-1).trim()) === victim;
    };
    await waitFor(probe, { timeoutMs: 20000, intervalMs: 250 });
    await runTurns(convs, lb.base, TURNS_AFTER);
    const final = last + TURNS_AFTER;
    for (const c of convs) {
      const now = indexOf(replicaOf(c, last, final));
      assert.equal(now, home.get(c), `${c.name} is back on its first replica`);
    }
    const back = checkUpstream(convs, await mock.log(), { from: last, to: final, fullAt: (c, i) => i === last && moved.includes(c) });
    assert.equal(back.full, moved.length, 'one full send per returning conversation');
    t.diagnostic(`${balancer}: ${convs.length} conversations on replicas ${load.join('/')}; replica dw${victim} lost: ` +
      `${moved.length} conversations moved, ${afterLoss.full} full sends (${afterLoss.fullBytes} B upstream), then ` +
      `${afterLoss.deltas} deltas (${afterLoss.deltaBytes} B upstream); before the loss ${before.full} full, ` +
      `${before.deltas} deltas; once the balancer had taken dw${victim} out, ${settled.deltas} more deltas, nothing moved again; client errors: 0` +
      (balancer === 'nginx' ? `; requests nginx retried on the next replica: ${convs.flatMap((c) => c.turns).filter((t) => t.retried).length}` : '') +
      `; dw${victim} back: ${back.full} full sends (${back.fullBytes} B), then ${back.deltas} deltas (${back.deltaBytes} B)`);

    await lb.stop();
    for (const r of replicas) await r.stop();
    await mock.stop();
  });
}
