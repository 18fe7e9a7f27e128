/**
 * `kapsel cp`: files between the host and a container, as a tar stream in both directions
 * (docker cp). Paths inside the container are resolved inside its root only:
 *
 *   - the root is the init's `/proc/PID/root` for a running container (its volumes and tmpfs
 *     mounts included), else the container's rootfs directory (its overlay mount);
 *   - a container path is opened with openat2(2) RESOLVE_IN_ROOT relative to an fd of that root,
 *     so a symlink (absolute or with `..`) resolves as if the root were `/` and never reaches the
 *     host; each tar entry is then created relative to the fd of its resolved parent directory
 *     (`/proc/self/fd/N/NAME`), its final component never followed (O_NOFOLLOW, O_EXCL);
 *   - a tree is read with one O_NOFOLLOW open per component, so a symlink is copied as a symlink
 *     and a directory swapped for a symlink by the running container is refused, not followed.
 *
 * The host side goes through the same code (the destination directory is the root there), so
 * a hostile archive from the container or from stdin cannot write outside the destination.
 * Ownership (when root), modes and modification times are kept. Hard links and device nodes
 * are refused.
 */
import { closeSync, fchmodSync, fchownSync, fstatSync, futimesSync, lchownSync, lstatSync, lutimesSync, mkdirSync, openSync, readSync, readdirSync, readlinkSync, symlinkSync, unlinkSync, rmSync, writeSync, type Stats } from 'node:fs';
import { basename, dirname, posix } from 'node:path';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { extract, pack } from 'tar-stream';
import { KapselError, NotFoundError, UsageError } from '../common/errors.js';
import { O_CLOEXEC, O_DIRECTORY, O_NOFOLLOW, O_PATH, RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS } from '../sys/constants.js';
import type { Syscalls } from '../sys/syscalls.js';
import { readProcStat } from '../runtime/process-info.js';
import { cleanEntryPath, UnsafePathError } from '../images/safe-path.js';
import type { EngineContext } from './context.js';

type Sys = Pick<Syscalls, 'openat2' | 'close'>;
type Header = Parameters<ReturnType<typeof pack>['entry']>[0];

const fdPath = (fd: number, name = ''): string => `/proc/self/fd/${fd}${name === '' ? '' : `/${name}`}`;
const root = process.geteuid?.() === 0;

/** A directory opened as the root of in-root resolution (closed by the caller). */
class Root {
  constructor(readonly sys: Sys, readonly fd: number, readonly what: string) {}

  static open(sys: Sys, path: string, what: string): Root {
    return new Root(sys, openSync(path, O_PATH | O_DIRECTORY | O_CLOEXEC), what);
  }

  /** An O_PATH fd of `path` resolved inside the root (final symlink followed in the root), or undefined. */
  resolve(path: string, flags = 0): number | undefined {
    try {
      return this.sys.openat2(this.fd, path === '' ? '.' : path, O_PATH | O_CLOEXEC | flags, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'ENOENT') return undefined;
      if (code === 'ENOTDIR') throw new KapselError('ERR_CP', `${this.what}: \`${path}\`: a component is not a directory`, { cause: err });
      throw err;
    }
  }

  /** The directory `path` (created with its missing parents when `create`). */
  dir(path: string, create: boolean): number | undefined {
    const fd = this.resolve(path, O_DIRECTORY);
    if (fd !== undefined || !create) return fd;
    const parts = path.split('/').filter((p) => p !== '' && p !== '.');
    const name = parts.pop();
    if (name === undefined || name === '..') throw new KapselError('ERR_CP', `${this.what}: cannot create \`${path}\``);
    const parent = this.dir(parts.join('/'), true)!;
    try {
      mkdirSync(fdPath(parent, name), { mode: 0o755 });
    } catch (err) {
      if ((err as { code?: string }).code !== 'EEXIST') throw err;
    } finally {
      this.sys.close(parent);
    }
    const made = this.resolve(path, O_DIRECTORY);
    if (made === undefined) throw new KapselError('ERR_CP', `${this.what}: \`${path}\` is not a directory (a symlink to a missing one?)`);
    return made;
  }

  close(): void {
    this.sys.close(this.fd);
  }
}

/** Where a container's files are: its init's root while it runs, else its rootfs directory. */
function containerRoot(ctx: EngineContext, id: string): { path: string; name: string } {
  const rec = ctx.containers.read(id);
  if (rec.state === 'running' && rec.pid > 0) {
    try {
      const rt = ctx.runtime.read(id);
      if (rt.pid === rec.pid && readProcStat(rec.pid)?.startTime === rt.pidStartTime) return { path: `/proc/${rec.pid}/root`, name: rec.name };
    } catch {
      // exited meanwhile: its rootfs directory still holds its files
    }
  }
  return { path: `${ctx.containers.dir(id)}/rootfs`, name: rec.name };
}

/** Splits `CTR:PATH`; a host path with a `:` must be written `./a:b` (as in docker). */
export function parseCopyArg(arg: string): { container?: string; path: string } {
  if (arg === '-' || arg.startsWith('/') || arg.startsWith('.')) return { path: arg };
  const i = arg.indexOf(':');
  if (i <= 0) return { path: arg };
  return { container: arg.slice(0, i), path: arg.slice(i + 1) };
}

/** Writes the tree at `name` in the directory `dirFd` into `out` as entries named `as/...`. */
async function packTree(dirFd: number, name: string, as: string, out: Writable, what: string): Promise<void> {
  const p = pack();
  const done = (async () => {
    for await (const chunk of p) {
      if (!out.write(chunk as Buffer)) await new Promise<void>((r) => out.once('drain', () => r()));
    }
    if (out !== process.stdout) out.end();
  })();
  done.catch(() => undefined);
  const entry = (h: Header, body?: Buffer): Promise<void> => new Promise((resolve, reject) => {
    const cb = (err?: Error | null): void => (err ? reject(err) : resolve());
    if (body === undefined) p.entry(h, cb);
    else p.entry(h, body, cb);
  });
  const head = (st: Stats, entryName: string): Header => ({ name: entryName, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtime });
  async function walk(parentFd: number, n: string, entryName: string): Promise<void> {
    const path = fdPath(parentFd, n);
    const st = lstatSync(path);
    if (st.isSymbolicLink()) return entry({ ...head(st, entryName), type: 'symlink', linkname: readlinkSync(path) });
    if (st.isFile()) {
      const fd = openSync(path, O_NOFOLLOW | O_CLOEXEC);
      try {
        const fst = fstatSync(fd);
        if (!fst.isFile()) throw new KapselError('ERR_CP', `${what}: \`${entryName}\` changed while copying`);
        // streamed in chunks through tar-stream's entry writer
        const w = p.entry({ ...head(fst, entryName), type: 'file', size: fst.size });
        const buf = Buffer.alloc(1 << 20);
        let left = fst.size;
        while (left > 0) {
          const n2 = readSync(fd, buf, 0, Math.min(buf.length, left), null);
          if (n2 === 0) throw new KapselError('ERR_CP', `${what}: \`${entryName}\` shrank while copying`);
          left -= n2;
          if (!w.write(Buffer.from(buf.subarray(0, n2)))) await new Promise<void>((r) => w.once('drain', () => r()));
        }
        await new Promise<void>((resolve, reject) => w.end((err?: Error | null) => (err ? reject(err) : resolve())));
      } finally {
        closeSync(fd);
      }
      return;
    }
    if (st.isDirectory()) {
      const fd = openSync(path, O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      try {
        await entry({ ...head(fstatSync(fd), `${entryName}/`), type: 'directory' });
        for (const child of readdirSync(fdPath(fd)).sort()) await walk(fd, child, `${entryName}/${child}`);
      } finally {
        closeSync(fd);
      }
      return;
    }
    throw new KapselError('ERR_CP', `${what}: \`${entryName}\`: only files, directories and symlinks can be copied`);
  }
  try {
    await walk(dirFd, name, as);
  } catch (err) {
    p.destroy(err as Error);
    throw err;
  }
  p.finalize();
  await done;
}

/** Applies a tar stream below directory `dest` of `r`, every entry resolved inside `r`. */
async function unpackTree(r: Root, dest: string, input: Readable): Promise<void> {
  const x = extract();
  const failed = new Promise<never>((_, reject) => {
    x.on('error', reject);
    input.on('error', reject);
  });
  failed.catch(() => undefined);
  input.pipe(x);
  const dirs: { path: string; mode: number; uid: number; gid: number; mtime: Date }[] = [];
  const iterate = (async () => {
    for await (const e of x) {
      const h = e.header;
      let parts: string[];
      try {
        parts = cleanEntryPath(h.name);
      } catch (err) {
        throw new KapselError('ERR_CP', `${r.what}: entry \`${h.name}\`: ${err instanceof UnsafePathError ? err.reason : String(err)}`);
      }
      if (parts.length === 0) {
        e.resume();
        continue;
      }
      const name = parts.pop()!;
      const parentFd = r.dir([dest, ...parts].join('/'), true)!;
      const target = fdPath(parentFd, name);
      try {
        const old = lstatSync(target, { throwIfNoEntry: false });
        if (h.type === 'directory') {
          if (old !== undefined && !old.isDirectory()) unlinkSync(target);
          if (old === undefined || !old.isDirectory()) mkdirSync(target, { mode: 0o700 });
          dirs.push({ path: [dest, ...parts, name].join('/'), mode: h.mode ?? 0o755, uid: h.uid ?? 0, gid: h.gid ?? 0, mtime: h.mtime ?? new Date() });
          e.resume();
          continue;
        }
        if (old !== undefined) {
          if (old.isDirectory()) rmSync(target, { recursive: true });
          else unlinkSync(target);
        }
        if (h.type === 'symlink') {
          symlinkSync(h.linkname ?? '', target);
          if (root) lchownSync(target, h.uid ?? 0, h.gid ?? 0);
          if (h.mtime !== undefined) lutimesSync(target, h.mtime, h.mtime);
          e.resume();
        } else if (h.type === 'file' || h.type === 'contiguous-file') {
          const fd = openSync(target, 'wx', 0o600);
          try {
            for await (const chunk of e) writeSync(fd, chunk as Buffer);
            if (root) fchownSync(fd, h.uid ?? 0, h.gid ?? 0);
            fchmodSync(fd, (h.mode ?? 0o644) & 0o7777);
            if (h.mtime !== undefined) futimesSync(fd, h.mtime, h.mtime);
          } finally {
            closeSync(fd);
          }
        } else {
          throw new KapselError('ERR_CP', `${r.what}: entry \`${h.name}\`: ${h.type ?? 'this type'} entries are not supported (files, directories, symlinks)`);
        }
      } finally {
        r.sys.close(parentFd);
      }
    }
  })();
  await Promise.race([iterate, failed]);
  // directories last, deepest first, so their times and modes survive their children
  for (const d of dirs.reverse()) {
    const fd = r.dir(d.path, false);
    if (fd === undefined) continue;
    try {
      const dfd = openSync(fdPath(fd), O_DIRECTORY | O_CLOEXEC);
      try {
        if (root) fchownSync(dfd, d.uid, d.gid);
        fchmodSync(dfd, d.mode & 0o7777);
        futimesSync(dfd, d.mtime, d.mtime);
      } finally {
        closeSync(dfd);
      }
    } finally {
      r.sys.close(fd);
    }
  }
}

/** Where a copy lands: directory `dir` of `r`, entry name `name` (undefined: the archive's own names). */
function destination(r: Root, path: string, srcIsDir: boolean): { dir: string; name: string } {
  const clean = path === '' ? '/' : path;
  const fd = r.resolve(clean);
  if (fd !== undefined) {
    try {
      const st = fstatSync(fd);
      if (st.isDirectory()) return { dir: clean, name: '' };
      if (srcIsDir) throw new KapselError('ERR_CP', `${r.what}: cannot copy a directory onto the file \`${path}\``);
    } finally {
      r.sys.close(fd);
    }
  } else if (clean.endsWith('/')) {
    throw new NotFoundError(`${r.what}: directory \`${path}\``);
  }
  const parent = posix.dirname(clean);
  const pfd = r.resolve(parent, O_DIRECTORY);
  if (pfd === undefined) throw new NotFoundError(`${r.what}: directory \`${parent}\``);
  r.sys.close(pfd);
  return { dir: parent, name: posix.basename(clean) };
}

export interface CopyStreams {
  readonly stdin: Readable;
  readonly stdout: Writable;
}

/** `kapsel cp SRC DST`: one side is `CTR:PATH`, the other a host path or `-` (a tar stream). */
export async function copy(ctx: EngineContext, src: string, dst: string, io: CopyStreams): Promise<void> {
  const sys = ctx.sys;
  const s = parseCopyArg(src);
  const d = parseCopyArg(dst);
  if ((s.container === undefined) === (d.container === undefined)) throw new UsageError('cp: exactly one of SRC and DST must be CONTAINER:PATH');
  if (d.container !== undefined) return copyIn(ctx, sys, s.path, d.container, d.path, io.stdin);
  return copyOut(ctx, sys, s.container!, s.path, d.path, io.stdout);
}

async function copyIn(ctx: EngineContext, sys: Sys, hostPath: string, ref: string, path: string, stdin: Readable): Promise<void> {
  const id = ctx.containers.resolve(ref);
  const where = containerRoot(ctx, id);
  const r = Root.open(sys, where.path, `container ${where.name}`);
  try {
    if (hostPath === '-') {
      const fd = r.resolve(path, O_DIRECTORY);
      if (fd === undefined) throw new NotFoundError(`container ${where.name}: directory \`${path}\``);
      sys.close(fd);
      return await unpackTree(r, path, stdin);
    }
    const st = lstatSync(hostPath, { throwIfNoEntry: false });
    if (st === undefined) throw new NotFoundError(`host path \`${hostPath}\``);
    const to = destination(r, path, st.isDirectory());
    const parent = openSync(dirname(hostPath), O_PATH | O_DIRECTORY | O_CLOEXEC);
    const pipe = new PassThrough();
    try {
      await Promise.all([packTree(parent, basename(hostPath), to.name === '' ? basename(hostPath) : to.name, pipe, `host path \`${hostPath}\``), unpackTree(r, to.dir, pipe)]);
    } finally {
      closeSync(parent);
    }
  } finally {
    r.close();
  }
}

async function copyOut(ctx: EngineContext, sys: Sys, ref: string, path: string, hostPath: string, stdout: Writable): Promise<void> {
  const id = ctx.containers.resolve(ref);
  const where = containerRoot(ctx, id);
  const r = Root.open(sys, where.path, `container ${where.name}`);
  try {
    const clean = posix.normalize(`/${path}`);
    const name = posix.basename(clean);
    const parentFd = r.resolve(posix.dirname(clean), O_DIRECTORY);
    const exists = parentFd !== undefined && name !== '' && lstatSync(fdPath(parentFd, name), { throwIfNoEntry: false }) !== undefined;
    if (!exists) {
      if (parentFd !== undefined) sys.close(parentFd);
      throw new NotFoundError(`container ${where.name}: \`${path}\``);
    }
    try {
      if (hostPath === '-') return await packTree(parentFd, name, name, stdout, `container ${where.name}`);
      const isDir = lstatSync(fdPath(parentFd, name)).isDirectory();
      const hostDir = lstatSync(hostPath, { throwIfNoEntry: false })?.isDirectory() === true;
      const into = hostDir ? hostPath : dirname(hostPath);
      const h = lstatSync(into, { throwIfNoEntry: false });
      if (h === undefined || !h.isDirectory()) throw new NotFoundError(`host directory \`${into}\``);
      if (!hostDir && isDir && lstatSync(hostPath, { throwIfNoEntry: false }) !== undefined) throw new KapselError('ERR_CP', `cannot copy a directory onto the file \`${hostPath}\``);
      const hr = Root.open(sys, into, `host directory \`${into}\``);
        const pipe = new PassThrough();
      try {
        await Promise.all([packTree(parentFd, name, hostDir ? name : basename(hostPath), pipe, `container ${where.name}`), unpackTree(hr, '.', pipe)]);
      } finally {
        hr.close();
      }
    } finally {
      sys.close(parentFd);
    }
  } finally {
    r.close();
  }
}
