/**
 * Test fixtures for the content store: stores in one temp dir that goes when the test file ends,
 * and the smallest complete image (a config and one layer, both stored, under an OCI manifest),
 * so store and store-verify tests need neither tar nor a registry (image-fixture.ts builds real
 * layers). Used by tests only.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { linuxSyscalls } from '../sys/linux-syscalls.js';
import { MEDIA_TYPE, type Descriptor } from './oci-types.js';
import { ContentStore } from './store.js';

/**
 * A store opener for one test file: `open()` makes a new empty store each call, `open(root)`
 * opens an existing one. The temp dir (named after `prefix`) is removed in the file's after().
 */
export function tempStores(prefix: string): (root?: string) => Promise<ContentStore> {
  const tmp = mkdtempSync(join(tmpdir(), prefix));
  after(() => rmSync(tmp, { recursive: true, force: true }));
  let n = 0;
  return (root = join(tmp, `s${n++}`)) => ContentStore.open({ root, syscalls: linuxSyscalls() });
}

export interface StoredImage {
  /** The manifest's descriptor, ready for store.tag(). */
  readonly manifest: Descriptor;
  readonly config: string;
  readonly layer: string;
}

/** Stores a manifest with one config and one layer (content `layer <seed>`), untagged. */
export async function storeImage(store: ContentStore, seed: string): Promise<StoredImage> {
  const layer = await store.put(Buffer.from(`layer ${seed}`));
  const config = await store.putJson({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [layer.digest] } });
  const manifest = await store.putJson({
    schemaVersion: 2,
    mediaType: MEDIA_TYPE.ociManifest,
    config: { mediaType: MEDIA_TYPE.ociConfig, ...config },
    layers: [{ mediaType: MEDIA_TYPE.ociLayer, ...layer }],
  });
  return { manifest: { mediaType: MEDIA_TYPE.ociManifest, ...manifest }, config: config.digest, layer: layer.digest };
}
