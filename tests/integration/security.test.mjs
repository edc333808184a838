// Security and robustness (issue 19): upstream handshakes that never complete, readiness that one
// client's credentials cannot flip, slow uploads, the HTTP path's headers and errors, and the
// handshake's Host header.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import http2 from 'node:http2';
import { startMock, startProxy, stopAll, httpJson, waitFor } from './lib/harness.mjs';

let mock;
before(async () => { mock = await startMock(); });
after(stopAll);

const auth = (k) => ({ authorization: `Bearer ${k}` });
const body = (text) => ({ model: 'gpt-5.5', input: [{ role: 'user', content: text }], store: false });

// One gauge of /metrics, e.g. metric(proxy, 'deltawire_upstream_connections{state="connecting"}').
async function metric(proxy, name) {
  const text = await (await fetch(proxy.url + '/metrics')).text();
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  assert.ok(line, `${name} is exported`);
  return Number(line.split(' ').at(-1));
}

// A TCP server in front of the mock: while `silent`, it accepts connections and never answers
// (an upstream that hangs in its upgrade); otherwise it relays to the mock.
function startGate(target) {
  const held = new Set();
  const server = net.createServer((sock) => {
    sock.on('error', () => {});
    if (server.silent) {
      held.add(sock);
      sock.on('close', () => held.delete(sock));
      return;
    }
    const up = net.connect(target, '127.0.0.1');
    up.on('error', () => sock.destroy());
    sock.on('close', () => up.destroy());
    sock.pipe(up);
    up.pipe(sock);
  });
  server.silent = true;
  server.held = held;
  server.accepted = 0;
  server.on('connection', () => { server.accepted++; });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

test('an upstream that never answers the upgrade: 502 within --handshake-timeout, nothing left connecting', async () => {
  const gate = await startGate(mock.port);
  const proxy = await startProxy({ upstream: `http://127.0.0.1:${gate.address().port}/v1`,
    args: ['--transport', 'ws', '--handshake-timeout', '1'] });
  try {
    // three tries (the first and two retries), each bounded by the timeout and the 1 s sweep; lws's
    // own waits (5 s per phase) would take longer than the client's bound
    const r = await httpJson('POST', proxy.base + '/responses', body('hi'), auth('sk-hang'), { timeoutMs: 9000 });
    assert.equal(r.status, 502);
    assert.equal(r.json.error.code, 'upstream_error');
    assert.match(r.json.error.message, /handshake timed out/);
    assert.ok(gate.accepted >= 1);
    assert.equal(await metric(proxy, 'deltawire_upstream_connections{state="connecting"}'), 0);
    assert.equal((await fetch(proxy.url + '/readyz')).status, 503, 'a hanging upstream is not ready');
    // the upstream recovers: the next request is served, and readiness follows
    gate.silent = false;
    const ok = await httpJson('POST', proxy.base + '/responses', body('again'), auth('sk-hang'), { timeoutMs: 9000 });
    assert.equal(ok.status, 200);
    assert.equal((await fetch(proxy.url + '/readyz')).status, 200);
    assert.equal(await metric(proxy, 'deltawire_upstream_connections{state="connecting"}'), 0);
    assert.equal(await metric(proxy, 'deltawire_upstream_connections{state="busy"}'), 0);
  } finally {
    await proxy.stop();
    for (const s of gate.held) s.destroy();
    gate.close();
  }
});

test('the handshake Host header keeps a non-default port', async () => {
  const proxy = await startProxy({ upstream: mock.base, args: ['--transport', 'ws'] });
  try {
    await mock.reset();
    const r = await httpJson('POST', proxy.base + '/responses', body('hi'), auth('sk-host'));
    assert.equal(r.status, 200);
    const hs = await mock.handshakes();
    assert.equal(hs.length, 1);
    assert.equal(hs[0].headers.host, `127.0.0.1:${mock.port}`);
  } finally {
    await proxy.stop();
  }
});

test('/readyz follows the upstream, not one caller: a 401 or oversized credentials leave it ready, a 426 in ws mode does not', async () => {
  const proxy = await startProxy({ upstream: mock.base, args: ['--transport', 'ws'] });
  try {
    await mock.reset();
    await mock.fault({ refuse_upgrade: 401, count: 1 });
    const r = await httpJson('POST', proxy.base + '/responses', body('hi'), auth('sk-revoked'));
    assert.equal(r.status, 401);
    assert.equal((await fetch(proxy.url + '/readyz')).status, 200, 'one key refused: still ready');
    // credentials lws cannot fit into its handshake: this caller's fault, answered, and still ready
    const big = await httpJson('POST', proxy.base + '/responses', body('hi'), { authorization: `Bearer ${'k'.repeat(70000)}` },
      { timeoutMs: 9000 });
    assert.ok([400, 431].includes(big.status), `oversized credentials: ${big.status}`);
    assert.equal(typeof big.json.error.message, 'string');
    assert.equal((await fetch(proxy.url + '/readyz')).status, 200, 'oversized credentials: still ready');
    assert.equal(await metric(proxy, 'deltawire_upstream_connections{state="connecting"}'), 0);
    // the upstream refuses WebSocket mode, which is all --transport ws may use: not ready
    await mock.fault({ refuse_upgrade: 426, count: 1 });
    const refused = await httpJson('POST', proxy.base + '/responses', body('hi'), auth('sk-other'));
    assert.equal(refused.status, 426);
    assert.equal((await fetch(proxy.url + '/readyz')).status, 503);
    const ok = await httpJson('POST', proxy.base + '/responses', body('hi'), auth('sk-other'));
    assert.equal(ok.status, 200);
    assert.equal((await fetch(proxy.url + '/readyz')).status, 200);
  } finally {
    await proxy.stop();
  }
});

// A JSON request body of about `size` bytes.
const bigBody = (size) => Buffer.from(JSON.stringify(body('x'.repeat(size))));

// Sends buf in `chunk`-byte pieces every `everyMs` through write(piece); stops after `stopAfter`
// bytes when given (a stalled upload).
async function trickle(buf, write, { chunk, everyMs, stopAfter = Infinity }) {
  for (let off = 0; off < Math.min(buf.length, stopAfter); off += chunk) {
    write(buf.subarray(off, Math.min(off + chunk, buf.length, stopAfter)));
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

// A raw HTTP/1.1 POST whose body goes out as trickle() says. Resolves with what came back and
// whether the connection was closed by the proxy.
function slowPost1(port, path, buf, pace) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let got = '';
    sock.on('data', (d) => { got += d; });
    sock.on('error', () => {});
    sock.on('close', () => resolve({ text: got, status: Number(/^HTTP\/1\.1 (\d+)/.exec(got)?.[1] ?? 0) }));
    sock.on('connect', () => {
      sock.write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer sk-slow\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${buf.length}\r\nConnection: close\r\n\r\n`);
      trickle(buf, (p) => { if (!sock.destroyed) sock.write(p); }, pace).catch(reject);
    });
  });
}

// The same over HTTP/2 (prior knowledge, cleartext). Resolves with the status (0: none) once the
// stream or the session ended.
function slowPost2(url, path, buf, pace) {
  return new Promise((resolve) => {
    const session = http2.connect(url);
    let status = 0;
    let text = '';
    const done = () => { session.close(); resolve({ status, text }); };
    session.on('error', () => {});
    session.on('close', done);
    const req = session.request({ ':method': 'POST', ':path': path, authorization: 'Bearer sk-slow2',
      'content-type': 'application/json', 'content-length': String(buf.length) });
    req.on('response', (h) => { status = h[':status']; });
    req.on('data', (d) => { text += d; });
    req.on('error', () => {});
    req.on('close', done);
    trickle(buf, (p) => { if (!req.destroyed) req.write(p); }, pace).then(() => { if (!req.destroyed) req.end(); });
  });
}

test('slow uploads: bytes keep coming for longer than h2o\'s old 10 s deadline, answered over HTTP/1.1 and HTTP/2', async () => {
  const proxy = await startProxy({ upstream: mock.base, args: ['--client-idle-timeout', '2'] });
  try {
    // about 2.4 MB at 200 KB/s each, both at once: 12 s, beyond h2o's default request timeout (10 s)
    const buf = bigBody(2400000);
    const pace = { chunk: 20000, everyMs: 100 };
    const [one, two] = await Promise.all([
      slowPost1(proxy.port, '/v1/responses', buf, pace),
      slowPost2(proxy.url, '/v1/responses', buf, pace),
    ]);
    assert.equal(one.status, 200, one.text.slice(0, 300));
    assert.equal(two.status, 200, two.text.slice(0, 300));
    assert.equal(JSON.parse(two.text).status, 'completed');
  } finally {
    await proxy.stop();
  }
});

test('a stalled upload is cut after --client-idle-timeout, over HTTP/1.1 and HTTP/2; the proxy serves on', async () => {
  const proxy = await startProxy({ upstream: mock.base, args: ['--client-idle-timeout', '2'] });
  try {
    const buf = bigBody(200000);
    const pace = { chunk: 20000, everyMs: 100, stopAfter: 60000 };
    // each must end well before h2o's old deadline (10 s), and with no answer
    const bound = (p) => Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error('not cut within 8 s')), 8000))]);
    const [one, two] = await Promise.all([
      bound(slowPost1(proxy.port, '/v1/responses', buf, pace)),
      bound(slowPost2(proxy.url, '/v1/responses', buf, pace)),
    ]);
    assert.equal(one.status, 0);
    assert.equal(two.status, 0);
    const ok = await httpJson('POST', proxy.base + '/responses', body('after'), auth('sk-after'));
    assert.equal(ok.status, 200);
    // a client that waits for a slow answer sends nothing either, and is not cut
    await mock.fault({ first_event_delay_ms: 3500, count: 1 });
    const slow = await httpJson('POST', proxy.base + '/responses', body('think'), auth('sk-after'));
    assert.equal(slow.status, 200);
  } finally {
    await proxy.stop();
  }
});

// A raw HTTP/1.1 exchange: writes `head` (and body), resolves with the status and the text once the
// proxy closes the connection (ask for Connection: close).
function rawHttp(port, text) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1', () => sock.write(text));
    let got = '';
    sock.setTimeout(10000, () => { sock.destroy(); reject(new Error(`no end; got ${got.slice(0, 200)}`)); });
    sock.on('data', (d) => { got += d; });
    sock.on('error', () => {});
    sock.on('close', () => {
      const i = got.indexOf('\r\n\r\n');
      resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(got)?.[1] ?? 0), head: got.slice(0, i), body: got.slice(i + 4) });
    });
  });
}

test('the HTTP path strips hop-by-hop headers, those named in Connection included', async () => {
  const m = await startMock({ args: ['--log-headers', 'x-hop-secret,x-kept'] });
  const proxy = await startProxy({ upstream: m.base, args: ['--transport', 'http'] });
  try {
    const json = JSON.stringify(body('hi'));
    const r = await rawHttp(proxy.port, 'POST /v1/responses HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer sk-hop\r\n' +
      'Connection: close, X-Hop-Secret\r\nX-Hop-Secret: 1\r\nProxy-Connection: keep-alive\r\nX-Kept: 1\r\n' +
      `Content-Type: application/json\r\nContent-Length: ${json.length}\r\n\r\n${json}`);
    assert.equal(r.status, 200);
    const e = (await m.log()).filter((x) => x.transport === 'http').at(-1);
    assert.equal(e.headers['x-kept'], '1', 'an end-to-end header goes through');
    assert.equal(e.headers['x-hop-secret'], undefined, 'named in Connection: hop-by-hop');
    assert.equal(e.headers['proxy-connection'], undefined);
  } finally {
    await proxy.stop();
    await m.stop();
  }
});

test('h2o\'s own proxy errors reach clients in OpenAI\'s JSON format', async () => {
  // a port nothing listens on
  const dead = net.createServer();
  await new Promise((r) => dead.listen(0, '127.0.0.1', r));
  const port = dead.address().port;
  await new Promise((r) => dead.close(r));
  const proxy = await startProxy({ upstream: `http://127.0.0.1:${port}/v1` });
  try {
    const r = await httpJson('GET', proxy.base + '/models', undefined, auth('sk-dead'));
    assert.equal(r.status, 502);
    assert.match(r.headers['content-type'], /^application\/json/);
    assert.equal(r.json.error.code, 'upstream_error');
    assert.match(r.json.error.message, /connection failed/);
    // the automatic fallback ends on the same path: WebSocket mode fails, then plain HTTP does
    const f = await httpJson('POST', proxy.base + '/responses', body('hi'), auth('sk-dead'), { timeoutMs: 9000 });
    assert.equal(f.status, 502);
    assert.equal(f.json.error.code, 'upstream_error');
  } finally {
    await proxy.stop();
  }
});

test('request smuggling shapes over HTTP/1.1 are answered 400 and the connection closed', async () => {
  const proxy = await startProxy({ upstream: mock.base });
  try {
    const json = JSON.stringify(body('hi'));
    const head = 'POST /v1/responses HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer sk-smuggle\r\nContent-Type: application/json\r\n';
    const two = await rawHttp(proxy.port, `${head}Content-Length: ${json.length}\r\nContent-Length: 5\r\n\r\n${json}`);
    assert.equal(two.status, 400);
    assert.match(two.head, /\r\nconnection: close/i);
    assert.equal(JSON.parse(two.body).error.code, 'invalid_request_framing');
    const chunked = `${json.length.toString(16)}\r\n${json}\r\n0\r\n\r\n`;
    const te = await rawHttp(proxy.port, `${head}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n${chunked}`);
    assert.equal(te.status, 400);
    // on a kept-alive connection: the first request is served, the second, sent with it, is refused
    const both = await rawHttp(proxy.port, `${head}Content-Length: ${json.length}\r\n\r\n${json}` +
      `${head}Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n${chunked}`);
    assert.equal(both.status, 200);
    assert.match(both.body, /HTTP\/1\.1 400 /);
    // the same length twice, and a plain kept-alive pair, are fine
    const same = await rawHttp(proxy.port, `${head}Content-Length: ${json.length}\r\nContent-Length: ${json.length}\r\n\r\n${json}` +
      `${head}Content-Length: ${json.length}\r\nConnection: close\r\n\r\n${json}`);
    assert.equal(same.status, 200);
    assert.match(same.body, /HTTP\/1\.1 200 /);
  } finally {
    await proxy.stop();
  }
});

test('--admin-listen: /metrics, /stats and /status only there; the probes stay on --listen', async () => {
  const proxy = await startProxy({ upstream: mock.base, args: ['--admin-listen', '127.0.0.1:0'] });
  try {
    const port = Number(/admin endpoints on 127\.0\.0\.1:(\d+)/.exec(proxy.stderr())[1]);
    assert.notEqual(port, proxy.port);
    const admin = `http://127.0.0.1:${port}`;
    const ok = await httpJson('POST', proxy.base + '/responses', body('hi'), auth('sk-admin'));
    assert.equal(ok.status, 200);
    for (const path of ['/metrics', '/stats', '/status']) {
      const main = await httpJson('GET', proxy.url + path, undefined, auth('sk-admin'));
      assert.notEqual(main.status, 200, `${path} is not on --listen`);
      assert.doesNotMatch(main.text, /deltawire_requests_total|upstream_connections/);
      assert.equal((await fetch(admin + path)).status, 200, `${path} on --admin-listen`);
    }
    assert.match(await (await fetch(admin + '/metrics')).text(), /deltawire_requests_total\{outcome="full"\} 1\n/);
    for (const path of ['/healthz', '/readyz']) {
      assert.equal((await fetch(proxy.url + path)).status, 200);
      assert.equal((await fetch(admin + path)).status, 200);
    }
    // the admin address serves nothing else: no API, no passthrough
    const api = await httpJson('POST', admin + '/v1/responses', body('hi'), auth('sk-admin'));
    assert.equal(api.status, 404);
    assert.equal(api.json.error.code, 'not_found');
    assert.equal((await httpJson('GET', admin + '/v1/models', undefined, auth('sk-admin'))).status, 404);
  } finally {
    await proxy.stop();
  }
});
