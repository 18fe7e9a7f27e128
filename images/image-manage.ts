/**
 * The image verbs' library side: `kapsel images`, `inspect IMAGE`, `tag`, `rmi`, `image prune`.
 * Images are found as docker finds them (image-find.ts); the image ID is the config digest.
 * Sizes are what the store holds (config + layer blobs as stored, compressed or not).
 *
 * rmi refuses an image a container uses unless forced: the caller supplies `inUse` (the engine
 * knows its containers); the default reads the rootfs records snapshots.ts leaves in
 * `<store>/containers/<id>/rootfs.json`. Removing the last name of an image deletes the blobs
 * only it referenced (ContentStore.removeUnreferenced), and its unused layer snapshots.
 */

import { KapselError } from '../common/errors.js';
import { findImage, isUnnamed, listImageRecords, type ImageRecord } from './image-find.js';
import type { ResolvedImage } from './image.js';
import { familiarReference, normalizeReference, parseReference } from './reference.js';
import { reachableDigests } from './store-gc.js';
import type { ContentStore } from './store.js';
import { containersUsingImage, pruneSnapshots } from './snapshots.js';

export interface ImageRow {
  readonly Repository: string;
  readonly Tag: string;
  /** The manifest (or index) digest the name points at. */
  readonly Digest: string;
  readonly ID: string;
  readonly CreatedAt: string;
  /** Bytes of config and layers as stored. */
  readonly Size: number;
}

/** `busybox`, `team/app`, `host:5000/app`: the familiar name without tag or digest. */
function familiarRepository(name: string): string {
  const ref = parseReference(name);
  return familiarReference({ registry: ref.registry, repository: ref.repository });
}

function imageSize(image: ResolvedImage | undefined): number {
  if (image === undefined) return 0;
  return image.manifest.config.size + image.manifest.layers.reduce((sum, l) => sum + l.size, 0);
}

function splitName(name: string): { repository: string; tag: string } {
  if (isUnnamed(name)) return { repository: '<none>', tag: '<none>' };
  const ref = parseReference(name);
  return { repository: familiarRepository(name), tag: ref.tag ?? '<none>' };
}

/** One row per name, newest image first (docker's order). */
export async function listImages(store: ContentStore): Promise<ImageRow[]> {
  const rows = (await listImageRecords(store)).map((r): ImageRow => {
    const { repository, tag } = splitName(r.name);
    return { Repository: repository, Tag: tag, Digest: r.target.digest, ID: r.id, CreatedAt: r.image?.config.created ?? '', Size: imageSize(r.image) };
  });
  return rows.sort((a, b) => (a.CreatedAt < b.CreatedAt ? 1 : a.CreatedAt > b.CreatedAt ? -1 : 0));
}

/** `docker image inspect`'s document, as far as an OCI store knows it. */
export interface ImageInspect {
  readonly Id: string;
  readonly RepoTags: string[];
  readonly RepoDigests: string[];
  readonly Created: string;
  readonly Author: string;
  readonly Architecture: string;
  readonly Variant?: string;
  readonly Os: string;
  readonly Config: Record<string, unknown>;
  readonly RootFS: { Type: string; Layers: string[] };
  readonly Size: number;
  readonly Manifest: { Digest: string; MediaType: string; Layers: Array<{ Digest: string; MediaType: string; Size: number }> };
}

export async function inspectImage(store: ContentStore, ref: string): Promise<ImageInspect> {
  const found = await findImage(store, ref);
  const record = found.records.find((r) => r.image !== undefined);
  if (record?.image === undefined) throw new KapselError('ERR_IMAGE_INVALID', `image \`${ref}\`: its manifest or config cannot be read from the store`);
  const image = record.image;
  const named = found.names.filter((n) => !isUnnamed(n));
  const repoDigests = [...new Set(found.records.filter((r) => !isUnnamed(r.name)).map((r) => `${familiarRepository(r.name)}@${r.target.digest}`))];
  const c = image.config;
  return {
    Id: found.id,
    RepoTags: named.map((n) => familiarReference(parseReference(n))),
    RepoDigests: repoDigests,
    Created: c.created ?? '',
    Author: c.author ?? '',
    Architecture: c.architecture,
    ...(c.variant !== undefined && { Variant: c.variant }),
    Os: c.os,
    Config: { ...c.config },
    RootFS: { Type: c.rootfs.type, Layers: [...c.rootfs.diff_ids] },
    Size: imageSize(image),
    Manifest: {
      Digest: image.manifestDescriptor.digest,
      MediaType: image.manifestDescriptor.mediaType,
      Layers: image.manifest.layers.map((l) => ({ Digest: l.digest, MediaType: l.mediaType, Size: l.size })),
    },
  };
}

/** `kapsel tag SRC DST`: DST points at what SRC points at. */
export async function tagImage(store: ContentStore, source: string, target: string): Promise<string> {
  const found = await findImage(store, source);
  const record = found.records.find((r) => r.name === found.requestedName) ?? found.records[0];
  if (record === undefined) throw new KapselError('ERR_IMAGE_NOT_FOUND', `image \`${source}\` is not in the image store`);
  const name = normalizeReference(target);
  if (parseReference(name).digest !== undefined) throw new KapselError('ERR_USAGE', `tag \`${target}\`: a tag cannot contain a digest`);
  const { annotations: _drop, ...descriptor } = record.target;
  const kept = Object.fromEntries(Object.entries(record.target.annotations ?? {}).filter(([k]) => k !== 'org.opencontainers.image.ref.name'));
  await store.tag(name, Object.keys(kept).length > 0 ? { ...descriptor, annotations: kept } : descriptor);
  return name;
}

/** Container names using image `id` (known by `names`); empty when none. */
export type ImageInUse = (id: string, names: readonly string[]) => Promise<string[]>;

export interface RemoveOptions {
  readonly force?: boolean;
  /** Default: the rootfs records under `<store>/containers/`. */
  readonly inUse?: ImageInUse;
}

export type RemoveEvent = { readonly Untagged: string } | { readonly Deleted: string };

/**
 * `kapsel rmi [-f] IMAGE...`. A name untags that name; an ID untags every name of the image
 * (docker asks for -f when there are several; kapsel does too). When no name is left, the
 * image's blobs that no other image references are deleted.
 */
export async function removeImages(store: ContentStore, refs: readonly string[], opts: RemoveOptions = {}): Promise<RemoveEvent[]> {
  const inUse = opts.inUse ?? ((id) => containersUsingImage(store.root, id));
  const events: RemoveEvent[] = [];
  for (const ref of refs) {
    const found = await findImage(store, ref);
    const users = await inUse(found.id, found.names);
    if (users.length > 0 && opts.force !== true) {
      throw new KapselError('ERR_IMAGE_IN_USE', `image \`${ref}\` (${found.id.slice(7, 19)}) is used by container${users.length > 1 ? 's' : ''} ${users.map((u) => `\`${u}\``).join(', ')}`, {
        hint: 'remove the container first, or use rmi -f',
      });
    }
    const untag = found.requestedName !== undefined ? [found.requestedName] : found.names;
    if (found.requestedName === undefined && untag.filter((n) => !isUnnamed(n)).length > 1 && opts.force !== true) {
      throw new KapselError('ERR_IMAGE_IN_USE', `image ID \`${ref}\` has ${untag.length} names (${untag.map((n) => displayName(n)).join(', ')})`, { hint: 'remove them by name, or use rmi -f' });
    }
    const candidates = await imageBlobs(store, found.records.filter((r) => untag.includes(r.name)));
    for (const name of untag) {
      await store.remove(name);
      if (!isUnnamed(name)) events.push({ Untagged: displayName(name) });
    }
    if (found.names.every((n) => untag.includes(n))) {
      const result = await store.removeUnreferenced(candidates);
      events.push({ Deleted: found.id });
      for (const digest of result.removed) if (digest !== found.id) events.push({ Deleted: digest });
      await pruneSnapshots(store);
    }
  }
  return events;
}

function displayName(name: string): string {
  return isUnnamed(name) ? name : familiarReference(parseReference(name));
}

async function imageBlobs(store: ContentStore, records: readonly ImageRecord[]): Promise<Set<string>> {
  return reachableDigests(records.map((r) => r.target), async (digest) => ((await store.has(digest)) ? store.get(digest) : undefined));
}

export interface PruneResult {
  readonly blobs: string[];
  readonly freedBytes: number;
  readonly snapshots: string[];
}

/**
 * `kapsel image prune`: deletes blobs no name reaches and layer snapshots no image or container
 * uses. Blobs younger than `graceMs` stay (a pull may not have named them yet).
 */
export async function pruneImages(store: ContentStore, opts: { graceMs?: number } = {}): Promise<PruneResult> {
  const gc = await store.gc(opts.graceMs === undefined ? {} : { graceMs: opts.graceMs });
  const snapshots = await pruneSnapshots(store);
  return { blobs: gc.removed, freedBytes: gc.freedBytes + snapshots.freedBytes, snapshots: snapshots.removed };
}

