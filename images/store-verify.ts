/**
 * A consistency check of the content store (an fsck): what must hold after any mix of
 * concurrent pulls, loads, runs and interrupted writers (image-spec image-layout.md).
 *
 *   - every file in blobs/sha256/ hashes to its name (a torn or half-written blob would not);
 *   - index.json parses as an image index, and every named entry's graph is complete: the
 *     manifest (or index) it points at, each manifest's config and layers. An index may lack
 *     manifests of platforms that were not pulled; those it has must be complete.
 *
 * Files in ingest/ are writes in progress (or leftovers gc removes); they are reported, not
 * problems. Reads only; takes no lock, so run it when no writer is active for an exact answer.
 */

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ANNOTATION, MEDIA_TYPE, type Descriptor } from './oci-types.js';
import { parseImageIndex, parseJson, parseManifestDocument } from './oci-validate.js';

export interface StoreReport {
  /** Blobs in blobs/sha256/ (checked). */
  readonly blobs: number;
  /** Names in index.json. */
  readonly names: string[];
  /** Entries left in ingest/. */
  readonly ingest: string[];
  /** Everything wrong, one line each; empty for a consistent store. */
  readonly problems: string[];
}

export async function verifyStore(root: string): Promise<StoreReport> {
  const problems: string[] = [];
  const blobDir = join(root, 'blobs', 'sha256');
  const present = new Set<string>();
  const files = await readdir(blobDir).catch(() => [] as string[]);
  for (const hex of files) {
    const actual = await hashFile(join(blobDir, hex));
    if (actual !== hex) problems.push(`blob sha256:${hex}: content has digest sha256:${actual}`);
    else present.add(`sha256:${hex}`);
  }
  const names: string[] = [];
  let roots: readonly Descriptor[] = [];
  const indexPath = join(root, 'index.json');
  const indexBytes = await readFile(indexPath).catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') problems.push(`index.json: ${String(err)}`);
    return undefined;
  });
  if (indexBytes !== undefined) {
    try {
      roots = parseImageIndex(parseJson(indexBytes, 'image index', indexPath), indexPath).manifests;
    } catch (err) {
      problems.push(`index.json: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  const read = (digest: string): Promise<Buffer> => readFile(join(blobDir, digest.slice('sha256:'.length)));
  for (const d of roots) {
    const name = d.annotations?.[ANNOTATION.refName] ?? `(unnamed ${d.digest})`;
    names.push(name);
    await checkGraph(d, `\`${name}\``, present, read, problems, true);
  }
  const ingest = await readdir(join(root, 'ingest')).catch(() => [] as string[]);
  return { blobs: files.length, names, ingest, problems };
}

async function checkGraph(d: Descriptor, what: string, present: ReadonlySet<string>, read: (digest: string) => Promise<Buffer>, problems: string[], required: boolean): Promise<void> {
  if (!present.has(d.digest)) {
    if (required) problems.push(`${what}: blob ${d.digest} (${d.mediaType}) is missing`);
    return;
  }
  if (!isDocument(d.mediaType)) return;
  let doc;
  try {
    doc = parseManifestDocument(await read(d.digest), d.digest, d.mediaType);
  } catch (err) {
    problems.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
    return;
  }
  if (doc.kind === 'index') {
    for (const m of doc.index.manifests) await checkGraph(m, `${what} → ${m.digest}`, present, read, problems, false);
    return;
  }
  for (const child of [doc.manifest.config, ...doc.manifest.layers]) await checkGraph(child, `${what} → ${d.digest}`, present, read, problems, true);
}

function isDocument(mediaType: string): boolean {
  return mediaType === MEDIA_TYPE.ociIndex || mediaType === MEDIA_TYPE.ociManifest
    || mediaType === MEDIA_TYPE.dockerManifestList || mediaType === MEDIA_TYPE.dockerManifest;
}

async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
