// Accounting (issue 12, item 2): a request is counted and logged once, when it ends, with the
// status the client really got and the one recovery that got it there.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startMock, startProxy, stopAll, httpJson, waitFor } from './lib/harness.mjs';

after(stopAll);

const auth = { authorization: 'Bearer sk-accounting' };
const body = { model: 'gpt-5.5', input: [{ role: 'user', content: 'hi, no tools' }], store: false };

function metric(text, name, labels = '') {
  const line = text.split('\n').find((l) => l.startsWith(name + labels + ' '));
  assert.ok(line, `${name}${labels} is exported`);
  return Number(line.split(' ').at(-1));
}

// The request log lines of a proxy, once there are n of them.
async function requestLines(proxy, n) {
  return waitFor(() => {
    const lines = proxy.stderr().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l))
      .filter((l) => l.event === 'request');
    return lines.length >= n ? lines : null;
  });
}

// An upstream whose WebSocket handshakes fail on the network (the socket is dropped) while plain
// HTTP answers a completed response.
async function startNoUpgradeUpstream() {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const answer = JSON.stringify({ id: 'resp_http', object: 'response', status: 'completed', output: [] });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(answer);
    });
  });
  server.on('upgrade', (req, socket) => socket.destroy());
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { base: `http://127.0.0.1:${server.address().port}/v1`, stop: () => new Promise((r) => server.close(r)) };
}

test('a plain HTTP fallback that ends in 502 is logged with 502 and counts no recovery', async () => {
  // nobody listens: three handshakes fail on the network, then plain HTTP fails too
  const proxy = await startProxy({ upstream: 'http://127.0.0.1:9/v1' });
  const r = await httpJson('POST', proxy.base + '/responses', body, auth);
  assert.equal(r.status, 502);
  const [line] = await requestLines(proxy, 1);
  assert.equal(line.status, 502, 'the log says what the client got');
  assert.equal(line.outcome, 'fallback_http');
  assert.match(line.error, /plain HTTP after: could not reach the upstream/);
  const text = await (await fetch(proxy.url + '/metrics')).text();
  assert.equal(metric(text, 'deltawire_upstream_handshake_failures_total', '{reason="network"}'), 3);
  assert.equal(metric(text, 'deltawire_recoveries_total', '{reason="handshake_retry"}'), 0);
  assert.equal(metric(text, 'deltawire_recoveries_total', '{reason="http_fallback"}'), 0);
  assert.equal(metric(text, 'deltawire_requests_total', '{outcome="fallback_http"}'), 1);
  await proxy.stop();
});

test('handshakes that keep failing, then plain HTTP that works: one request, one recovery', async () => {
  const up = await startNoUpgradeUpstream();
  const proxy = await startProxy({ upstream: up.base });
  const r = await httpJson('POST', proxy.base + '/responses', body, auth);
  assert.equal(r.status, 200);
  assert.equal(r.json.id, 'resp_http');
  const [line] = await requestLines(proxy, 1);
  assert.equal(line.status, 200);
  assert.equal(line.outcome, 'fallback_http');
  assert.equal(line.attempts, 3);
  assert.equal(line.error, undefined, 'a recovered request logs no error');
  const text = await (await fetch(proxy.url + '/metrics')).text();
  assert.equal(metric(text, 'deltawire_upstream_handshake_failures_total', '{reason="network"}'), 3);
  assert.equal(metric(text, 'deltawire_recoveries_total', '{reason="handshake_retry"}'), 0);
  assert.equal(metric(text, 'deltawire_recoveries_total', '{reason="http_fallback"}'), 1);
  await proxy.stop();
  await up.stop();
});

test('an idle connection that closes takes its store=false record with it', async () => {
  const mock = await startMock();
  const proxy = await startProxy({ upstream: mock.base, args: ['--idle-timeout', '0.2'] });
  const metrics = async () => (await fetch(proxy.url + '/metrics')).text();
  const r = await httpJson('POST', proxy.base + '/responses', body, auth);
  assert.equal(r.status, 200);
  assert.equal(metric(await metrics(), 'deltawire_transcripts'), 1);
  // the sweep closes the idle connection; the upstream's cache went with it, and so does the record
  await waitFor(async () => metric(await metrics(), 'deltawire_upstream_connections', '{state="open"}') === 0);
  assert.equal(metric(await metrics(), 'deltawire_transcripts'), 0);
  await proxy.stop();
  await mock.stop();
});
