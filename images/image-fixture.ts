/**
 * Test fixtures: small multi-layer images stored from tar entries (layer-fixture.ts), with
 * an image config whose diff_ids match, so load/save, snapshot and image-verb tests have real
 * images without a registry. Used by tests and benches only.
 */

import { gzipSync } from 'node:zlib';
import { buildTar, type FixtureEntry } from './layer-fixture.js';
import { sha256Digest } from './digest.js';
import { MEDIA_TYPE, type ContainerConfig, type Descriptor, type ImageConfig, type ImageManifest } from './oci-types.js';
import type { ContentStore } from './store.js';

export interface TestImageOptions {
  readonly compress?: boolean;
  readonly config?: ContainerConfig;
  readonly created?: string;
}

/** Stores an image of `layers` (lowest first) under `name`; returns its manifest descriptor. */
export async function storeTestImage(store: ContentStore, name: string, layers: readonly (readonly FixtureEntry[])[], opts: TestImageOptions = {}): Promise<Descriptor> {
  const tars = await Promise.all(layers.map((entries) => buildTar(entries)));
  return storeTarImage(store, name, tars, opts);
}

/** Stores an image whose layers are the given uncompressed tars. */
export async function storeTarImage(store: ContentStore, name: string, tars: readonly Buffer[], opts: TestImageOptions = {}): Promise<Descriptor> {
  const compress = opts.compress ?? true;
  const layerDescs: Descriptor[] = [];
  for (const tar of tars) {
    const blob = await store.put(compress ? gzipSync(tar) : tar);
    layerDescs.push({ mediaType: compress ? MEDIA_TYPE.ociLayerGzip : MEDIA_TYPE.ociLayer, ...blob });
  }
  const config: ImageConfig = {
    created: opts.created ?? '2026-01-02T03:04:05Z',
    architecture: 'amd64',
    os: 'linux',
    config: opts.config ?? { Cmd: ['sh'] },
    rootfs: { type: 'layers', diff_ids: tars.map((t) => sha256Digest(t)) },
  };
  const configBlob = await store.putJson(config);
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPE.ociManifest,
    config: { mediaType: MEDIA_TYPE.ociConfig, ...configBlob },
    layers: layerDescs,
  };
  const manifestBlob = await store.putJson(manifest);
  const descriptor: Descriptor = { mediaType: MEDIA_TYPE.ociManifest, ...manifestBlob, platform: { architecture: 'amd64', os: 'linux' } };
  await store.tag(name, descriptor);
  return descriptor;
}

/** Two layers with a file each, a directory and a symlink. */
export const SIMPLE_LAYERS: readonly (readonly FixtureEntry[])[] = [
  [
    { header: { name: 'etc/', type: 'directory' } },
    { header: { name: 'etc/motd' }, content: 'hello from layer 1\n' },
    { header: { name: 'bin/', type: 'directory' } },
  ],
  [
    { header: { name: 'etc/hostname' }, content: 'layer2\n' },
    { header: { name: 'bin/sh', type: 'symlink', linkname: 'busybox' } },
  ],
];
