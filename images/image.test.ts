import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KapselError } from '../common/errors.js';
import { linuxSyscalls } from '../sys/linux-syscalls.js';
import { sha256Digest } from './digest.js';
import { loadImage, unpackImage } from './image.js';
import { buildTar, gzip } from './layer-fixture.js';
import { MEDIA_TYPE, type Descriptor, type Platform } from './oci-types.js';
import { parsePlatform } from './platform.js';
import { ContentStore } from './store.js';

const tmp = mkdtempSync(join(tmpdir(), 'kapsel-image-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;

async function manifestFor(store: ContentStore, arch: string, files: Record<string, string>): Promise<Descriptor> {
  const tar = await buildTar(Object.entries(files).map(([name, content]) => ({ header: { name }, content })));
  const layer = await store.put(gzip(tar));
  const config = await store.putJson({ architecture: arch, os: 'linux', config: { Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: [sha256Digest(tar)] } });
  const m = await store.putJson({
    schemaVersion: 2,
    mediaType: MEDIA_TYPE.dockerManifest,
    config: { mediaType: MEDIA_TYPE.dockerConfig, ...config },
    layers: [{ mediaType: MEDIA_TYPE.dockerLayerGzip, ...layer }],
  });
  return { mediaType: MEDIA_TYPE.dockerManifest, ...m, platform: { os: 'linux', architecture: arch } as Platform };
}

test('a manifest list resolves to the platform\'s manifest, which unpacks', async () => {
  const store = await ContentStore.open({ root: join(tmp, `s${n++}`), syscalls: linuxSyscalls() });
  const amd = await manifestFor(store, 'amd64', { 'which': 'amd64' });
  const arm = await manifestFor(store, 'arm64', { 'which': 'arm64' });
  const list = await store.putJson({ schemaVersion: 2, mediaType: MEDIA_TYPE.dockerManifestList, manifests: [arm, amd] });
  await store.tag('multi', { mediaType: MEDIA_TYPE.dockerManifestList, ...list });
  const image = await loadImage(store, 'multi');
  assert.equal(image.manifestDescriptor.digest, amd.digest);
  assert.equal((await loadImage(store, 'multi', parsePlatform('linux/arm64'))).config.architecture, 'arm64');
  const rootfs = join(tmp, `r${n++}`);
  mkdirSync(rootfs);
  await unpackImage(store, image, rootfs, { syscalls: linuxSyscalls() });
  assert.equal(readFileSync(join(rootfs, 'which'), 'utf8'), 'amd64');
  await assert.rejects(loadImage(store, 'multi', parsePlatform('linux/riscv64')), /no manifest for platform linux\/riscv64 \(available: linux\/arm64, linux\/amd64\)/);
});

test('missing images and layers, and a config that disagrees with its manifest, are errors', async () => {
  const store = await ContentStore.open({ root: join(tmp, `s${n++}`), syscalls: linuxSyscalls() });
  await assert.rejects(loadImage(store, 'nope'), (err: unknown) => err instanceof KapselError && err.code === 'ERR_IMAGE_NOT_FOUND');
  const config = await store.putJson({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } });
  const absentLayer = { mediaType: MEDIA_TYPE.ociLayerGzip, digest: sha256Digest('absent'), size: 6 };
  const m = await store.putJson({ schemaVersion: 2, mediaType: MEDIA_TYPE.ociManifest, config: { mediaType: MEDIA_TYPE.ociConfig, ...config }, layers: [absentLayer] });
  await store.tag('bad', { mediaType: MEDIA_TYPE.ociManifest, ...m });
  await assert.rejects(loadImage(store, 'bad'), /manifest lists 1 layer but the config 0 diff_ids/);
  const config2 = await store.putJson({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256Digest('x')] } });
  const m2 = await store.putJson({ schemaVersion: 2, mediaType: MEDIA_TYPE.ociManifest, config: { mediaType: MEDIA_TYPE.ociConfig, ...config2 }, layers: [absentLayer] });
  await store.tag('partial', { mediaType: MEDIA_TYPE.ociManifest, ...m2 });
  const image = await loadImage(store, 'partial');
  await assert.rejects(unpackImage(store, image, tmp, { syscalls: linuxSyscalls() }), (err: unknown) => err instanceof KapselError && err.code === 'ERR_IMAGE_BLOB_MISSING');
});
