/**
 * The files of an image archive being loaded, staged into the store's ingest/ directory with
 * their sha256 computed while they are copied, so every later check (a blob named by its digest,
 * a layer against a config's diff_id) reads bytes kapsel already holds and hashed once.
 *
 * Two kinds of input: a directory (an OCI image layout, or an unpacked docker-archive), whose
 * files are staged on first use, and a tar file (optionally gzip or zstd compressed), staged
 * entry by entry as it streams past. Entry names are checked as they are read: an absolute
 * name, a `..` component, a duplicate, or a link pointing outside the archive is refused with
 * an error naming the entry; a directory input never follows a symlink out of the directory.
 */

import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, readFile, realpath } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform, type Readable } from 'node:stream';
import { extract } from 'tar-stream';
import { KapselError } from '../common/errors.js';
import { decompressLayer } from './compression.js';

export interface StagedFile {
  /** Where the staged copy lives (under the store's ingest/). */
  readonly path: string;
  readonly digest: string;
  readonly size: number;
}

export interface ArchiveSource {
  /** Names the input in errors. */
  readonly what: string;
  /** The staged file at archive path `name` (`blobs/sha256/…`, `manifest.json`), or undefined. */
  file(name: string): Promise<StagedFile | undefined>;
}

/** An archive member or path that cannot be accepted. */
export class ArchiveEntryError extends KapselError {
  readonly entry: string;
  constructor(what: string, entry: string, reason: string) {
    super('ERR_IMAGE_ARCHIVE_UNSAFE', `${what}: entry \`${entry}\`: ${reason}`);
    this.name = 'ArchiveEntryError';
    this.entry = entry;
  }
}

const MAX_LINK_HOPS = 8;

/** `./a//b` → `a/b`; refuses absolute names, `..`, NUL and the empty name. */
export function cleanArchiveName(what: string, name: string): string {
  if (name.includes('\0')) throw new ArchiveEntryError(what, name, 'name contains a NUL byte');
  if (name.startsWith('/')) throw new ArchiveEntryError(what, name, 'absolute path in an image archive');
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new ArchiveEntryError(what, name, 'path escapes the archive (`..`)');
  return parts.join('/');
}

/**
 * Copies `source` (archive entry `entry`) to `target` (created exclusively), returning its
 * digest and size. A full disk is ERR_IMAGE_STORE_FULL naming the entry and the staging file.
 */
async function stageStream(source: Readable, target: string, entry: string): Promise<{ digest: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  try {
    await pipeline(source, tap, createWriteStream(target, { flags: 'wx', mode: 0o600 }));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOSPC' && code !== 'EDQUOT') throw err;
    throw new KapselError('ERR_IMAGE_STORE_FULL', `stage archive entry \`${entry}\` into \`${target}\`: ${code} (no space left on the store's filesystem)`, {
      cause: err,
      hint: 'free space on that filesystem (or point KAPSEL_STORE elsewhere) and retry; nothing was loaded',
    });
  }
  return { digest: `sha256:${hash.digest('hex')}`, size };
}

/** Reads a staged file as JSON text (small documents only). */
export async function readStaged(file: StagedFile): Promise<Buffer> {
  return readFile(file.path);
}

/** An OCI layout or docker-archive directory: files are staged when first asked for. */
export class DirectorySource implements ArchiveSource {
  readonly what: string;
  private readonly staged = new Map<string, StagedFile>();
  private counter = 0;

  constructor(private readonly dir: string, private readonly stagingDir: string) {
    this.what = `image archive \`${dir}\``;
  }

  async file(name: string): Promise<StagedFile | undefined> {
    const clean = cleanArchiveName(this.what, name);
    const have = this.staged.get(clean);
    if (have !== undefined) return have;
    const path = join(this.dir, clean);
    const st = await lstat(path).catch(() => undefined);
    if (st === undefined) return undefined;
    // A symlink inside the layout may point at another file of the layout, never outside it.
    const real = await realpath(path);
    const root = await realpath(this.dir);
    if (!real.startsWith(`${root}/`)) throw new ArchiveEntryError(this.what, clean, 'resolves outside the archive directory');
    if (!(await lstat(real)).isFile()) throw new ArchiveEntryError(this.what, clean, 'is not a regular file');
    const target = join(this.stagingDir, `f${this.counter++}`);
    const { digest, size } = await stageStream(createReadStream(real), target, clean);
    const file = { path: target, digest, size };
    this.staged.set(clean, file);
    return file;
  }
}

/** A tar archive (docker save, skopeo oci-archive), staged completely by `read()`. */
export class TarSource implements ArchiveSource {
  readonly what: string;
  private readonly files = new Map<string, StagedFile>();
  /** symlink or hard link name → the archive name it points at. */
  private readonly links = new Map<string, string>();

  private constructor(what: string) {
    this.what = what;
  }

  /** Stages the tar file at `input`, or the tar stream `input` (stdin) named `what`. */
  static async read(input: string | Readable, stagingDir: string, what?: string): Promise<TarSource> {
    const source = new TarSource(what ?? `image archive \`${String(input)}\``);
    await source.stageAll(typeof input === 'string' ? createReadStream(input) : input, stagingDir);
    return source;
  }

  async file(name: string): Promise<StagedFile | undefined> {
    let clean = cleanArchiveName(this.what, name);
    for (let hops = 0; hops <= MAX_LINK_HOPS; hops++) {
      const file = this.files.get(clean);
      if (file !== undefined) return file;
      const next = this.links.get(clean);
      if (next === undefined) return undefined;
      clean = next;
    }
    throw new ArchiveEntryError(this.what, name, `more than ${MAX_LINK_HOPS} links in a row`);
  }

  private async stageAll(input: Readable, stagingDir: string): Promise<void> {
    const { tar } = await decompressLayer(input);
    const parser = extract();
    tar.on('error', (err) => parser.destroy(err));
    tar.pipe(parser);
    let counter = 0;
    const seen = new Set<string>();
    try {
      for await (const entry of parser) {
        const h = entry.header;
        const name = cleanArchiveName(this.what, h.name);
        if (h.type === 'directory') {
          entry.resume();
          continue;
        }
        if (name === '') throw new ArchiveEntryError(this.what, h.name, 'a non-directory entry names the archive root');
        if (seen.has(name)) throw new ArchiveEntryError(this.what, h.name, 'appears twice in the archive');
        seen.add(name);
        if (h.type === 'file' || h.type === 'contiguous-file') {
          const target = join(stagingDir, `t${counter++}`);
          const { digest, size } = await stageStream(entry as unknown as Readable, target, h.name);
          this.files.set(name, { path: target, digest, size });
        } else if (h.type === 'symlink' || h.type === 'link') {
          entry.resume();
          const linkname = h.linkname ?? '';
          // a symlink is relative to its directory, a hard link to the archive root
          const joined = h.type === 'symlink' && !linkname.startsWith('/') ? posix.join(posix.dirname(name), linkname) : linkname;
          if (h.type === 'symlink' && linkname.startsWith('/')) throw new ArchiveEntryError(this.what, h.name, `symlink to an absolute path \`${linkname}\``);
          if (joined.startsWith('../') || joined === '..') throw new ArchiveEntryError(this.what, h.name, `link to \`${linkname}\` escapes the archive`);
          this.links.set(name, cleanArchiveName(this.what, joined));
        } else {
          entry.resume();
          throw new ArchiveEntryError(this.what, h.name, `unexpected ${h.type ?? 'unknown'} entry in an image archive`);
        }
      }
    } catch (err) {
      input.destroy();
      if (err instanceof KapselError) throw err;
      throw new KapselError('ERR_IMAGE_ARCHIVE', `${this.what}: ${err instanceof Error ? err.message : String(err)}`, {
        cause: err,
        hint: 'is it a tar file written by `kapsel save`, `docker save` or `skopeo copy … oci-archive:`?',
      });
    }
  }
}
