// Liveness benchmarks (issue 14 items 4 and 6), against deltawire-mock on loopback.
//
//   DW_BUILD_DIR=build node bench/liveness.mjs isolation [SECONDS]
//     p50/p99 latency of small requests (4 clients, each on its own keep-alive connection) with no
//     large requests, then while 64 MiB bodies of tiny items arrive back to back on another
//     connection; and the proxy's peak RSS (VmHWM) for one 64 MiB body.
//   DW_BUILD_DIR=build node bench/liveness.mjs contention [TURNS] [THINK_MS]
//     delta ratio for 16, 24 and 32 concurrent conversations on one key, --max-conns-per-key 16; the
//     mock takes 20 ms to its first event, each client thinks uniformly 0..THINK_MS (default 20) ms.
//   DW_BUILD_DIR=build node bench/liveness.mjs lanes [TURNS] [THINK_MS]
//     stream_id lanes (issue 15): delta ratio for 32 and 64 concurrent conversations on one key with
//     --max-conns-per-key 4, and the sockets a burst of 1000 concurrent conversations opens
//     (--max-conns-per-key 1000: the pool's own packing, 16 responses per socket, is what bounds it).
//
// Node rather than bench/dwbench.c: these are comparisons between two runs of the same driver (the
// targets are ratios), so the driver's own jitter cancels to first order.
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { startMock, startProxy, stopAll } from '../tests/integration/lib/harness.mjs';

const mode = process.argv[2];
const arg = Number(process.argv[3] || 0);
const thinkMs = Number(process.argv[4] || 20); // contention: a client's think time, uniform in [0, thinkMs)

function post(agent, port, path, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
const vm = (pid, key) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024;
const mb = (b) => (b / (1 << 20)).toFixed(1) + ' MiB';

// A body of about `bytes` of tiny items (the shape: millions of items), or of `items`
// items padded to fill it (digested: at most --max-items).
function bigBody(bytes, items = 0) {
  const pad = items ? 'x'.repeat(Math.max(1, Math.floor(bytes / items) - 50)) : 'x';
  const item = `{"type":"message","role":"user","content":"${pad}"}`;
  const n = items || Math.floor(bytes / (item.length + 1)) - 1;
  return `{"model":"gpt-5.5","store":false,"input":[${Array(n).fill(item).join(',')}]}`;
}

// Peak RSS of a fresh proxy around one body.
async function peakRss(mock, what, big) {
  const proxy = await startProxy({ upstream: mock.base, args: ['--log-level', 'warn'] });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dw-liveness-'));
  const file = path.join(dir, 'big.json');
  fs.writeFileSync(file, big);
  try {
    const hwm0 = vm(proxy.child.pid, 'VmHWM');
    const t0 = Date.now();
    const status = await curlPost(proxy.port, file);
    const ms = Date.now() - t0;
    const hwm1 = vm(proxy.child.pid, 'VmHWM');
    return `| ${what} | ${big.length} B | ${status} | ${ms} ms | ${mb(hwm0)} | ${mb(hwm1)} | ${((hwm1 - hwm0) / big.length).toFixed(2)}x |`;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    await proxy.stop();
  }
}

// POSTs the file with curl, in its own process: the driver's loop must not stall on 64 MiB writes.
function curlPost(port, file) {
  return new Promise((resolve) => {
    execFile('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-H', 'content-type: application/json',
      '-H', 'authorization: Bearer sk-big', '--data-binary', `@${file}`, `http://127.0.0.1:${port}/v1/responses`],
    (err, stdout) => resolve(err ? 0 : Number(stdout)));
  });
}

async function smallLoad(port, seconds, clients = 4) {
  const lat = [];
  let errors = 0;
  const until = Date.now() + seconds * 1000;
  await Promise.all(Array.from({ length: clients }, async (_, i) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const body = JSON.stringify({ model: 'gpt-5.5', store: false, input: [{ role: 'user', content: `small ${i}` }] });
    while (Date.now() < until) {
      const t0 = process.hrtime.bigint();
      const r = await post(agent, port, '/v1/responses', body, { authorization: `Bearer sk-small-${i}` });
      lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (r.status !== 200) errors++;
    }
    agent.destroy();
  }));
  return { n: lat.length, p50: pct(lat, 0.5), p99: pct(lat, 0.99), max: Math.max(...lat), errors };
}

async function isolation(seconds) {
  // the mock refuses large HTTP bodies at once: what is measured is deltawire's own work
  const mock = await startMock({ args: ['--max-body-bytes', String(1 << 20)] });
  const rows = ['| one body | size | status | time | peak RSS before | after | growth / body |', '|---|---|---|---|---|---|---|'];
  rows.push(await peakRss(mock, '64 MiB, tiny items (over --max-items: plain HTTP)', bigBody(64 << 20)));
  rows.push(await peakRss(mock, '64 MiB, 100000 items (digested; its frame is over --max-ws-message: plain HTTP)', bigBody(64 << 20, 100000)));
  rows.push('');
  const proxy = await startProxy({ upstream: mock.base, args: ['--log-level', 'warn'] });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dw-liveness-'));
  const file = path.join(dir, 'big.json');
  const big = bigBody(64 << 20);
  fs.writeFileSync(file, big);
  try {
    const base = await smallLoad(proxy.port, seconds);
    let stop = false;
    let bigs = 0;
    const bigLoop = (async () => {
      while (!stop) { await curlPost(proxy.port, file); bigs++; }
    })();
    const loaded = await smallLoad(proxy.port, seconds);
    stop = true;
    await bigLoop;
    rows.push('| small requests | n | p50 | p99 | max | errors |', '|---|---|---|---|---|---|');
    rows.push(`| alone | ${base.n} | ${base.p50.toFixed(2)} ms | ${base.p99.toFixed(2)} ms | ${base.max.toFixed(1)} ms | ${base.errors} |`);
    rows.push(`| with 64 MiB bodies back to back (${bigs} sent) | ${loaded.n} | ${loaded.p50.toFixed(2)} ms | ${loaded.p99.toFixed(2)} ms | ${loaded.max.toFixed(1)} ms | ${loaded.errors} |`);
    rows.push(`p99 ratio: ${(loaded.p99 / base.p99).toFixed(2)}x (target within 2x)`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    await proxy.stop();
    await stopAll();
  }
  console.log(rows.join('\n'));
}

// One stateless tool-loop conversation: each turn re-sends the whole history.
async function conversation(port, name, turns, agent) {
  const input = [{ role: 'user', content: `Conversation ${name}: run echo ${name} a few times.` }];
  for (let t = 0; t < turns; t++) {
    const body = JSON.stringify({ model: 'gpt-5.5', store: false, input,
      tools: [{ type: 'function', name: 'run_shell', parameters: { type: 'object', properties: { cmd: { type: 'string' } } } }] });
    const r = await post(agent, port, '/v1/responses', body, { authorization: 'Bearer sk-contention' });
    if (r.status !== 200) throw new Error(`${name} turn ${t}: ${r.status} ${r.text.slice(0, 200)}`);
    const out = JSON.parse(r.text).output;
    input.push(...out);
    const calls = out.filter((o) => o.type === 'function_call');
    for (const c of calls) input.push({ type: 'function_call_output', call_id: c.call_id, output: `${name}\n` });
    if (calls.length === 0) input.push({ role: 'user', content: 'Once more, please.' });
    await new Promise((res) => setTimeout(res, Math.random() * thinkMs)); // the client's own think time
  }
}

async function contention(turns) {
  const mock = await startMock({ args: ['--first-event-delay-ms', '20'] });
  const rows = ['| conversations | sockets | think time | turns | deltas (turns 2..) | delta ratio | upstream sockets opened |', '|---|---|---|---|---|---|---|'];
  try {
    for (const n of [16, 24, 32]) {
      const proxy = await startProxy({ upstream: mock.base, args: ['--max-conns-per-key', '16', '--log-level', 'warn'] });
      await mock.reset();
      const agent = new http.Agent({ keepAlive: true, maxSockets: n });
      await Promise.all(Array.from({ length: n }, (_, i) => conversation(proxy.port, `c${i}`, turns, agent)));
      agent.destroy();
      const log = (await mock.log()).filter((e) => e.transport === 'ws');
      const deltas = log.filter((e) => e.previous_response_id !== null).length;
      const later = n * (turns - 1);
      const conns = new Set(log.map((e) => e.conn)).size;
      rows.push(`| ${n} | 16 | 0-${thinkMs} ms | ${turns} | ${deltas} / ${later} | ${(100 * deltas / later).toFixed(1)}% | ${conns} |`);
      await proxy.stop();
    }
  } finally {
    await stopAll();
  }
  console.log(rows.join('\n'));
}

// Lanes: n concurrent conversations of one key; the mock's log says which turns went as deltas, on
// how many sockets, and the handshakes how many were opened.
async function lanes(turns) {
  const mock = await startMock({ args: ['--first-event-delay-ms', '20'] });
  const rows = ['| conversations | --max-conns-per-key | think time | turns | deltas (turns 2..) | delta ratio | sockets opened (used) | lane names used (most on one socket) | target |',
    '|---|---|---|---|---|---|---|---|---|'];
  try {
    for (const [n, perKey, t] of [[32, 4, turns], [64, 4, turns], [1000, 1000, 3]]) {
      const proxy = await startProxy({ upstream: mock.base,
        args: ['--max-conns-per-key', String(perKey), '--max-conns', String(Math.max(256, perKey)), '--max-queue', '2000', '--log-level', 'warn'] });
      await mock.reset();
      const agent = new http.Agent({ keepAlive: true, maxSockets: n });
      await Promise.all(Array.from({ length: n }, (_, i) => conversation(proxy.port, `c${i}`, t, agent)));
      agent.destroy();
      const log = (await mock.log()).filter((e) => e.transport === 'ws');
      const hs = await mock.handshakes();
      const deltas = log.filter((e) => e.previous_response_id !== null).length;
      const later = n * (t - 1);
      const conns = new Set(log.map((e) => e.conn)).size;
      const names = hs.map((h) => (h.stream_ids || []).length);
      const ratio = 100 * deltas / later;
      const target = n === 1000 ? `<= ${Math.ceil(n / 16)}+slack sockets: ${hs.length <= Math.ceil(n / 16) + 4 ? 'met' : 'missed'}`
        : `>= 95% with <= 4 sockets: ${ratio >= 95 && hs.length <= 4 ? 'met' : 'missed'}`;
      rows.push(`| ${n} | ${perKey} | 0-${thinkMs} ms | ${t} | ${deltas} / ${later} | ${ratio.toFixed(1)}% | ${hs.length} (${conns}) | ${names.reduce((a, b) => a + b, 0)} (${Math.max(...names)}) | ${target} |`);
      await proxy.stop();
    }
  } finally {
    await stopAll();
  }
  console.log(rows.join('\n'));
}

if (mode === 'isolation') await isolation(arg || 20);
else if (mode === 'contention') await contention(arg || 12);
else if (mode === 'lanes') await lanes(arg || 10);
else { console.error('usage: node bench/liveness.mjs isolation [SECONDS] | contention [TURNS] | lanes [TURNS]'); process.exit(2); }
