// Security and robustness (issue 19): upstream handshakes that never complete, readiness that one
// client's credentials cannot flip, slow uploads, the HTTP path's headers and errors, and the
// handshake's Host header.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
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
