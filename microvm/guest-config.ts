/**
 * The guest init's policy (/kapsel/config in the initramfs, read by native/guest-init.c): a
 * list of NUL-terminated key and value strings, so args and env may hold any byte but NUL.
 */

export interface GuestConfig {
  readonly args: readonly string[];
  readonly env: readonly string[];
  readonly cwd: string;
  readonly uid: number;
  readonly gid: number;
  readonly additionalGids?: readonly number[];
  readonly umask?: number;
  readonly hostname?: string;
  /** Kernel modules to load in this order (paths inside the initramfs). */
  readonly modules: readonly string[];
  /** Where the container rootfs is (a directory of the initramfs, or the mount point of blockdev). */
  readonly root: string;
  /** A block device holding the rootfs (`/dev/vda`), mounted on root with fstype. */
  readonly blockdev?: string;
  readonly fstype?: string;
  /** Name of the virtio-serial port of the control channel. */
  readonly port: string;
}

function checkValue(key: string, value: string): string {
  if (value.includes('\0')) throw new RangeError(`guest config ${key} contains a NUL byte`);
  return value;
}

export function encodeGuestConfig(c: GuestConfig): Buffer {
  const pairs: [string, string][] = [];
  for (const m of c.modules) pairs.push(['module', m]);
  pairs.push(['port', c.port], ['root', c.root]);
  if (c.blockdev !== undefined) pairs.push(['blockdev', c.blockdev], ['fstype', c.fstype ?? 'ext4']);
  if (c.hostname !== undefined) pairs.push(['hostname', c.hostname]);
  pairs.push(['cwd', c.cwd], ['uid', String(c.uid)], ['gid', String(c.gid)]);
  for (const g of c.additionalGids ?? []) pairs.push(['group', String(g)]);
  if (c.umask !== undefined) pairs.push(['umask', c.umask.toString(8)]);
  for (const a of c.args) pairs.push(['arg', a]);
  for (const e of c.env) pairs.push(['env', e]);
  return Buffer.from(pairs.map(([k, v]) => `${k}\0${checkValue(k, v)}\0`).join(''), 'utf8');
}

/** The inverse, for tests and debugging: key/value pairs in order. */
export function decodeGuestConfig(bytes: Buffer): [string, string][] {
  const parts = bytes.toString('utf8').split('\0');
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < parts.length; i += 2) out.push([parts[i]!, parts[i + 1]!]);
  return out;
}
