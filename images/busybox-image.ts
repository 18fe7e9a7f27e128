/**
 * The embedded default image: `busybox`, built on the machine from the host's statically linked
 * busybox (Debian's busybox-static), so `kapsel run --rm busybox echo hello` works with no
 * registry. It is a proper OCI image in the store: one tar+gzip layer holding /bin/busybox,
 * its applet symlinks at the paths `busybox --list-full` gives, /etc/passwd, /etc/group and the
 * usual empty directories; an image config (Cmd `sh`); an OCI manifest tagged
 * `docker.io/library/busybox:latest`.
 *
 * The build is reproducible: entries sorted, owned by root, every time the busybox binary's
 * mtime, gzip without a name or time in its header. The same binary gives the same digests.
 */

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { pack, type Header } from 'tar-stream';
import { gzipSync } from 'node:zlib';
import { KapselError } from '../common/errors.js';
import { sha256Digest } from './digest.js';
import { MEDIA_TYPE, type Descriptor, type ImageConfig, type ImageManifest, type Platform } from './oci-types.js';
import { hostPlatform } from './platform.js';
import { normalizeReference } from './reference.js';
import type { ContentStore } from './store.js';

export const BUSYBOX_IMAGE_NAME = normalizeReference('busybox:latest');
const BUSYBOX_CANDIDATES = ['/bin/busybox', '/usr/bin/busybox'];
const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const PT_INTERP = 3; // elf(5): the program interpreter (a dynamically linked executable)

const PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  'daemon:x:1:1:daemon:/usr/sbin:/bin/false',
  'nobody:x:65534:65534:nobody:/home:/bin/false',
  '',
].join('\n');
// tty is gid 5: the default spec mounts devpts with gid=5
const GROUP = ['root:x:0:', 'daemon:x:1:', 'tty:x:5:', 'nogroup:x:65534:', ''].join('\n');
const DIRECTORIES: ReadonlyArray<readonly [string, number]> = [
  ['bin', 0o755], ['dev', 0o755], ['etc', 0o755], ['home', 0o755], ['proc', 0o555], ['root', 0o700],
  ['sbin', 0o755], ['sys', 0o555], ['tmp', 0o1777], ['usr', 0o755], ['usr/bin', 0o755], ['usr/sbin', 0o755],
  ['var', 0o755], ['var/spool', 0o755], ['var/spool/mail', 0o755], ['var/www', 0o755],
];

export interface BusyboxImageOptions {
  /** The host binary; default /bin/busybox or /usr/bin/busybox. */
  readonly busybox?: string;
  /** Store name; default docker.io/library/busybox:latest. */
  readonly name?: string;
  /** Default: this machine's (the binary runs here). */
  readonly platform?: Platform;
}

/** True when `elf` is an ELF executable without a program interpreter (statically linked). */
export function isStaticElf(elf: Buffer): boolean {
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46) return false;
  const is64 = elf[4] === 2;
  const le = elf[5] === 1;
  const u16 = (o: number): number => (le ? elf.readUInt16LE(o) : elf.readUInt16BE(o));
  const u32 = (o: number): number => (le ? elf.readUInt32LE(o) : elf.readUInt32BE(o));
  const phoff = is64 ? Number(le ? elf.readBigUInt64LE(32) : elf.readBigUInt64BE(32)) : u32(28);
  const phentsize = u16(is64 ? 54 : 42);
  const phnum = u16(is64 ? 56 : 44);
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (at + 4 > elf.length) return false;
    if (u32(at) === PT_INTERP) return false;
  }
  return true;
}

function findBusybox(opts: BusyboxImageOptions): string {
  const path = opts.busybox ?? BUSYBOX_CANDIDATES.find((p) => existsSync(p));
  if (path === undefined || !existsSync(path)) {
    throw new KapselError('ERR_IMAGE_BUSYBOX', `build the default busybox image: no busybox binary at ${opts.busybox ?? BUSYBOX_CANDIDATES.join(' or ')}`, {
      hint: 'install busybox-static (apt-get install busybox-static), or pull an image',
    });
  }
  return path;
}

/** The applet paths (`bin/sh`, `usr/bin/awk`, ...) the binary reports, without bin/busybox itself. */
function applets(busybox: string): string[] {
  const r = spawnSync(busybox, ['--list-full'], { encoding: 'utf8' });
  if (r.status !== 0) throw new KapselError('ERR_IMAGE_BUSYBOX', `\`${busybox} --list-full\` failed: ${r.stderr || r.error?.message || `exit ${r.status}`}`);
  return r.stdout.split('\n').filter((p) => p.includes('/') && p !== 'bin/busybox' && !p.split('/').some((c) => c === '' || c === '.' || c === '..'));
}

/** `usr/bin/awk` → `../../bin/busybox`; `bin/sh` → `busybox`. */
function relativeToBusybox(applet: string): string {
  const depth = applet.split('/').length - 1;
  return depth === 1 && applet.startsWith('bin/') ? 'busybox' : `${'../'.repeat(depth)}bin/busybox`;
}

async function buildLayerTar(busybox: string, binary: Buffer, mtime: Date): Promise<Buffer> {
  const entries: Array<{ header: Header; content?: Buffer }> = [];
  const base = { mtime, uid: 0, gid: 0, uname: 'root', gname: 'root' };
  const dirs = new Map<string, number>(DIRECTORIES);
  const links = applets(busybox);
  for (const a of links) {
    const parent = a.slice(0, a.lastIndexOf('/'));
    for (let p = parent; p !== '' && !dirs.has(p); p = p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '') dirs.set(p, 0o755);
  }
  for (const [name, mode] of [...dirs].sort(([a], [b]) => (a < b ? -1 : 1))) {
    entries.push({ header: { ...base, name: `${name}/`, type: 'directory', mode, size: 0 } as Header });
  }
  entries.push({ header: { ...base, name: 'bin/busybox', type: 'file', mode: 0o755, size: binary.length } as Header, content: binary });
  for (const a of [...links].sort()) entries.push({ header: { ...base, name: a, type: 'symlink', linkname: relativeToBusybox(a), mode: 0o777, size: 0 } as Header });
  for (const [name, text] of [['etc/group', GROUP], ['etc/passwd', PASSWD]] as const) {
    const content = Buffer.from(text);
    entries.push({ header: { ...base, name, type: 'file', mode: 0o644, size: content.length } as Header, content });
  }
  const p = pack();
  const chunks: Buffer[] = [];
  const collected = (async () => {
    for await (const chunk of p) chunks.push(chunk as Buffer);
  })();
  for (const e of entries) {
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error | null): void => (err ? reject(err) : resolve());
      if (e.content !== undefined) p.entry(e.header, e.content, done);
      else p.entry(e.header, done);
    });
  }
  p.finalize();
  await collected;
  return Buffer.concat(chunks);
}

/** Builds the image from the host's busybox into `store` and tags it; returns the manifest descriptor. */
export async function buildBusyboxImage(store: ContentStore, opts: BusyboxImageOptions = {}): Promise<Descriptor> {
  const busybox = findBusybox(opts);
  const binary = readFileSync(busybox);
  if (!isStaticElf(binary)) {
    throw new KapselError('ERR_IMAGE_BUSYBOX', `build the default busybox image: \`${busybox}\` is not a statically linked executable`, {
      hint: 'install busybox-static (apt-get install busybox-static): a dynamically linked busybox cannot run in an empty image',
    });
  }
  const mtime = new Date(Math.floor(statSync(busybox).mtimeMs / 1000) * 1000);
  const tar = await buildLayerTar(busybox, binary, mtime);
  const layer = await store.put(gzipSync(tar, { level: 9 }));
  const platform = opts.platform ?? hostPlatform(process.arch);
  const created = mtime.toISOString();
  const config: ImageConfig = {
    created,
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant !== undefined && { variant: platform.variant }),
    config: { Env: [DEFAULT_PATH], Cmd: ['sh'] },
    rootfs: { type: 'layers', diff_ids: [sha256Digest(tar)] },
    history: [{ created, created_by: `kapsel: busybox from the host (${busybox})` }],
  };
  const configBlob = await store.putJson(config);
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPE.ociManifest,
    config: { mediaType: MEDIA_TYPE.ociConfig, ...configBlob },
    layers: [{ mediaType: MEDIA_TYPE.ociLayerGzip, ...layer }],
    annotations: { 'org.opencontainers.image.created': created },
  };
  const manifestBlob = await store.putJson(manifest);
  const descriptor: Descriptor = { mediaType: MEDIA_TYPE.ociManifest, ...manifestBlob, platform };
  await store.tag(opts.name ?? BUSYBOX_IMAGE_NAME, descriptor);
  return descriptor;
}

/** The busybox image's descriptor, building it first when the store does not have it. */
export async function ensureBusyboxImage(store: ContentStore, opts: BusyboxImageOptions = {}): Promise<Descriptor> {
  return (await store.resolve(opts.name ?? BUSYBOX_IMAGE_NAME)) ?? buildBusyboxImage(store, opts);
}
