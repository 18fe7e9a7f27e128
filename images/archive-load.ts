/**
 * `kapsel load`: images from an archive into the store, all or nothing.
 *
 * Accepted inputs:
 * - an OCI image layout directory (image-layout.md: oci-layout, index.json, blobs/<alg>/<hex>);
 * - the same layout as a tar (`skopeo copy … oci-archive:FILE`, `kapsel save`);
 * - a docker-archive tar (`docker save`): manifest.json = [{Config, RepoTags, Layers}], the
 *   config and layer tars named by those paths (`<hex>.json` + `<id>/layer.tar`, `<hex>.tar`, or
 *   `blobs/sha256/<hex>` for docker ≥ 25). It becomes an OCI manifest in the store (config as is,
 *   layers as stored), each RepoTag a name. When an archive has both manifest.json and index.json
 *   (docker ≥ 25), manifest.json is read: it carries the tags.
 *
 * Every file is staged and hashed first (archive-source.ts); a blob must hash to the digest
 * that names it and have its descriptor's size, a docker layer must hash (uncompressed) to its
 * config's diff_id. Only when every image checks out are the blobs renamed into the store and
 * the names set, so a bad archive leaves nothing behind.
 *
 * Names: `io.containerd.image.name` of an index entry, else `org.opencontainers.image.ref.name`
 * read as a reference (`busybox:1.36` → `docker.io/library/busybox:1.36`). An image without a
 * name is kept under its manifest digest (`sha256:…`), which `kapsel images` shows as <none>.
 */

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { KapselError } from '../common/errors.js';
import { decompressLayer } from './compression.js';
import { isSha256Digest, sha256Digest } from './digest.js';
import { ANNOTATION, MEDIA_TYPE, isIndexMediaType, isManifestMediaType, type Descriptor, type ImageManifest } from './oci-types.js';
import { checkConfigMatchesManifest, parseImageConfig, parseImageIndex, parseJson, parseManifestDocument } from './oci-validate.js';
import { normalizeReference } from './reference.js';
import { DirectorySource, TarSource, readStaged, type ArchiveSource, type StagedFile } from './archive-source.js';
import type { ContentStore } from './store.js';

export interface LoadedImage {
  /** The name it was stored under (canonical reference, or the manifest digest when unnamed). */
  readonly name: string;
  /** The manifest (or index) descriptor the name points at. */
  readonly descriptor: Descriptor;
}

export interface LoadResult {
  readonly format: 'oci-layout' | 'docker-archive';
  readonly images: LoadedImage[];
}

const MAX_INDEX_DEPTH = 4;
const ANNOTATION_CONTAINERD_NAME = 'io.containerd.image.name';

interface Plan {
  /** digest → staged file, every blob to move into the store. */
  readonly blobs: Map<string, StagedFile>;
  /** Documents kapsel made (docker-archive manifests), stored as bytes. */
  readonly made: Buffer[];
  readonly images: LoadedImage[];
}

/** Loads every image of the archive at `input` (a directory or a tar file), or of a tar stream (stdin). */
export async function loadArchive(store: ContentStore, input: string | Readable): Promise<LoadResult> {
  const st = typeof input !== 'string' ? undefined : await stat(input).catch((err: unknown) => {
    throw new KapselError('ERR_IMAGE_ARCHIVE', `image archive \`${input}\`: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : String(err)}`);
  });
  const staging = await store.makeStagingDir();
  try {
    const source: ArchiveSource = typeof input === 'string' && st?.isDirectory() === true
      ? new DirectorySource(input, staging)
      : await TarSource.read(input, staging, typeof input === 'string' ? undefined : 'image archive on standard input');
    const plan: Plan = { blobs: new Map(), made: [], images: [] };
    let format: LoadResult['format'];
    if ((await source.file('manifest.json')) !== undefined) {
      format = 'docker-archive';
      await planDockerArchive(source, plan);
    } else if ((await source.file('index.json')) !== undefined) {
      format = 'oci-layout';
      await planOciLayout(source, plan);
    } else {
      throw new KapselError('ERR_IMAGE_ARCHIVE', `${source.what}: neither an OCI image layout (index.json) nor a docker archive (manifest.json)`);
    }
    if (plan.images.length === 0) throw new KapselError('ERR_IMAGE_ARCHIVE', `${source.what}: holds no image`);
    // commit: blobs first, then the documents kapsel made, then the names
    for (const [digest, file] of plan.blobs) await store.adopt(file.path, digest);
    for (const doc of plan.made) await store.put(doc);
    for (const image of plan.images) await store.tag(image.name, image.descriptor);
    return { format, images: plan.images };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** The staged blob `descriptor` names, checked against its digest and size. */
async function blob(source: ArchiveSource, d: Descriptor, role: string): Promise<StagedFile> {
  if (!isSha256Digest(d.digest)) throw new KapselError('ERR_IMAGE_ARCHIVE', `${source.what}: ${role} ${d.digest}: only sha256 digests are supported`);
  const entry = `blobs/sha256/${d.digest.slice('sha256:'.length)}`;
  const file = await source.file(entry);
  if (file === undefined) throw new KapselError('ERR_IMAGE_BLOB_MISSING', `${source.what}: ${role} ${d.digest} is missing (no entry \`${entry}\`)`);
  if (file.digest !== d.digest) {
    throw new KapselError('ERR_IMAGE_DIGEST_MISMATCH', `${source.what}: entry \`${entry}\` has digest ${file.digest}, not the ${role} digest ${d.digest}`);
  }
  if (file.size !== d.size) throw new KapselError('ERR_IMAGE_SIZE_MISMATCH', `${source.what}: entry \`${entry}\` is ${file.size} bytes, the ${role} descriptor says ${d.size}`);
  return file;
}

async function planOciLayout(source: ArchiveSource, plan: Plan): Promise<void> {
  const indexFile = (await source.file('index.json')) as StagedFile;
  const index = parseImageIndex(parseJson(await readStaged(indexFile), 'image index', `${source.what}: index.json`), `${source.what}: index.json`);
  for (const [i, d] of index.manifests.entries()) {
    await planDocument(source, plan, d, 0, `index.json manifests[${i}]`);
    plan.images.push({ name: imageName(d), descriptor: withoutNames(d) });
  }
}

/** A manifest or index and everything it references, into plan.blobs. */
async function planDocument(source: ArchiveSource, plan: Plan, d: Descriptor, depth: number, role: string): Promise<void> {
  if (!isManifestMediaType(d.mediaType) && !isIndexMediaType(d.mediaType)) {
    throw new KapselError('ERR_IMAGE_ARCHIVE', `${source.what}: ${role} has media type ${d.mediaType}, not an image manifest or index`);
  }
  const file = await blob(source, d, role);
  const doc = parseManifestDocument(await readStaged(file), `${source.what}: ${d.digest}`, d.mediaType);
  plan.blobs.set(d.digest, file);
  if (doc.kind === 'index') {
    if (depth >= MAX_INDEX_DEPTH) throw new KapselError('ERR_IMAGE_ARCHIVE', `${source.what}: image indexes nested deeper than ${MAX_INDEX_DEPTH}`);
    for (const [i, child] of doc.index.manifests.entries()) await planDocument(source, plan, child, depth + 1, `manifest ${i} of index ${d.digest}`);
    return;
  }
  const configFile = await blob(source, doc.manifest.config, `config of manifest ${d.digest}`);
  const config = parseImageConfig(parseJson(await readStaged(configFile), 'image config', doc.manifest.config.digest), doc.manifest.config.digest);
  checkConfigMatchesManifest(doc.manifest, config, `${source.what}: manifest ${d.digest}`);
  plan.blobs.set(doc.manifest.config.digest, configFile);
  for (const [i, layer] of doc.manifest.layers.entries()) plan.blobs.set(layer.digest, await blob(source, layer, `layer ${i} of manifest ${d.digest}`));
}

function imageName(d: Descriptor): string {
  const name = d.annotations?.[ANNOTATION_CONTAINERD_NAME] ?? d.annotations?.[ANNOTATION.refName];
  if (name === undefined || name === '') return d.digest;
  try {
    return normalizeReference(name);
  } catch (err) {
    throw new KapselError('ERR_IMAGE_ARCHIVE', `image name \`${name}\` in the archive's index.json is not a valid reference`, { cause: err });
  }
}

/** The store sets its own name annotation; the archive's naming annotations are dropped. */
function withoutNames(d: Descriptor): Descriptor {
  const { annotations, ...rest } = d;
  const kept = Object.fromEntries(Object.entries(annotations ?? {}).filter(([k]) => k !== ANNOTATION.refName && k !== ANNOTATION_CONTAINERD_NAME));
  return Object.keys(kept).length > 0 ? { ...rest, annotations: kept } : rest;
}

interface DockerManifestEntry {
  readonly Config: string;
  readonly RepoTags: readonly string[];
  readonly Layers: readonly string[];
}

function parseDockerManifest(value: unknown, what: string): DockerManifestEntry[] {
  const bad = (reason: string): KapselError => new KapselError('ERR_IMAGE_ARCHIVE', `${what}: manifest.json: ${reason}`);
  if (!Array.isArray(value)) throw bad('must be an array');
  return value.map((e: unknown, i) => {
    if (typeof e !== 'object' || e === null) throw bad(`[${i}] must be an object`);
    const { Config, RepoTags, Layers } = e as Record<string, unknown>;
    if (typeof Config !== 'string') throw bad(`[${i}].Config must be a string`);
    const strings = (v: unknown, field: string): string[] => {
      if (v === undefined || v === null) return [];
      if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw bad(`[${i}].${field} must be an array of strings`);
      return v as string[];
    };
    return { Config, RepoTags: strings(RepoTags, 'RepoTags'), Layers: strings(Layers, 'Layers') };
  });
}

async function planDockerArchive(source: ArchiveSource, plan: Plan): Promise<void> {
  const manifestFile = (await source.file('manifest.json')) as StagedFile;
  const entries = parseDockerManifest(parseJson(await readStaged(manifestFile), 'docker archive manifest', `${source.what}: manifest.json`), source.what);
  for (const entry of entries) {
    const configFile = await source.file(entry.Config);
    if (configFile === undefined) throw new KapselError('ERR_IMAGE_BLOB_MISSING', `${source.what}: config \`${entry.Config}\` named in manifest.json is missing`);
    const config = parseImageConfig(parseJson(await readStaged(configFile), 'image config', entry.Config), `${source.what}: ${entry.Config}`);
    const diffIds = config.rootfs.diff_ids;
    if (diffIds.length !== entry.Layers.length) {
      throw new KapselError('ERR_IMAGE_ARCHIVE', `${source.what}: manifest.json lists ${entry.Layers.length} layers for \`${entry.Config}\`, its config ${diffIds.length} diff_ids`);
    }
    const layers: Descriptor[] = [];
    for (const [i, name] of entry.Layers.entries()) {
      const file = await source.file(name);
      if (file === undefined) throw new KapselError('ERR_IMAGE_BLOB_MISSING', `${source.what}: layer \`${name}\` named in manifest.json is missing`);
      const mediaType = await checkDockerLayer(source, name, file, diffIds[i] as string);
      plan.blobs.set(file.digest, file);
      layers.push({ mediaType, digest: file.digest, size: file.size });
    }
    plan.blobs.set(configFile.digest, configFile);
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: MEDIA_TYPE.ociManifest,
      config: { mediaType: MEDIA_TYPE.ociConfig, digest: configFile.digest, size: configFile.size },
      layers,
    };
    checkConfigMatchesManifest(manifest, config, `${source.what}: ${entry.Config}`);
    const bytes = Buffer.from(JSON.stringify(manifest));
    plan.made.push(bytes);
    const descriptor: Descriptor = {
      mediaType: MEDIA_TYPE.ociManifest,
      digest: sha256Digest(bytes),
      size: bytes.length,
      platform: { architecture: config.architecture, os: config.os, ...(config.variant !== undefined && { variant: config.variant }) },
    };
    const names = entry.RepoTags.length > 0 ? entry.RepoTags.map((t) => dockerTag(source, t)) : [descriptor.digest];
    for (const name of names) plan.images.push({ name, descriptor });
  }
}

function dockerTag(source: ArchiveSource, tag: string): string {
  try {
    return normalizeReference(tag);
  } catch (err) {
    throw new KapselError('ERR_IMAGE_ARCHIVE', `${source.what}: RepoTag \`${tag}\` is not a valid reference`, { cause: err });
  }
}

/** A docker layer must hash, uncompressed, to its diff_id; returns the OCI media type it gets. */
async function checkDockerLayer(source: ArchiveSource, name: string, file: StagedFile, diffId: string): Promise<string> {
  if (file.digest === diffId) return MEDIA_TYPE.ociLayer;
  const { compression, tar } = await decompressLayer(createReadStream(file.path));
  if (compression !== 'none') {
    const hash = createHash('sha256');
    for await (const chunk of tar) hash.update(chunk as Buffer);
    if (`sha256:${hash.digest('hex')}` === diffId) return compression === 'gzip' ? MEDIA_TYPE.ociLayerGzip : MEDIA_TYPE.ociLayerZstd;
  } else {
    tar.resume();
  }
  throw new KapselError('ERR_IMAGE_DIGEST_MISMATCH', `${source.what}: layer \`${name}\` does not match its config's diff_id ${diffId} (content has digest ${file.digest})`);
}
