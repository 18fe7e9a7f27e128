/**
 * The content store: an OCI image layout (image-spec image-layout.md) on disk.
 *
 *   <root>/oci-layout            {"imageLayoutVersion":"1.0.0"}
 *   <root>/index.json            image index; each entry is a name → manifest (or index) descriptor,
 *                                the name in the `org.opencontainers.image.ref.name` annotation
 *   <root>/blobs/sha256/<hex>    content, named by its sha256
 *   <root>/ingest/               blobs being written (not part of the layout)
 *   <root>/index.lock            flock(2) target serialising writers of index.json
 *
 * A blob is written to ingest/, hashed while it streams, fsynced, and renamed into blobs/ only
 * when its digest (and size) match: an interrupted write or a full disk never leaves a partial
 * blob under a digest name. index.json is replaced by rename(2) under the lock, so readers never
 * see half a file and concurrent taggers never lose each other's names. Names are opaque here;
 * callers pass canonical references (reference.ts formatReference).
 */

import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm, stat, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { KapselError, wrapError } from '../common/errors.js';
import { checkSha256Digest, digestHex, isSha256Digest, sha256Digest } from './digest.js';
import { ANNOTATION, MEDIA_TYPE, OCI_LAYOUT_FILE, OCI_LAYOUT_VERSION, type Descriptor, type ImageIndex } from './oci-types.js';
import { parseImageIndex, parseJson } from './oci-validate.js';
import { reachableDigests } from './store-gc.js';
import { withFileLock, type LockSyscalls } from './store-lock.js';
import { isErrno } from '../sys/syscall-error.js';
import { LOCK_EX, LOCK_NB } from '../sys/syscalls.js';
import { writeFileAtomic } from './write-atomic.js';

export const DEFAULT_STORE_ROOT = '/var/lib/kapsel';
const LOCK_TIMEOUT_MS = 60_000;
/** gc leaves blobs and ingest files younger than this: a pull may not have tagged them yet. */
const DEFAULT_GC_GRACE_MS = 60 * 60 * 1000;
/** An unlocked ingest file at least this old belongs to a writer that died (see put). */
const ABANDONED_INGEST_MS = 1000;
/** put() writes this much at once (a socket delivers ~64 KiB per chunk). */
const WRITE_BATCH_BYTES = 1024 * 1024;

export interface StoreOptions {
  /** Default /var/lib/kapsel. */
  readonly root?: string;
  /** flock(2) for the writer lock (linuxSyscalls() in production). */
  readonly syscalls: LockSyscalls;
  readonly lockTimeoutMs?: number;
}

export interface BlobInfo {
  readonly digest: string;
  readonly size: number;
}

export interface NamedImage {
  readonly name: string;
  readonly descriptor: Descriptor;
}

export interface GcResult {
  readonly removed: string[];
  readonly freedBytes: number;
}

export type BlobSource = Readable | AsyncIterable<Uint8Array> | Uint8Array;

export class ContentStore {
  readonly root: string;
  private readonly sys: LockSyscalls;
  private readonly lockTimeoutMs: number;

  private constructor(opts: StoreOptions) {
    this.root = opts.root ?? DEFAULT_STORE_ROOT;
    this.sys = opts.syscalls;
    this.lockTimeoutMs = opts.lockTimeoutMs ?? LOCK_TIMEOUT_MS;
  }

  /** Opens the store at `root`, creating the layout when it is missing. */
  static async open(opts: StoreOptions): Promise<ContentStore> {
    const store = new ContentStore(opts);
    try {
      await mkdir(join(store.root, 'blobs', 'sha256'), { recursive: true, mode: 0o755 });
      await mkdir(join(store.root, 'ingest'), { recursive: true, mode: 0o700 });
      const layout = join(store.root, OCI_LAYOUT_FILE);
      await writeFile(layout, JSON.stringify({ imageLayoutVersion: OCI_LAYOUT_VERSION }), { flag: 'wx' }).catch((err: unknown) => {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      });
    } catch (err) {
      throw wrapError('ERR_IMAGE_STORE', `open image store \`${store.root}\``, err);
    }
    return store;
  }

  blobPath(digest: string): string {
    return join(this.root, 'blobs', 'sha256', digestHex(digest));
  }

  async has(digest: string): Promise<boolean> {
    try {
      return (await stat(this.blobPath(digest))).isFile();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  }

  /** The whole blob, verified against its digest (for manifests and configs, not layers). */
  async get(digest: string): Promise<Buffer> {
    const path = this.blobPath(digest);
    let data: Buffer;
    try {
      data = await readFile(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw missingBlob(digest);
      throw wrapError('ERR_IMAGE_STORE', `read blob ${digest}`, err);
    }
    const actual = sha256Digest(data);
    if (actual !== digest) throw new KapselError('ERR_IMAGE_STORE_CORRUPT', `blob ${digest} in \`${this.root}\`: content has digest ${actual}`);
    return data;
  }

  /** A stream of the blob (unverified: the unpacker hashes what it reads). */
  openBlob(digest: string): Readable {
    return createReadStream(this.blobPath(digest));
  }

  /**
   * Writes a blob. When `expectedDigest` (and `expectedSize`) are given the content must match
   * or nothing is stored (ERR_IMAGE_DIGEST_MISMATCH / ERR_IMAGE_SIZE_MISMATCH).
   */
  async put(source: BlobSource, expectedDigest?: string, expectedSize?: number): Promise<BlobInfo> {
    if (expectedDigest !== undefined) checkSha256Digest(expectedDigest, 'expected digest');
    const temp = join(this.root, 'ingest', `${Date.now()}-${randomBytes(8).toString('hex')}`);
    const hash = createHash('sha256');
    let size = 0;
    const handle = await open(temp, 'wx', 0o644).catch((err: unknown) => {
      throw storeWriteError(`create \`${temp}\``, err);
    });
    let renamed = false;
    let inflight: Promise<void> = Promise.resolve();
    try {
      // held until close (or the writer's death): removeAbandonedIngest leaves a locked file alone
      this.sys.flock(handle.fd, LOCK_EX | LOCK_NB);
      // Chunks are hashed as they arrive and written in batches of WRITE_BATCH_BYTES by
      // writev(2), one batch in flight while the next is gathered: no copies, few syscalls.
      let batch: Uint8Array[] = [];
      let batchBytes = 0;
      for await (const chunk of chunks(source)) {
        size += chunk.byteLength;
        if (expectedSize !== undefined && size > expectedSize) throw sizeMismatch(expectedDigest, expectedSize, `more than ${expectedSize}`);
        hash.update(chunk);
        batch.push(chunk);
        batchBytes += chunk.byteLength;
        if (batchBytes >= WRITE_BATCH_BYTES) {
          await inflight;
          inflight = writeAll(handle, batch, batchBytes);
          inflight.catch(() => undefined); // a failure (ENOSPC) is thrown where it is awaited
          batch = [];
          batchBytes = 0;
        }
      }
      await inflight;
      if (batchBytes > 0) await writeAll(handle, batch, batchBytes);
      const digest = `sha256:${hash.digest('hex')}`;
      if (expectedDigest !== undefined && digest !== expectedDigest) {
        throw new KapselError('ERR_IMAGE_DIGEST_MISMATCH', `blob ${expectedDigest}: content has digest ${digest} (${size} bytes)`, {
          hint: 'the source sent different content than it announced; nothing was stored',
        });
      }
      if (expectedSize !== undefined && size !== expectedSize) throw sizeMismatch(expectedDigest, expectedSize, String(size));
      await handle.sync();
      await handle.close();
      await rename(temp, this.blobPath(digest));
      renamed = true;
      return { digest, size };
    } catch (err) {
      if (err instanceof KapselError) throw err;
      throw storeWriteError(`write blob${expectedDigest !== undefined ? ` ${expectedDigest}` : ''} into \`${this.root}\``, err);
    } finally {
      await inflight.catch(() => undefined); // never close the file under a write
      await handle.close().catch(() => undefined);
      if (!renamed) await unlink(temp).catch(() => undefined);
    }
  }

  /**
   * Removes ingest files of writers that died (kill -9, power loss) instead of leaving them for
   * gc: a live put() holds flock(2) on its file, the kernel drops it with the process, so an
   * unlocked file older than a second is abandoned. Staging directories are gc's.
   */
  async removeAbandonedIngest(): Promise<string[]> {
    const ingest = join(this.root, 'ingest');
    const removed: string[] = [];
    const cutoff = Date.now() - ABANDONED_INGEST_MS;
    for (const entry of await readdir(ingest).catch(() => [] as string[])) {
      if (entry.startsWith('stage-')) continue;
      const path = join(ingest, entry);
      const handle = await open(path, 'r').catch(() => undefined);
      if (handle === undefined) continue;
      try {
        const st = await handle.stat();
        if (!st.isFile() || st.mtimeMs > cutoff) continue;
        try {
          this.sys.flock(handle.fd, LOCK_EX | LOCK_NB);
        } catch (err) {
          if (isErrno(err, 'EAGAIN')) continue; // a live writer
          throw err;
        }
        await unlink(path).catch(() => undefined);
        removed.push(entry);
      } finally {
        await handle.close();
      }
    }
    return removed;
  }

  /**
   * A fresh private directory under ingest/ for staging many blobs (an archive being loaded);
   * the caller removes it, gc removes a stale one.
   */
  async makeStagingDir(): Promise<string> {
    const dir = join(this.root, 'ingest', `stage-${Date.now()}-${randomBytes(8).toString('hex')}`);
    await mkdir(dir, { mode: 0o700 });
    return dir;
  }

  /**
   * Moves `file` into blobs/ as `digest`. The caller hashed it while writing it (it lives in
   * a staging directory of this store, so the rename stays on one filesystem); when the blob is
   * already stored the file is simply removed.
   */
  async adopt(file: string, digest: string): Promise<void> {
    checkSha256Digest(digest, 'adopted blob');
    if (await this.has(digest)) {
      await unlink(file).catch(() => undefined);
      return;
    }
    try {
      const handle = await open(file, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(file, this.blobPath(digest));
    } catch (err) {
      throw wrapError('ERR_IMAGE_STORE', `store blob ${digest} from \`${file}\``, err);
    }
  }

  /**
   * Deletes those of `candidates` that no index entry reaches any more (after an image was
   * removed): unlike gc, this never touches blobs a concurrent pull is still writing.
   */
  async removeUnreferenced(candidates: Iterable<string>): Promise<GcResult> {
    return this.locked(async () => {
      const index = await this.readIndex();
      const keep = await reachableDigests(index.manifests, (digest) => this.readIfPresent(digest));
      const removed: string[] = [];
      let freedBytes = 0;
      for (const digest of new Set(candidates)) {
        if (keep.has(digest) || !isSha256Digest(digest)) continue;
        const info = await stat(this.blobPath(digest)).catch(() => undefined);
        if (info === undefined) continue;
        await rm(this.blobPath(digest), { force: true });
        removed.push(digest);
        freedBytes += info.size;
      }
      return { removed, freedBytes };
    });
  }

  /** Stores `value` as canonical-enough JSON (no whitespace) and returns its blob info. */
  async putJson(value: unknown): Promise<BlobInfo> {
    return this.put(Buffer.from(JSON.stringify(value)));
  }

  /** Points `name` at `descriptor` (a manifest or index already in the store), replacing any old target. */
  async tag(name: string, descriptor: Descriptor): Promise<void> {
    checkName(name);
    checkSha256Digest(descriptor.digest, `descriptor of \`${name}\``);
    if (!(await this.has(descriptor.digest))) throw missingBlob(descriptor.digest, `tag \`${name}\``);
    const entry: Descriptor = { ...descriptor, annotations: { ...descriptor.annotations, [ANNOTATION.refName]: name } };
    await this.updateIndex((manifests) => [...manifests.filter((d) => nameOf(d) !== name), entry]);
  }

  /** The descriptor `name` points at, or undefined. */
  async resolve(name: string): Promise<Descriptor | undefined> {
    return (await this.list()).find((image) => image.name === name)?.descriptor;
  }

  /** Every named image, in index order. */
  async list(): Promise<NamedImage[]> {
    const index = await this.readIndex();
    const out: NamedImage[] = [];
    for (const d of index.manifests) {
      const name = nameOf(d);
      if (name !== undefined) out.push({ name, descriptor: d });
    }
    return out;
  }

  /** Drops `name` from the index (its blobs stay until gc); returns what it pointed at. */
  async remove(name: string): Promise<Descriptor | undefined> {
    let removed: Descriptor | undefined;
    await this.updateIndex((manifests) => {
      removed = manifests.find((d) => nameOf(d) === name);
      return manifests.filter((d) => nameOf(d) !== name);
    });
    return removed;
  }

  /** Deletes blobs no index entry reaches, and stale ingest files, older than `graceMs`. */
  async gc(opts: { graceMs?: number } = {}): Promise<GcResult> {
    const graceMs = opts.graceMs ?? DEFAULT_GC_GRACE_MS;
    return this.locked(async () => {
      const index = await this.readIndex();
      const keep = await reachableDigests(index.manifests, (digest) => this.readIfPresent(digest));
      const cutoff = Date.now() - graceMs;
      const removed: string[] = [];
      let freedBytes = 0;
      const blobs = join(this.root, 'blobs', 'sha256');
      for (const hex of await readdir(blobs)) {
        const digest = `sha256:${hex}`;
        if (keep.has(digest)) continue;
        const info = await stat(join(blobs, hex)).catch(() => undefined);
        if (info === undefined || info.mtimeMs > cutoff) continue;
        await rm(join(blobs, hex), { force: true });
        removed.push(digest);
        freedBytes += info.size;
      }
      const ingest = join(this.root, 'ingest');
      for (const file of await readdir(ingest)) {
        const info = await stat(join(ingest, file)).catch(() => undefined);
        if (info !== undefined && info.mtimeMs <= cutoff) await rm(join(ingest, file), { recursive: true, force: true });
      }
      return { removed, freedBytes };
    });
  }

  private async readIfPresent(digest: string): Promise<Buffer | undefined> {
    if (!isSha256Digest(digest) || !(await this.has(digest))) return undefined;
    return this.get(digest);
  }

  private async readIndex(): Promise<ImageIndex> {
    const path = join(this.root, 'index.json');
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyIndex();
      throw wrapError('ERR_IMAGE_STORE', `read \`${path}\``, err);
    }
    try {
      return parseImageIndex(parseJson(bytes, 'image index', path), path);
    } catch (err) {
      throw wrapError('ERR_IMAGE_STORE_CORRUPT', `image store \`${this.root}\``, err);
    }
  }

  private async updateIndex(edit: (manifests: Descriptor[]) => Descriptor[]): Promise<void> {
    await this.locked(async () => {
      const index = await this.readIndex();
      const next: ImageIndex = { ...index, manifests: edit(index.manifests) };
      await writeFileDurable(join(this.root, 'index.json'), `${JSON.stringify(next, null, 2)}\n`);
    });
  }

  private locked<T>(fn: () => Promise<T>): Promise<T> {
    return withFileLock(this.sys, join(this.root, 'index.lock'), this.lockTimeoutMs, fn);
  }
}

function emptyIndex(): ImageIndex {
  return { schemaVersion: 2, mediaType: MEDIA_TYPE.ociIndex, manifests: [] };
}

function nameOf(d: Descriptor): string | undefined {
  return d.annotations?.[ANNOTATION.refName];
}

function checkName(name: string): void {
  if (name === '' || /[\u0000-\u001f]/.test(name)) {
    throw new KapselError('ERR_IMAGE_REFERENCE', `image name ${JSON.stringify(name)}: must be a non-empty string without control characters`);
  }
}

/** A failed write into the store; a full disk says so (nothing half-written stays behind). */
function storeWriteError(operation: string, err: unknown): KapselError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new KapselError('ERR_IMAGE_STORE_FULL', `${operation}: ${code} (no space left on the store's filesystem)`, {
      cause: err,
      hint: 'free space on that filesystem (or point KAPSEL_STORE elsewhere) and retry; nothing half-written was kept',
    });
  }
  return wrapError('ERR_IMAGE_STORE', operation, err);
}

function missingBlob(digest: string, operation?: string): KapselError {
  return new KapselError('ERR_IMAGE_BLOB_MISSING', `${operation !== undefined ? `${operation}: ` : ''}blob ${digest} is not in the image store`);
}

function sizeMismatch(digest: string | undefined, expected: number, got: string): KapselError {
  return new KapselError('ERR_IMAGE_SIZE_MISMATCH', `blob ${digest ?? '(no digest)'}: expected ${expected} bytes, got ${got}`, {
    hint: 'the source sent different content than it announced; nothing was stored',
  });
}

/** writev(2) of `buffers`, continuing after a short write. */
async function writeAll(handle: FileHandle, buffers: Uint8Array[], total: number): Promise<void> {
  let { bytesWritten } = await handle.writev(buffers);
  if (bytesWritten === total) return;
  const rest = Buffer.concat(buffers, total);
  while (bytesWritten < total) bytesWritten += (await handle.write(rest, bytesWritten, total - bytesWritten)).bytesWritten;
}

async function* chunks(source: BlobSource): AsyncIterable<Uint8Array> {
  if (source instanceof Uint8Array) {
    yield source;
    return;
  }
  for await (const chunk of source as AsyncIterable<Uint8Array | string>) {
    yield typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
  }
}

/** writeFileAtomic, then fsync the directory so the rename itself is durable. */
async function writeFileDurable(path: string, text: string): Promise<void> {
  try {
    await writeFileAtomic(path, text, 0o644);
  } catch (err) {
    throw storeWriteError(`write \`${path}\``, err);
  }
  const dir = await open(join(path, '..'), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
