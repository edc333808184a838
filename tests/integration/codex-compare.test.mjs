// Issue 13's "Done when": Codex 0.169.0 with its own WebSocket transport against the mock
// directly, and the same conversation over plain HTTP through deltawire: the frames that reach
// the mock carry the same fields, the same client_metadata keys and the same shaping handshake
// headers (values aside).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { CLIENTS_DIR, stopAll } from './lib/harness.mjs';
import { runCodex } from './lib/codex-spawn.mjs';

after(async () => { await stopAll(); });

const skip = !CLIENTS_DIR && 'DW_CLIENTS_DIR is not set (run tests/clients/install.sh DIR and export DW_CLIENTS_DIR=DIR)';

// Differences that are the transport's, not the request's:
// - `stream` is implicit over WebSocket (Codex sends it anyway; deltawire leaves it out);
// - whether a turn chains (previous_response_id) is each one's delta decision, checked apart;
// - Codex's own send time.
const TRANSPORT_FIELDS = new Set(['stream', 'previous_response_id']);
const CODEX_TIMING = 'x-codex-ws-stream-request-start-ms';
// Handshake headers that shape the request (translate/headers.c: credential and connection ones).
const SHAPING = ['authorization', 'api-key', 'openai-organization', 'openai-project',
  'openai-beta', 'session-id', 'thread-id', 'originator', 'x-codex-beta-features'];
// What else Codex's own handshake carries, and why deltawire's does not: per-request headers
// (they ride in every frame's client_metadata) and inert ones. Both offer permessage-deflate.
const CODEX_HANDSHAKE_ONLY = ['user-agent', 'x-client-request-id', 'x-codex-turn-metadata', 'x-codex-window-id'];

const fields = (e) => e.fields.filter((f) => !TRANSPORT_FIELDS.has(f)).sort();
const metadataKeys = (e) => Object.keys(e.client_metadata || {}).filter((k) => k !== CODEX_TIMING).sort();
const present = (hs, names) => names.filter((h) => hs.headers[h] !== undefined);

test('Codex over WebSocket directly vs over HTTP through deltawire: same frames, metadata and handshake', { skip, timeout: 480000 }, async () => {
  const direct = await runCodex({});
  const proxied = await runCodex({ CODEX_VIA_PROXY: '1' });
  assert.equal(direct.rc, 0, direct.stderr.slice(-2000));
  assert.equal(proxied.rc, 0, proxied.stderr.slice(-2000));
  // Codex prewarms its own socket with generate:false; the turns are what is compared
  const dTurns = direct.log.filter((e) => e.transport === 'ws' && e.generate !== false);
  const pTurns = proxied.log;
  assert.ok(pTurns.every((e) => e.transport === 'ws'), 'deltawire carried every turn over WebSocket');
  assert.equal(pTurns.length, dTurns.length, 'the same conversation');
  for (let i = 0; i < dTurns.length; i++) {
    assert.deepEqual(fields(pTurns[i]), fields(dTurns[i]), `turn ${i}: top-level fields`);
    assert.deepEqual(metadataKeys(pTurns[i]), metadataKeys(dTurns[i]), `turn ${i}: client_metadata keys`);
    assert.equal(pTurns[i].client_metadata.ws_request_header_x_openai_internal_codex_responses_lite,
      dTurns[i].client_metadata.ws_request_header_x_openai_internal_codex_responses_lite, `turn ${i}: the lite header`);
    if (i > 0) assert.notEqual(pTurns[i].previous_response_id, null, `turn ${i}: a delta through deltawire`);
  }
  const dHs = direct.handshakes.filter((h) => h.status === 101);
  const pHs = proxied.handshakes.filter((h) => h.status === 101);
  assert.equal(pHs.length, 1, 'one socket for the conversation');
  assert.deepEqual(present(pHs[0], SHAPING), present(dHs[0], SHAPING), 'the shaping handshake headers');
  const other = (hs) => Object.keys(hs.headers).filter((h) => !SHAPING.includes(h));
  const codexOnly = other(dHs[0]).filter((h) => !other(pHs[0]).includes(h)).sort();
  assert.deepEqual(codexOnly, CODEX_HANDSHAKE_ONLY, 'what only Codex\'s handshake carries is known and accounted for');
  assert.match(pHs[0].headers['sec-websocket-extensions'] || '', /permessage-deflate/, 'deltawire offers deflate, as Codex does');
  assert.equal(pHs[0].permessage_deflate, dHs[0].permessage_deflate, 'negotiated alike');
  for (const h of CODEX_HANDSHAKE_ONLY.filter((x) => x.startsWith('x-codex-')))
    assert.ok(metadataKeys(pTurns[0]).includes(h), `${h} reaches the upstream in client_metadata`);
});
