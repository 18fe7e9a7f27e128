import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWPID } from '../../sys/constants.js';
import { decodeError, decodeMessage, MessageWriter, MsgType, Tag } from './protocol.js';

/** Hex with spaces and newlines allowed, for golden bytes laid out one field per group. */
function hex(text: string): Buffer {
  return Buffer.from(text.replace(/\s+/g, ''), 'hex');
}

interface Rec {
  readonly tag: number;
  readonly reserved: number;
  readonly value: Buffer;
}

/** The stage's tlv_next(): 8-byte head, value, padding to 4; must consume the payload exactly. */
function records(payload: Buffer): Rec[] {
  const out: Rec[] = [];
  let p = 0;
  while (p + 8 <= payload.length) {
    const len = payload.readUInt32LE(p + 4);
    assert.ok(len <= payload.length - p - 8, `record at ${p} overruns the payload`);
    out.push({ tag: payload.readUInt16LE(p), reserved: payload.readUInt16LE(p + 2), value: payload.subarray(p + 8, p + 8 + len) });
    p += 8 + ((len + 3) & ~3);
  }
  assert.equal(p, payload.length, 'records end exactly at the end of the payload');
  return out;
}

/** `NAME = n` entries of one C enum in native/stage.c. */
function cEnum(source: string, name: string, prefix: string): Map<string, number> {
  const body = new RegExp(`enum ${name} \\{([^}]*)\\}`).exec(source)?.[1];
  assert.ok(body !== undefined, `enum ${name} in native/stage.c`);
  const out = new Map<string, number>();
  for (const m of body.matchAll(new RegExp(`\\b${prefix}([A-Z_]+)\\s*=\\s*(\\d+)`, 'g'))) out.set(m[1] ?? '', Number(m[2]));
  return out;
}

const stageSource = (): string => readFileSync(new URL('../../../native/stage.c', import.meta.url), 'utf8');

describe('stage protocol: MessageWriter byte layout', () => {
  it('writes the header as u32 type + u32 payload length, little-endian', () => {
    assert.deepEqual(new MessageWriter(MsgType.CONTINUE).finish(), hex('03000000 00000000'));
    assert.deepEqual(new MessageWriter(MsgType.FINALIZE).flag(Tag.NNP).finish(), hex('07000000 08000000  1b00 0000 00000000'));
  });

  it('writes a u32 record as u16 tag, u16 0, u32 length 4, value', () => {
    assert.deepEqual(
      new MessageWriter(MsgType.FINALIZE).u32(Tag.UID, 1000).u32(Tag.UMASK, 0o022).finish(),
      hex(`07000000 18000000
           1500 0000 04000000 e8030000
           1800 0000 04000000 12000000`),
    );
    // negative numbers wrap to u32, as the C side reads them
    assert.deepEqual(new MessageWriter(MsgType.FINALIZE).u32(Tag.GID, -1).finish().subarray(16), hex('ffffffff'));
  });

  it('NUL-terminates strings and pads the value to 4 bytes (padding not counted in the length)', () => {
    assert.deepEqual(new MessageWriter(MsgType.FINALIZE).str(Tag.CWD, '/').finish(), hex('07000000 0c000000  1400 0000 02000000 2f000000'));
    // 3 chars + NUL = 4: no padding
    assert.deepEqual(new MessageWriter(MsgType.FINALIZE).str(Tag.ARG, 'abc').finish(), hex('07000000 0c000000  1e00 0000 04000000 61626300'));
    // 4 chars + NUL = 5: three bytes of padding
    assert.deepEqual(
      new MessageWriter(MsgType.FINALIZE).str(Tag.ENV, 'A=bc').finish(),
      hex('07000000 10000000  1f00 0000 05000000 413d6263 00 000000'),
    );
    assert.deepEqual(new MessageWriter(MsgType.FSOPEN).str(Tag.FSTYPE, 'proc').finish(), hex('05000000 10000000  0a00 0000 05000000 70726f63 00 000000'));
  });

  it('encodes strings as UTF-8 and counts bytes, not characters', () => {
    const msg = new MessageWriter(MsgType.FINALIZE).str(Tag.ENV, 'X=é').finish();
    assert.deepEqual(msg, hex('07000000 10000000  1f00 0000 05000000 583dc3a9 00 000000'));
  });

  it('refuses a string containing NUL (the stage would read a truncated value)', () => {
    assert.throws(() => new MessageWriter(MsgType.FINALIZE).str(Tag.ARG, 'a\0b'), RangeError);
  });

  it('writes u32 arrays and u64 arrays packed, little-endian', () => {
    assert.deepEqual(
      new MessageWriter(MsgType.FINALIZE).u32Array(Tag.GIDS, [5, 1000]).finish(),
      hex('07000000 10000000  1700 0000 08000000 05000000 e8030000'),
    );
    // an empty gids record still means "call setgroups" (with no groups)
    assert.deepEqual(new MessageWriter(MsgType.FINALIZE).u32Array(Tag.GIDS, []).finish(), hex('07000000 08000000  1700 0000 00000000'));
    assert.deepEqual(
      new MessageWriter(MsgType.FINALIZE).u64Array(Tag.CAPS, [1n, 1n << 40n, -1n]).finish(),
      hex(`07000000 20000000  1900 0000 18000000
           01000000 00000000  00000000 00010000  ffffffff ffffffff`),
    );
  });

  it('writes a join record as u32 nstype + NUL-terminated path, padded', () => {
    // "/proc/1/ns/net" is 14 bytes: 4 + 14 + 1 = 19, one byte of padding
    assert.deepEqual(
      new MessageWriter(MsgType.BOOTSTRAP).u32(Tag.CLONE_FLAGS, CLONE_NEWPID | CLONE_NEWNS).flag(Tag.SYNC_UNSHARE).join(CLONE_NEWNET, '/proc/1/ns/net').finish(),
      hex(`01000000 30000000
           0100 0000 04000000 00000220
           0300 0000 00000000
           0200 0000 13000000 00000040 2f70726f 632f312f 6e732f6e 657400 00`),
    );
  });

  it('writes raw bytes (seccomp BPF) with padding only when needed', () => {
    const bpf = Buffer.from([0x06, 0, 0, 0, 0, 0, 0xff, 0x7f]); // one sock_filter: RET ALLOW
    assert.deepEqual(new MessageWriter(MsgType.FINALIZE).bytes(Tag.SECCOMP, bpf).finish(), hex('07000000 10000000  1c00 0000 08000000 06000000 0000ff7f'));
    assert.deepEqual(new MessageWriter(MsgType.FINALIZE).bytes(Tag.SECCOMP, Buffer.from([1])).finish(), hex('07000000 0c000000  1c00 0000 01000000 01000000'));
  });

  it('produces records the stage parser walks exactly, with the C-side size rules met', () => {
    const msg = new MessageWriter(MsgType.FINALIZE)
      .str(Tag.CWD, '/home/user')
      .u32(Tag.UID, 0)
      .u32(Tag.GID, 0)
      .u64Array(Tag.CAPS, [1n, 2n, 3n, 4n, 5n])
      .u32(Tag.LAST_CAP, 40)
      .u32Array(Tag.GIDS, [10, 20, 30])
      .flag(Tag.NNP)
      .str(Tag.ARG, 'sh')
      .str(Tag.ARG, '-c')
      .str(Tag.ENV, 'PATH=/bin')
      .finish();
    const { type, payload } = decodeMessage(msg);
    assert.equal(type, MsgType.FINALIZE);
    const recs = records(payload);
    assert.deepEqual(recs.map((r) => r.tag), [Tag.CWD, Tag.UID, Tag.GID, Tag.CAPS, Tag.LAST_CAP, Tag.GIDS, Tag.NNP, Tag.ARG, Tag.ARG, Tag.ENV]);
    for (const r of recs) {
      assert.equal(r.reserved, 0);
      if (r.tag === Tag.UID || r.tag === Tag.GID || r.tag === Tag.LAST_CAP) assert.equal(r.value.length, 4); // u32(): len == 4
      if (r.tag === Tag.CAPS) assert.equal(r.value.length, 40); // 5 x u64
      if (r.tag === Tag.GIDS) assert.equal(r.value.length % 4, 0);
      if (r.tag === Tag.CWD || r.tag === Tag.ARG || r.tag === Tag.ENV) assert.equal(r.value[r.value.length - 1], 0); // str(): NUL last
    }
    assert.deepEqual(recs.filter((r) => r.tag === Tag.ARG).map((r) => r.value.toString('utf8', 0, r.value.length - 1)), ['sh', '-c']);
  });

  it('makes join records the stage accepts (len >= 6: nstype + one byte + NUL)', () => {
    const recs = records(decodeMessage(new MessageWriter(MsgType.BOOTSTRAP).join(CLONE_NEWNET, '/x').finish()).payload);
    const value = recs[0]?.value;
    assert.ok(value !== undefined);
    assert.ok(value.length >= 6);
    assert.equal(value.readUInt32LE(0), CLONE_NEWNET);
    assert.equal(value.subarray(4).toString('latin1'), '/x\0');
  });

  it('refuses a join path containing NUL, like str()', () => {
    assert.throws(() => new MessageWriter(MsgType.BOOTSTRAP).join(CLONE_NEWNET, '/proc/1/ns/net\0/evil'), RangeError);
  });
});

describe('stage protocol: numbers agree with native/stage.c', () => {
  it('has the same message types as enum msg_type', () => {
    const c = cEnum(stageSource(), 'msg_type', 'MSG_');
    assert.ok(c.size > 0);
    assert.deepEqual(Object.fromEntries(c), { ...MsgType });
  });

  it('has the same record tags as enum tag', () => {
    const c = cEnum(stageSource(), 'tag', 'T_');
    assert.ok(c.size > 0);
    assert.deepEqual(Object.fromEntries(c), { ...Tag });
  });

  it('uses the header and record layout the C parser reads', () => {
    const src = stageSource();
    // recv_msg: type at 0, len at 4, payload at 8; tlv_next: tag at 0 (u16), len at 4, padded to 4
    assert.match(src, /memcpy\(&m->type, buf, 4\);\s*memcpy\(&m->len, buf \+ 4, 4\);/);
    assert.match(src, /memcpy\(tag, it->p, 2\);\s*memcpy\(len, it->p \+ 4, 4\);/);
    assert.match(src, /it->p \+= 8 \+ \(\(\*len \+ 3\) & ~3u\);/);
  });
});

describe('stage protocol: decodeMessage', () => {
  it('returns type and payload of a well-formed packet', () => {
    const msg = decodeMessage(hex('04000000 04000000 39300000'));
    assert.equal(msg.type, MsgType.PID);
    assert.deepEqual(msg.payload, hex('39300000'));
    assert.equal(msg.payload.readUInt32LE(0), 12345);
  });

  it('round-trips what MessageWriter writes', () => {
    const packet = new MessageWriter(MsgType.FSOPEN).str(Tag.FSTYPE, 'sysfs').finish();
    const msg = decodeMessage(packet);
    assert.equal(msg.type, MsgType.FSOPEN);
    assert.deepEqual(msg.payload, packet.subarray(8));
  });

  it('accepts an empty payload', () => {
    const msg = decodeMessage(hex('08000000 00000000'));
    assert.equal(msg.type, MsgType.READY);
    assert.equal(msg.payload.length, 0);
  });

  it('rejects packets shorter than the header', () => {
    assert.throws(() => decodeMessage(Buffer.alloc(0)), RangeError);
    assert.throws(() => decodeMessage(hex('08000000 000000')), /7 bytes is too short/);
  });

  it('rejects a length field that does not match the packet', () => {
    assert.throws(() => decodeMessage(hex('04000000 08000000 39300000')), /length 8 does not match/);
    assert.throws(() => decodeMessage(hex('04000000 00000000 39300000')), /length 0 does not match/);
    assert.throws(() => decodeMessage(hex('04000000 ffffffff')), /length 4294967295 does not match/);
  });
});

describe('stage protocol: decodeError', () => {
  it('reads u32 errno then the text (the stage sends no NUL)', () => {
    const payload = Buffer.concat([hex('02000000'), Buffer.from('open namespace `/proc/9/ns/net`')]);
    assert.deepEqual(decodeError(payload), { errno: 2, text: 'open namespace `/proc/9/ns/net`' });
  });

  it('decodes a whole ERROR packet as the stage builds it in bail()', () => {
    const text = Buffer.from('setns `/proc/1/ns/user`');
    const packet = Buffer.concat([hex('09000000'), Buffer.from(Uint32Array.of(4 + text.length).buffer), hex('01000000'), text]);
    const msg = decodeMessage(packet);
    assert.equal(msg.type, MsgType.ERROR);
    assert.deepEqual(decodeError(msg.payload), { errno: 1, text: 'setns `/proc/1/ns/user`' });
  });

  it('tolerates a payload too short for the errno', () => {
    assert.deepEqual(decodeError(Buffer.alloc(0)), { errno: 0, text: '' });
    assert.deepEqual(decodeError(hex('0102')), { errno: 0, text: '' });
    assert.deepEqual(decodeError(hex('16000000')), { errno: 22, text: '' });
  });
});
