// TLS on both sides: wss:// and https:// upstream verified against --upstream-ca, and TLS for
// clients with HTTP/2 over ALPN.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { execFileSync } from 'node:child_process';
import { startMock, startProxy, stopAll, canonicalItems, httpJson } from './lib/harness.mjs';
import { runToolLoop } from './lib/loop.mjs';

let dir;
const openssl = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });

// A throwaway CA and a server certificate for 127.0.0.1, and a second, unrelated CA.
function makeCerts() {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dw-tls-'));
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=dw test CA');
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'other.key', '-out', 'other.pem', '-days', '2', '-subj', '/CN=other CA');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'srv.key', '-out', 'srv.csr', '-subj', '/CN=127.0.0.1');
  fs.writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  openssl('x509', '-req', '-in', 'srv.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'srv.pem', '-days', '2', '-extfile', 'ext.cnf');
  // valid, from the trusted CA, but issued for another name (as an on-path attacker could get one)
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'wrong.key', '-out', 'wrong.csr', '-subj', '/CN=wrong.example');
  fs.writeFileSync(path.join(dir, 'wrong.cnf'), 'subjectAltName=DNS:wrong.example,IP:10.9.9.9\nextendedKeyUsage=serverAuth\n');
  openssl('x509', '-req', '-in', 'wrong.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'wrong.pem', '-days', '2', '-extfile', 'wrong.cnf');
}

// A TLS terminator in front of the plain mock, pinned to one TLS version, that counts the bytes
// it decrypted and forwarded: anything above zero means a request reached the "upstream".
function startTerminator(target, certName, version) {
  const server = tls.createServer({
    key: fs.readFileSync(path.join(dir, `${certName}.key`)), cert: fs.readFileSync(path.join(dir, `${certName}.pem`)),
    minVersion: version, maxVersion: version,
  }, (sock) => {
    const up = net.connect(target, '127.0.0.1');
    sock.on('data', (d) => { server.forwarded += d.length; up.write(d); });
    up.pipe(sock);
    sock.on('error', () => up.destroy());
    up.on('error', () => sock.destroy());
    sock.on('close', () => up.destroy());
  });
  server.forwarded = 0;
  server.on('tlsClientError', () => {});
  // both loopback families: the upstream is named `localhost`, whichever address it resolves to
  return new Promise((resolve) => server.listen({ port: 0, host: '::', ipv6Only: false }, () => resolve(server)));
}

let mock;
before(async () => {
  makeCerts();
  mock = await startMock({ args: ['--tls-cert', path.join(dir, 'srv.pem'), '--tls-key', path.join(dir, 'srv.key')] });
});
after(async () => {
  await stopAll();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('wss:// upstream verified with --upstream-ca: deltas as over ws://, passthrough over https://', async () => {
  const proxy = await startProxy({ upstream: `https://127.0.0.1:${mock.port}/v1`, args: ['--upstream-ca', path.join(dir, 'ca.pem')] });
  const run = await runToolLoop(proxy.base, { maxTurns: 3 });
  assert.ok(run.turns.every((t) => t.status === 200));
  const text = await (await fetch(proxy.url + '/metrics')).text();
  assert.match(text, new RegExp(`deltawire_requests_total\\{outcome="delta"\\} ${run.turns.length - 1}\\n`));
  assert.match(text, /deltawire_requests_total\{outcome="full"\} 1\n/);
  const models = await httpJson('GET', proxy.base + '/models', undefined, { authorization: 'Bearer k' });
  assert.equal(models.status, 200);
  assert.equal(models.json.object, 'list');
  await proxy.stop();
});

test('an upstream certificate from another CA is refused: an honest 502, never plaintext', async () => {
  const proxy = await startProxy({ upstream: `https://127.0.0.1:${mock.port}/v1`,
    args: ['--upstream-ca', path.join(dir, 'other.pem'), '--transport', 'ws'] });
  const r = await httpJson('POST', proxy.base + '/responses', { model: 'gpt-5.5', input: 'hi' }, { authorization: 'Bearer k' });
  assert.equal(r.status, 502);
  assert.equal(typeof r.json.error.message, 'string');
  const text = await (await fetch(proxy.url + '/metrics')).text();
  assert.match(text, /deltawire_upstream_handshake_failures_total\{reason="network"\} [1-9]/);
  await proxy.stop();
});

test('clients over TLS get HTTP/2 by ALPN', async () => {
  const plain = await startMock();
  const proxy = await startProxy({ upstream: plain.base,
    args: ['--tls-cert', path.join(dir, 'srv.pem'), '--tls-key', path.join(dir, 'srv.key')] });
  const session = http2.connect(`https://127.0.0.1:${proxy.port}`, { ca: fs.readFileSync(path.join(dir, 'ca.pem')) });
  const { status, body, alpn } = await new Promise((resolve, reject) => {
    const req = session.request({ ':method': 'POST', ':path': '/v1/responses', 'content-type': 'application/json', authorization: 'Bearer k' });
    let data = '';
    let st;
    req.on('response', (h) => { st = h[':status']; });
    req.setEncoding('utf8');
    req.on('data', (c) => { data += c; });
    req.on('end', () => resolve({ status: st, body: data, alpn: session.alpnProtocol }));
    req.on('error', reject);
    req.end(JSON.stringify({ model: 'gpt-5.5', input: [{ role: 'user', content: 'hi over TLS, no tools' }] }));
  });
  session.close();
  assert.equal(alpn, 'h2');
  assert.equal(status, 200);
  assert.equal(JSON.parse(body).status, 'completed');
  const log = (await plain.log()).filter((e) => e.transport === 'ws');
  assert.deepEqual(canonicalItems(log.at(-1).full_input), canonicalItems([{ role: 'user', content: 'hi over TLS, no tools' }]));
  await proxy.stop();
  await plain.stop();
});

// A raw HTTP/1.1 exchange over TLS (ALPN http/1.1): `text` written with the handshake (it reaches
// the proxy with the client's Finished) or once it is done; resolves with the whole answer once the
// proxy closes the connection.
function tlsRaw(port, text, { early, version }) {
  return new Promise((resolve, reject) => {
    const sock = tls.connect({ port, host: '127.0.0.1', ca: fs.readFileSync(path.join(dir, 'ca.pem')),
      ALPNProtocols: ['http/1.1'], minVersion: version, maxVersion: version }, () => { if (!early) sock.write(text); });
    if (early)
      sock.write(text);
    let got = '';
    sock.setTimeout(10000, () => { sock.destroy(); reject(new Error(`no end; got ${got.slice(0, 200)}`)); });
    sock.on('data', (d) => { got += d; });
    sock.on('error', () => {});
    sock.on('close', () => resolve(got));
  });
}

// h2o's HTTP/1 layer starts on a TLS connection when the handshake's last write completes, and
// parses a request that came with the client's Finished straight away: the framing check must still
// see every head (the same shapes as security.test.mjs's, plain).
for (const version of ['TLSv1.2', 'TLSv1.3']) {
  test(`request smuggling shapes over TLS are answered 400 (${version})`, async () => {
    const plain = await startMock();
    const proxy = await startProxy({ upstream: plain.base,
      args: ['--tls-cert', path.join(dir, 'srv.pem'), '--tls-key', path.join(dir, 'srv.key')] });
    try {
      const json = JSON.stringify({ model: 'gpt-5.5', input: [{ role: 'user', content: 'hi, no tools' }] });
      const head = 'POST /v1/responses HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer sk-smuggle\r\n' +
        'Content-Type: application/json\r\n';
      for (const early of [true, false]) {
        const two = await tlsRaw(proxy.port, `${head}Content-Length: ${json.length}\r\nContent-Length: 5\r\n\r\n${json}`,
          { early, version });
        assert.match(two, /^HTTP\/1\.1 400 /, `two lengths, written ${early ? 'with' : 'after'} the handshake`);
        assert.match(two, /invalid_request_framing/);
        // the first request of a kept-alive pair is served, the second, sent with it, is refused
        const chunked = `${json.length.toString(16)}\r\n${json}\r\n0\r\n\r\n`;
        const both = await tlsRaw(proxy.port, `${head}Content-Length: ${json.length}\r\n\r\n${json}` +
          `${head}Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n${chunked}`, { early, version });
        assert.match(both, /^HTTP\/1\.1 200 /);
        assert.match(both, /\r\n\r\n[\s\S]*HTTP\/1\.1 400 /);
        const fine = await tlsRaw(proxy.port, `${head}Content-Length: ${json.length}\r\nConnection: close\r\n\r\n${json}`,
          { early, version });
        assert.match(fine, /^HTTP\/1\.1 200 /);
      }
    } finally {
      await proxy.stop();
      await plain.stop();
    }
  });
}

// One HTTPS request on `agent` (HTTP/1.1); resolves with the status and the body.
function httpsDo(agent, port, method, p, body) {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, method, path: p, agent, ca: fs.readFileSync(path.join(dir, 'ca.pem')),
      headers: body ? { 'content-type': 'application/json', 'content-length': body.length, authorization: 'Bearer sk-tls-presize' } : {},
      timeout: 20000 }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { data += c; });
      res.on('end', () => resolve({ status: res.statusCode, body: data }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

// h2o's HTTP/1 layer starts on a TLS connection after the handshake, outside deltawire's read
// callback: put back in front then, it sizes the input of each large request at its head, as on a
// plain connection (proxy/client_conn.c, presize); HTTP/2 frames are never sized.
test('over TLS an HTTP/1.1 client\'s large bodies get their input sized at the head, HTTP/2 ones do not', async () => {
  const plain = await startMock();
  const proxy = await startProxy({ upstream: plain.base,
    args: ['--tls-cert', path.join(dir, 'srv.pem'), '--tls-key', path.join(dir, 'srv.key')] });
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  const presized = async () => {
    const m = await httpsDo(agent, proxy.port, 'GET', '/metrics');
    return Number(/^deltawire_client_inputs_presized_total (\d+)/m.exec(m.body)[1]);
  };
  try {
    assert.equal(await presized(), 0);
    const big = (i) => Buffer.from(JSON.stringify({ model: 'gpt-5.5', store: false,
      input: [{ role: 'user', content: `${i} ${'x'.repeat(1 << 20)}` }] }));
    for (let i = 0; i < 3; i++)
      assert.equal((await httpsDo(agent, proxy.port, 'POST', '/v1/responses', big(i))).status, 200);
    // the requests after the first /metrics on one kept-alive connection: each head came in its own read
    assert.equal(await presized(), 3);
    const session = http2.connect(`https://127.0.0.1:${proxy.port}`, { ca: fs.readFileSync(path.join(dir, 'ca.pem')) });
    const status = await new Promise((resolve, reject) => {
      const req = session.request({ ':method': 'POST', ':path': '/v1/responses', 'content-type': 'application/json',
        authorization: 'Bearer sk-tls-presize' });
      req.on('response', (h) => resolve(h[':status']));
      req.on('error', reject);
      req.end(big(9));
    });
    session.close();
    assert.equal(status, 200);
    assert.equal(await presized(), 3, 'HTTP/2 is never sized');
  } finally {
    agent.destroy();
    await proxy.stop();
    await plain.stop();
  }
});

// An HTTP/1.1 connection (ALPN http/1.1) that starts with the HTTP/2 preface is handed to h2o's
// HTTP/2 layer: written with the Finished, HTTP/2 reads it when the handshake is over, and the
// callback presize waits for must not be learned from it (it was: no TLS input was sized after).
test('an HTTP/2 preface on a TLS HTTP/1.1 connection does not turn input sizing off', async () => {
  const plain = await startMock();
  const proxy = await startProxy({ upstream: plain.base,
    args: ['--tls-cert', path.join(dir, 'srv.pem'), '--tls-key', path.join(dir, 'srv.key')] });
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const settings = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);
    await new Promise((resolve) => {
      const sock = tls.connect({ port: proxy.port, host: '127.0.0.1', ca: fs.readFileSync(path.join(dir, 'ca.pem')),
        ALPNProtocols: ['http/1.1'] });
      sock.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), settings]));
      sock.on('data', () => sock.destroy()); // HTTP/2's SETTINGS
      sock.on('error', () => {});
      sock.on('close', resolve);
      sock.setTimeout(10000, () => sock.destroy());
    });
    const presized = async () => {
      const m = await httpsDo(agent, proxy.port, 'GET', '/metrics');
      return Number(/^deltawire_client_inputs_presized_total (\d+)/m.exec(m.body)[1]);
    };
    assert.equal(await presized(), 0);
    const big = Buffer.from(JSON.stringify({ model: 'gpt-5.5', store: false,
      input: [{ role: 'user', content: 'x'.repeat(1 << 20) }] }));
    assert.equal((await httpsDo(agent, proxy.port, 'POST', '/v1/responses', big)).status, 200);
    assert.equal(await presized(), 1);
  } finally {
    agent.destroy();
    await proxy.stop();
    await plain.stop();
  }
});

// Security issue, item 1: h2o 2.2.5 skips its own host-name check under TLS 1.3, so the HTTP path
// (passthrough, background, --transport http, and auto mode's fallback, which an attacker can force
// by failing the WebSocket handshake) must pin the name itself. Every path, both TLS versions.
// The upstream is named by DNS name (localhost): h2o's own check, where it runs (TLS 1.2), knows no
// IP SANs, so an IP-literal https upstream works on the WebSocket path only.
for (const version of ['TLSv1.2', 'TLSv1.3']) {
  test(`a trusted certificate for another host name is refused on every path (${version})`, async () => {
    const plain = await startMock();
    const bad = await startTerminator(plain.port, 'wrong', version);
    const good = await startTerminator(plain.port, 'srv', version);
    const ca = ['--upstream-ca', path.join(dir, 'ca.pem')];
    const body = { model: 'gpt-5.5', input: [{ role: 'user', content: 'hi, no tools' }] };
    const auth = { authorization: 'Bearer k' };
    const paths = [
      ['ws', ['--transport', 'ws'], 'POST', '/responses', body],
      ['auto with fallback', ['--transport', 'auto'], 'POST', '/responses', body],
      ['http', ['--transport', 'http'], 'POST', '/responses', body],
      ['background', ['--transport', 'auto'], 'POST', '/responses', { ...body, background: true }],
      ['passthrough', [], 'GET', '/models', undefined],
    ];
    try {
      for (const [name, args, method, p, b] of paths) {
        // the control: the same path to a certificate that names the host works
        const ok = await startProxy({ upstream: `https://localhost:${good.address().port}/v1`, args: [...ca, ...args] });
        const r1 = await httpJson(method, ok.base + p, b, auth);
        assert.equal(r1.status, 200, `${name} (${version}) to the right name: ${r1.text}`);
        await ok.stop();

        const proxy = await startProxy({ upstream: `https://localhost:${bad.address().port}/v1`, args: [...ca, ...args] });
        const r = await httpJson(method, proxy.base + p, b, auth);
        assert.equal(r.status, 502, `${name} (${version}) to the wrong name answered ${r.status}: ${r.text}`);
        assert.equal(bad.forwarded, 0, `${name} (${version}): ${bad.forwarded} bytes reached the impostor`);
        await proxy.stop();
      }
    } finally {
      bad.close();
      good.close();
      await plain.stop();
    }
  });
}
