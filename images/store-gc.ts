/**
 * What the store's garbage collector keeps: every blob reachable from an index.json entry,
 * following image indexes to their manifests and manifests to their config and layers
 * (image-index.md, manifest.md). A referenced blob that is absent (a pull that fetched one
 * platform of a multi-platform index) is skipped, not an error. Pure apart from `read`.
 */

import { MEDIA_TYPE, type Descriptor } from './oci-types.js';
import { parseManifestDocument } from './oci-validate.js';

/** Digests reachable from `roots`; `read` returns a blob's bytes, or undefined when absent. */
export async function reachableDigests(roots: readonly Descriptor[], read: (digest: string) => Promise<Buffer | undefined>): Promise<Set<string>> {
  const seen = new Set<string>();
  const pending: Descriptor[] = [...roots];
  for (let d = pending.pop(); d !== undefined; d = pending.pop()) {
    if (seen.has(d.digest)) continue;
    seen.add(d.digest);
    if (!isDocument(d.mediaType)) continue;
    const bytes = await read(d.digest);
    if (bytes === undefined) continue;
    const doc = parseManifestDocument(bytes, d.digest, d.mediaType);
    if (doc.kind === 'index') pending.push(...doc.index.manifests);
    else pending.push(doc.manifest.config, ...doc.manifest.layers);
    const subject = doc.kind === 'index' ? doc.index.subject : doc.manifest.subject;
    if (subject !== undefined) pending.push(subject);
  }
  return seen;
}

function isDocument(mediaType: string): boolean {
  return mediaType === MEDIA_TYPE.ociIndex || mediaType === MEDIA_TYPE.ociManifest
    || mediaType === MEDIA_TYPE.dockerManifestList || mediaType === MEDIA_TYPE.dockerManifest;
}
