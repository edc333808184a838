// deltawire-mock: scripted outputs, padding, env flags, TLS, large HTTP bodies,
// and the real Codex request shapes from the captured fixtures.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import https from 'node:https';
import { startMock, stopAll, wsConnect, httpJson, sse } from './lib/harness.mjs';

const TOOLS = [{ type: 'function', name: 'run_shell', parameters: { type: 'object', properties: { command: { type: 'string' } } } }];
const body = (extra = {}) => ({ model: 'gpt-5.5', store: false, tools: TOOLS, input: [{ role: 'user', content: 'go' }], ...extra });
const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/clients');

let mock;
const sockets = [];
before(async () => { mock = await startMock(); });
after(async () => { for (const w of sockets) await w.close(); await stopAll(); });
beforeEach(async () => { await mock.reset(); });

async function connect(m = mock, headers = {}) {
  const ws = await wsConnect(`ws://127.0.0.1:${m.port}/v1/responses`, headers);
  sockets.push(ws);
  return ws;
}

test('script queue: canned outputs verbatim, in order, any transport, warm-ups excluded', { timeout: 15000 }, async () => {
  const first = [
    { id: 'rs_fixed1', type: 'reasoning', summary: [{ type: 'summary_text', text: 'Two parts.' }, { type: 'summary_text', text: 'Second.' }], encrypted_content: 'gAAAAABfixed' },
    { id: 'msg_fixed1', type: 'message', status: 'completed', content: [{ type: 'output_text', annotations: [], logprobs: [], text: 'Hello there world' }], role: 'assistant', phase: 'commentary', x_probe: 'unknown-field' },
    { id: 'ctc_fixed1', type: 'custom_tool_call', status: 'completed', call_id: 'call_fixed1', input: 'echo hi', name: 'exec' },
  ];
  const second = [{ id: 'ws_1', type: 'web_search_call', status: 'completed', action: { type: 'search', query: 'x' } },
    { id: 'msg_fixed2', type: 'message', status: 'completed', content: [{ type: 'output_text', annotations: [], logprobs: [], text: 'Bye' }], role: 'assistant' }];
  await mock.script([{ output: first }, { output: second }]);

  const evs = await sse(`${mock.base}/responses`, body({ stream: true }));
  const final = evs.at(-1).data.response;
  assert.deepEqual(final.output, first);
  assert.match(final.id, /^resp_[0-9a-f]{48}$/);
  assert.deepEqual(evs.filter((e) => e.event === 'response.output_item.done').map((e) => e.data.item), first);
  assert.equal(evs.filter((e) => e.event === 'response.output_text.delta').map((e) => e.data.delta).join(''), 'Hello there world');
  assert.equal(evs.filter((e) => e.event === 'response.reasoning_summary_part.added').length, 2);
  assert.equal(evs.find((e) => e.event === 'response.custom_tool_call_input.done').data.input, 'echo hi');

  const ws = await connect();
  ws.send({ type: 'response.create', ...body({ generate: false, input: [] }) });
  assert.deepEqual((await ws.untilTerminal()).at(-1).response.output, []);
  ws.send({ type: 'response.create', ...body() });
  const r2 = (await ws.untilTerminal()).at(-1).response;
  assert.deepEqual(r2.output, second);
  ws.send({ type: 'response.create', ...body() });
  const r3 = (await ws.untilTerminal()).at(-1).response;
  assert.deepEqual(r3.output.map((i) => i.type), ['reasoning', 'function_call'], 'back to the model');
  const bad = await httpJson('POST', `${mock.url}/__mock/script`, { responses: [{ nope: 1 }] });
  assert.equal(bad.status, 400);
});

test('--args-bytes/--text-bytes and metadata.mock_*_bytes pad the output', { timeout: 10000 }, async () => {
  const m = await startMock({ args: ['--args-bytes', '20000', '--text-bytes', '9000'] });
  const r1 = await httpJson('POST', `${m.base}/responses`, body());
  const args = r1.json.output[1].arguments;
  assert.ok(args.length >= 19990 && args.length <= 20010, `args ${args.length}`);
  assert.match(JSON.parse(args).command, /^echo hello #x+$/);
  const input = [...body().input, ...r1.json.output, { type: 'function_call_output', call_id: r1.json.output[1].call_id, output: 'hello' }];
  const evs = await sse(`${m.base}/responses`, body({ stream: true, input }));
  const text = evs.at(-1).data.response.output[1].content[0].text;
  assert.ok(text.length >= 9000 && text.length < 9100);
  const deltas = evs.filter((e) => e.event === 'response.output_text.delta');
  assert.equal(deltas.map((e) => e.data.delta).join(''), text);
  assert.ok(deltas.length <= 65);
  const r3 = await httpJson('POST', `${mock.base}/responses`, body({ metadata: { mock_args_bytes: '3000' } }));
  assert.ok(Math.abs(r3.json.output[1].arguments.length - 3000) <= 10);
  await m.stop();
});

test('flags from DELTAWIRE_MOCK_* environment variables (tool turns)', { timeout: 10000 }, async () => {
  const m = await startMock({ env: { DELTAWIRE_MOCK_TOOL_TURNS: '0' } });
  const r = await httpJson('POST', `${m.base}/responses`, body());
  assert.deepEqual(r.json.output.map((i) => i.type), ['reasoning', 'message']);
  await m.stop();
  const m3 = await startMock({ args: ['--tool-turns', '3'] });
  const input = [...body().input];
  const kinds = [];
  for (let i = 0; i < 4; i++) {
    const out = (await httpJson('POST', `${m3.base}/responses`, body({ input }))).json.output;
    kinds.push(out.map((x) => x.type).join(','));
    input.push(...out);
    const call = out.find((x) => x.type === 'function_call');
    if (call) input.push({ type: 'function_call_output', call_id: call.call_id, output: 'hello' });
  }
  assert.deepEqual(kinds, ['reasoning,function_call', 'reasoning,message,function_call', 'reasoning,message,function_call', 'reasoning,message']);
  await m3.stop();
});

test('HTTP bodies of ~64 MiB are accepted; bigger than --max-body-bytes is a 413', { timeout: 60000 }, async () => {
  const big = 'x'.repeat(64 * 1024 * 1024);
  const r = await httpJson('POST', `${mock.base}/responses`, body({ input: [{ role: 'user', content: big }] }));
  assert.equal(r.status, 200);
  const m = await startMock({ args: ['--max-body-bytes', '1000'] });
  const small = await httpJson('POST', `${m.base}/responses`, body({ input: [{ role: 'user', content: 'y'.repeat(5000) }] }));
  assert.equal(small.status, 413);
  assert.equal(small.json.error.code, 'request_too_large');
  await m.stop();
});

test('TLS: https and wss with --tls-cert/--tls-key', { timeout: 20000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dwm-tls-'));
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  try {
    const m = await startMock({ args: ['--tls-cert', cert, '--tls-key', key] });
    const ca = fs.readFileSync(cert);
    const res = await new Promise((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', port: m.port, path: '/v1/responses', method: 'POST', ca,
        headers: { 'content-type': 'application/json' } }, (r) => {
        let t = '';
        r.on('data', (d) => { t += d; });
        r.on('end', () => resolve({ status: r.statusCode, text: t }));
      });
      req.on('error', reject);
      req.end(JSON.stringify(body({ stream: true })));
    });
    assert.equal(res.status, 200);
    assert.match(res.text, /event: response\.completed/);
    const ws = await wsConnect(`wss://127.0.0.1:${m.port}/v1/responses`, {}, { rejectUnauthorized: true, ca });
    sockets.push(ws);
    assert.equal(ws.status, 101);
    ws.send({ type: 'response.create', ...body() });
    assert.equal((await ws.untilTerminal()).at(-1).type, 'response.completed');
    await m.stop();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

function fixture(dir, n) {
  return JSON.parse(fs.readFileSync(path.join(FIXTURES, dir, `turn-${n}.json`), 'utf8'));
}

test('Codex "responses-lite" frames: exec custom tool from additional_tools, chained by id', { timeout: 15000 }, async () => {
  const dir = 'codex-0.169.0-default-model-ws';
  const ws = await connect();
  ws.send(fixture(dir, 1));
  const warm = (await ws.untilTerminal()).at(-1).response;
  assert.deepEqual(warm.output, []);
  const t2 = fixture(dir, 2);
  t2.previous_response_id = warm.id;
  ws.send(t2);
  const evs = await ws.untilTerminal();
  const r2 = evs.at(-1).response;
  assert.equal(r2.previous_response_id, warm.id);
  const call = r2.output.find((i) => i.type === 'custom_tool_call');
  assert.ok(call, JSON.stringify(r2.output));
  assert.equal(call.name, 'exec');
  assert.match(call.id, /^ctc_[0-9a-f]{48}$/);
  assert.match(call.input, /tools\.exec_command/);
  assert.match(r2.output[0].encrypted_content, /^gAAAAAB/);
  assert.ok(evs.some((e) => e.type === 'response.custom_tool_call_input.delta'));
  const t3 = fixture(dir, 3);
  t3.previous_response_id = r2.id;
  t3.input[0].call_id = call.call_id;
  ws.send(t3);
  const r3 = (await ws.untilTerminal()).at(-1).response;
  assert.deepEqual(r3.output.map((i) => i.type), ['reasoning', 'message', 'custom_tool_call']);
});

test('Codex gpt-5.5 HTTP request shape: exec_command function tool', { timeout: 10000 }, async () => {
  const evs = await sse(`${mock.base}/responses`, fixture('codex-0.169.0-gpt-5.5-http', 1));
  const r = evs.at(-1).data.response;
  assert.equal(r.output[1].name, 'exec_command');
  assert.deepEqual(JSON.parse(r.output[1].arguments), { cmd: 'echo hello', yield_time_ms: 1000 });
  assert.equal(r.store, false);
  assert.deepEqual(r.text, fixture('codex-0.169.0-gpt-5.5-http', 1).text);
});
