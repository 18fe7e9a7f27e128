/**
 * Test fixtures for layer unpacking: tar archives built entry by entry with tar-stream's pack
 * (hostile ones included), and a sandbox with a `rootfs/` target beside a `host/` directory
 * that stands for the host, so containment can be checked without touching anything outside
 * a tmpdir. Used by the unpack tests only.
 */

import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { pack, type Header } from 'tar-stream';
import { linuxSyscalls } from '../sys/linux-syscalls.js';
import type { UnpackOptions } from './unpack.js';

export interface FixtureEntry {
  readonly header: Partial<Header> & { name: string };
  readonly content?: string | Buffer;
}

const EPOCH = new Date(1_700_000_000_000);

/** A tar archive of `entries`, in order (defaults: regular file, mode 0644, root-owned). */
export async function buildTar(entries: readonly FixtureEntry[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const chunk of p) chunks.push(chunk as Buffer);
  })();
  for (const e of entries) {
    const isFile = e.header.type === undefined || e.header.type === 'file';
    const content = typeof e.content === 'string' ? Buffer.from(e.content) : e.content ?? (isFile ? Buffer.alloc(0) : undefined);
    const header = { mode: e.header.type === 'directory' ? 0o755 : 0o644, mtime: EPOCH, uid: 0, gid: 0, ...e.header };
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null): void => (err ? reject(err) : resolve());
      if (content !== undefined) p.entry({ ...header, size: content.length }, content, cb);
      else p.entry(header, cb);
    });
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

const BLOCK = 512;
const END_OF_ARCHIVE = 2 * BLOCK;

/**
 * A pax extended header member (typeflag `x`) carrying `records` as raw bytes, encoded by hand:
 * tar-stream's pack writes pax values as text only. It applies to the member after it.
 */
export function rawPaxHeader(records: readonly Buffer[]): Buffer {
  const data = Buffer.concat(records);
  const header = Buffer.alloc(BLOCK);
  header.write('PaxHeader', 0, 'latin1'); // name[100]
  header.write('0000644\0', 100, 'latin1'); // mode[8]
  header.write('0000000\0', 108, 'latin1'); // uid[8]
  header.write('0000000\0', 116, 'latin1'); // gid[8]
  header.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124, 'latin1'); // size[12]
  header.write(`${(EPOCH.getTime() / 1000).toString(8).padStart(11, '0')}\0`, 136, 'latin1'); // mtime[12]
  header.write('        ', 148, 'latin1'); // chksum[8], spaces while summing
  header.write('x', 156, 'latin1'); // typeflag
  header.write('ustar\0' + '00', 257, 'latin1'); // magic[6], version[2]
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  const pad = Buffer.alloc((BLOCK - (data.length % BLOCK)) % BLOCK);
  return Buffer.concat([header, data, pad]);
}

/** Archives and raw members joined in order: every end-of-archive marker but the last dropped. */
export function joinTars(parts: readonly Buffer[]): Buffer {
  const endsArchive = (p: Buffer): boolean => p.length >= END_OF_ARCHIVE && p.subarray(p.length - END_OF_ARCHIVE).every((b) => b === 0);
  return Buffer.concat(parts.map((p, i) => (i < parts.length - 1 && endsArchive(p) ? p.subarray(0, p.length - END_OF_ARCHIVE) : p)));
}

/** A raw PAX extended header record `len key=value\n` with a binary value. */
export function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

export const gzip = (tar: Buffer): Buffer => gzipSync(tar);
export const streamOf = (data: Buffer): Readable => Readable.from([data]);

export interface Sandbox {
  readonly dir: string;
  /** The unpack target. */
  readonly rootfs: string;
  /** Stands for the host: holds etc/passwd with known content. */
  readonly host: string;
  /** Every path under host/ with its type, mode, link count and content: compare before and after. */
  snapshotHost(): string;
  cleanup(): void;
}

export function sandbox(): Sandbox {
  const dir = mkdtempSync(join(tmpdir(), 'kapsel-unpack-test-'));
  const rootfs = join(dir, 'rootfs');
  const host = join(dir, 'host');
  mkdirSync(rootfs);
  mkdirSync(join(host, 'etc'), { recursive: true });
  writeFileSync(join(host, 'etc', 'passwd'), 'root:x:0:0:host root:/root:/bin/sh\n');
  return {
    dir,
    rootfs,
    host,
    snapshotHost: () => snapshot(dir, ['host']),
    cleanup: () => removeAll(dir),
  };
}

/** rm -rf that also works unprivileged on read-only directories the tests created (mode 0555). */
function removeAll(dir: string): void {
  const open = (path: string): void => {
    const st = lstatSync(path, { throwIfNoEntry: false });
    if (st === undefined || !st.isDirectory()) return;
    chmodSync(path, 0o700);
    for (const child of readdirSync(path)) open(join(path, child));
  };
  open(dir);
  rmSync(dir, { recursive: true, force: true });
}

function snapshot(base: string, rel: string[]): string {
  const path = join(base, ...rel);
  const st = lstatSync(path);
  const head = `${rel.join('/')} mode=${st.mode.toString(8)} nlink=${st.nlink} mtime=${st.mtimeMs}`;
  if (st.isSymbolicLink()) return `${head} -> ${readlinkSync(path)}\n`;
  if (st.isFile()) return `${head} ${readFileSync(path, 'utf8')}\n`;
  return `${head}\n${readdirSync(path).sort().map((c) => snapshot(base, [...rel, c])).join('')}`;
}

/** Options for tests: the real mknodat, ownership as the test runs, a recording xattr writer. */
export function testOptions(layer = `sha256:${'e'.repeat(64)}`): UnpackOptions & { readonly xattrLog: Array<[string, string, Buffer]> } {
  const xattrLog: Array<[string, string, Buffer]> = [];
  return {
    layer,
    syscalls: linuxSyscalls(),
    xattrs: { lsetxattr: (path, name, value) => void xattrLog.push([path, name, value]) },
    xattrLog,
  };
}
