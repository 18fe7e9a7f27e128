/**
 * `pull`: a reference from a registry into the content store (distribution-spec "Pull";
 * image-spec image-index.md, manifest.md).
 *
 *   1. GET the manifest by tag or digest; hash it. By digest it must match the digest asked for;
 *      by tag it must match `Docker-Content-Digest` when the registry sends one.
 *   2. An index (or Docker manifest list) selects the platform's manifest (platform.ts), fetched
 *      by digest and checked against the index's descriptor (digest and size).
 *   3. The config, then the layers, `concurrency` at a time, each streamed into the store's
 *      ingest area and renamed into blobs/ only when digest and size match (store.put). Blobs
 *      already in the store are not downloaded.
 *   4. The manifest blob, and last the name in index.json. A pull that stops anywhere before
 *      leaves no name pointing at a half image; finished blobs stay for the next pull to reuse.
 *
 * The name is tagged to the selected platform's manifest (as `docker pull` without the
 * containerd store does), so `kapsel run NAME` runs what was pulled for that platform.
 */

import type { Readable } from 'node:stream';
import { KapselError } from '../common/errors.js';
import type { Credentials } from './auth-config.js';
import { sha256Digest } from './digest.js';
import { isIndexMediaType, isManifestMediaType, layerCompression, type Descriptor, type ImageManifest, type Platform } from './oci-types.js';
import { checkConfigMatchesManifest, parseImageConfig, parseJson, parseManifestDocument } from './oci-validate.js';
import { DEFAULT_PLATFORM, formatPlatform, selectManifest } from './platform.js';
import { formatReference, parseReference, type ImageReference } from './reference.js';
import { RegistryClient } from './registry-client.js';
import { isInsecureRegistry } from './registry-insecure.js';
import type { ContentStore } from './store.js';

const DEFAULT_CONCURRENCY = 3;
const MAX_INDEX_DEPTH = 4;

export type PullProgress =
  | { readonly kind: 'resolved'; readonly name: string; readonly digest: string; readonly manifestDigest: string; readonly platform?: string }
  | { readonly kind: 'blob'; readonly digest: string; readonly size: number; readonly state: 'exists' | 'waiting' | 'downloading' | 'verifying' | 'done'; readonly bytes: number };

export interface PullOptions {
  readonly store: ContentStore;
  /** Any docker-style reference; normalised (`busybox` → `docker.io/library/busybox:latest`). */
  readonly reference: string;
  /** Default linux/amd64. */
  readonly platform?: Platform;
  /** `--insecure-registry` entries (loopback registries are always allowed). */
  readonly insecureRegistries?: readonly string[];
  /** Credentials for a registry (auth-config.ts findCredentials), or none. */
  readonly credentials?: (registry: string) => Promise<Credentials | undefined>;
  /** Layers downloaded at once (default 3). */
  readonly concurrency?: number;
  readonly onProgress?: (event: PullProgress) => void;
  readonly signal?: AbortSignal;
}

export interface PullResult {
  /** The canonical name the image is stored under. */
  readonly name: string;
  /** The digest the reference resolved to (an index's for a multi-platform image). */
  readonly digest: string;
  /** The platform manifest the name points at. */
  readonly manifest: Descriptor;
  /** Blobs (config and layers) downloaded / found in the store already. */
  readonly downloaded: number;
  readonly skipped: number;
  readonly downloadedBytes: number;
}

export async function pullImage(opts: PullOptions): Promise<PullResult> {
  const ref = parseReference(opts.reference);
  const name = formatReference(ref);
  const abort = new AbortController();
  const onOuterAbort = (): void => abort.abort(opts.signal?.reason);
  opts.signal?.addEventListener('abort', onOuterAbort, { once: true });
  try {
    const client = new RegistryClient({
      registry: ref.registry,
      insecure: isInsecureRegistry(ref.registry, opts.insecureRegistries ?? []),
      credentials: await opts.credentials?.(ref.registry),
      signal: abort.signal,
    });
    return await pullWith(client, ref, name, opts, abort);
  } catch (err) {
    if (opts.signal?.aborted === true) {
      throw new KapselError('ERR_PULL_INTERRUPTED', `pull \`${name}\`: interrupted; no name was tagged (finished blobs stay for the next pull)`, { cause: err });
    }
    throw err;
  } finally {
    opts.signal?.removeEventListener('abort', onOuterAbort);
  }
}

async function pullWith(client: RegistryClient, ref: ImageReference, name: string, opts: PullOptions, abort: AbortController): Promise<PullResult> {
  const { store } = opts;
  const platform = opts.platform ?? DEFAULT_PLATFORM;
  const emit = opts.onProgress ?? ((): void => undefined);
  await store.removeAbandonedIngest(); // what a killed pull left behind

  // 1. the manifest the reference names
  const top = await client.getManifest(ref.repository, ref.digest ?? ref.tag ?? 'latest');
  const topDigest = sha256Digest(top.bytes);
  if (ref.digest !== undefined && topDigest !== ref.digest) throw digestMismatch(`manifest \`${name}\``, ref.digest, topDigest);
  if (ref.digest === undefined && top.headerDigest !== undefined && top.headerDigest.startsWith('sha256:') && top.headerDigest !== topDigest) {
    throw digestMismatch(`manifest \`${name}\` (Docker-Content-Digest)`, top.headerDigest, topDigest);
  }
  let doc = parseManifestDocument(top.bytes, `${name}@${topDigest}`, knownMediaType(top.contentType));
  let bytes = top.bytes;
  let descriptor: Descriptor = { mediaType: doc.mediaType, digest: topDigest, size: top.bytes.length };
  let selectedPlatform: Platform | undefined;

  // 2. an index selects the platform's manifest
  for (let depth = 0; doc.kind === 'index'; depth++) {
    if (depth >= MAX_INDEX_DEPTH) throw new KapselError('ERR_IMAGE_INVALID', `image \`${name}\`: image indexes nested deeper than ${MAX_INDEX_DEPTH}`);
    const chosen = selectManifest(doc.index, name, platform);
    checkSize(chosen, `manifest ${chosen.digest} of \`${name}\``);
    const fetched = await client.getManifest(ref.repository, chosen.digest);
    const actual = sha256Digest(fetched.bytes);
    if (actual !== chosen.digest) throw digestMismatch(`manifest of \`${name}\``, chosen.digest, actual);
    if (fetched.bytes.length !== chosen.size) {
      throw new KapselError('ERR_IMAGE_SIZE_MISMATCH', `manifest ${chosen.digest} of \`${name}\`: the index says ${chosen.size} bytes, the registry sent ${fetched.bytes.length}`);
    }
    doc = parseManifestDocument(fetched.bytes, `${name}@${chosen.digest}`, chosen.mediaType);
    bytes = fetched.bytes;
    descriptor = { mediaType: doc.mediaType, digest: chosen.digest, size: chosen.size };
    selectedPlatform = chosen.platform;
  }
  const manifest: ImageManifest = doc.manifest;
  emit({ kind: 'resolved', name, digest: topDigest, manifestDigest: descriptor.digest, ...(selectedPlatform !== undefined && { platform: formatPlatform(selectedPlatform) }) });

  // 3. config, then layers
  for (const layer of manifest.layers) {
    if (layerCompression(layer.mediaType) === undefined) {
      throw new KapselError('ERR_IMAGE_UNSUPPORTED', `image \`${name}\`: layer ${layer.digest} has media type ${layer.mediaType}, which is not an image layer`);
    }
  }
  const stats = { downloaded: 0, skipped: 0, bytes: 0 };
  const fetchBlob = async (d: Descriptor): Promise<void> => {
    checkSize(d, `blob ${d.digest} of \`${name}\``);
    if (await store.has(d.digest)) {
      stats.skipped++;
      emit({ kind: 'blob', digest: d.digest, size: d.size, state: 'exists', bytes: d.size });
      return;
    }
    emit({ kind: 'blob', digest: d.digest, size: d.size, state: 'downloading', bytes: 0 });
    const res = await client.openBlob(ref.repository, d.digest);
    let received = 0;
    const counted = countBytes(res.body, (n) => {
      received += n;
      emit({ kind: 'blob', digest: d.digest, size: d.size, state: 'downloading', bytes: received });
    });
    try {
      await store.put(counted, d.digest, d.size);
    } finally {
      res.body.destroy();
    }
    stats.downloaded++;
    stats.bytes += d.size;
    emit({ kind: 'blob', digest: d.digest, size: d.size, state: 'done', bytes: d.size });
  };
  await fetchBlob(manifest.config);
  const config = parseImageConfig(parseJson(await store.get(manifest.config.digest), 'image config', manifest.config.digest), manifest.config.digest);
  checkConfigMatchesManifest(manifest, config, name);
  const layers = uniqueByDigest(manifest.layers);
  for (const layer of layers) emit({ kind: 'blob', digest: layer.digest, size: layer.size, state: 'waiting', bytes: 0 });
  await runBounded(layers, opts.concurrency ?? DEFAULT_CONCURRENCY, fetchBlob, abort);

  // 4. the manifest, then the name
  await store.put(bytes, descriptor.digest, descriptor.size);
  const tagged: Descriptor = { ...descriptor, ...(selectedPlatform !== undefined && { platform: selectedPlatform }) };
  await store.tag(name, tagged);
  return { name, digest: topDigest, manifest: tagged, downloaded: stats.downloaded, skipped: stats.skipped, downloadedBytes: stats.bytes };
}

/** Runs `fn` over `items`, at most `limit` at once; the first failure aborts the rest and is thrown. */
async function runBounded<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>, abort: AbortController): Promise<void> {
  let next = 0;
  let failure: { err: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (err) {
        if (failure === undefined) {
          failure = { err };
          abort.abort(err);
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure !== undefined) throw failure.err;
}

/** The body's chunks as they arrive, each reported (store.put batches the writes). */
async function* countBytes(source: Readable, onChunk: (n: number) => void): AsyncIterable<Uint8Array> {
  for await (const chunk of source as AsyncIterable<Buffer>) {
    onChunk(chunk.length);
    yield chunk;
  }
}

function uniqueByDigest(descriptors: readonly Descriptor[]): Descriptor[] {
  const seen = new Set<string>();
  return descriptors.filter((d) => (seen.has(d.digest) ? false : (seen.add(d.digest), true)));
}

function checkSize(d: Descriptor, what: string): void {
  if (!Number.isSafeInteger(d.size) || d.size < 0) throw new KapselError('ERR_IMAGE_INVALID', `${what}: size ${d.size} is not a byte count`);
}

function knownMediaType(contentType: string | undefined): string | undefined {
  return contentType !== undefined && (isIndexMediaType(contentType) || isManifestMediaType(contentType)) ? contentType : undefined;
}

function digestMismatch(what: string, expected: string, actual: string): KapselError {
  return new KapselError('ERR_IMAGE_DIGEST_MISMATCH', `${what}: expected digest ${expected}, the registry sent content with digest ${actual}`, {
    hint: 'the registry sent different content than it announced; nothing was stored',
  });
}
