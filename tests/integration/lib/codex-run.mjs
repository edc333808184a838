// Runs one `codex exec` against a fresh deltawire-mock over WebSocket and prints
// a JSON summary ({rc, stdout, stderr, log, handshakes, mockStderr}) on stdout.
// With CODEX_VIA_PROXY=1, Codex speaks plain HTTP to a deltawire in front of the
// mock instead (the same conversation, deltawire's frames; proxyStderr added).
// codex-mock.test.mjs starts it inside `unshare -n` when it can, so that the
// mock and Codex share a namespace that has nothing but loopback.
//   env: DW_BUILD_DIR, DW_CLIENTS_DIR, CODEX_MODEL (optional), CODEX_TIMEOUT_S
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startMock, startProxy, stopAll, track, CLIENTS_DIR } from './harness.mjs';

const PROMPT = 'Run the shell command echo hello twice, then tell me what it printed.';

async function main() {
  const mock = await startMock();
  const proxy = process.env.CODEX_VIA_PROXY === '1' ? await startProxy({ upstream: mock.base }) : null;
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'dw-codex-home-'));
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'dw-codex-work-'));
  fs.writeFileSync(path.join(home, 'config.toml'), `model_provider = "mock"
approval_policy = "never"
sandbox_mode = "danger-full-access"
check_for_update_on_startup = false

[analytics]
enabled = false

[model_providers.mock]
name = "deltawire-mock"
base_url = "${proxy ? proxy.base : mock.base}"
wire_api = "responses"
env_key = "DW_MOCK_KEY"
supports_websockets = ${proxy ? 'false' : 'true'}
request_max_retries = 1
stream_max_retries = 1
`);
  const codex = path.join(CLIENTS_DIR, 'node_modules', '.bin', 'codex');
  const args = [String(process.env.CODEX_TIMEOUT_S || 120), codex, 'exec', '--strict-config', '--skip-git-repo-check', '--json'];
  if (process.env.CODEX_MODEL) args.push('-m', process.env.CODEX_MODEL);
  args.push(PROMPT);
  const child = track(spawn('timeout', args, {
    cwd: work,
    env: { ...process.env, CODEX_HOME: home, DW_MOCK_KEY: 'sk-dummy-not-a-real-key', RUST_LOG: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  }));
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  const rc = await new Promise((resolve) => child.once('exit', (code, sig) => resolve(code ?? `signal ${sig}`)));
  const summary = { rc, stdout, stderr, log: await mock.log(), handshakes: await mock.handshakes(), mockStderr: mock.stderr() };
  if (proxy) summary.proxyStderr = proxy.stderr();
  await stopAll();
  fs.rmSync(home, { recursive: true, force: true });
  fs.rmSync(work, { recursive: true, force: true });
  process.stdout.write(JSON.stringify(summary));
}

main().catch(async (e) => {
  process.stderr.write(String(e && e.stack || e) + '\n');
  await stopAll();
  process.exit(1);
});
