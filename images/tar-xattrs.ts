/**
 * Extended attributes from a tar stream's PAX headers, byte-exact.
 *
 * tar-stream decodes PAX record values as UTF-8 text, which mangles binary xattr values such as
 * `security.capability` (a struct vfs_cap_data). XattrTap sits in front of tar-stream's extract,
 * passes every byte through unchanged, walks the same block structure (POSIX.1-2001 pax,
 * ustar and GNU headers, as tar-stream's extract.js reads them) and queues, for each archive
 * member, the xattrs of its PAX header with raw values:
 *
 *   SCHILY.xattr.NAME=<raw bytes>          (GNU tar, star, Go archive/tar, BuildKit)
 *   LIBARCHIVE.xattr.NAME=<base64>         (bsdtar; NAME is %-encoded)
 *
 * Each queued record carries the member's name so the consumer can check it pairs the right
 * record with the entry tar-stream emits.
 */

import { Transform, type TransformCallback } from 'node:stream';

const BLOCK = 512;
const EMPTY_CHECKSUM = 8 * 32; // a header block of zeros sums to eight spaces (the checksum field)
const MAX_META_BYTES = 1024 * 1024; // tar-stream refuses longer pax/long-name headers too

export interface MemberXattrs {
  /** The member name as tar-stream reports it (pax path, GNU long name or header name). */
  readonly name: string;
  readonly xattrs: ReadonlyMap<string, Buffer>;
}

type Meta = 'pax' | 'pax-global' | 'gnu-long-path' | 'gnu-long-link-path';

/** Records of `len SP key=value LF`, values as raw bytes (POSIX pax "extended header"). */
export function parsePaxRecords(buf: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let pos = 0;
  while (pos < buf.length) {
    const space = buf.indexOf(0x20, pos);
    if (space < 0) break;
    const len = Number.parseInt(buf.toString('latin1', pos, space), 10);
    if (!(len > 0) || pos + len > buf.length) break;
    const record = buf.subarray(space + 1, pos + len - 1); // drop the trailing LF
    const eq = record.indexOf(0x3d);
    if (eq > 0) out.set(record.toString('utf8', 0, eq), Buffer.from(record.subarray(eq + 1)));
    pos += len;
  }
  return out;
}

/** The xattrs among pax records. */
export function xattrsFromPax(records: ReadonlyMap<string, Buffer>): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const [key, value] of records) {
    if (key.startsWith('SCHILY.xattr.')) out.set(key.slice('SCHILY.xattr.'.length), value);
    else if (key.startsWith('LIBARCHIVE.xattr.')) {
      out.set(decodeURIComponent(key.slice('LIBARCHIVE.xattr.'.length)), Buffer.from(value.toString('latin1'), 'base64'));
    }
  }
  return out;
}

function decodeNumber(buf: Buffer, offset: number, length: number): number {
  const field = buf.subarray(offset, offset + length);
  if ((field[0] ?? 0) & 0x80) {
    // base-256 (GNU): 0x80 positive, 0xff negative two's complement
    const negative = field[0] === 0xff;
    let sum = 0;
    for (let i = 1; i < field.length; i++) sum = sum * 256 + (negative ? 0xff - (field[i] ?? 0) : (field[i] ?? 0));
    return negative ? -sum : sum;
  }
  const text = field.toString('latin1').replace(/\0.*$/s, '').trim();
  return text === '' ? 0 : Number.parseInt(text, 8);
}

function cstring(buf: Buffer, offset: number, length: number): string {
  const end = buf.indexOf(0, offset);
  return buf.toString('utf8', offset, end < 0 || end > offset + length ? offset + length : end);
}

/** Passes a tar stream through unchanged and queues each member's raw xattrs in order. */
export class XattrTap extends Transform {
  private readonly queue: MemberXattrs[] = [];
  private header = Buffer.alloc(0);
  /** Bytes of member data (and padding) still to pass before the next header. */
  private skip = 0;
  private meta: Meta | undefined;
  private metaParts: Buffer[] = [];
  private metaLeft = 0;
  private metaPad = 0;
  private pax: Map<string, Buffer> | undefined;
  private paxGlobal: Map<string, Buffer> | undefined;
  private longPath: string | undefined;

  /**
   * The record of the member tar-stream just emitted as `name`: the oldest queued record, which
   * must carry the same name. Undefined (and the queue dropped) when they disagree.
   */
  takeFor(name: string): MemberXattrs | undefined {
    const record = this.queue.shift();
    if (record !== undefined && record.name === name) return record;
    this.queue.length = 0;
    return undefined;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.scan(chunk);
    done(null, chunk);
  }

  private scan(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length) {
      if (this.metaLeft > 0) {
        const n = Math.min(this.metaLeft, chunk.length - pos);
        this.metaParts.push(chunk.subarray(pos, pos + n));
        this.metaLeft -= n;
        pos += n;
        if (this.metaLeft === 0) this.endMeta();
      } else if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - pos);
        this.skip -= n;
        pos += n;
      } else {
        const n = Math.min(BLOCK - this.header.length, chunk.length - pos);
        this.header = Buffer.concat([this.header, chunk.subarray(pos, pos + n)]);
        pos += n;
        if (this.header.length === BLOCK) {
          const block = this.header;
          this.header = Buffer.alloc(0);
          this.onHeader(block);
        }
      }
    }
  }

  private onHeader(block: Buffer): void {
    let sum = EMPTY_CHECKSUM;
    for (let i = 0; i < 148; i++) sum += block[i] ?? 0;
    for (let i = 156; i < BLOCK; i++) sum += block[i] ?? 0;
    if (sum === EMPTY_CHECKSUM) return; // a zero block (end of archive padding)
    const flag = block[156] ?? 0;
    let size = decodeNumber(block, 124, 12);
    const meta: Meta | undefined = flag === 0x78 ? 'pax' : flag === 0x67 ? 'pax-global' : flag === 0x4c || flag === 0x4e ? 'gnu-long-path' : flag === 0x4b ? 'gnu-long-link-path' : undefined;
    if (meta !== undefined) {
      if (size > MAX_META_BYTES || size < 0) return;
      this.meta = meta;
      this.metaParts = [];
      this.metaLeft = size;
      this.metaPad = (BLOCK - (size % BLOCK)) % BLOCK;
      if (size === 0) this.endMeta();
      return;
    }
    let name = cstring(block, 0, 100);
    if (block.toString('latin1', 257, 263) === 'ustar\0' && block[345] !== 0) name = `${cstring(block, 345, 155)}/${name}`;
    const isDirectory = flag === 0x35 || ((flag === 0 || flag === 0x30) && name.endsWith('/'));
    const pax = this.pax;
    this.pax = undefined;
    if (this.longPath !== undefined) name = this.longPath;
    this.longPath = undefined;
    const paxPath = pax?.get('path');
    if (paxPath !== undefined && paxPath.length > 0) name = paxPath.toString('utf8');
    const paxSize = pax?.get('size');
    if (paxSize !== undefined && paxSize.length > 0) size = Number.parseInt(paxSize.toString('latin1'), 10);
    this.queue.push({ name, xattrs: pax === undefined ? new Map() : xattrsFromPax(pax) });
    // tar-stream reads no data for a directory, and pads data to a block
    this.skip = isDirectory || !(size > 0) ? 0 : size + ((BLOCK - (size % BLOCK)) % BLOCK);
  }

  private endMeta(): void {
    const data = Buffer.concat(this.metaParts);
    this.metaParts = [];
    this.skip = this.metaPad;
    switch (this.meta) {
      case 'pax': {
        const local = parsePaxRecords(data);
        this.pax = this.paxGlobal === undefined ? local : new Map([...this.paxGlobal, ...local]);
        break;
      }
      case 'pax-global':
        this.paxGlobal = parsePaxRecords(data);
        break;
      case 'gnu-long-path':
        this.longPath = cstring(data, 0, data.length);
        break;
      default:
        break;
    }
    this.meta = undefined;
  }
}
