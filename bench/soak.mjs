// Soak (issue 19): mixed multi-turn traffic from many keys through deltawire to deltawire-mock for a
// bounded time, the mock injecting one fault at a time at a low rate. Reports requests, faults
// injected and what the clients saw of them, fidelity errors (the mock's reconstructed input,
// /__mock/log full_input, against the input the client sent) and the proxy's RSS and open
// descriptors over time, sampled from /proc. Fails on any fidelity error, any client error no
// injected fault explains, a dead proxy or mock, or RSS / descriptors growing (last-quarter max
// beyond a bound of the first-quarter max). When it fails, --json FILE's base name also gets the
// proxy's and the mock's stderr (-proxy.log, -mock.log) and the mock's request log of each
// checkpoint with an unexplained error (-mock-log-N.json); the FAIL lines give the turn and its time.
//
// Usage (bench/soak.sh sets DW_BUILD_DIR): node bench/soak.mjs [--minutes N] [--workers N] [--keys N]
//   [--fault-every-ms MS] [--json FILE]
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startMock, startProxy, stopAll, httpJson, sse, canonicalItems, sleep, waitFor } from '../tests/integration/lib/harness.mjs';

const opt = { minutes: 10, workers: 12, keys: 24, 'fault-every-ms': 1500, json: null };
for (let i = 2; i < process.argv.length; i += 2) {
  const k = process.argv[i].replace(/^--/, '');
  if (!(k in opt) || process.argv[i + 1] === undefined) {
    console.error(`soak: unknown or incomplete option ${process.argv[i]}`);
    process.exit(2);
  }
  opt[k] = k === 'json' ? process.argv[i + 1] : Number(process.argv[i + 1]);
}
const durationMs = opt.minutes * 60000;
const keep = opt.json && opt.json.replace(/\.json$/, ''); // where the logs of a failed run go
if (keep) { // a former run's logs would pass for this one's
  const base = path.basename(keep);
  for (const f of readdirSync(path.dirname(keep))) {
    if (f.startsWith(base) && /^-(proxy\.log|mock\.log|mock-log-\d+\.json)$/.test(f.slice(base.length))) {
      rmSync(path.join(path.dirname(keep), f));
    }
  }
}
const CHECKPOINT_MS = 15000; // verify against the mock's log, then clear it (it grows without bound)
// Flatness. The transcript index legitimately grows until its tables reach their bounds; the proxy
// reports what they hold (deltawire_transcript_bytes, state/dmap.c; and the kept bodies,
// deltawire_bodies_kept_bytes, up to --body-memory), so RSS may grow by that growth
// (times TABLE_OVERHEAD: the allocator's arenas and fragmentation around the tables' growth; a leak of
// 1 KB per request still shows at the CI rate of ~40k requests a minute) and beyond it by RSS_SLACK.
// Upstream sockets come and go with the pool (up to --max-conns), so descriptors are checked without
// them: the others (clients, listeners, the loop's own) may grow by FD_SLACK.
const TABLE_OVERHEAD = 1.3;
const RSS_SLACK = (first) => first * 0.1 + 4 * 1024 * 1024;
const FD_SLACK = 12;

const rand = (n) => Math.floor(Math.random() * n);
const pick = (a) => a[rand(a.length)];
const FAULTS = [
  { forget_cache: true }, { close_after_events: 0 }, { close_after_events: 1 }, { close_after_events: 4 },
  { error_status: 500 }, { error_status: 503 }, { error_status: 429 }, { first_event_delay_ms: 300 },
  { refuse_upgrade: 426 },
];
const TOOLS = [{ type: 'function', name: 'run_shell', description: 'Run a shell command', strict: true,
  parameters: { type: 'object', properties: { cmd: { type: 'string' } }, required: ['cmd'], additionalProperties: false } }];

const stats = {
  requests: 0, ok: 0, deltas: 0, conversations: 0, clientErrors: 0, explainedErrors: 0, neighbourErrors: 0,
  unexpectedErrors: 0, gaveUp: 0, fidelityErrors: 0, faultsInjected: 0, faultKinds: {}, checkpoints: 0,
};
const problems = [];
let epochDone = []; // {tag, input, responseId}
let epochErrors = []; // {tag, what}
let resume = null;
let gate = Promise.resolve();
let inflight = 0;
let stopping = false;
let convSeq = 0;

const mock = await startMock();
const proxy = await startProxy({ upstream: mock.base, args: ['--max-conversations', '512', '--idle-timeout', '5'] });
const pid = proxy.child.pid;

// ---------------------------------------------------------------- resources

const samples = []; // {t, rss, fds, items, tables, conns, requests}
const t0 = Date.now();
async function sample() {
  try {
    const rss = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024;
    const fds = readdirSync(`/proc/${pid}/fd`).length;
    const m = (await httpJson('GET', proxy.url + '/metrics', null, {}, { timeoutMs: 5000 })).text;
    const gauge = (re) => Number((re.exec(m) || [])[1]);
    samples.push({ t: Date.now() - t0, rss, fds, items: gauge(/^deltawire_item_cache_entries (\d+)/m),
      tables: gauge(/^deltawire_transcript_bytes (\d+)/m) + gauge(/^deltawire_bodies_kept_bytes (\d+)/m),
      conns: gauge(/^deltawire_upstream_connections\{state="open"\} (\d+)/m), requests: stats.requests });
    samples.at(-1).other = fds - samples.at(-1).conns;
  } catch { /* gone: reported at the end */ }
}
const sampler = setInterval(sample, 1000);

// ---------------------------------------------------------------- clients

async function post(body, key, stream) {
  const headers = { authorization: `Bearer sk-soak-${key}` };
  if (stream) {
    const r = await sse(proxy.base + '/responses', body, headers);
    const last = r.at(-1);
    if (r.status === 200 && last && last.event === 'response.completed') return { response: last.data.response };
    return { what: `stream ${r.status} ${last ? last.event : 'no events'}${r.error ? ' (cut)' : ''}` };
  }
  const r = await httpJson('POST', proxy.base + '/responses', body, headers);
  if (r.status === 200 && r.json && r.json.status === 'completed') return { response: r.json };
  return { what: `${r.status} ${r.json && r.json.error ? r.json.error.message : r.text.slice(0, 80)}` };
}

// One request as an SDK sends it: retried up to 3 times after an error.
async function turn(body, key, stream, tag) {
  for (let attempt = 0; attempt < 4; attempt++) {
    await gate;
    if (stopping) return null;
    inflight++;
    stats.requests++;
    let r;
    try {
      r = await post(body, key, stream);
    } catch (e) {
      r = { what: `${e.name}: ${e.message}` };
    } finally {
      inflight--;
    }
    if (r.response) {
      stats.ok++;
      epochDone.push({ tag, input: body.input, responseId: r.response.id });
      return r.response;
    }
    stats.clientErrors++;
    epochErrors.push({ tag, what: r.what, at: new Date().toISOString() });
  }
  stats.gaveUp++;
  return null;
}

// A conversation: a tool loop, then 0-3 follow-up prompts (some asking for tools again).
async function conversation() {
  const c = ++convSeq;
  stats.conversations++;
  const key = rand(opt.keys);
  const stream = Math.random() < 0.5;
  const store = Math.random() < 0.3;
  let t = 0;
  const tag = () => `c${c}.t${t}`;
  const input = [
    { role: 'developer', content: 'You are a soak agent. Use run_shell when asked.' },
    { role: 'user', content: `(${tag()}) Run the shell command echo hello twice, then tell me what it printed.` },
  ];
  let followUps = rand(4);
  for (;;) {
    const body = { model: 'gpt-5.5', instructions: 'Be brief.', tools: TOOLS, store, input: structuredClone(input) };
    if (stream) body.stream = true;
    const response = await turn(body, key, stream, tag());
    if (!response) return;
    t++;
    input.push(...response.output);
    const calls = response.output.filter((o) => o.type === 'function_call');
    for (const call of calls) input.push({ type: 'function_call_output', call_id: call.call_id, output: `hello (${tag()})\n` });
    if (calls.length === 0) {
      if (followUps-- === 0) return;
      input.push({ role: 'user', content: Math.random() < 0.5 ? `(${tag()}) Thanks. One more thing, no tools.` : `(${tag()}) Run echo hello again.` });
    }
  }
}

async function worker() {
  while (!stopping) await conversation();
}

// ---------------------------------------------------------------- faults and checks

async function injectFaults() {
  while (!stopping) {
    await sleep(opt['fault-every-ms'] / 2 + rand(opt['fault-every-ms']));
    await gate;
    if (stopping) return;
    await mock.fault({ ...pick(FAULTS), count: 1 }).catch(() => {}); // a dead mock is reported by its exit
  }
}

// A checkpoint that cannot read the mock (it died: reported by its exit) ends the run's checks.
async function checkpoint() {
  try {
    await checkpointOnce();
  } catch (e) {
    problems.push(`checkpoint failed: ${e.message}`);
    resume();
  }
}

async function checkpointOnce() {
  gate = new Promise((r) => { resume = r; });
  await waitFor(() => inflight === 0, { timeoutMs: 90000, intervalMs: 20 });
  const log = await mock.log();
  const refused = (await mock.handshakes()).filter((h) => h.status !== 101).length; // refuse_upgrade faults
  const done = epochDone;
  const errors = epochErrors;
  epochDone = [];
  epochErrors = [];
  await mock.reset();
  const byResponse = new Map();
  stats.faultsInjected += refused;
  if (refused) stats.faultKinds.refuse_upgrade = (stats.faultKinds.refuse_upgrade ?? 0) + refused;
  for (const e of log) {
    if (e.response_id) byResponse.set(e.response_id, e);
    if (e.fault) {
      stats.faultsInjected++;
      for (const k of Object.keys(e.fault)) stats.faultKinds[k] = (stats.faultKinds[k] ?? 0) + 1;
    }
  }
  for (const d of done) {
    const e = byResponse.get(d.responseId);
    if (e && e.previous_response_id) stats.deltas++;
    const got = e ? JSON.stringify(canonicalItems(e.full_input)) : null;
    if (got !== JSON.stringify(canonicalItems(d.input))) {
      stats.fidelityErrors++;
      problems.push(`fidelity: ${d.tag} ${d.responseId}: ${e ? 'the model saw another input' : 'not in the mock log'}`);
    }
  }
  // A close_after_events fault drops the mock's whole socket, and with it every lane in flight there:
  // a neighbour whose events had already reached its client cannot go again, and ends with an error
  // event. Its request was the last of its lane on a socket a close fault dropped (the faulted
  // response was cut: not an error turn, and never completed for its client), and it never completed.
  const completed = new Set(done.map((d) => d.responseId));
  const dropped = new Set(log.filter((e) => e.fault && e.fault.close_after_events !== undefined && !e.error &&
    !completed.has(e.response_id)).map((e) => e.conn));
  const laneLast = new Map(); // `${conn} ${stream_id}` -> the lane's last request on that socket
  for (const e of log) if (e.transport === 'ws') laneLast.set(`${e.conn} ${e.stream_id}`, e);
  const cut = log.filter((e) => dropped.has(e.conn) && laneLast.get(`${e.conn} ${e.stream_id}`) === e &&
    !completed.has(e.response_id));
  const carries = (e, tag) => e.full_input && JSON.stringify(e.full_input).includes(`(${tag})`);
  let keepMockLog = false;
  // a client error is explained when the mock faulted a request carrying the same new items, or
  // dropped the socket under it for a neighbour's fault
  for (const err of errors) {
    if (log.some((e) => e.fault && carries(e, err.tag))) {
      stats.explainedErrors++;
    } else if (cut.some((e) => carries(e, err.tag))) {
      stats.explainedErrors++;
      stats.neighbourErrors++;
    } else {
      stats.unexpectedErrors++;
      problems.push(`unexpected client error: ${err.tag}: ${err.what} (at ${err.at}, checkpoint ${stats.checkpoints})`);
      keepMockLog = true;
    }
  }
  if (keepMockLog && keep) writeFileSync(`${keep}-mock-log-${stats.checkpoints}.json`, JSON.stringify(log));
  stats.checkpoints++;
  resume();
}

// ---------------------------------------------------------------- run

let died = null; // the first of the two processes to exit before the end
proxy.child.once('exit', (code, sig) => { died ??= `deltawire exited (code ${code}, signal ${sig})`; });
mock.child.once('exit', (code, sig) => {
  died ??= `deltawire-mock exited (code ${code}, signal ${sig}); its last words: ${mock.stderr().slice(-300)}`;
});
const workers = Array.from({ length: opt.workers }, worker);
const faults = injectFaults();
let nextReport = 60000;
while (Date.now() - t0 < durationMs && !died) {
  await sleep(Math.min(CHECKPOINT_MS, durationMs - (Date.now() - t0)));
  await checkpoint();
  if (Date.now() - t0 >= nextReport) {
    const s = samples.at(-1);
    console.log(`soak: ${Math.round((Date.now() - t0) / 1000)} s, ${stats.requests} requests, ${stats.faultsInjected} faults, ` +
      `${stats.fidelityErrors} fidelity errors, ${stats.unexpectedErrors} unexpected errors, RSS ${(s.rss / 1048576).toFixed(1)} MiB, ${s.fds} fds`);
    nextReport += 60000;
  }
}
stopping = true;
if (resume) resume();
await Promise.all([...workers, faults]);
await checkpoint();
clearInterval(sampler);
if (died) problems.push(died);

// ---------------------------------------------------------------- report

const q = Math.max(1, Math.floor(samples.length / 4));
const warm = samples.slice(Math.min(3, samples.length - 1)); // the first seconds start processes and pools
const firstQ = warm.slice(0, q);
const lastQ = samples.slice(-q);
const top = (a, k) => a.reduce((b, s) => (s[k] > b[k] ? s : b));
const rss = { first: top(firstQ, 'rss').rss, last: top(lastQ, 'rss').rss };
const fds = { first: top(firstQ, 'fds').fds, last: top(lastQ, 'fds').fds,
  otherFirst: top(firstQ, 'other').other, otherLast: top(lastQ, 'other').other };
const items = { first: top(firstQ, 'rss').items, last: top(lastQ, 'rss').items };
const tables = { first: top(firstQ, 'rss').tables, last: top(lastQ, 'rss').tables };
rss.allowed = rss.first + Math.max(0, tables.last - tables.first) * TABLE_OVERHEAD + RSS_SLACK(rss.first);
if (rss.last > rss.allowed) problems.push(`RSS grew: ${rss.first} -> ${rss.last} bytes (allowed ${Math.round(rss.allowed)})`);
if (!(fds.otherLast <= fds.otherFirst + FD_SLACK)) {
  problems.push(`open descriptors besides upstream sockets grew: ${fds.otherFirst} -> ${fds.otherLast}`);
}
const secs = (Date.now() - t0) / 1000;
const mib = (b) => (b / 1048576).toFixed(1);
console.log(`soak: ${secs.toFixed(0)} s, ${opt.workers} workers, ${opt.keys} keys: ${stats.requests} requests ` +
  `(${(stats.requests / secs).toFixed(0)}/s), ${stats.ok} completed, ${stats.deltas} sent as deltas, ${stats.conversations} conversations`);
console.log(`soak: ${stats.faultsInjected} faults injected (${Object.entries(stats.faultKinds).map(([k, n]) => `${k} ${n}`).join(', ')}); ` +
  `${stats.clientErrors} client errors, ${stats.explainedErrors} explained by a fault (${stats.neighbourErrors} by a close ` +
  `fault on a neighbouring lane), ${stats.unexpectedErrors} unexpected; ` +
  `${stats.gaveUp} turns given up after 4 tries`);
console.log(`soak: fidelity errors ${stats.fidelityErrors}; RSS max ${mib(rss.first)} MiB (first quarter) -> ${mib(rss.last)} MiB ` +
  `(last quarter; allowed ${mib(rss.allowed)} with the item cache at ${items.first} -> ${items.last} entries, ` +
  `its tables at ${mib(tables.first)} -> ${mib(tables.last)} MiB); ` +
  `fds max ${fds.first} -> ${fds.last}, without upstream sockets ${fds.otherFirst} -> ${fds.otherLast}`);
if (opt.json) writeFileSync(opt.json, JSON.stringify({ opt, stats, rss, fds, samples, problems }, null, 1));
if (keep && problems.length) {
  // what both processes said, to find the failing turns (the FAIL lines give their time)
  writeFileSync(`${keep}-proxy.log`, proxy.stderr());
  writeFileSync(`${keep}-mock.log`, mock.stderr());
}
for (const p of problems.slice(0, 20)) console.log(`soak: FAIL ${p}`);
await stopAll();
console.log(problems.length === 0 ? 'soak: ok' : `soak: ${problems.length} problems`);
process.exit(problems.length === 0 ? 0 : 1);
