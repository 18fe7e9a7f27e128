/**
 * An image in the store, from its name to a root filesystem: name → index.json descriptor →
 * (image index → the platform's manifest) → manifest → config → layers, each document read
 * from the store, verified against its digest and validated (oci-validate.ts); then the layers
 * applied in order onto a directory, each checked against the config's diff_id.
 */

import { KapselError } from '../common/errors.js';
import type { Descriptor, ImageConfig, ImageManifest, Platform } from './oci-types.js';
import { checkConfigMatchesManifest, parseImageConfig, parseJson, parseManifestDocument } from './oci-validate.js';
import { DEFAULT_PLATFORM, selectManifest } from './platform.js';
import type { ContentStore } from './store.js';
import type { UnpackOptions, UnpackResult } from './unpack.js';

/** Nested indexes deeper than this are refused (a cycle cannot exist, but a chain can be long). */
const MAX_INDEX_DEPTH = 4;

export interface ResolvedImage {
  readonly name: string;
  /** What the name points at (a manifest or an index). */
  readonly target: Descriptor;
  /** The platform's manifest. */
  readonly manifestDescriptor: Descriptor;
  readonly manifest: ImageManifest;
  readonly config: ImageConfig;
}

/** Reads and validates the image `name` for `platform` (linux/amd64 by default). */
export async function loadImage(store: ContentStore, name: string, platform: Platform = DEFAULT_PLATFORM): Promise<ResolvedImage> {
  const target = await store.resolve(name);
  if (target === undefined) {
    throw new KapselError('ERR_IMAGE_NOT_FOUND', `image \`${name}\` is not in the image store`, { hint: 'pull or load it first' });
  }
  let descriptor = target;
  for (let depth = 0; ; depth++) {
    const doc = parseManifestDocument(await store.get(descriptor.digest), `${name}@${descriptor.digest}`, descriptor.mediaType);
    if (doc.kind === 'manifest') {
      const configBytes = await store.get(doc.manifest.config.digest);
      const config = parseImageConfig(parseJson(configBytes, 'image config', doc.manifest.config.digest), doc.manifest.config.digest);
      checkConfigMatchesManifest(doc.manifest, config, name);
      return { name, target, manifestDescriptor: descriptor, manifest: doc.manifest, config };
    }
    if (depth >= MAX_INDEX_DEPTH) throw new KapselError('ERR_IMAGE_INVALID', `image \`${name}\`: image indexes nested deeper than ${MAX_INDEX_DEPTH}`);
    descriptor = selectManifest(doc.index, name, platform);
  }
}

/** Applies the image's layers, lowest first, onto `target` (an existing, empty directory). */
export async function unpackImage(store: ContentStore, image: ResolvedImage, target: string, opts: Omit<UnpackOptions, 'layer' | 'mediaType' | 'diffId'>): Promise<UnpackResult[]> {
  const layers = image.manifest.layers.map((layer, i) => {
    const diffId = image.config.rootfs.diff_ids[i];
    return {
      digest: layer.digest,
      mediaType: layer.mediaType,
      open: () => store.openBlob(layer.digest),
      ...(diffId !== undefined && { diffId }),
    };
  });
  for (const layer of layers) {
    if (!(await store.has(layer.digest))) throw new KapselError('ERR_IMAGE_BLOB_MISSING', `image \`${image.name}\`: layer ${layer.digest} is not in the image store`);
  }
  // the unpacker (tar, gzip, zstd) is loaded when a layer is unpacked, not by every `kapsel run`
  const { unpackLayers } = await import('./unpack.js');
  return unpackLayers(target, layers, opts);
}
