/**
 * `kapsel save`: images from the store into one tar archive.
 *
 * - `oci-archive` (default): an OCI image layout as a tar (image-layout.md), what
 *   `skopeo copy … oci-archive:` writes: oci-layout, index.json with one entry per name
 *   (`org.opencontainers.image.ref.name` and `io.containerd.image.name` = the full reference,
 *   which `docker load` and `kapsel load` read), and every reachable blob under blobs/sha256/.
 *   When the store holds only some platforms of a multi-platform index, the platform's manifest
 *   is saved instead of the index, so the archive never references a blob it lacks.
 * - `docker-archive`: the `docker save` format: `<config hex>.json`, each layer uncompressed as
 *   `<diff_id hex>.tar` (compressed layers are decompressed and checked against their diff_id),
 *   and manifest.json with the familiar RepoTags (`busybox:latest`).
 *
 * The tar is written next to the output and renamed over it when complete.
 */

import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { Transform, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pack, type Pack } from 'tar-stream';
import { KapselError } from '../common/errors.js';
import { decompressLayer } from './compression.js';
import { loadImage } from './image.js';
import { findImage } from './image-find.js';
import { ANNOTATION, MEDIA_TYPE, OCI_LAYOUT_FILE, OCI_LAYOUT_VERSION, isIndexMediaType, type Descriptor, type ImageIndex } from './oci-types.js';
import { parseManifestDocument } from './oci-validate.js';
import { familiarReference, parseReference } from './reference.js';
import { reachableDigests } from './store-gc.js';
import type { ContentStore } from './store.js';

export type ArchiveFormat = 'oci-archive' | 'docker-archive';

export interface SaveOptions {
  readonly format?: ArchiveFormat;
}

const EPOCH = new Date(0);
const ANNOTATION_CONTAINERD_NAME = 'io.containerd.image.name';

/** Writes the images `refs` (names, ids) to the tar file `output`, or to a stream (stdout). */
export async function saveArchive(store: ContentStore, refs: readonly string[], output: string | Writable, opts: SaveOptions = {}): Promise<void> {
  if (refs.length === 0) throw new KapselError('ERR_USAGE', 'save: name at least one image');
  const format = opts.format ?? 'oci-archive';
  if (typeof output !== 'string') {
    const p = pack();
    const written = pipeline(p, output);
    written.catch(() => undefined);
    try {
      if (format === 'docker-archive') await writeDockerArchive(store, refs, p);
      else await writeOciArchive(store, refs, p);
      p.finalize();
      await written;
    } catch (err) {
      p.destroy();
      throw err;
    }
    return;
  }
  const temp = `${output}.${randomBytes(6).toString('hex')}.tmp`;
  const p = pack();
  const written = pipeline(p, createWriteStream(temp, { flags: 'wx', mode: 0o644 }));
  written.catch(() => undefined); // awaited below; an early failure must not be unhandled
  try {
    if (format === 'docker-archive') await writeDockerArchive(store, refs, p);
    else await writeOciArchive(store, refs, p);
    p.finalize();
    await written;
    await rename(temp, output);
  } catch (err) {
    p.destroy();
    await written.catch(() => undefined);
    await rm(temp, { force: true });
    if (err instanceof KapselError) throw err;
    throw new KapselError('ERR_IMAGE_ARCHIVE', `save to \`${output}\`: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

function addBuffer(p: Pack, name: string, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    p.entry({ name, size: data.length, mode: 0o644, mtime: EPOCH }, data, (err) => (err ? reject(err) : resolve()));
  });
}

async function addStream(p: Pack, name: string, size: number, source: Readable): Promise<void> {
  const entry = p.entry({ name, size, mode: 0o644, mtime: EPOCH });
  await pipeline(source, entry);
}

/** The descriptor to save for `name`: an index whose children are all stored, or the platform manifest. */
async function savedDescriptor(store: ContentStore, name: string): Promise<Descriptor> {
  const target = (await store.resolve(name)) as Descriptor;
  if (!isIndexMediaType(target.mediaType)) return target;
  const index = parseManifestDocument(await store.get(target.digest), target.digest, target.mediaType);
  const children = index.kind === 'index' ? index.index.manifests : [];
  const complete = await Promise.all(children.map((c) => store.has(c.digest)));
  if (complete.every(Boolean)) return target;
  const image = await loadImage(store, name);
  return image.manifestDescriptor;
}

async function writeOciArchive(store: ContentStore, refs: readonly string[], p: Pack): Promise<void> {
  const entries: Descriptor[] = [];
  for (const ref of refs) {
    const found = await findImage(store, ref);
    for (const name of found.names.filter((n) => found.requestedName === undefined || n === found.requestedName)) {
      const d = await savedDescriptor(store, name);
      const named = !name.startsWith('sha256:');
      entries.push({ ...d, ...(named && { annotations: { ...d.annotations, [ANNOTATION.refName]: name, [ANNOTATION_CONTAINERD_NAME]: name } }) });
    }
  }
  const blobs = await reachableDigests(entries, async (digest) => ((await store.has(digest)) ? store.get(digest) : undefined));
  await addBuffer(p, OCI_LAYOUT_FILE, Buffer.from(JSON.stringify({ imageLayoutVersion: OCI_LAYOUT_VERSION })));
  const index: ImageIndex = { schemaVersion: 2, mediaType: MEDIA_TYPE.ociIndex, manifests: entries };
  await addBuffer(p, 'index.json', Buffer.from(JSON.stringify(index)));
  for (const digest of [...blobs].sort()) {
    if (!(await store.has(digest))) continue; // a platform of an index that was not pulled
    const size = (await stat(store.blobPath(digest))).size;
    await addStream(p, `blobs/sha256/${digest.slice('sha256:'.length)}`, size, verifying(store.openBlob(digest), digest));
  }
}

async function writeDockerArchive(store: ContentStore, refs: readonly string[], p: Pack): Promise<void> {
  const manifest: Array<{ Config: string; RepoTags: string[]; Layers: string[] }> = [];
  const done = new Set<string>();
  for (const ref of refs) {
    const found = await findImage(store, ref);
    const image = await loadImage(store, found.names[0] as string);
    const names = found.requestedName !== undefined ? [found.requestedName] : found.names;
    const repoTags = names.filter((n) => !n.startsWith('sha256:')).map((n) => familiarReference(parseReference(n)));
    const existing = manifest.find((m) => m.Config === `${image.manifest.config.digest.slice(7)}.json`);
    if (existing !== undefined) {
      existing.RepoTags.push(...repoTags.filter((t) => !existing.RepoTags.includes(t)));
      continue;
    }
    const configName = `${image.manifest.config.digest.slice('sha256:'.length)}.json`;
    if (!done.has(configName)) await addBuffer(p, configName, await store.get(image.manifest.config.digest));
    done.add(configName);
    const layers: string[] = [];
    for (const [i, layer] of image.manifest.layers.entries()) {
      const diffId = image.config.rootfs.diff_ids[i] as string;
      const layerName = `${diffId.slice('sha256:'.length)}.tar`;
      layers.push(layerName);
      if (done.has(layerName)) continue;
      done.add(layerName);
      await addUncompressedLayer(store, p, layerName, layer, diffId);
    }
    manifest.push({ Config: configName, RepoTags: repoTags, Layers: layers });
  }
  await addBuffer(p, 'manifest.json', Buffer.from(JSON.stringify(manifest)));
}

/** docker-archive layers are plain tars: a compressed layer is decompressed to a temp blob first (its size goes in the header). */
async function addUncompressedLayer(store: ContentStore, p: Pack, name: string, layer: Descriptor, diffId: string): Promise<void> {
  if (layer.mediaType === MEDIA_TYPE.ociLayer || layer.mediaType === MEDIA_TYPE.ociLayerNondistributable) {
    await addStream(p, name, layer.size, verifying(store.openBlob(layer.digest), layer.digest));
    return;
  }
  const staging = await store.makeStagingDir();
  try {
    const temp = `${staging}/layer.tar`;
    const { tar } = await decompressLayer(store.openBlob(layer.digest));
    await pipeline(tar, verifyingTransform(diffId, `layer ${layer.digest} (uncompressed)`), createWriteStream(temp, { flags: 'wx', mode: 0o600 }));
    await addStream(p, name, (await stat(temp)).size, createReadStream(temp));
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

function verifying(source: Readable, digest: string): Readable {
  return source.pipe(verifyingTransform(digest, `blob ${digest}`));
}

/** Passes bytes through and fails at the end unless they hash to `digest`: a corrupt store never yields a valid-looking archive. */
function verifyingTransform(digest: string, what: string): Transform {
  const hash = createHash('sha256');
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      cb(null, chunk);
    },
    flush(cb) {
      const actual = `sha256:${hash.digest('hex')}`;
      cb(actual === digest ? null : new KapselError('ERR_IMAGE_STORE_CORRUPT', `${what} in the image store has digest ${actual}`));
    },
  });
}
