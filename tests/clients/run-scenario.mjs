// Runs one client scenario twice and prints a JSON summary on stdout:
//   phase "direct": client -> recorder -> deltawire-mock (plain HTTP, as the client sends it)
//   phase "proxy":  client -> recorder -> deltawire -> (WebSocket) -> deltawire-mock
// The recorder (recorder.mjs) keeps the exact request bodies each client sent, so the
// tests can compare the mock's reconstructed input with the client's own input turn by turn.
// tests/integration/clients-*.test.mjs start this inside `unshare -n -p -f` when they can,
// so mock, proxy and client share a namespace that has nothing but loopback.
//   env: DW_BUILD_DIR, DW_CLIENTS_DIR, SCENARIO (a key of SCENARIOS), CLIENT_TIMEOUT_S
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startMock, startProxy, stopAll, track, httpJson, CLIENTS_DIR } from '../integration/lib/harness.mjs';
import { startRecorder } from './recorder.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const TIMEOUT_S = String(process.env.CLIENT_TIMEOUT_S || 120);
const CODEX_PROMPT = 'Run the shell command echo hello twice, then tell me what it printed.';
const CODEX_RESUME = 'Now say hi, no tools.';

const codex = (model, ws) => ({ kind: 'codex', model, ws });
const SCENARIOS = {
  'codex-gpt-5.5': codex('gpt-5.5', false),
  'codex-default-model': codex(null, false),
  'codex-gpt-5.5-ws-426': codex('gpt-5.5', true),
  'openai-node-nonstream': { kind: 'node', script: 'openai-loop.mjs', env: { MODE: 'nonstream' } },
  'openai-node-stream': { kind: 'node', script: 'openai-loop.mjs', env: { MODE: 'stream' } },
  'openai-node-stream-helper': { kind: 'node', script: 'openai-loop.mjs', env: { MODE: 'helper' } },
  'ai-sdk-generateText-store-default': { kind: 'node', script: 'ai-sdk-loop.mjs', env: { MODE: 'generate', STORE: 'default' } },
  'ai-sdk-generateText-store-false': { kind: 'node', script: 'ai-sdk-loop.mjs', env: { MODE: 'generate', STORE: 'false' } },
  'ai-sdk-streamText-store-default': { kind: 'node', script: 'ai-sdk-loop.mjs', env: { MODE: 'stream', STORE: 'default' } },
  'ai-sdk-streamText-store-false': { kind: 'node', script: 'ai-sdk-loop.mjs', env: { MODE: 'stream', STORE: 'false' } },
};

// No proxies, no telemetry: the clients may reach only what we give them.
function clientEnv(extra) {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (/^(https?|all|no)_proxy$/i.test(k) || /^OPENAI_/.test(k)) delete env[k];
  return { ...env, NO_PROXY: '*', no_proxy: '*', ...extra };
}

function run(name, cmd, args, opts) {
  const child = track(spawn('timeout', ['-k', '5', TIMEOUT_S, cmd, ...args], { ...opts, stdio: ['ignore', 'pipe', 'pipe'] }));
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  const t0 = Date.now();
  return new Promise((resolve) => child.once('exit', (code, sig) =>
    resolve({ name, rc: code ?? `signal ${sig}`, stdout, stderr, ms: Date.now() - t0 })));
}

function codexConfig(base, ws) {
  return `model_provider = "dw"
approval_policy = "never"
sandbox_mode = "danger-full-access"
check_for_update_on_startup = false

[analytics]
enabled = false

[model_providers.dw]
name = "deltawire test"
base_url = "${base}"
wire_api = "responses"
env_key = "DW_TEST_KEY"
supports_websockets = ${ws}
request_max_retries = 1
stream_max_retries = 1
`;
}

async function runClients(sc, base, scratch) {
  if (sc.kind === 'node') {
    const env = clientEnv({ ...sc.env, BASE_URL: base, DW_CLIENTS_DIR: CLIENTS_DIR });
    return [await run('client', process.execPath, [path.join(HERE, sc.script)], { env, cwd: scratch })];
  }
  // Codex: the same CODEX_HOME and working directory paths in both phases (they end up in the
  // prompt), wiped in between; `resume --last` is a new process reloading the session from disk.
  // HOME is an empty directory too: Codex runs tools in a login shell (`bash -lc`), which would
  // otherwise source the host user's profile (e.g. a pyenv rehash that writes to stderr).
  const home = path.join(scratch, 'codex-home');
  const work = path.join(scratch, 'work');
  const userHome = path.join(scratch, 'home');
  for (const d of [home, work, userHome]) { fs.rmSync(d, { recursive: true, force: true }); fs.mkdirSync(d); }
  fs.writeFileSync(path.join(home, 'config.toml'), codexConfig(base, sc.ws));
  const env = clientEnv({ HOME: userHome, CODEX_HOME: home, DW_TEST_KEY: 'sk-dummy-not-a-real-key' });
  const bin = path.join(CLIENTS_DIR, 'node_modules', '.bin', 'codex');
  const common = ['exec', '--strict-config', '--skip-git-repo-check', '--json', ...(sc.model ? ['-m', sc.model] : [])];
  const first = await run('codex', bin, [...common, CODEX_PROMPT], { env, cwd: work });
  if (first.rc !== 0) return [first];
  return [first, await run('codex resume', bin, [...common, 'resume', '--last', CODEX_RESUME], { env, cwd: work })];
}

async function phase(sc, kind, scratch) {
  const mock = await startMock();
  const proxy = kind === 'proxy' ? await startProxy({ upstream: mock.base }) : null;
  // The direct run of the WebSocket-enabled Codex gets the same 426 as deltawire gives it.
  // Not from the mock's --refuse-upgrade 426: its status line is "HTTP/1.0 426 " (libwebsockets
  // in LWS_CALLBACK_HTTP_CONFIRM_UPGRADE), which Codex's WebSocket library rejects as a
  // protocol error ("HTTP version must be 1.1 or higher") and handles unlike a 426: three
  // attempts and an "error" item on stdout. The recorder answers with a well-formed one.
  const rec = await startRecorder((proxy || mock).url, { refuseUpgrade: kind === 'direct' && sc.ws ? 426 : 0 });
  const runs = await runClients(sc, rec.base, scratch);
  const out = {
    runs,
    requests: rec.requests,
    upgrades: rec.upgrades,
    log: await mock.log(),
    handshakes: await mock.handshakes(),
    stats: proxy ? (await httpJson('GET', `${proxy.url}/stats`)).json : null,
  };
  await rec.close();
  await stopAll();
  out.mockStderr = mock.stderr();
  out.proxyStderr = proxy ? proxy.stderr() : null;
  // how deltawire ended on SIGTERM (drain): exit code or signal
  out.proxyExit = proxy ? { code: proxy.child.exitCode, signal: proxy.child.signalCode } : null;
  return out;
}

async function main() {
  const name = process.env.SCENARIO;
  const sc = SCENARIOS[name];
  if (!sc) throw new Error(`unknown SCENARIO ${name}`);
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'dw-clients-'));
  try {
    const direct = await phase(sc, 'direct', scratch);
    const proxy = await phase(sc, 'proxy', scratch);
    const netIfs = Object.keys(os.networkInterfaces());
    process.stdout.write(JSON.stringify({ scenario: name, kind: sc.kind, netIfs, direct, proxy }));
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch(async (e) => {
  process.stderr.write(String((e && e.stack) || e) + '\n');
  await stopAll();
  process.exit(1);
});
