/**
 * Finding images in the store the way docker's image verbs do: by name (`busybox`,
 * `docker.io/library/busybox:latest`), by image ID (the config digest, `sha256:…` or a unique
 * hex prefix of at least 4 digits), or by manifest digest. Every store name is listed with its
 * platform manifest and config (image.ts loadImage), so an ID finds all the names it has.
 */

import { KapselError } from '../common/errors.js';
import { loadImage, type ResolvedImage } from './image.js';
import type { Descriptor } from './oci-types.js';
import { normalizeReference } from './reference.js';
import type { ContentStore } from './store.js';

export interface ImageRecord {
  readonly name: string;
  /** What the name points at (a manifest or an index). */
  readonly target: Descriptor;
  /** The config digest (docker's image ID); the target digest when the image cannot be read. */
  readonly id: string;
  /** Undefined when the image's documents cannot be read (a broken or partial image). */
  readonly image: ResolvedImage | undefined;
}

export interface FoundImage {
  readonly id: string;
  /** Every name pointing at this image, in index order. */
  readonly names: string[];
  /** The name asked for, when the reference was a name (rmi untags only it). */
  readonly requestedName: string | undefined;
  readonly records: ImageRecord[];
}

/** Every named image in the store with its ID. */
export async function listImageRecords(store: ContentStore): Promise<ImageRecord[]> {
  const out: ImageRecord[] = [];
  for (const { name, descriptor } of await store.list()) {
    let image: ResolvedImage | undefined;
    try {
      image = await loadImage(store, name);
    } catch {
      image = undefined;
    }
    out.push({ name, target: descriptor, id: image?.manifest.config.digest ?? descriptor.digest, image });
  }
  return out;
}

/** The name a store entry shows as: unnamed images are kept under their manifest digest. */
export function isUnnamed(name: string): boolean {
  return name.startsWith('sha256:');
}

function byId(records: readonly ImageRecord[], id: string, requestedName?: string): FoundImage {
  const mine = records.filter((r) => r.id === id);
  return { id, names: mine.map((r) => r.name), requestedName, records: mine };
}

/** The image `ref` names; ERR_IMAGE_NOT_FOUND (or ERR_IMAGE_AMBIGUOUS for a short ID prefix) otherwise. */
export async function findImage(store: ContentStore, ref: string, records?: readonly ImageRecord[]): Promise<FoundImage> {
  const all = records ?? (await listImageRecords(store));
  const exact = all.find((r) => r.name === ref);
  if (exact !== undefined) return byId(all, exact.id, exact.name);
  let name: string | undefined;
  try {
    name = normalizeReference(ref);
  } catch {
    name = undefined;
  }
  const named = name === undefined ? undefined : all.find((r) => r.name === name);
  if (named !== undefined) return byId(all, named.id, named.name);
  const hex = /^(?:sha256:)?([0-9a-f]{4,64})$/.exec(ref)?.[1];
  if (hex !== undefined) {
    const ids = new Set(all.filter((r) => r.id.slice(7).startsWith(hex) || r.target.digest.slice(7).startsWith(hex)).map((r) => r.id));
    if (ids.size > 1) throw new KapselError('ERR_IMAGE_AMBIGUOUS', `image ID prefix \`${ref}\` matches ${ids.size} images`, { hint: 'give more digits' });
    const [id] = ids;
    if (id !== undefined) return byId(all, id);
  }
  throw new KapselError('ERR_IMAGE_NOT_FOUND', `image \`${ref}\` is not in the image store`, { hint: 'see `kapsel images`' });
}
