/**
 * A cpio "newc" archive writer (the initramfs format, Linux Documentation/driver-api/
 * early-userspace/buffer-format.rst): per entry a 110-byte ASCII header of 8-digit hex fields,
 * the NUL-terminated name padded to 4 bytes, the data padded to 4 bytes; a TRAILER!!! entry ends it.
 */

export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;
export const S_IFIFO = 0o010000;

export interface CpioEntry {
  /** Path inside the archive, without a leading slash (`init`, `kapsel/config`). */
  readonly name: string;
  /** File type and permission bits (S_IFREG | 0o755). */
  readonly mode: number;
  readonly uid?: number;
  readonly gid?: number;
  /** Seconds since the epoch. */
  readonly mtime?: number;
  /** File contents, or the target of a symlink. */
  readonly data?: Uint8Array;
  /** Device number of a character or block device. */
  readonly rdevMajor?: number;
  readonly rdevMinor?: number;
}

function hex8(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`cpio field out of range: ${n}`);
  return n.toString(16).padStart(8, '0');
}

const pad4 = (n: number): number => (4 - (n % 4)) % 4;

/** Collects entries and yields the archive as a list of buffers (no copy of file data). */
export class CpioWriter {
  private readonly parts: Uint8Array[] = [];
  private ino = 1;
  private size = 0;
  private finished = false;

  add(entry: CpioEntry): this {
    if (this.finished) throw new Error('cpio archive already finished');
    const name = entry.name.replace(/^\/+/, '');
    if (name === '' || name.split('/').includes('..')) throw new RangeError(`invalid cpio entry name \`${entry.name}\``);
    this.push(name, entry);
    return this;
  }

  private push(name: string, entry: CpioEntry): void {
    const data = entry.data ?? new Uint8Array(0);
    const nameBytes = Buffer.from(`${name}\0`, 'utf8');
    const isDir = (entry.mode & S_IFMT) === S_IFDIR;
    const header =
      '070701' +
      hex8(name === 'TRAILER!!!' ? 0 : this.ino++) +
      hex8(entry.mode) +
      hex8(entry.uid ?? 0) +
      hex8(entry.gid ?? 0) +
      hex8(isDir ? 2 : 1) +
      hex8(entry.mtime ?? 0) +
      hex8(data.length) +
      hex8(0) +
      hex8(0) +
      hex8(entry.rdevMajor ?? 0) +
      hex8(entry.rdevMinor ?? 0) +
      hex8(nameBytes.length) +
      hex8(0);
    const head = Buffer.concat([Buffer.from(header, 'ascii'), nameBytes, Buffer.alloc(pad4(110 + nameBytes.length))]);
    this.parts.push(head);
    this.size += head.length;
    if (data.length > 0) {
      this.parts.push(data);
      const p = Buffer.alloc(pad4(data.length));
      this.parts.push(p);
      this.size += data.length + p.length;
    }
  }

  /** Appends the trailer and returns the archive's parts, in order. */
  finish(): Uint8Array[] {
    if (!this.finished) {
      this.push('TRAILER!!!', { name: 'TRAILER!!!', mode: 0 });
      this.finished = true;
    }
    return this.parts;
  }

  get byteLength(): number {
    return this.size;
  }
}
