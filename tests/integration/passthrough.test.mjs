// The plain HTTP passthrough for every other path: streamed as it arrives, with header hygiene.
// The upstream here is a tiny Node server, so that any path and any timing can be served.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startProxy, stopAll } from './lib/harness.mjs';

after(stopAll);

function chatUpstream() {
  const seen = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', async () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (let i = 0; i < 5; i++) {
        res.write(`data: {"choices":[{"delta":{"content":"part ${i}"}}]}\n\n`);
        await new Promise((r) => setTimeout(r, 120));
      }
      res.end('data: [DONE]\n\n');
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, seen, port: server.address().port })));
}

test('a streaming POST on another path streams through, chunk by chunk, with only end-to-end headers', async () => {
  const up = await chatUpstream();
  const proxy = await startProxy({ upstream: `http://127.0.0.1:${up.port}/v1` });
  const t0 = Date.now();
  const res = await fetch(proxy.base + '/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-pass', 'x-request-id': 'r-1' },
    body: JSON.stringify({ model: 'gpt-5.5', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
  });
  assert.equal(res.status, 200);
  const arrivals = [];
  let text = '';
  const decoder = new TextDecoder();
  for await (const chunk of res.body) {
    arrivals.push(Date.now() - t0);
    text += decoder.decode(chunk, { stream: true });
  }
  assert.match(text, /part 0[\s\S]*part 4[\s\S]*\[DONE\]/);
  assert.ok(arrivals.length >= 3, 'several chunks, not one buffered body');
  assert.ok(arrivals.at(-1) - arrivals[0] >= 300, `the first chunk came before the last was written (${arrivals})`);
  const seen = up.seen[0];
  assert.equal(seen.method, 'POST');
  assert.equal(seen.url, '/v1/chat/completions');
  assert.equal(seen.headers.authorization, 'Bearer sk-pass');
  assert.equal(JSON.parse(seen.body).messages[0].content, 'hi');
  for (const h of ['x-forwarded-for', 'via', 'forwarded'])
    assert.equal(seen.headers[h], undefined, `${h} must not reach the upstream`);
  await proxy.stop();
  up.server.close();
});
