// The client connection's input sized for the body once the head gives Content-Length
// (proxy/client_conn.c, presize): never as far as h2o's file-backed buffers, which h2o makes from
// its mmap threshold (32 MiB) on: a temporary file under /tmp, mapped.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { startMock, startProxy, stopAll, waitFor } from './lib/harness.mjs';

let mock;
before(async () => { mock = await startMock(); });
after(stopAll);

const MiB = 1024 * 1024;
const json = (n) => Buffer.from(JSON.stringify({ model: 'gpt-5.5', store: false, input: [{ role: 'user', content: 'x'.repeat(n) }] }));
const head = (len) => 'POST /v1/responses HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer sk-presize\r\n' +
  `Content-Type: application/json\r\nContent-Length: ${len}\r\n\r\n`;

// h2o's file-backed buffers mapped by pid: /tmp/h2o.b.XXXXXX (deleted).
const fileBacked = (pid) => fs.readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n').filter((l) => l.includes('h2o.b.'));

async function inflight(proxy) {
  const text = await (await fetch(proxy.url + '/metrics')).text();
  return Number(text.split('\n').find((l) => l.startsWith('deltawire_inflight_requests ')).split(' ').at(-1));
}

test('a 9 MiB request after a pipelined 9 MiB one is not sized into a file-backed buffer', async () => {
  const proxy = await startProxy({ upstream: mock.base });
  const sock = net.connect(proxy.port, '127.0.0.1');
  try {
    let got = '';
    sock.on('data', (d) => { got += d; });
    sock.on('error', () => {});
    await new Promise((resolve) => sock.on('connect', resolve));
    const ok = (n) => (got.match(/HTTP\/1\.1 200/g) || []).length === n;
    // the first request leaves a 16 MiB input behind, the start of the second's head after its own
    // bytes: once h2o consumes the first, the second starts 9 MiB into that buffer
    const b1 = json(9 * MiB);
    const b2 = json(9 * MiB);
    const h2 = head(b2.length);
    sock.write(Buffer.concat([Buffer.from(head(b1.length)), b1, Buffer.from(h2.slice(0, 40))]));
    await waitFor(() => ok(1), { timeoutMs: 60000 });
    // the second, held by the upstream while its input is inspected
    await mock.fault({ first_event_delay_ms: 2000, count: 1 });
    sock.write(h2.slice(40));
    sock.write(b2);
    await waitFor(async () => (await inflight(proxy)) === 1, { timeoutMs: 60000, intervalMs: 20 });
    assert.deepEqual(fileBacked(proxy.child.pid), [], 'the input of a 9 MiB request is not file-backed');
    await waitFor(() => ok(2), { timeoutMs: 60000 });
  } finally {
    sock.destroy();
    await proxy.stop();
  }
});

test('a large HTTP/1.1 body gets its input sized once, at its head', async () => {
  const proxy = await startProxy({ upstream: mock.base });
  const presized = async () => {
    const text = await (await fetch(proxy.url + '/metrics')).text();
    return Number(/^deltawire_client_inputs_presized_total (\d+)/m.exec(text)[1]);
  };
  try {
    assert.equal(await presized(), 0);
    const b = json(2 * MiB);
    const sock = net.connect(proxy.port, '127.0.0.1');
    let got = '';
    sock.on('data', (d) => { got += d; });
    sock.on('error', () => {});
    await new Promise((resolve) => sock.on('connect', resolve));
    sock.write(head(b.length)); // the head alone, then the body: the input grows from the head's read
    await waitFor(async () => (await presized()) === 1, { timeoutMs: 10000, intervalMs: 20 });
    sock.write(b);
    await waitFor(() => /HTTP\/1\.1 200/.test(got), { timeoutMs: 60000 });
    sock.destroy();
    // a body no larger than what the head's read brought needs nothing
    const small = json(100);
    const r = await fetch(proxy.base + '/responses', { method: 'POST', body: small,
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-presize' } });
    assert.equal(r.status, 200);
    await r.text();
    assert.equal(await presized(), 1);
  } finally {
    await proxy.stop();
  }
});
