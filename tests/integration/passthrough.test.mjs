// The plain HTTP passthrough for every other path: streamed as it arrives, with header hygiene.
// The upstream here is a tiny Node server, so that any path and any timing can be served.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startProxy, stopAll } from './lib/harness.mjs';

after(stopAll);

// A chat-completions upstream that writes each chunk only once the client, through the proxy, has
// read the one before: a proxy that buffered the body would leave the client waiting for part 0.
// A chunk not read within 5 s ends the body early (stalled, so the test fails instead of hanging).
function chatUpstream(parts = 5) {
  const seen = [];
  const read = Array.from({ length: parts }, () => {
    let done;
    const p = new Promise((r) => { done = r; });
    return { p, done };
  });
  const up = { seen, stalled: false, read: (i) => read[i].done() };
  up.server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', async () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (let i = 0; i < parts; i++) {
        res.write(`data: {"choices":[{"delta":{"content":"part ${i}"}}]}\n\n`);
        let timer;
        const late = new Promise((r) => { timer = setTimeout(() => r('stalled'), 5000); });
        const got = await Promise.race([read[i].p, late]);
        clearTimeout(timer);
        if (got === 'stalled') { up.stalled = true; break; }
      }
      res.end('data: [DONE]\n\n');
    });
  });
  return new Promise((resolve) => up.server.listen(0, '127.0.0.1', () => { up.port = up.server.address().port; resolve(up); }));
}

test('a streaming POST on another path streams through, chunk by chunk, with only end-to-end headers', async () => {
  const up = await chatUpstream();
  const proxy = await startProxy({ upstream: `http://127.0.0.1:${up.port}/v1` });
  const res = await fetch(proxy.base + '/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-pass', 'x-request-id': 'r-1' },
    body: JSON.stringify({ model: 'gpt-5.5', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
  });
  assert.equal(res.status, 200);
  let chunks = 0;
  let text = '';
  let next = 0; // the first part not yet seen
  const decoder = new TextDecoder();
  for await (const chunk of res.body) {
    chunks++;
    text += decoder.decode(chunk, { stream: true });
    while (next < 5 && text.includes(`part ${next}`)) up.read(next++);
  }
  assert.equal(up.stalled, false, 'every part reached the client before the upstream wrote the next');
  assert.match(text, /part 0[\s\S]*part 4[\s\S]*\[DONE\]/);
  assert.ok(chunks >= 5, `one chunk per part at least, not one buffered body (${chunks})`);
  const seen = up.seen[0];
  assert.equal(seen.method, 'POST');
  assert.equal(seen.url, '/v1/completions');
  assert.equal(seen.headers.authorization, 'Bearer sk-pass');
  assert.equal(JSON.parse(seen.body).messages[0].content, 'hi');
  for (const h of ['x-forwarded-for', 'via', 'forwarded'])
    assert.equal(seen.headers[h], undefined, `${h} must not reach the upstream`);
  await proxy.stop();
  up.server.close();
});
