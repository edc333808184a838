// One request must not stall everyone (issue 14 item 4): a large body is checked and digested on
// libuv's thread pool while the loop keeps serving; more items than --max-items go over plain HTTP
// unchanged.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { startMock, startProxy, stopAll, httpJson, waitFor, canonicalItems } from './lib/harness.mjs';

let mock;
before(async () => { mock = await startMock(); });
after(stopAll);

const auth = (k) => ({ authorization: `Bearer ${k}` });

async function gauge(proxy, name) {
  const text = await (await fetch(proxy.url + '/metrics')).text();
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  assert.ok(line, `${name} is exported`);
  return Number(line.split(' ').at(-1));
}

test('while a 32 MiB body of tiny items is digested, /healthz and a small request are answered', async () => {
  const proxy = await startProxy({ upstream: mock.base, args: ['--max-items', '100000000'] });
  const stop = new AbortController();
  try {
    const item = '{"type":"message","role":"user","content":"x"}';
    const n = Math.floor((32 << 20) / (item.length + 1));
    const big = `{"model":"gpt-5.5","store":false,"input":[${Array(n).fill(item).join(',')}]}`;
    let bigDone = false;
    const pending = fetch(proxy.base + '/responses', {
      method: 'POST', body: big, signal: stop.signal, headers: { 'content-type': 'application/json', ...auth('sk-big') },
    }).then((r) => r.text()).catch(() => null).finally(() => { bigDone = true; });
    // /metrics answers while the big body is on the thread pool
    await waitFor(async () => (await gauge(proxy, 'deltawire_bodies_checking')) === 1, { timeoutMs: 60000, intervalMs: 10 });
    const health = await fetch(proxy.url + '/healthz', { signal: AbortSignal.timeout(20000) });
    assert.equal(health.status, 200);
    const small = await httpJson('POST', proxy.base + '/responses',
      { model: 'gpt-5.5', store: false, input: [{ role: 'user', content: 'small' }] }, auth('sk-small'), { timeoutMs: 20000 });
    assert.equal(small.status, 200);
    assert.equal(await gauge(proxy, 'deltawire_bodies_checking'), 1, 'the big body is still being digested');
    assert.equal(bigDone, false);
    // the client goes away mid-digest: the job finishes, the request ends, nothing is left behind
    stop.abort();
    await pending;
    await waitFor(async () => (await gauge(proxy, 'deltawire_bodies_checking')) === 0 &&
      (await gauge(proxy, 'deltawire_inflight_requests')) === 0, { timeoutMs: 120000, intervalMs: 50 });
    assert.equal((await fetch(proxy.url + '/healthz')).status, 200);
  } finally {
    stop.abort();
    await proxy.stop();
  }
});

test('an HTTP/2 client that resets its stream while its body is digested leaves nothing behind', async () => {
  const proxy = await startProxy({ upstream: mock.base, args: ['--max-items', '100000000'] });
  const session = http2.connect(proxy.url);
  session.on('error', () => {});
  try {
    const item = '{"type":"message","role":"user","content":"y"}';
    const n = Math.floor((32 << 20) / (item.length + 1));
    const big = Buffer.from(`{"model":"gpt-5.5","store":false,"input":[${Array(n).fill(item).join(',')}]}`);
    const stream = session.request({ ':method': 'POST', ':path': '/v1/responses', 'content-type': 'application/json',
      'content-length': String(big.length), ...auth('sk-big-h2') });
    stream.on('error', () => {});
    stream.end(big);
    await waitFor(async () => (await gauge(proxy, 'deltawire_bodies_checking')) === 1, { timeoutMs: 60000, intervalMs: 10 });
    stream.close(http2.constants.NGHTTP2_CANCEL);
    await waitFor(async () => (await gauge(proxy, 'deltawire_bodies_checking')) === 0 &&
      (await gauge(proxy, 'deltawire_inflight_requests')) === 0, { timeoutMs: 120000, intervalMs: 50 });
    const r = await httpJson('POST', proxy.base + '/responses',
      { model: 'gpt-5.5', store: false, input: [{ role: 'user', content: 'after' }] }, auth('sk-big-h2'));
    assert.equal(r.status, 200);
  } finally {
    session.destroy();
    await proxy.stop();
  }
});

test('more input items than --max-items go over plain HTTP unchanged', async () => {
  const proxy = await startProxy({ upstream: mock.base, args: ['--max-items', '3'] });
  try {
    await mock.reset();
    const input = [1, 2, 3, 4, 5].map((i) => ({ role: 'user', content: `item ${i}` }));
    const r = await httpJson('POST', proxy.base + '/responses', { model: 'gpt-5.5', store: false, input }, auth('sk-items'));
    assert.equal(r.status, 200, r.text);
    const e = (await mock.log()).at(-1);
    assert.equal(e.transport, 'http');
    assert.deepEqual(canonicalItems(e.full_input), canonicalItems(input));
    const ok = await httpJson('POST', proxy.base + '/responses', { model: 'gpt-5.5', store: false, input: input.slice(0, 3) },
      auth('sk-items'));
    assert.equal(ok.status, 200);
    assert.equal((await mock.log()).at(-1).transport, 'ws', 'at the bound: the WebSocket path');
  } finally {
    await proxy.stop();
  }
});

// Work per turn scales with the new bytes (issue 16): a large history, digested off the loop, goes
// as a delta on its next turn, and only the items the item cache did not know are canonicalised.
test('the next turn of a large history canonicalises only its new items, and goes as a delta', async () => {
  const proxy = await startProxy({ upstream: mock.base });
  const history = Array.from({ length: 3000 }, (_, i) =>
    ({ type: 'message', role: 'user', content: `item ${i}: ${'y'.repeat(100)}` }));
  const body = { model: 'gpt-5.5', store: false, input: history };
  assert.ok(JSON.stringify(body).length > 256 * 1024, 'the body is checked off the loop');
  const r1 = await httpJson('POST', proxy.base + '/responses', body, auth('sk-history'));
  assert.equal(r1.status, 200, r1.text);
  const after1 = await gauge(proxy, 'deltawire_items_canonicalised_total');
  assert.ok(after1 >= history.length, `turn 1 canonicalised its ${history.length} items (${after1})`);
  const next = [...history, ...r1.json.output, { role: 'user', content: 'and now?' }];
  const r2 = await httpJson('POST', proxy.base + '/responses', { ...body, input: next }, auth('sk-history'));
  assert.equal(r2.status, 200, r2.text);
  const added = (await gauge(proxy, 'deltawire_items_canonicalised_total')) - after1;
  assert.ok(added <= r1.json.output.length + 1, `turn 2 canonicalised ${added} items, the new ones only`);
  const last = (await mock.log()).at(-1);
  assert.notEqual(last.previous_response_id, null, 'turn 2 is a delta');
  assert.deepEqual(canonicalItems(last.full_input), canonicalItems(next));
  // turn 1's body was kept: turn 2's repeated items were keyed by comparing bytes, and turn 2's body
  // replaced it
  const keyed2 = await gauge(proxy, 'deltawire_items_keyed_by_comparison_total');
  assert.equal(keyed2, history.length, 'every item of turn 1 was found by comparison');
  assert.equal(await gauge(proxy, 'deltawire_bodies_kept'), 1);
  // and turn 2's scan resumed where turn 1's last item ends: those bytes were scanned on turn 1
  const skipped2 = await gauge(proxy, 'deltawire_body_bytes_scan_skipped_total');
  assert.equal(skipped2, JSON.stringify(body).length - ']}'.length);

  // one byte changed in item 7: items 0-6 are keyed by comparison, the rest are hashed, and the
  // changed history goes in full, as sent
  const edited = next.map((it, i) => (i === 7 ? { ...it, content: it.content.replace('item 7', 'item 8') } : it));
  const r3 = await httpJson('POST', proxy.base + '/responses', { ...body, input: edited }, auth('sk-history'));
  assert.equal(r3.status, 200, r3.text);
  assert.equal((await gauge(proxy, 'deltawire_items_keyed_by_comparison_total')) - keyed2, 7);
  // its last item is turn 2's at the same offset: resumed after item 6, the last one before the edit
  const upto6 = JSON.stringify({ ...body, input: edited.slice(0, 7) }).length - ']}'.length;
  assert.equal((await gauge(proxy, 'deltawire_body_bytes_scan_skipped_total')) - skipped2, upto6);
  const third = (await mock.log()).at(-1);
  assert.equal(third.previous_response_id, null, 'an edited history is no continuation');
  assert.deepEqual(canonicalItems(third.full_input), canonicalItems(edited));
  assert.equal(await gauge(proxy, 'deltawire_bodies_kept'), 2, 'turn 2 is not replaced by an edit of it');

  // another key never compares with these bodies
  const other = await httpJson('POST', proxy.base + '/responses', { ...body, input: next }, auth('sk-other'));
  assert.equal(other.status, 200, other.text);
  assert.equal((await gauge(proxy, 'deltawire_items_keyed_by_comparison_total')) - keyed2, 7);

  // a continuation of turn 2 that goes wrong after its items: the resumed scan finds the error at
  // its offset in the whole body, and nothing goes upstream
  const sent = (await mock.log()).length;
  const text = JSON.stringify({ ...body, input: [...next, { role: 'user', content: 'more' }] });
  const broken = text.slice(0, -2) + ',]}';
  const r4 = await httpJson('POST', proxy.base + '/responses', broken, auth('sk-history'));
  assert.equal(r4.status, 400, r4.text);
  assert.equal(r4.json.error.code, 'invalid_json');
  assert.match(r4.json.error.message, new RegExp(`invalid JSON at byte ${broken.length - 2}\\)`));
  assert.equal((await mock.log()).length, sent);
  // resumed from turn 2's body, which the edit did not replace: the whole of it is shared
  const skipped4 = (await gauge(proxy, 'deltawire_body_bytes_scan_skipped_total')) - skipped2 - upto6;
  assert.equal(skipped4, JSON.stringify({ ...body, input: next }).length - ']}'.length);
  await proxy.stop();
});

// The same for the bodies most agent turns send (16 KiB to 256 KiB), read on the loop: the next turn
// hashes and scans only its new items. A smaller body is not kept.
test('a mid-sized history is kept too: its next turn is keyed by comparison and scanned from its new items', async () => {
  const proxy = await startProxy({ upstream: mock.base });
  const small = { model: 'gpt-5.5', store: false, input: [{ role: 'user', content: 'x'.repeat(1000) }] };
  assert.equal((await httpJson('POST', proxy.base + '/responses', small, auth('sk-mid'))).status, 200);
  assert.equal(await gauge(proxy, 'deltawire_bodies_kept'), 0, 'a 1 KB body is not kept');
  const history = Array.from({ length: 300 }, (_, i) =>
    ({ type: 'message', role: 'user', content: `item ${i}: ${'w'.repeat(100)}` }));
  const body = { model: 'gpt-5.5', store: false, input: history };
  const len1 = JSON.stringify(body).length;
  assert.ok(len1 > 16 * 1024 && len1 < 256 * 1024, `${len1} bytes: read on the loop`);
  const r1 = await httpJson('POST', proxy.base + '/responses', body, auth('sk-mid'));
  assert.equal(r1.status, 200, r1.text);
  assert.equal(await gauge(proxy, 'deltawire_bodies_kept'), 1);
  const next = [...history, ...r1.json.output, { role: 'user', content: 'and now?' }];
  const r2 = await httpJson('POST', proxy.base + '/responses', { ...body, input: next }, auth('sk-mid'));
  assert.equal(r2.status, 200, r2.text);
  assert.equal(await gauge(proxy, 'deltawire_items_keyed_by_comparison_total'), history.length);
  assert.equal(await gauge(proxy, 'deltawire_body_bytes_scan_skipped_total'), len1 - ']}'.length);
  assert.equal(await gauge(proxy, 'deltawire_bodies_kept'), 1, 'turn 2 replaced turn 1');
  const last = (await mock.log()).at(-1);
  assert.notEqual(last.previous_response_id, null, 'turn 2 is a delta');
  assert.deepEqual(canonicalItems(last.full_input), canonicalItems(next));
  // a broken continuation: refused at its byte, and nothing goes upstream
  const sent = (await mock.log()).length;
  const broken = JSON.stringify({ ...body, input: [...next, { role: 'user', content: 'more' }] }).slice(0, -2) + ',]}';
  const r3 = await httpJson('POST', proxy.base + '/responses', broken, auth('sk-mid'));
  assert.equal(r3.status, 400, r3.text);
  assert.match(r3.json.error.message, new RegExp(`invalid JSON at byte ${broken.length - 2}\\)`));
  assert.equal((await mock.log()).length, sent);
  await proxy.stop();
});

// The usual next turn repeats the kept body it replaces past its last item: the kept body's buffer is
// taken over, and only the bytes after the shared ones are copied (issue 16). Shared bytes: the last
// body but its closing ']}'.
async function takeOverSession(itemCount, pad, key, turns) {
  const proxy = await startProxy({ upstream: mock.base });
  try {
    let input = Array.from({ length: itemCount }, (_, i) =>
      ({ type: 'message', role: 'user', content: `item ${i}: ${pad.repeat(100)}` }));
    let prev = null; // the last body sent, as bytes
    let copied = 0, scanned = 0, keyed = 0;
    for (let turn = 1; turn <= turns; turn++) {
      const text = JSON.stringify({ model: 'gpt-5.5', store: false, input });
      const r = await httpJson('POST', proxy.base + '/responses', text, auth(key));
      assert.equal(r.status, 200, r.text);
      const last = (await mock.log()).at(-1);
      assert.deepEqual(canonicalItems(last.full_input), canonicalItems(input), `turn ${turn}: the input as sent`);
      if (prev !== null) {
        assert.notEqual(last.previous_response_id, null, `turn ${turn} is a delta`);
        copied += Buffer.byteLength(prev) - ']}'.length;
        scanned += Buffer.byteLength(prev) - ']}'.length;
        keyed += JSON.parse(prev).input.length;
      }
      assert.equal(await gauge(proxy, 'deltawire_body_bytes_copy_skipped_total'), copied, `turn ${turn}: not copied`);
      assert.equal(await gauge(proxy, 'deltawire_body_bytes_scan_skipped_total'), scanned, `turn ${turn}: not scanned`);
      assert.equal(await gauge(proxy, 'deltawire_items_keyed_by_comparison_total'), keyed, `turn ${turn}: keyed`);
      assert.equal(await gauge(proxy, 'deltawire_bodies_kept'), 1, `turn ${turn}: one body kept`);
      assert.equal(await gauge(proxy, 'deltawire_bodies_kept_bytes') > Buffer.byteLength(text), true);
      prev = text;
      input = [...input, ...r.json.output, { role: 'user', content: `turn ${turn + 1}` }];
    }
    return proxy;
  } catch (e) {
    await proxy.stop();
    throw e;
  }
}

test('each turn of a large history takes the last body\'s buffer over: its bytes are compared, not copied', async () => {
  const proxy = await takeOverSession(3000, 'v', 'sk-take-large', 4);
  assert.ok(await gauge(proxy, 'deltawire_body_bytes_copy_skipped_total') > 3 * 256 * 1024);
  await proxy.stop();
});

test('each turn of a mid-sized history, read on the loop, takes the last body\'s buffer over too', async () => {
  const proxy = await takeOverSession(300, 'u', 'sk-take-mid', 4);
  await proxy.stop();
});

// Two requests of one key and conversation in flight at once: a kept body that another request holds
// (a worker may be reading it) is never taken, and both are answered with their own input.
test('a kept body held by another request in flight is not taken over, and both are answered as sent', async () => {
  const proxy = await startProxy({ upstream: mock.base, args: ['--max-items', '100000000'] });
  try {
    const history = Array.from({ length: 300 }, (_, i) =>
      ({ type: 'message', role: 'user', content: `item ${i}: ${'t'.repeat(100)}` }));
    const body = { model: 'gpt-5.5', store: false, input: history };
    const r1 = await httpJson('POST', proxy.base + '/responses', body, auth('sk-two'));
    assert.equal(r1.status, 200, r1.text);
    const tiny = { type: 'message', role: 'user', content: 'x' };
    const many = Array(Math.floor((32 << 20) / (JSON.stringify(tiny).length + 1))).fill(tiny);
    const next = [...history, ...r1.json.output, { role: 'user', content: 'and now?' }];

    // 1. an edit of the history, digested at length, holds turn 1's body without taking it (its
    // items are not all shared); the continuation sent meanwhile finds it held: no take, keyed by
    // comparison with it all the same
    const edited = history.map((it, i) => (i === 7 ? { ...it, content: it.content.replace('item 7', 'item 8') } : it));
    const slow = httpJson('POST', proxy.base + '/responses', { ...body, input: [...edited, ...many] }, auth('sk-two'),
      { timeoutMs: 240000 });
    await waitFor(async () => (await gauge(proxy, 'deltawire_bodies_checking')) === 1, { timeoutMs: 60000, intervalMs: 10 });
    const r2 = await httpJson('POST', proxy.base + '/responses', { ...body, input: next }, auth('sk-two'));
    assert.equal(r2.status, 200, r2.text);
    assert.equal(await gauge(proxy, 'deltawire_bodies_checking'), 1, 'the edit is still being digested');
    assert.equal(await gauge(proxy, 'deltawire_body_bytes_copy_skipped_total'), 0, 'a held body is not taken');
    assert.equal(await gauge(proxy, 'deltawire_items_keyed_by_comparison_total'), history.length);
    let last = (await mock.log()).at(-1);
    assert.notEqual(last.previous_response_id, null, 'the continuation is a delta');
    assert.deepEqual(canonicalItems(last.full_input), canonicalItems(next));
    const rs = await slow;
    assert.equal(rs.status, 200, rs.text.slice(0, 500));
    last = (await mock.log()).at(-1);
    assert.equal(last.full_input.length, edited.length + many.length);
    assert.deepEqual(canonicalItems(last.full_input.slice(0, edited.length)), canonicalItems(edited));
    assert.equal(await gauge(proxy, 'deltawire_body_bytes_copy_skipped_total'), 0, 'an edit takes nothing');

    // 2. (another key: the bodies above are not its candidates) a continuation digested at length
    // takes turn 1's body over at once (no one else holds it); a second continuation sent meanwhile
    // finds no body to compare with, and is answered as sent
    const s1 = await httpJson('POST', proxy.base + '/responses', body, auth('sk-two-b'));
    assert.equal(s1.status, 200, s1.text);
    const cont = [...history, ...s1.json.output, { role: 'user', content: 'and now?' }];
    const slow2 = httpJson('POST', proxy.base + '/responses', { ...body, input: [...cont, ...many] }, auth('sk-two-b'),
      { timeoutMs: 240000 });
    await waitFor(async () => (await gauge(proxy, 'deltawire_bodies_checking')) === 1, { timeoutMs: 60000, intervalMs: 10 });
    const keyed = await gauge(proxy, 'deltawire_items_keyed_by_comparison_total');
    const r3 = await httpJson('POST', proxy.base + '/responses', { ...body, input: cont }, auth('sk-two-b'));
    assert.equal(r3.status, 200, r3.text);
    assert.equal(await gauge(proxy, 'deltawire_bodies_checking'), 1, 'the long continuation is still being digested');
    assert.equal(await gauge(proxy, 'deltawire_items_keyed_by_comparison_total'), keyed, 'turn 1\'s body was taken');
    last = (await mock.log()).at(-1);
    assert.deepEqual(canonicalItems(last.full_input), canonicalItems(cont));
    const rs2 = await slow2;
    assert.equal(rs2.status, 200, rs2.text.slice(0, 500));
    last = (await mock.log()).at(-1);
    assert.equal(last.full_input.length, cont.length + many.length);
    assert.deepEqual(canonicalItems(last.full_input.slice(0, cont.length)), canonicalItems(cont));
    assert.equal(await gauge(proxy, 'deltawire_body_bytes_copy_skipped_total'),
      Buffer.byteLength(JSON.stringify(body)) - ']}'.length, 'the long continuation copied only its new bytes');
  } finally {
    await proxy.stop();
  }
});

// The client of a continuation goes away while its body is compared with the kept one (32 MiB: 32
// loop iterations), copied or digested: whichever it is, nothing is left behind and the key is served.
test('an HTTP/2 client that resets a continuation of a large kept body leaves nothing behind', async () => {
  const proxy = await startProxy({ upstream: mock.base, args: ['--max-items', '100000000'] });
  const session = http2.connect(proxy.url);
  session.on('error', () => {});
  try {
    const item = { type: 'message', role: 'user', content: 'w' };
    const input = Array(Math.floor((32 << 20) / (JSON.stringify(item).length + 1))).fill(item);
    const body = { model: 'gpt-5.5', store: false, input };
    const r1 = await httpJson('POST', proxy.base + '/responses', body, auth('sk-reset-take'), { timeoutMs: 240000 });
    assert.equal(r1.status, 200, r1.text.slice(0, 500));
    assert.equal(await gauge(proxy, 'deltawire_bodies_kept'), 1);
    const next = Buffer.from(JSON.stringify({ ...body, input: [...input, { role: 'user', content: 'next' }] }));
    const stream = session.request({ ':method': 'POST', ':path': '/v1/responses', 'content-type': 'application/json',
      'content-length': String(next.length), ...auth('sk-reset-take') });
    stream.on('error', () => {});
    stream.end(next);
    await waitFor(async () => (await gauge(proxy, 'deltawire_bodies_checking')) === 1, { timeoutMs: 60000, intervalMs: 5 });
    stream.close(http2.constants.NGHTTP2_CANCEL);
    await waitFor(async () => (await gauge(proxy, 'deltawire_bodies_checking')) === 0 &&
      (await gauge(proxy, 'deltawire_inflight_requests')) === 0, { timeoutMs: 120000, intervalMs: 50 });
    const small = [{ role: 'user', content: 'after' }];
    const r = await httpJson('POST', proxy.base + '/responses', { model: 'gpt-5.5', store: false, input: small },
      auth('sk-reset-take'));
    assert.equal(r.status, 200);
    assert.deepEqual(canonicalItems((await mock.log()).at(-1).full_input), canonicalItems(small));
  } finally {
    session.destroy();
    await proxy.stop();
  }
});

test('--body-memory 0 keeps no body, and the next turn still goes as a delta', async () => {
  const proxy = await startProxy({ upstream: mock.base, args: ['--body-memory', '0'] });
  const history = Array.from({ length: 3000 }, (_, i) =>
    ({ type: 'message', role: 'user', content: `item ${i}: ${'z'.repeat(100)}` }));
  const body = { model: 'gpt-5.5', store: false, input: history };
  const r1 = await httpJson('POST', proxy.base + '/responses', body, auth('sk-nomemory'));
  assert.equal(r1.status, 200, r1.text);
  const next = [...history, ...r1.json.output, { role: 'user', content: 'and now?' }];
  const r2 = await httpJson('POST', proxy.base + '/responses', { ...body, input: next }, auth('sk-nomemory'));
  assert.equal(r2.status, 200, r2.text);
  assert.equal(await gauge(proxy, 'deltawire_bodies_kept'), 0);
  assert.equal(await gauge(proxy, 'deltawire_items_keyed_by_comparison_total'), 0);
  assert.notEqual((await mock.log()).at(-1).previous_response_id, null, 'turn 2 is a delta');
  await proxy.stop();
});
