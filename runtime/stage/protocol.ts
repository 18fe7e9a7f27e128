/**
 * The wire format between kapsel-runtime and the native stage (native/stage.c, header comment).
 * Pure codec: one message per SOCK_SEQPACKET packet, u32 type + u32 payload length, then TLV
 * records (u16 tag, u16 reserved, u32 length, value padded to 4 bytes). Little-endian, x86_64.
 */

export const MsgType = {
  BOOTSTRAP: 1,
  UNSHARED: 2,
  CONTINUE: 3,
  PID: 4,
  FSOPEN: 5,
  FD: 6,
  FINALIZE: 7,
  READY: 8,
  ERROR: 9,
  /** instead of BOOTSTRAP: run a host helper (kapsel-vmm) as the stage's child, report its wait status */
  SPAWN: 10,
  EXITED: 11,
} as const;

export const Tag = {
  CLONE_FLAGS: 1,
  JOIN: 2,
  SYNC_UNSHARE: 3,
  SETSID: 4,
  FSTYPE: 10,
  CWD: 20,
  UID: 21,
  GID: 22,
  GIDS: 23,
  UMASK: 24,
  CAPS: 25,
  LAST_CAP: 26,
  NNP: 27,
  SECCOMP: 28,
  SECCOMP_FLAGS: 29,
  ARG: 30,
  ENV: 31,
  PRESERVE_FDS: 32,
  FD_FIFO: 33,
  FD_TTY: 34,
  FD_ROOT: 35,
  PERSONALITY: 36,
  KEYRING: 37,
  HOOK_STATE: 40,
  HOOK_PATH: 41,
  HOOK_ARG: 42,
  HOOK_ENV: 43,
  HOOK_TIMEOUT: 44,
} as const;

/** Builds one message by chaining records. */
export class MessageWriter {
  private readonly parts: Buffer[] = [];

  constructor(private readonly type: number) {}

  bytes(tag: number, value: Buffer): this {
    const head = Buffer.alloc(8);
    head.writeUInt16LE(tag, 0);
    head.writeUInt32LE(value.length, 4);
    const pad = (4 - (value.length % 4)) % 4;
    this.parts.push(head, value, Buffer.alloc(pad));
    return this;
  }

  u32(tag: number, value: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(value >>> 0, 0);
    return this.bytes(tag, b);
  }

  flag(tag: number): this {
    return this.bytes(tag, Buffer.alloc(0));
  }

  /** NUL-terminated; the stage rejects strings without the terminator. */
  str(tag: number, value: string): this {
    if (value.includes('\0')) throw new RangeError(`string for record ${tag} contains a NUL byte`);
    return this.bytes(tag, Buffer.from(`${value}\0`));
  }

  u32Array(tag: number, values: readonly number[]): this {
    const b = Buffer.alloc(4 * values.length);
    values.forEach((v, i) => b.writeUInt32LE(v >>> 0, 4 * i));
    return this.bytes(tag, b);
  }

  u64Array(tag: number, values: readonly bigint[]): this {
    const b = Buffer.alloc(8 * values.length);
    values.forEach((v, i) => b.writeBigUInt64LE(BigInt.asUintN(64, v), 8 * i));
    return this.bytes(tag, b);
  }

  /** u32 namespace type followed by the NUL-terminated path. */
  join(nstype: number, path: string): this {
    if (path.includes('\0')) throw new RangeError('namespace path contains a NUL byte');
    const b = Buffer.alloc(4 + Buffer.byteLength(path) + 1);
    b.writeUInt32LE(nstype >>> 0, 0);
    b.write(path, 4);
    return this.bytes(Tag.JOIN, b);
  }

  finish(): Buffer {
    const payload = Buffer.concat(this.parts);
    const head = Buffer.alloc(8);
    head.writeUInt32LE(this.type, 0);
    head.writeUInt32LE(payload.length, 4);
    return Buffer.concat([head, payload]);
  }
}

export interface StageMessage {
  readonly type: number;
  readonly payload: Buffer;
}

export function decodeMessage(packet: Buffer): StageMessage {
  if (packet.length < 8) throw new RangeError(`stage message of ${packet.length} bytes is too short`);
  const type = packet.readUInt32LE(0);
  const len = packet.readUInt32LE(4);
  if (len !== packet.length - 8) throw new RangeError(`stage message length ${len} does not match packet`);
  return { type, payload: packet.subarray(8) };
}

/** An ERROR message: u32 errno then the text. */
export function decodeError(payload: Buffer): { errno: number; text: string } {
  return { errno: payload.length >= 4 ? payload.readUInt32LE(0) : 0, text: payload.subarray(4).toString('utf8') };
}
