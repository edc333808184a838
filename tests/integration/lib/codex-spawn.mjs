// Starts lib/codex-run.mjs (one `codex exec` against a fresh deltawire-mock) inside `unshare -n`
// when it can, so that the mock and Codex share a namespace that has nothing but loopback, and
// resolves with the runner's JSON summary.
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { track } from './harness.mjs';

const runner = path.join(path.dirname(fileURLToPath(import.meta.url)), 'codex-run.mjs');

// A new network and pid namespace: loopback only, and killing unshare kills all inside.
function netnsWorks() {
  const r = spawnSync('unshare', ['-n', '-p', '-f', '--kill-child', 'sh', '-c', 'ip link set lo up'], { timeout: 5000 });
  return r.status === 0;
}

export function runCodex(env) {
  const isolated = netnsWorks();
  const cmd = isolated
    ? ['unshare', ['-n', '-p', '-f', '--kill-child', 'sh', '-c', 'ip link set lo up && exec "$0" "$1"', process.execPath, runner]]
    : [process.execPath, [runner]];
  if (!isolated) process.stderr.write('codex: unshare -n unavailable; running on the host loopback\n');
  const child = track(spawn(cmd[0], cmd[1], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`codex runner exited ${code}:\n${err}`));
      try { resolve(JSON.parse(out)); } catch (e) { reject(new Error(`bad runner output: ${e}\n${out.slice(0, 2000)}\n${err}`)); }
    });
  });
}
