/**
 * kapsel load / save: round trips in both formats, and hostile or broken archives refused
 * with an error naming the entry, leaving nothing in the store.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KapselError } from '../common/errors.js';
import { linuxSyscalls } from '../sys/linux-syscalls.js';
import { loadArchive } from './archive-load.js';
import { saveArchive } from './archive-save.js';
import { sha256Digest } from './digest.js';
import { SIMPLE_LAYERS, storeTestImage } from './image-fixture.js';
import { loadImage } from './image.js';
import { buildTar } from './layer-fixture.js';
import { ContentStore } from './store.js';

const tmp = mkdtempSync(join(tmpdir(), 'kapsel-archive-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const openStore = (): Promise<ContentStore> => ContentStore.open({ root: join(tmp, `s${n++}`), syscalls: linuxSyscalls() });
const NAME = 'docker.io/library/fixture:1';

function hasCode(code: string, text?: string): (err: unknown) => boolean {
  return (err: unknown) => {
    assert.ok(err instanceof KapselError, String(err));
    assert.equal(err.code, code, err.message);
    if (text !== undefined) assert.ok(err.message.includes(text), err.message);
    return true;
  };
}

/** Nothing but the empty layout: no blob, no staging leftovers, no names. */
async function assertEmpty(store: ContentStore): Promise<void> {
  assert.deepEqual(readdirSync(join(store.root, 'blobs', 'sha256')), []);
  assert.deepEqual(readdirSync(join(store.root, 'ingest')), []);
  assert.deepEqual(await store.list(), []);
}

test('oci-archive round trip: same manifest digest, same name, unpackable', async () => {
  const a = await openStore();
  const d = await storeTestImage(a, NAME, SIMPLE_LAYERS);
  const file = join(tmp, 'rt.oci.tar');
  await saveArchive(a, ['fixture:1'], file);
  const b = await openStore();
  const result = await loadArchive(b, file);
  assert.equal(result.format, 'oci-layout');
  assert.deepEqual(result.images.map((i) => [i.name, i.descriptor.digest]), [[NAME, d.digest]]);
  const image = await loadImage(b, NAME);
  assert.equal(image.manifest.layers.length, 2);
  assert.deepEqual(readdirSync(join(b.root, 'ingest')), []);
});

test('docker-archive round trip: layers stored uncompressed, same image ID and diff_ids, RepoTags kept', async () => {
  const a = await openStore();
  await storeTestImage(a, NAME, SIMPLE_LAYERS);
  await a.tag('docker.io/library/fixture:other', (await a.resolve(NAME))!);
  const original = await loadImage(a, NAME);
  const file = join(tmp, 'rt.docker.tar');
  await saveArchive(a, [NAME], file, { format: 'docker-archive' });
  const b = await openStore();
  const result = await loadArchive(b, file);
  assert.equal(result.format, 'docker-archive');
  assert.deepEqual(result.images.map((i) => i.name), [NAME]);
  const image = await loadImage(b, NAME);
  assert.equal(image.manifest.config.digest, original.manifest.config.digest);
  assert.deepEqual(image.config.rootfs.diff_ids, original.config.rootfs.diff_ids);
  assert.deepEqual(image.manifest.layers.map((l) => l.digest), original.config.rootfs.diff_ids);
});

test('saving by image ID writes every name of the image', async () => {
  const a = await openStore();
  await storeTestImage(a, NAME, SIMPLE_LAYERS);
  await a.tag('docker.io/library/fixture:2', (await a.resolve(NAME))!);
  const id = (await loadImage(a, NAME)).manifest.config.digest;
  const file = join(tmp, 'byid.tar');
  await saveArchive(a, [id.slice(7, 19)], file);
  const b = await openStore();
  assert.deepEqual((await loadArchive(b, file)).images.map((i) => i.name).sort(), [NAME, 'docker.io/library/fixture:2']);
});

/** An OCI layout tar built by hand; `mutate` edits the entries before packing. */
async function ociTar(mutate: (entries: Array<{ header: { name: string; type?: 'symlink' | 'file'; linkname?: string }; content?: Buffer }>) => void): Promise<string> {
  const layer = await buildTar([{ header: { name: 'f' }, content: 'x' }]);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256Digest(layer)] } }));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256Digest(config), size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256Digest(layer), size: layer.length }],
  }));
  const index = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256Digest(manifest), size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': 'evil:1' } }],
  }));
  const blob = (b: Buffer): string => `blobs/sha256/${sha256Digest(b).slice(7)}`;
  const entries = [
    { header: { name: 'oci-layout' }, content: Buffer.from('{"imageLayoutVersion":"1.0.0"}') },
    { header: { name: 'index.json' }, content: index },
    { header: { name: blob(manifest) }, content: manifest },
    { header: { name: blob(config) }, content: config },
    { header: { name: blob(layer) }, content: layer },
  ];
  mutate(entries);
  const file = join(tmp, `hostile-${n++}.tar`);
  writeFileSync(file, await buildTar(entries));
  return file;
}

test('a well-formed hand-made OCI archive loads (the hostile variants below differ in one entry)', async () => {
  const store = await openStore();
  const result = await loadArchive(store, await ociTar(() => undefined));
  assert.deepEqual(result.images.map((i) => i.name), ['docker.io/library/evil:1']);
});

test('path traversal: an entry named ../x is refused, nothing stored', async () => {
  const store = await openStore();
  const file = await ociTar((e) => e.push({ header: { name: '../../etc/kapsel-evil' }, content: Buffer.from('x') }));
  await assert.rejects(loadArchive(store, file), hasCode('ERR_IMAGE_ARCHIVE_UNSAFE', 'entry `../../etc/kapsel-evil`: path escapes the archive'));
  await assertEmpty(store);
});

test('an absolute entry name is refused', async () => {
  const store = await openStore();
  const file = await ociTar((e) => e.unshift({ header: { name: '/etc/passwd' }, content: Buffer.from('x') }));
  await assert.rejects(loadArchive(store, file), hasCode('ERR_IMAGE_ARCHIVE_UNSAFE', 'entry `/etc/passwd`: absolute path'));
  await assertEmpty(store);
});

test('a symlink pointing out of the archive is refused', async () => {
  const store = await openStore();
  const file = await ociTar((e) => e.push({ header: { name: 'blobs/sha256/link', type: 'symlink', linkname: '../../../etc/shadow' } }));
  await assert.rejects(loadArchive(store, file), hasCode('ERR_IMAGE_ARCHIVE_UNSAFE', 'entry `blobs/sha256/link`: link to `../../../etc/shadow` escapes the archive'));
  await assertEmpty(store);
});

test('a missing layer blob names the blob; nothing stored', async () => {
  const store = await openStore();
  const file = await ociTar((e) => e.pop());
  await assert.rejects(loadArchive(store, file), hasCode('ERR_IMAGE_BLOB_MISSING', 'layer 0 of manifest'));
  await assertEmpty(store);
});

test('a blob whose content does not match its name is refused; nothing stored', async () => {
  const store = await openStore();
  const file = await ociTar((e) => {
    const last = e[e.length - 1]!;
    last.content = Buffer.concat([last.content!, Buffer.from('tampered')]);
  });
  await assert.rejects(loadArchive(store, file), hasCode('ERR_IMAGE_DIGEST_MISMATCH', 'entry `blobs/sha256/'));
  await assertEmpty(store);
});

test('a duplicate entry (a second copy swapping content) is refused', async () => {
  const store = await openStore();
  const file = await ociTar((e) => e.push({ header: { name: 'index.json' }, content: Buffer.from('{}') }));
  await assert.rejects(loadArchive(store, file), hasCode('ERR_IMAGE_ARCHIVE_UNSAFE', 'entry `index.json`: appears twice'));
  await assertEmpty(store);
});

test('a docker archive whose layer does not match the diff_id is refused; nothing stored', async () => {
  const layer = await buildTar([{ header: { name: 'f' }, content: 'x' }]);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [`sha256:${'0'.repeat(64)}`] } }));
  const file = join(tmp, 'bad-docker.tar');
  writeFileSync(file, await buildTar([
    { header: { name: 'c.json' }, content: config },
    { header: { name: 'l/layer.tar' }, content: layer },
    { header: { name: 'manifest.json' }, content: Buffer.from(JSON.stringify([{ Config: 'c.json', RepoTags: ['bad:1'], Layers: ['l/layer.tar'] }])) },
  ]));
  const store = await openStore();
  await assert.rejects(loadArchive(store, file), hasCode('ERR_IMAGE_DIGEST_MISMATCH', 'layer `l/layer.tar` does not match'));
  await assertEmpty(store);
});

test('not an archive: a clear error, nothing stored', async () => {
  const file = join(tmp, 'garbage.tar');
  writeFileSync(file, 'this is not a tar file at all');
  const store = await openStore();
  await assert.rejects(loadArchive(store, file), (err: unknown) => err instanceof KapselError && /image archive `.*garbage.tar`/.test(err.message));
  await assertEmpty(store);
  assert.equal(readFileSync(file, 'utf8'), 'this is not a tar file at all');
});

test('save to a stream and load from a stream (stdout | stdin)', async () => {
  const { PassThrough, Readable } = await import('node:stream');
  const a = await openStore();
  const d = await storeTestImage(a, NAME, SIMPLE_LAYERS);
  const sink = new PassThrough();
  const chunks: Buffer[] = [];
  sink.on('data', (c: Buffer) => chunks.push(c));
  await saveArchive(a, [NAME], sink, { format: 'docker-archive' });
  const b = await openStore();
  const result = await loadArchive(b, Readable.from([Buffer.concat(chunks)]));
  assert.deepEqual(result.images.map((i) => i.name), [NAME]);
  assert.equal((await loadImage(b, NAME)).manifest.config.digest, (await loadImage(a, NAME)).manifest.config.digest);
  assert.notEqual(result.images[0]!.descriptor.digest, d.digest, 'docker-archive layers are stored uncompressed: another manifest');
});
