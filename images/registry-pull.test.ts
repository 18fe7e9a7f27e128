// pullImage against a fake registry in this process (node:http on 127.0.0.1): what a real
// registry rarely does on demand — lying digests, cross-origin redirects, dropped connections.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KapselError } from '../common/errors.js';
import { linuxSyscalls } from '../sys/linux-syscalls.js';
import { sha256Digest } from './digest.js';
import { MEDIA_TYPE } from './oci-types.js';
import { pullImage } from './registry-pull.js';
import { ContentStore } from './store.js';

const tmp = mkdtempSync(join(tmpdir(), 'kapsel-pull-test-'));
const servers: Server[] = [];
after(async () => {
  for (const s of servers) await new Promise((r) => { s.closeAllConnections(); s.close(r); });
  rmSync(tmp, { recursive: true, force: true });
});
let n = 0;
const openStore = (): Promise<ContentStore> => ContentStore.open({ root: join(tmp, `s${n++}`), syscalls: linuxSyscalls() });

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
async function serve(handler: Handler): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  return `127.0.0.1:${typeof a === 'object' && a !== null ? a.port : 0}`;
}

interface Blob { digest: string; size: number; data: Buffer }
const blob = (data: Buffer | string): Blob => {
  const b = Buffer.from(data);
  return { digest: sha256Digest(b), size: b.length, data: b };
};

/** An image with `layerCount` small uncompressed layers, as Docker schema 2 (or OCI) documents. */
function image(layerCount: number, docker = false, arch = 'amd64') {
  const layers = Array.from({ length: layerCount }, (_, i) => blob(`layer ${arch} ${i} `.repeat(100)));
  const config = blob(JSON.stringify({ architecture: arch, os: 'linux', rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) } }));
  const manifest = blob(JSON.stringify({
    schemaVersion: 2,
    mediaType: docker ? MEDIA_TYPE.dockerManifest : MEDIA_TYPE.ociManifest,
    config: { mediaType: docker ? MEDIA_TYPE.dockerConfig : MEDIA_TYPE.ociConfig, digest: config.digest, size: config.size },
    layers: layers.map((l) => ({ mediaType: docker ? MEDIA_TYPE.dockerLayerGzip : MEDIA_TYPE.ociLayer, digest: l.digest, size: l.size })),
  }));
  return { layers, config, manifest, blobs: new Map([config, ...layers].map((b) => [b.digest, b])) };
}

const ERR = (code: string) => (err: unknown): boolean => {
  assert.ok(err instanceof KapselError, String(err));
  assert.equal(err.code, code, err.message);
  return true;
};

test('a Docker manifest list: the platform is selected, the name points at its manifest, one token serves the pull', async () => {
  const amd = image(2, true, 'amd64');
  const arm = image(2, true, 'arm64');
  const list = blob(JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA_TYPE.dockerManifestList,
    manifests: [
      { mediaType: MEDIA_TYPE.dockerManifest, digest: arm.manifest.digest, size: arm.manifest.size, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
      { mediaType: MEDIA_TYPE.dockerManifest, digest: amd.manifest.digest, size: amd.manifest.size, platform: { os: 'linux', architecture: 'amd64' } },
    ],
  }));
  let tokens = 0;
  let host = '';
  host = await serve((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/token') {
      tokens++;
      assert.equal(url.searchParams.get('scope'), 'repository:team/app:pull');
      assert.equal(url.searchParams.get('service'), 'fake');
      res.end(JSON.stringify({ token: 'T0KEN' }));
      return;
    }
    if (req.headers.authorization !== 'Bearer T0KEN') {
      res.writeHead(401, { 'WWW-Authenticate': `Bearer realm="http://${host}/token",service="fake",scope="repository:team/app:pull"` }).end();
      return;
    }
    const m = /^\/v2\/team\/app\/(manifests|blobs)\/(.+)$/.exec(url.pathname);
    if (url.pathname === '/v2/') { res.end('{}'); return; }
    if (m?.[1] === 'manifests') {
      const doc = m[2] === 'v1' ? list : [amd.manifest, arm.manifest].find((b) => b.digest === m[2]);
      if (doc === undefined) { res.writeHead(404).end(); return; }
      res.writeHead(200, { 'Content-Type': JSON.parse(doc.data.toString()).mediaType, 'Docker-Content-Digest': doc.digest }).end(doc.data);
      return;
    }
    const b = amd.blobs.get(m?.[2] ?? '') ?? arm.blobs.get(m?.[2] ?? '');
    if (b === undefined) { res.writeHead(404).end(); return; }
    res.end(b.data);
  });
  const store = await openStore();
  const result = await pullImage({ store, reference: `${host}/team/app:v1` });
  assert.equal(result.digest, list.digest);
  assert.equal(result.manifest.digest, amd.manifest.digest);
  assert.deepEqual(result.manifest.platform, { os: 'linux', architecture: 'amd64' });
  assert.equal((await store.resolve(`${host}/team/app:v1`))?.digest, amd.manifest.digest);
  assert.equal(tokens, 1, 'the token is cached for the pull');
  const armResult = await pullImage({ store, reference: `${host}/team/app:v1`, platform: { os: 'linux', architecture: 'arm64' } });
  assert.equal(armResult.manifest.digest, arm.manifest.digest);
});

test('a manifest whose bytes differ from Docker-Content-Digest, or from the digest asked for, is refused', async () => {
  const img = image(1);
  const host = await serve((req, res) => {
    if (req.url === '/v2/') { res.end('{}'); return; }
    res.writeHead(200, { 'Content-Type': MEDIA_TYPE.ociManifest, 'Docker-Content-Digest': sha256Digest('something else') }).end(img.manifest.data);
  });
  const store = await openStore();
  await assert.rejects(pullImage({ store, reference: `${host}/app:v1` }), ERR('ERR_IMAGE_DIGEST_MISMATCH'));
  const wanted = sha256Digest('another manifest');
  await assert.rejects(pullImage({ store, reference: `${host}/app@${wanted}` }), (err: unknown) => ERR('ERR_IMAGE_DIGEST_MISMATCH')(err) && (err as Error).message.includes(wanted));
  assert.deepEqual(await store.list(), []);
});

test('blob redirects are followed, and credentials are not sent to another origin', async () => {
  const img = image(2);
  const seenAuth: (string | undefined)[] = [];
  const storage = await serve((req, res) => {
    seenAuth.push(req.headers.authorization);
    const b = img.blobs.get((req.url ?? '').slice(1));
    if (b === undefined) { res.writeHead(404).end(); return; }
    res.end(b.data);
  });
  const basic = `Basic ${Buffer.from('u:p').toString('base64')}`;
  const host = await serve((req, res) => {
    if (req.headers.authorization !== basic) { res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="fake"' }).end(); return; }
    if (req.url === '/v2/') { res.end('{}'); return; }
    if (req.url === '/v2/app/manifests/v1') { res.writeHead(200, { 'Content-Type': MEDIA_TYPE.ociManifest }).end(img.manifest.data); return; }
    const digest = (req.url ?? '').split('/').pop() ?? '';
    res.writeHead(307, { Location: `http://${storage}/${digest}` }).end();
  });
  const store = await openStore();
  const result = await pullImage({ store, reference: `${host}/app:v1`, credentials: async () => ({ username: 'u', password: 'p' }) });
  assert.equal(result.downloaded, 3);
  assert.equal(seenAuth.length, 3);
  assert.deepEqual(seenAuth, [undefined, undefined, undefined]);
});

test('layers download at most `concurrency` at a time', async () => {
  const img = image(6);
  let inFlight = 0;
  let most = 0;
  const host = await serve((req, res) => {
    if (req.url === '/v2/') { res.end('{}'); return; }
    if (req.url === '/v2/app/manifests/v1') { res.writeHead(200, { 'Content-Type': MEDIA_TYPE.ociManifest }).end(img.manifest.data); return; }
    const b = img.blobs.get((req.url ?? '').split('/').pop() ?? '');
    if (b === undefined) { res.writeHead(404).end(); return; }
    inFlight++;
    most = Math.max(most, inFlight);
    setTimeout(() => { inFlight--; res.end(b.data); }, 30);
  });
  await pullImage({ store: await openStore(), reference: `${host}/app:v1`, concurrency: 2 });
  assert.ok(most <= 2, `at most 2 blob requests at once (saw ${most})`);
  assert.ok(most >= 1);
});

test('a connection dropped mid-layer fails the pull with no name and no partial blob; the next pull reuses what finished', async () => {
  const img = image(3);
  const broken = img.layers[2] as Blob;
  let failing = true;
  const requested: string[] = [];
  const host = await serve((req, res) => {
    if (req.url === '/v2/') { res.end('{}'); return; }
    if (req.url === '/v2/app/manifests/v1') { res.writeHead(200, { 'Content-Type': MEDIA_TYPE.ociManifest }).end(img.manifest.data); return; }
    const digest = (req.url ?? '').split('/').pop() ?? '';
    requested.push(digest);
    const b = img.blobs.get(digest);
    if (b === undefined) { res.writeHead(404).end(); return; }
    if (digest === broken.digest && failing) {
      res.writeHead(200, { 'Content-Length': String(b.size) });
      res.write(b.data.subarray(0, 100), () => res.destroy());
      return;
    }
    res.end(b.data);
  });
  const store = await openStore();
  await assert.rejects(pullImage({ store, reference: `${host}/app:v1`, concurrency: 1 }), (err: unknown) => err instanceof KapselError);
  assert.deepEqual(await store.list(), []);
  assert.equal(await store.has(broken.digest), false);
  assert.equal(await store.has(img.manifest.digest), false);
  assert.deepEqual(readdirSync(join(store.root, 'ingest')), []);
  assert.equal(existsSync(join(store.root, 'index.json')), false);

  failing = false;
  requested.length = 0;
  const result = await pullImage({ store, reference: `${host}/app:v1` });
  assert.deepEqual(requested, [broken.digest], 'only the unfinished layer is fetched again');
  assert.equal(result.skipped, 3);
  assert.equal((await store.resolve(`${host}/app:v1`))?.digest, img.manifest.digest);
});

test('a registry that is not there gives a clear error naming it', async () => {
  const store = await openStore();
  const closed = await serve(() => undefined);
  const server = servers.pop();
  await new Promise((r) => server?.close(r));
  await assert.rejects(pullImage({ store, reference: `${closed}/app:v1` }), (err: unknown) => ERR('ERR_REGISTRY_UNREACHABLE')(err) && /ECONNREFUSED/.test((err as Error).message));
});
