// TLS on both sides: wss:// and https:// upstream verified against --upstream-ca, and TLS for
// clients with HTTP/2 over ALPN.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http2 from 'node:http2';
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
