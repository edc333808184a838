// Integration test helpers: spawn deltawire-mock / deltawire, talk HTTP, SSE and
// WebSocket (a small RFC 6455 client, since Node 20 has no stable one that can set
// handshake headers), and canonicalise item lists as an independent oracle.
// Node 20, ESM, no npm dependencies.
import { spawn } from 'node:child_process';
import { randomBytes, createHash } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';

if (!process.env.DW_BUILD_DIR) {
  throw new Error('DW_BUILD_DIR is not set: point it at the meson build dir (absolute path), e.g. ' +
    'DW_BUILD_DIR=$PWD/build node --test --test-concurrency=1 tests/integration/');
}
export const BUILD_DIR = path.resolve(process.env.DW_BUILD_DIR);
export const CLIENTS_DIR = process.env.DW_CLIENTS_DIR ? path.resolve(process.env.DW_CLIENTS_DIR) : null;

// ---------------------------------------------------------------- processes

const tracked = new Set();

export function track(child) {
  tracked.add(child);
  child.once('exit', () => tracked.delete(child));
  return child;
}

process.on('exit', () => {
  for (const c of tracked) { try { c.kill('SIGKILL'); } catch { /* gone */ } }
});

function stopChild(child, graceMs = 2000) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => { try { child.kill('SIGKILL'); } catch { /* gone */ } }, graceMs);
    child.once('exit', () => { clearTimeout(t); resolve(); });
    try { child.kill('SIGTERM'); } catch { clearTimeout(t); resolve(); }
  });
}

export async function stopAll() {
  await Promise.all([...tracked].map((c) => stopChild(c, VALGRIND ? 60000 : 2000)));
  for (const log of valgrindLogs.splice(0)) checkValgrind(log);
  for (const [child, p] of [...proxies]) { await p.closed; checkExit(child, p.stderr); }
}

// A proxy that stopped on its own or on SIGTERM must have exited 0 without a sanitizer's report:
// the ASan/UBSan builds print a leak or a bad free found at shutdown and exit non-zero then, which
// no request would notice. One killed with SIGKILL (it did not drain in time) is not judged here.
const proxies = new Map(); // child -> { stderr: its text so far, closed: resolves once its pipes are }
const SANITIZER_REPORT = /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:/;

// Resolves once child's stdio is closed (its last stderr is read), at most 5 s after it exited.
function closedAfterExit(child) {
  const closed = new Promise((resolve) => child.once('close', resolve));
  const exited = new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', resolve)));
  return exited.then(() => Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 5000).unref())]));
}

function checkExit(child, stderr) {
  if (!proxies.has(child) || (child.exitCode === null && child.signalCode === null)) return;
  proxies.delete(child);
  const err = stderr();
  const report = SANITIZER_REPORT.exec(err);
  if (report) throw new Error(`deltawire printed a sanitizer report:\n${err.slice(Math.max(0, report.index - 200), report.index + 6000)}`);
  if (child.signalCode === null && child.exitCode !== 0) throw new Error(`deltawire exited with code ${child.exitCode}; stderr:\n${err.slice(-4000)}`);
}

// Spawn a binary and wait for its "listening on" stderr line.
function spawnListening(bin, argv, env, timeoutMs, re, what) {
  if (!fs.existsSync(bin)) throw new Error(`${what} binary not found at ${bin} (build it first)`);
  const child = track(spawn(bin, argv, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => { out += d; });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${what} did not report listening within ${timeoutMs} ms; stderr:\n${err}`));
    }, timeoutMs);
    child.stderr.on('data', (d) => {
      err += d;
      const m = re.exec(err);
      if (m && timer) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]), stdout: () => out, stderr: () => err });
      }
    });
    child.once('exit', (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited early (code ${code}, signal ${sig}); stderr:\n${err}`));
    });
  });
}

export async function startMock({ args = [], env = {}, timeoutMs = 10000 } = {}) {
  const bin = path.join(BUILD_DIR, 'mock', 'deltawire-mock');
  const p = await spawnListening(bin, ['--listen', '127.0.0.1:0', ...args], env, timeoutMs,
    /deltawire-mock: listening on 127\.0\.0\.1:(\d+)/, 'deltawire-mock');
  const url = `http://127.0.0.1:${p.port}`;
  const get = async (what) => (await httpJson('GET', `${url}/__mock/${what}`)).json;
  const post = async (what, body) => {
    const r = await httpJson('POST', `${url}/__mock/${what}`, body);
    if (r.status !== 200) throw new Error(`/__mock/${what} -> ${r.status} ${r.text}`);
    return r.json;
  };
  return {
    port: p.port, url, base: `${url}/v1`, child: p.child,
    log: () => get('log'),
    handshakes: () => get('handshakes'),
    reset: () => post('reset', {}),
    script: (responses) => post('script', { responses }),
    fault: (obj) => post('fault', obj),
    stop: () => stopChild(p.child),
    stderr: p.stderr,
    stdout: p.stdout,
  };
}

// With DW_VALGRIND=1 the proxy runs under valgrind; stopping it fails when valgrind saw a memory
// error or a definite/indirect leak (h2o's pools show as "possibly lost" and do not count).
const VALGRIND = process.env.DW_VALGRIND === '1';
const valgrindLogs = [];

function checkValgrind(log) {
  const text = fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '';
  const m = /ERROR SUMMARY: (\d+) errors/.exec(text);
  if (!m) throw new Error(`valgrind wrote no summary to ${log}`);
  if (Number(m[1]) !== 0) throw new Error(`valgrind found ${m[1]} errors in deltawire:\n${text.slice(-6000)}`);
  fs.rmSync(path.dirname(log), { recursive: true, force: true });
}

export async function startProxy({ upstream, args = [], env = {}, timeoutMs = 10000 } = {}) {
  const bin = path.join(BUILD_DIR, 'proxy', 'deltawire');
  const argv = ['--listen', '127.0.0.1:0'];
  if (upstream) argv.push('--upstream', upstream);
  let exe = bin;
  let full = [...argv, ...args];
  let log = null;
  if (VALGRIND) {
    log = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dw-vg-')), 'valgrind.log');
    valgrindLogs.push(log);
    exe = '/usr/bin/valgrind';
    full = [`--log-file=${log}`, '--leak-check=full', '--errors-for-leak-kinds=definite,indirect', '--error-exitcode=99', bin, ...full];
    timeoutMs = Math.max(timeoutMs, 60000);
  }
  const p = await spawnListening(exe, full, env, timeoutMs, /listening on 127\.0\.0\.1:(\d+)/, 'deltawire');
  proxies.set(p.child, { stderr: p.stderr, closed: closedAfterExit(p.child) });
  const url = `http://127.0.0.1:${p.port}`;
  return {
    port: p.port, url, base: `${url}/v1`, child: p.child,
    stop: async () => {
      await stopChild(p.child, VALGRIND ? 60000 : 2000);
      if (log && valgrindLogs.includes(log)) {
        valgrindLogs.splice(valgrindLogs.indexOf(log), 1);
        checkValgrind(log);
      }
      if (proxies.has(p.child)) await proxies.get(p.child).closed;
      checkExit(p.child, p.stderr);
    },
    stderr: p.stderr, stdout: p.stdout,
  };
}

// ---------------------------------------------------------------- HTTP

export async function httpJson(method, url, body, headers = {}, { timeoutMs = 30000 } = {}) {
  const init = { method, headers: { ...headers }, signal: AbortSignal.timeout(timeoutMs) };
  if (body !== undefined && body !== null) {
    init.body = typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body);
    if (!Object.keys(init.headers).some((k) => k.toLowerCase() === 'content-type')) {
      init.headers['content-type'] = 'application/json';
    }
  }
  const res = await fetch(url, init);
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, headers: Object.fromEntries(res.headers), json, text };
}

export function parseSse(raw) {
  const events = [];
  for (const block of raw.split(/\r?\n\r?\n/)) {
    if (!block.trim()) continue;
    let event = null;
    const data = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith('event:')) event = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    }
    const text = data.join('\n');
    let parsed = text;
    try { parsed = JSON.parse(text); } catch { /* keep text */ }
    events.push({ event, data: parsed });
  }
  return events;
}

// POST and parse the SSE stream: an array of {event, data} with .status, .raw,
// .headers, and .json (a non-SSE error body) attached.
export async function sse(url, body, headers = {}, { timeoutMs = 30000 } = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  // read piecewise so that a stream cut short still yields what did arrive
  let raw = '';
  let error = null;
  const decoder = new TextDecoder();
  try {
    for await (const chunk of res.body) raw += decoder.decode(chunk, { stream: true });
  } catch (e) { error = e; }
  const events = /event-stream/.test(res.headers.get('content-type') || '') ? parseSse(raw) : [];
  events.status = res.status;
  events.raw = raw;
  events.headers = Object.fromEntries(res.headers);
  events.error = error; // set when the stream was cut before its end
  try { events.json = JSON.parse(raw); } catch { events.json = null; }
  return events;
}

// ---------------------------------------------------------------- WebSocket

const TERMINAL = new Set(['response.completed', 'response.failed', 'response.incomplete', 'response.done', 'error']);
export const isTerminal = (ev) => ev && TERMINAL.has(ev.type);

// Minimal RFC 6455 client. Resolves once the handshake is answered:
// { status, headers, body, send(obj|string), next(timeoutMs) -> event or null when closed,
//   untilTerminal(), close(), closed: Promise<{code, reason}>, messages: raw strings }
export function wsConnect(url, headers = {}, { timeoutMs = 10000, rejectUnauthorized = false, ca } = {}) {
  const u = new URL(url);
  const secure = u.protocol === 'wss:' || u.protocol === 'https:';
  const port = Number(u.port || (secure ? 443 : 80));
  const key = randomBytes(16).toString('base64');
  const sock = secure
    ? tls.connect({ host: u.hostname, port, servername: u.hostname, rejectUnauthorized, ca, ALPNProtocols: ['http/1.1'] })
    : net.connect({ host: u.hostname, port });
  sock.setNoDelay(true);

  const queue = [];
  const waiters = [];
  const messages = [];
  let closedInfo = null;
  let resolveClosed;
  const closed = new Promise((r) => { resolveClosed = r; });
  let buf = Buffer.alloc(0);
  let frags = [];
  let handshakeDone = false;

  const deliver = (item) => {
    const w = waiters.shift();
    if (w) w(item); else queue.push(item);
  };
  const markClosed = (code, reason) => {
    if (closedInfo) return;
    closedInfo = { code, reason };
    resolveClosed(closedInfo);
    while (waiters.length) waiters.shift()(null);
  };

  const frame = (opcode, payload) => {
    const mask = randomBytes(4);
    const len = payload.length;
    let head;
    if (len < 126) { head = Buffer.alloc(2); head[1] = 0x80 | len; }
    else if (len < 65536) { head = Buffer.alloc(4); head[1] = 0x80 | 126; head.writeUInt16BE(len, 2); }
    else { head = Buffer.alloc(10); head[1] = 0x80 | 127; head.writeBigUInt64BE(BigInt(len), 2); }
    head[0] = 0x80 | opcode;
    const masked = Buffer.alloc(len);
    for (let i = 0; i < len; i++) masked[i] = payload[i] ^ mask[i & 3];
    return Buffer.concat([head, mask, masked]);
  };

  const parseFrames = () => {
    for (;;) {
      if (buf.length < 2) return;
      const fin = (buf[0] & 0x80) !== 0;
      const opcode = buf[0] & 0x0f;
      let len = buf[1] & 0x7f;
      let off = 2;
      if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); off = 4; }
      else if (len === 127) { if (buf.length < 10) return; len = Number(buf.readBigUInt64BE(2)); off = 10; }
      if (buf[1] & 0x80) off += 4; // servers must not mask; tolerate it anyway
      if (buf.length < off + len) return;
      const payload = buf.subarray(off, off + len);
      buf = buf.subarray(off + len);
      if (opcode === 0x8) {
        const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
        const reason = payload.length > 2 ? payload.subarray(2).toString('utf8') : '';
        try { sock.write(frame(0x8, payload.subarray(0, 2))); } catch { /* gone */ }
        markClosed(code, reason);
        sock.end();
        return;
      }
      if (opcode === 0x9) { sock.write(frame(0xA, payload)); continue; }
      if (opcode === 0xA) continue;
      frags.push(Buffer.from(payload));
      if (fin) {
        const text = Buffer.concat(frags).toString('utf8');
        frags = [];
        messages.push(text);
        let obj;
        try { obj = JSON.parse(text); } catch { obj = { type: '__unparsable__', text }; }
        deliver(obj);
      }
    }
  };

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`ws handshake timeout ${url}`)); }, timeoutMs);
    const lines = [
      `GET ${u.pathname}${u.search} HTTP/1.1`, `Host: ${u.host}`, 'Upgrade: websocket', 'Connection: Upgrade',
      `Sec-WebSocket-Key: ${key}`, 'Sec-WebSocket-Version: 13',
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    ];
    sock.once(secure ? 'secureConnect' : 'connect', () => sock.write(lines.join('\r\n') + '\r\n\r\n'));
    sock.on('error', (e) => {
      if (!handshakeDone) { clearTimeout(timer); reject(e); }
      markClosed(1006, String(e.message));
    });
    sock.on('close', () => { clearTimeout(timer); markClosed(1006, 'socket closed'); });
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (handshakeDone) { parseFrames(); return; }
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buf.subarray(0, end).toString('latin1').split('\r\n');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head[0])?.[1] || 0);
      const hdrs = {};
      for (const l of head.slice(1)) {
        const i = l.indexOf(':');
        if (i > 0) hdrs[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      if (status !== 101) {
        const clen = Number(hdrs['content-length'] || 0);
        if (buf.length < end + 4 + clen) return;
        handshakeDone = true;
        clearTimeout(timer);
        const body = buf.subarray(end + 4, end + 4 + clen).toString('utf8');
        sock.destroy();
        markClosed(1006, `refused ${status}`);
        resolve({ status, headers: hdrs, body, closed, messages, send() { throw new Error(`refused: ${status}`); },
          next: async () => null, untilTerminal: async () => [], close: async () => {} });
        return;
      }
      const expect = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
      if (hdrs['sec-websocket-accept'] !== expect) {
        clearTimeout(timer);
        sock.destroy();
        reject(new Error('bad Sec-WebSocket-Accept'));
        return;
      }
      handshakeDone = true;
      clearTimeout(timer);
      buf = buf.subarray(end + 4);
      const api = {
        status, headers: hdrs, body: '', closed, messages, socket: sock,
        send(obj) {
          const text = typeof obj === 'string' ? obj : JSON.stringify(obj);
          sock.write(frame(0x1, Buffer.from(text, 'utf8')));
        },
        next(ms = 15000) {
          if (queue.length) return Promise.resolve(queue.shift());
          if (closedInfo) return Promise.resolve(null);
          return new Promise((res, rej) => {
            const t = setTimeout(() => {
              const i = waiters.indexOf(w);
              if (i >= 0) waiters.splice(i, 1);
              rej(new Error(`no ws message within ${ms} ms`));
            }, ms);
            const w = (v) => { clearTimeout(t); res(v); };
            waiters.push(w);
          });
        },
        // events up to and including the next terminal one (or until close)
        async untilTerminal(ms = 15000) {
          const out = [];
          for (;;) {
            const ev = await api.next(ms);
            if (!ev) return out;
            out.push(ev);
            if (isTerminal(ev)) return out;
          }
        },
        async close() {
          if (closedInfo) return;
          try { sock.write(frame(0x8, Buffer.from([0x03, 0xe8]))); } catch { /* gone */ }
          await Promise.race([closed, new Promise((r) => setTimeout(r, 1000))]);
          sock.destroy();
        },
      };
      resolve(api);
      if (buf.length) parseFrames();
    });
  });
}

// ---------------------------------------------------------------- canonical items

const KNOWN = {
  message: ['type', 'role', 'content', 'phase'],
  reasoning: ['type', 'id', 'summary', 'content', 'encrypted_content'],
  function_call: ['type', 'call_id', 'name', 'arguments', 'namespace'],
  custom_tool_call: ['type', 'call_id', 'name', 'input', 'namespace'],
};

function sortKeys(v) {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    const o = {};
    for (const k of Object.keys(v).sort()) o[k] = sortKeys(v[k]);
    return o;
  }
  return v;
}

function canonicalPart(part, role) {
  if (typeof part !== 'object' || part === null) return part;
  const p = { ...part };
  delete p.parsed;
  for (const k of ['annotations', 'logprobs']) if (Array.isArray(p[k]) && p[k].length === 0) delete p[k];
  if (p.type === undefined && typeof p.text === 'string') p.type = role === 'assistant' ? 'output_text' : 'input_text';
  return p;
}

function canonicalItem(item) {
  if (!item || typeof item !== 'object') return item;
  let it = { ...item };
  if (it.type === undefined && it.role !== undefined) it.type = 'message';
  delete it.parsed;
  delete it.parsed_arguments;
  const type = it.type;
  if (type === 'reasoning' && it.content === null) delete it.content;
  if (type === 'message') {
    if (typeof it.content === 'string') {
      it.content = [{ type: it.role === 'assistant' ? 'output_text' : 'input_text', text: it.content }];
    }
    if (Array.isArray(it.content)) it.content = it.content.map((p) => canonicalPart(p, it.role));
  }
  const known = KNOWN[type];
  if (known) {
    const o = {};
    for (const k of known) if (it[k] !== undefined) o[k] = it[k];
    it = o;
  } else {
    delete it.id;
    delete it.status;
  }
  return it;
}

// Canonical JSON strings, one per item (see the brief: key order, ids/status on
// calls and messages, SDK-added fields and unknown fields do not count).
export function canonicalItems(items) {
  return (items || []).map((i) => JSON.stringify(sortKeys(canonicalItem(i))));
}

// ---------------------------------------------------------------- misc

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Poll fn() until it returns a truthy value or the time is up.
export async function waitFor(fn, { timeoutMs = 5000, intervalMs = 25 } = {}) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) throw new Error('waitFor: timed out');
    await sleep(intervalMs);
  }
}
