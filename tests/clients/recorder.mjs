// A tiny recording HTTP forwarder for the client integration tests: the client talks to it,
// it forwards every request unchanged to `target` (deltawire or deltawire-mock) and keeps the
// exact request bodies and the response bodies it relayed. It is the independent record of
// what an unmodified client sent (its own full input on every turn, and its byte count).
// WebSocket upgrade requests are recorded and relayed as raw bytes in both directions.
import http from 'node:http';
import net from 'node:net';

const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer']);

// opts.refuseUpgrade: answer WebSocket upgrades here with this status (a well-formed HTTP/1.1
// response, as the real API or deltawire sends it) instead of relaying them.
export function startRecorder(target, opts = {}) {
  const t = new URL(target);
  const agent = new http.Agent({ keepAlive: true });
  const requests = [];
  const upgrades = [];

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const rec = {
        method: req.method, url: req.url, headers: { ...req.headers }, bytes: body.length,
        body: body.toString('utf8'), status: null, respHeaders: null, respBody: '', error: null,
      };
      requests.push(rec);
      const headers = {};
      for (const [k, v] of Object.entries(req.headers)) if (!HOP.has(k)) headers[k] = v;
      headers.host = t.host;
      if (body.length || req.method === 'POST') headers['content-length'] = String(body.length);
      const up = http.request({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers, agent }, (ur) => {
        rec.status = ur.statusCode;
        rec.respHeaders = { ...ur.headers };
        const out = {};
        for (const [k, v] of Object.entries(ur.headers)) if (!HOP.has(k)) out[k] = v;
        res.writeHead(ur.statusCode, out);
        res.flushHeaders();
        const dec = new TextDecoder();
        ur.on('data', (c) => { rec.respBody += dec.decode(c, { stream: true }); res.write(c); });
        ur.on('end', () => res.end());
        ur.on('error', (e) => { rec.error = String(e); res.destroy(e); });
      });
      up.on('error', (e) => {
        rec.error = String(e);
        if (!res.headersSent) { res.writeHead(502, { 'content-type': 'text/plain' }); res.end(`recorder: ${e}`); }
        else res.destroy(e);
      });
      up.end(body);
    });
  });

  server.on('upgrade', (req, sock, head) => {
    const rec = { method: req.method, url: req.url, headers: { ...req.headers }, status: null, response: '' };
    upgrades.push(rec);
    if (opts.refuseUpgrade) {
      const body = JSON.stringify({ error: { message: 'WebSocket upgrade refused (recorder).', type: 'invalid_request_error', param: null, code: null } });
      rec.status = opts.refuseUpgrade;
      rec.response = `HTTP/1.1 ${opts.refuseUpgrade} ${http.STATUS_CODES[opts.refuseUpgrade] || 'Refused'}\r\n` +
        `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
      sock.on('error', () => {});
      sock.end(rec.response);
      return;
    }
    const up = net.connect({ host: t.hostname, port: Number(t.port) }, () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        const k = req.rawHeaders[i];
        lines.push(`${k}: ${k.toLowerCase() === 'host' ? t.host : req.rawHeaders[i + 1]}`);
      }
      up.write(lines.join('\r\n') + '\r\n\r\n');
      if (head && head.length) up.write(head);
      let first = true;
      up.on('data', (d) => {
        if (first) {
          first = false;
          const s = d.toString('latin1');
          rec.status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(s)?.[1] || 0);
          rec.response = s.slice(0, 2000);
        }
      });
      up.pipe(sock);
      sock.pipe(up);
    });
    const done = () => { up.destroy(); sock.destroy(); };
    up.on('error', done);
    sock.on('error', done);
    up.on('close', () => sock.end());
    sock.on('close', () => up.end());
  });

  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const port = server.address().port;
      resolve({
        port, base: `http://127.0.0.1:${port}/v1`, requests, upgrades,
        close: () => new Promise((r) => { agent.destroy(); server.closeAllConnections?.(); server.close(() => r()); }),
      });
    });
  });
}

// The final response object of a relayed /responses call: the JSON body, or the
// response.completed event of an SSE stream. null when there is none.
export function finalResponse(rec) {
  const ct = (rec.respHeaders && rec.respHeaders['content-type']) || '';
  if (/event-stream/.test(ct)) {
    let final = null;
    for (const block of rec.respBody.split(/\r?\n\r?\n/)) {
      const data = block.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5).replace(/^ /, '')).join('\n');
      if (!data) continue;
      try {
        const ev = JSON.parse(data);
        if (ev.type === 'response.completed' || ev.type === 'response.incomplete' || ev.type === 'response.failed') final = ev.response;
      } catch { /* not JSON */ }
    }
    return final;
  }
  try { return JSON.parse(rec.respBody); } catch { return null; }
}
