// The registry transport's TLS trust: Node's roots, plus the PEM file in KAPSEL_EXTRA_CA_CERTS
// (where bin/kapsel moves NODE_EXTRA_CA_CERTS), against an HTTPS server on loopback.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXTRA_CA_ENV, httpRequest } from './registry-http.js';

const dir = mkdtempSync(join(tmpdir(), 'kapsel-registry-http-'));
const cert = join(dir, 'cert.pem');
const key = join(dir, 'key.pem');
let server: Server;
let url: URL;

before(async () => {
  const gen = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { encoding: 'utf8' });
  assert.equal(gen.status, 0, gen.stderr);
  server = createServer({ cert: readFileSync(cert), key: readFileSync(key) }, (_req, res) => res.end('{}'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  url = new URL(`https://127.0.0.1:${typeof addr === 'object' && addr !== null ? addr.port : 0}/v2/`);
});

after(async () => {
  delete process.env[EXTRA_CA_ENV];
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

test('a self-signed registry certificate is refused unless KAPSEL_EXTRA_CA_CERTS names it', async () => {
  delete process.env[EXTRA_CA_ENV];
  await assert.rejects(httpRequest(url), /self[- ]signed/i);
  process.env[EXTRA_CA_ENV] = cert;
  const res = await httpRequest(url);
  assert.equal(res.status, 200);
  res.body.resume();
  process.env[EXTRA_CA_ENV] = join(dir, 'missing.pem');
  await assert.rejects(httpRequest(url), (err: Error & { code?: string }) => err.code === 'ERR_REGISTRY_TLS' && /missing\.pem.*ENOENT/.test(err.message));
});
