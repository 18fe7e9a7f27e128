/**
 * Applying image layers to a directory (image-spec layer.md): tar, tar+gzip and tar+zstd
 * changesets with whiteouts (`.wh.NAME` deletes NAME of a lower layer) and opaque directories
 * (`.wh..wh..opq` hides a directory's lower contents), regular files, directories, hard links,
 * symlinks, device nodes, fifos, ownership, modes, mtimes and xattrs.
 *
 * Safety: every entry name is cleaned and its parents resolved inside the target by
 * safe-path.ts, so nothing is created, changed or removed outside it; the final component is
 * never followed (files are opened O_EXCL|O_NOFOLLOW after whatever was there is removed).
 * Hard link targets are resolved the same way and must exist inside the target. Symlinks are
 * created as they are: they are harmless until followed, and nothing here follows them out.
 *
 * Errors name the layer and the entry: ``layer sha256:…: entry `../x`: path escapes the root``.
 * Things that cannot be applied but do not make the tree wrong (a device node without
 * CAP_MKNOD, a security.* xattr the kernel refuses) are skipped and reported in `notes`.
 */

import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { extract, type Header } from 'tar-stream';
import { KapselError } from '../common/errors.js';
import { AT_FDCWD } from '../sys/constants.js';
import type { Syscalls } from '../sys/syscalls.js';
import { checkLayerMediaType, decompressLayer } from './compression.js';
import { RootResolver, UnsafePathError, cleanEntryPath } from './safe-path.js';
import { XattrTap, xattrsFromPax } from './tar-xattrs.js';
import { applyEntry, applyDirectoryTimes, markWritten, type EntryContext } from './unpack-entry.js';
import { OverlayLowers, type XattrReader } from './overlay-lowers.js';

import type { EntryBody, XattrWriter } from './unpack-entry.js';

export type { XattrWriter } from './unpack-entry.js';

const WHITEOUT_PREFIX = '.wh.';
const WHITEOUT_META_PREFIX = '.wh..wh.';
const WHITEOUT_OPAQUE = '.wh..wh..opq';
const OVERLAY_OPAQUE_XATTR = 'trusted.overlay.opaque';
const S_IFCHR = 0o020000;

export interface UnpackOptions {
  /** Names the layer in errors and notes (its digest). */
  readonly layer?: string;
  /** The descriptor's media type: refused unless it is a layer type. Magic bytes pick the decoder. */
  readonly mediaType?: string;
  /** The config's diff_id: the uncompressed tar must hash to it. */
  readonly diffId?: string;
  /** mknodat(2) for device nodes and fifos. */
  readonly syscalls: Pick<Syscalls, 'mknodat'>;
  /** Apply entry uid/gid (lchown). Default: when running as root. */
  readonly chown?: boolean;
  /** lsetxattr(2) (pass the Syscalls); without it xattrs in the layer are skipped with a note. */
  readonly xattrs?: XattrWriter;
  /**
   * `apply` (default): whiteouts delete from the lower layers already in `target`.
   * `overlay`: `target` holds this layer alone, as an overlayfs lower directory: `.wh.NAME`
   * becomes a 0/0 character device NAME and `.wh..wh..opq` the xattr trusted.overlay.opaque=y
   * on its directory (overlayfs.rst "whiteouts and opaque directories"); needs `xattrs` and
   * CAP_MKNOD + CAP_SYS_ADMIN.
   */
  readonly whiteouts?: 'apply' | 'overlay';
  /**
   * With `whiteouts: 'overlay'`: the snapshot directories of the layers below, lowest first.
   * Entry paths are then resolved against the merged tree (a parent symlink of a lower layer is
   * followed) and a hard link to a lower file copies it up first (overlay-lowers.ts).
   */
  readonly lowers?: { readonly dirs: readonly string[]; readonly xattrs: XattrReader };
}

export interface UnpackResult {
  readonly entries: number;
  /** Bytes of the uncompressed tar. */
  readonly tarBytes: number;
  /** sha256 of the uncompressed tar. */
  readonly diffId: string;
  readonly compression: 'none' | 'gzip' | 'zstd';
  readonly notes: string[];
}

/** A problem with one entry of one layer; `code` is ERR_IMAGE_LAYER_UNSAFE for containment refusals. */
export class LayerEntryError extends KapselError {
  readonly layer: string;
  readonly entry: string;
  constructor(code: string, layer: string, entry: string, reason: string, cause?: unknown) {
    super(code, `layer ${layer}: entry \`${entry}\`: ${reason}`, cause === undefined ? {} : { cause });
    this.name = 'LayerEntryError';
    this.layer = layer;
    this.entry = entry;
  }
}

/** Applies one layer onto `target` (an existing directory, usually holding the lower layers). */
export async function unpackLayer(target: string, source: Readable, opts: UnpackOptions): Promise<UnpackResult> {
  const layer = opts.layer ?? 'layer';
  checkLayerMediaType(opts.mediaType, layer);
  const overlay = opts.whiteouts === 'overlay';
  if (overlay && opts.xattrs === undefined) throw new KapselError('ERR_IMAGE_LAYER', `layer ${layer}: unpacking for overlay needs an xattr writer`);
  if (!overlay && opts.lowers !== undefined) throw new KapselError('ERR_IMAGE_LAYER', `layer ${layer}: lower layers are for unpacking for overlay only`);
  const root = realpathSync(target);
  const chown = opts.chown ?? process.geteuid?.() === 0;
  const lowers = opts.lowers === undefined || opts.xattrs === undefined ? undefined : new OverlayLowers({
    top: root,
    lowers: opts.lowers.dirs,
    xattrReader: opts.lowers.xattrs,
    sys: { mknodat: (...a) => opts.syscalls.mknodat(...a), lsetxattr: (...a) => (opts.xattrs as XattrWriter).lsetxattr(...a) },
    chown,
  });
  const ctx: EntryContext = {
    resolver: new RootResolver(root, lowers === undefined ? undefined : {
      lookup: (real) => lowers.lookup(real),
      copyUpDirectory: (real, from) => {
        lowers.copyUpDirectory(from, ctx.resolver.abs(real));
        // overlayfs shows the upper copy's mode and times: the lower's, once this layer is done
        const st = from.stats;
        ctx.directories.set(real.join('/'), { real, mode: st.mode & 0o7777, atime: st.atimeMs / 1000, mtime: st.mtimeMs / 1000 });
      },
    }),
    sys: opts.syscalls,
    chown,
    xattrs: opts.xattrs,
    lowers,
    notes: [],
    written: new Set<string>(),
    directories: new Map(),
    unwrittenXattrs: 0,
  };
  const { compression, tar } = await decompressLayer(source);
  const hash = createHash('sha256');
  let tarBytes = 0;
  tar.on('data', (chunk: Buffer) => {
    hash.update(chunk);
    tarBytes += chunk.length;
  });
  const tap = new XattrTap();
  const parser = extract();
  tar.on('error', (err) => tap.destroy(err));
  tap.on('error', (err) => parser.destroy(err));
  tar.pipe(tap).pipe(parser);
  let entries = 0;
  try {
    for await (const entry of parser) {
      const header = entry.header;
      const xattrs = tap.takeFor(header.name)?.xattrs ?? paxXattrsLossy(ctx, layer, header);
      await applyTarEntry(ctx, layer, header, entry, xattrs, overlay);
      entries++;
    }
  } catch (err) {
    source.destroy();
    if (err instanceof LayerEntryError) throw err;
    const code = err instanceof KapselError ? err.code : 'ERR_IMAGE_LAYER';
    throw new KapselError(code, `layer ${layer}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  applyDirectoryTimes(ctx);
  if (ctx.unwrittenXattrs > 1) ctx.notes.push(`layer ${layer}: ${ctx.unwrittenXattrs} xattrs skipped in all: no xattr writer (lsetxattr) was given`);
  const diffId = `sha256:${hash.digest('hex')}`;
  if (opts.diffId !== undefined && opts.diffId !== diffId) {
    throw new KapselError('ERR_IMAGE_DIGEST_MISMATCH', `layer ${layer}: uncompressed content has digest ${diffId}, the image config says ${opts.diffId}`, {
      hint: 'the layer does not belong to this image; discard the unpacked directory',
    });
  }
  return { entries, tarBytes, diffId, compression, notes: ctx.notes };
}

/**
 * xattrs as tar-stream decoded them (values through UTF-8): used only when XattrTap has no
 * record for the entry, which would mean the two disagree about the archive's structure.
 */
function paxXattrsLossy(ctx: EntryContext, layer: string, header: Header): ReadonlyMap<string, Buffer> {
  const pax = typeof header.pax === 'object' && header.pax !== null ? (header.pax as Record<string, string>) : {};
  const records = new Map(Object.entries(pax).map(([k, v]) => [k, Buffer.from(v, 'utf8')] as const));
  const xattrs = xattrsFromPax(records);
  if (xattrs.size > 0) ctx.notes.push(`layer ${layer}: entry \`${header.name}\`: xattr values read as text (binary values may be altered)`);
  return xattrs;
}

async function applyTarEntry(ctx: EntryContext, layer: string, header: Header, body: EntryBody, xattrs: ReadonlyMap<string, Buffer>, overlay: boolean): Promise<void> {
  const name = header.name;
  try {
    const parts = cleanEntryPath(name);
    const base = parts[parts.length - 1];
    if (base !== undefined && base.startsWith(WHITEOUT_PREFIX)) {
      body.resume();
      if (overlay) overlayWhiteout(ctx, parts.slice(0, -1), base);
      else applyWhiteout(ctx, parts.slice(0, -1), base);
      return;
    }
    await applyEntry(ctx, parts, header, body, xattrs, `layer ${layer}: entry \`${name}\``);
  } catch (err) {
    body.resume();
    if (err instanceof LayerEntryError) throw err;
    if (err instanceof UnsafePathError) throw new LayerEntryError('ERR_IMAGE_LAYER_UNSAFE', layer, name, err.reason);
    throw new LayerEntryError('ERR_IMAGE_LAYER', layer, name, err instanceof Error ? err.message : String(err), err);
  }
}

/** `.wh.NAME` removes NAME of a lower layer; `.wh..wh..opq` empties the directory of lower content. */
function applyWhiteout(ctx: EntryContext, parentParts: readonly string[], base: string): void {
  if (base === WHITEOUT_OPAQUE) {
    const dir = ctx.resolver.resolveDir(parentParts, true) as readonly string[];
    markWritten(ctx, dir);
    clearLowerContent(ctx, dir);
    return;
  }
  if (base.startsWith(WHITEOUT_META_PREFIX)) return; // aufs bookkeeping (.wh..wh.plnk): not content
  const victim = base.slice(WHITEOUT_PREFIX.length);
  if (victim === '' || victim === '.' || victim === '..') throw new UnsafePathError(`whiteout of \`${victim}\` is not a file name`);
  const dir = ctx.resolver.resolveDir(parentParts, false);
  if (dir === undefined) return; // nothing below to hide
  const path = [...dir, victim];
  // image-spec layer.md: a whiteout hides lower layers only, never entries of its own layer
  if (ctx.written.has(path.join('/'))) return;
  removeTree(ctx, ctx.resolver.abs(path));
}

/** The overlayfs form of a whiteout, in a directory that holds this layer only. */
function overlayWhiteout(ctx: EntryContext, parentParts: readonly string[], base: string): void {
  const dir = ctx.resolver.resolveDir(parentParts, true) as readonly string[];
  if (base === WHITEOUT_OPAQUE) {
    markWritten(ctx, dir);
    (ctx.xattrs as XattrWriter).lsetxattr(ctx.resolver.abs(dir), OVERLAY_OPAQUE_XATTR, Buffer.from('y'), 0);
    return;
  }
  if (base.startsWith(WHITEOUT_META_PREFIX)) return;
  const victim = base.slice(WHITEOUT_PREFIX.length);
  if (victim === '' || victim === '.' || victim === '..' || victim.includes('/')) throw new UnsafePathError(`whiteout of \`${victim}\` is not a file name`);
  const path = [...dir, victim];
  if (ctx.written.has(path.join('/'))) return; // an entry of this layer: not hidden
  const abs = ctx.resolver.abs(path);
  if (lstatSync(abs, { throwIfNoEntry: false }) !== undefined) removeTree(ctx, abs);
  ctx.sys.mknodat(AT_FDCWD, abs, S_IFCHR, 0); // a 0/0 character device: overlayfs's whiteout
}

/** Removes every entry under `dir` that this layer did not write (recursing into kept directories). */
function clearLowerContent(ctx: EntryContext, dir: readonly string[]): void {
  for (const child of readdirSync(ctx.resolver.abs(dir))) {
    const path = [...dir, child];
    if (!ctx.written.has(path.join('/'))) {
      removeTree(ctx, ctx.resolver.abs(path));
      continue;
    }
    const st = lstatSync(ctx.resolver.abs(path));
    if (st.isDirectory()) clearLowerContent(ctx, path);
  }
}

function removeTree(ctx: EntryContext, path: string): void {
  // rm -r never follows symlinks: it unlinks them (rimraf semantics).
  rmSync(path, { recursive: true, force: true });
  ctx.resolver.invalidate();
}

export interface LayerSource {
  /** Opens the (possibly compressed) layer blob. */
  open(): Readable;
  readonly digest: string;
  readonly mediaType?: string;
  readonly diffId?: string;
}

/** Applies `layers` lowest first onto `target`; returns one result per layer. */
export async function unpackLayers(target: string, layers: readonly LayerSource[], opts: Omit<UnpackOptions, 'layer' | 'mediaType' | 'diffId'>): Promise<UnpackResult[]> {
  const results: UnpackResult[] = [];
  for (const l of layers) {
    results.push(await unpackLayer(target, l.open(), {
      ...opts,
      layer: l.digest,
      ...(l.mediaType !== undefined && { mediaType: l.mediaType }),
      ...(l.diffId !== undefined && { diffId: l.diffId }),
    }));
  }
  return results;
}
