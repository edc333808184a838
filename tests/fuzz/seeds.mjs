// Derives the seed corpus of every fuzz target from the captured client traffic
// (tests/fixtures/clients), in the input format each target reads (see the comment at the top of
// tests/fuzz/fuzz_<target>.c). Usage: node seeds.mjs FIXTURES_DIR OUT_DIR
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const [fixtures, out] = process.argv.slice(2);
if (!fixtures || !out) {
  console.error('usage: node seeds.mjs FIXTURES_DIR OUT_DIR');
  process.exit(2);
}
const MAX_SEED = 64 * 1024;
const counts = {};

function seed(target, data) {
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data);
  if (buf.length > MAX_SEED) return;
  const dir = join(out, target);
  mkdirSync(dir, { recursive: true });
  const name = createHash('sha1').update(buf).digest('hex');
  if (!existsSync(join(dir, name))) counts[target] = (counts[target] ?? 0) + 1;
  writeFileSync(join(dir, name), buf);
}

const byte = (b) => Buffer.from([b]);

for (const conf of readdirSync(fixtures, { withFileTypes: true })) {
  if (!conf.isDirectory()) continue;
  const dir = join(fixtures, conf.name);
  const pool = [];
  for (const f of readdirSync(dir).filter((f) => /^turn-\d+(\.response)?\.json$/.test(f))) {
    const raw = readFileSync(join(dir, f));
    const doc = JSON.parse(raw);
    const response = f.includes('.response');
    seed('json_scan', raw);
    // body_decode: the body compressed one coding deep (odd byte 0), and as it is with an encoding
    for (const m of [0x01, 0x03, 0x05, 0x07, 0x09, 0x0b, 0x8d, 0x4f]) seed('body_decode', Buffer.concat([byte(m), raw]));
    seed('body_decode', Buffer.concat([byte(0xfe), byte(8), Buffer.from('identity'), raw]));
    if (!response) {
      // bodies: the turn itself kept, then read again whole, and continued by one more item where
      // its input ends the document
      seed('bodies', raw);
      const more = Buffer.from(',{"role":"user","content":"and then?"}]}');
      const cut = raw.length - 2;
      if (raw.slice(cut).toString() === ']}')
        seed('bodies', Buffer.concat([raw, byte(0), byte(cut >> 8 & 255), byte(cut & 255), more]));
      seed('frame', Buffer.concat([byte(0), raw]));
      seed('frame', Buffer.concat([byte(3), raw]));
    }
    const items = (response ? doc.output : doc.input) ?? [];
    for (const item of Array.isArray(items) ? items : []) {
      const text = JSON.stringify(item);
      seed('canon', text);
      pool.push(text);
      if (response) {
        const ev = JSON.stringify({ type: 'response.output_item.done', sequence_number: 3, output_index: 0, item });
        seed('sse', Buffer.concat([byte(0), Buffer.from(ev)]));
      }
    }
    if (response) {
      const completed = { type: 'response.completed', sequence_number: 9, response: { ...doc, previous_response_id: 'resp_up' } };
      seed('sse', Buffer.concat([byte(1), Buffer.from(JSON.stringify(completed, null, 1))]));
    }
  }
  // a conversation: record (op 0) the pool's first items under credential 1, look them up under 2,
  // record stored turns echoed without optional fields (0x54) and as item_references (0x94)
  const ops = [0x10, 4, 0, 1, 2, 3, 2, 4, 5, 0x21, 6, 0, 1, 2, 3, 4, 5, 0x54, 2, 0, 1, 3, 2, 3, 4,
    0x94, 2, 0, 1, 3, 2, 3, 4, 0x02, 1, 4, 0x13, 1, 0];
  seed('transcripts', Buffer.concat([byte(ops.length), Buffer.from(ops), Buffer.from(pool.slice(0, 16).join('\n'))]));
}

for (const s of ['{"input":[]}', '{"input":"hi","stream":true,"type":"x"}', '{"input":[{"role":"user","content":"a"}],"stream":false}']) {
  seed('frame', Buffer.concat([byte(1), Buffer.from(s)]));
  seed('json_scan', s);
}
for (const h of [
  'POST /v1/responses HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello',
  'POST /v1/responses HTTP/1.1\r\nContent-Length: 5\r\ncontent-length: 005\r\n\r\n',
  'POST / HTTP/1.1\nContent-Length: 5\nContent-Length: 6\n\n',
  '\r\nPOST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n',
  'POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n',
]) seed('http1_framing', h);
seed('sse', Buffer.concat([byte(2), Buffer.from('{"type":"error","status":400,"error":{"message":"m"}}')]));
// bodies: a number item at the end of the shared bytes, and an item changed in the middle
const kept = '{"model":"m","input":[{"a":1},5]}';
seed('bodies', Buffer.concat([Buffer.from(kept), byte(0), byte(0), byte(kept.length - 2), Buffer.from(',{"b":2}]}')]));
const three = '{"input":[{"role":"user","content":"a"},{"role":"user","content":"b"},{"role":"user","content":"c"}]}';
const at = three.indexOf('"b"') + 1;
seed('bodies', Buffer.concat([Buffer.from(three), byte(0), byte(0), byte(at), Buffer.from('B' + three.slice(at + 1))]));
// bodies: a shorter body sharing every item of the kept one, whose buffer it takes over: the buffer
// shrinks below the kept body's members after the input, which are not to be read any more
const after = '{"input":[{"a":1}],"store":false,"tools":[]}';
seed('bodies', Buffer.concat([Buffer.from(after), byte(0), byte(0), byte(after.indexOf(']') + 1), Buffer.from('}')]));
console.log(Object.entries(counts).map(([t, n]) => `${t}: ${n} seeds`).join(', '));
