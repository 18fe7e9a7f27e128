import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DeviceCgroupRule } from '../../oci/runtime-spec.js';
import {
  BPF_DEVCG_ACC_MKNOD,
  BPF_DEVCG_ACC_READ,
  BPF_DEVCG_ACC_WRITE,
  BPF_DEVCG_DEV_BLOCK,
  BPF_DEVCG_DEV_CHAR,
  deviceFilterInsns,
  deviceFilterProgram,
  disassemble,
  encodeInsns,
  type BpfInsn,
} from './device-bpf.js';

const hex = (s: string): string => s.replace(/\s+/g, '');

/** The six-instruction prologue, hand-encoded: opcode, src<<4|dst, off (LE16), imm (LE32). */
const PROLOGUE_HEX = `
  61 12 0000 00000000
  54 02 0000 ffff0000
  61 13 0000 00000000
  74 03 0000 10000000
  61 14 0400 00000000
  61 15 0800 00000000`;

/** A minimal eBPF interpreter for the opcodes the emitter uses, to check behaviour. */
function run(insns: readonly BpfInsn[], type: number, access: number, major: number, minor: number): number {
  const ctx = [((access << 16) | type) >>> 0, major, minor];
  const r = [0, -1, 0, 0, 0, 0]; // r1 holds the ctx "pointer" (-1 marks it)
  for (let pc = 0; pc < insns.length; pc++) {
    const i = insns[pc]!;
    switch (i.code) {
      case 0x61:
        assert.equal(r[i.src], -1, 'loads only from the context');
        r[i.dst] = ctx[i.off / 4]!;
        break;
      case 0x54: r[i.dst] = (r[i.dst]! & i.imm) >>> 0; break;
      case 0x74: r[i.dst] = r[i.dst]! >>> i.imm; break;
      case 0xb4: r[i.dst] = i.imm >>> 0; break;
      case 0xbc: r[i.dst] = r[i.src]!; break;
      case 0x55: if (r[i.dst] !== i.imm) pc += i.off; break;
      case 0x5d: if (r[i.dst] !== r[i.src]) pc += i.off; break;
      case 0x15: if (r[i.dst] === i.imm) pc += i.off; break;
      case 0x95: return r[0]!;
      default: assert.fail(`unknown opcode ${i.code}`);
    }
  }
  assert.fail('fell off the end of the program');
}

/** Reference semantics: the last matching rule wins; allow needs all bits, deny any bit. */
function reference(rules: readonly DeviceCgroupRule[], type: 'b' | 'c', access: string, major: number, minor: number): boolean {
  let verdict = false;
  for (const rule of rules) {
    const ruleAccess = rule.access ?? 'rwm';
    const t = rule.type ?? 'a';
    if (t !== 'a' && t !== type) continue;
    if (rule.major !== undefined && rule.major !== -1 && rule.major !== major) continue;
    if (rule.minor !== undefined && rule.minor !== -1 && rule.minor !== minor) continue;
    const bits = [...access];
    const matches = rule.allow ? bits.every((b) => ruleAccess.includes(b)) : bits.some((b) => ruleAccess.includes(b));
    if (matches) verdict = rule.allow;
  }
  return verdict;
}

function accessBits(access: string): number {
  return (access.includes('m') ? BPF_DEVCG_ACC_MKNOD : 0) | (access.includes('r') ? BPF_DEVCG_ACC_READ : 0) | (access.includes('w') ? BPF_DEVCG_ACC_WRITE : 0);
}

/** runc's default device list for a container (libcontainer/specconv AllowedDevices). */
const DEFAULTS: DeviceCgroupRule[] = [
  { allow: false, access: 'rwm' },
  { allow: true, type: 'c', access: 'm' },
  { allow: true, type: 'b', access: 'm' },
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' },
  { allow: true, type: 'c', major: 136, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' },
];

describe('device filter emitter', () => {
  it('encodes the empty rule list as "deny everything", byte for byte', () => {
    const expected = `${PROLOGUE_HEX}
      b4 00 0000 00000000
      95 00 0000 00000000`;
    assert.equal(deviceFilterProgram([]).toString('hex'), hex(expected));
  });

  it('encodes one exact char device rule with forward jumps to the default', () => {
    const expected = `${PROLOGUE_HEX}
      55 02 0400 02000000
      55 04 0300 01000000
      55 05 0200 03000000
      b4 00 0000 01000000
      95 00 0000 00000000
      b4 00 0000 00000000
      95 00 0000 00000000`;
    assert.equal(deviceFilterProgram([{ allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }]).toString('hex'), hex(expected));
  });

  it('checks partial access with a register compare (allow) or a zero test (deny)', () => {
    const allow = deviceFilterInsns([{ allow: true, type: 'c', access: 'm' }]).slice(6);
    assert.deepEqual(disassemble(allow), ['jne r2, 2, +5', 'mov32 r1, r3', 'and32 r1, 1', 'jne r1, r3, +2', 'mov32 r0, 1', 'exit', 'mov32 r0, 0', 'exit']);
    assert.equal(encodeInsns(allow.slice(1, 4)).toString('hex'), hex('bc 31 0000 00000000  54 01 0000 01000000  5d 31 0200 00000000'));
    const deny = deviceFilterInsns([{ allow: true }, { allow: false, type: 'b', major: 8, access: 'w' }]).slice(6);
    assert.deepEqual(disassemble(deny), [
      'jne r2, 1, +6', 'mov32 r1, r3', 'and32 r1, 4', 'jeq r1, 0, +3', 'jne r4, 8, +2', 'mov32 r0, 0', 'exit', 'mov32 r0, 1', 'exit',
    ]);
  });

  it('emits the last rule first, so it wins', () => {
    const lines = disassemble(deviceFilterInsns(DEFAULTS));
    assert.deepEqual(lines.slice(0, 6), ['ldxw r2, [r1+0]', 'and32 r2, 65535', 'ldxw r3, [r1+0]', 'rsh32 r3, 16', 'ldxw r4, [r1+4]', 'ldxw r5, [r1+8]']);
    assert.deepEqual(lines.slice(6, 11), ['jne r2, 2, +4', 'jne r4, 5, +3', 'jne r5, 2, +2', 'mov32 r0, 1', 'exit']); // c 5:2
    assert.deepEqual(lines.slice(11, 15), ['jne r2, 2, +3', 'jne r4, 136, +2', 'mov32 r0, 1', 'exit']); // c 136:*
    assert.deepEqual(lines.slice(-2), ['mov32 r0, 0', 'exit']); // the leading deny-all became the default
  });

  it('drops everything before a catch-all rule', () => {
    const insns = deviceFilterInsns([{ allow: true, type: 'c', major: 1, minor: 3 }, { allow: true, access: 'rwm' }]);
    assert.deepEqual(disassemble(insns.slice(6)), ['mov32 r0, 1', 'exit']);
  });

  it('decides like the reference semantics for the default list and a hole-punching deny', () => {
    const lists: DeviceCgroupRule[][] = [
      DEFAULTS,
      [{ allow: true }, { allow: false, type: 'c', major: 1, minor: 3, access: 'w' }],
      [{ allow: false }, { allow: true, type: 'c', major: 1, access: 'rw' }, { allow: false, type: 'c', major: 1, minor: 5, access: 'm' }],
      [{ allow: true, type: 'a', major: 1, minor: 3, access: 'r' }],
    ];
    for (const rules of lists) {
      const insns = deviceFilterInsns(rules);
      for (const type of ['b', 'c'] as const) {
        for (const access of ['r', 'w', 'm', 'rw', 'rwm']) {
          for (const [major, minor] of [[1, 3], [1, 5], [1, 4], [5, 2], [136, 7], [8, 0]] as const) {
            const want = reference(rules, type, access, major, minor) ? 1 : 0;
            const got = run(insns, type === 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR, accessBits(access), major, minor);
            assert.equal(got, want, `${JSON.stringify(rules)}: ${type} ${major}:${minor} ${access}`);
          }
        }
      }
    }
  });

  it('spot-checks the default list: /dev/null rw, pts, mknod only for others', () => {
    const insns = deviceFilterInsns(DEFAULTS);
    const rw = BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE;
    assert.equal(run(insns, BPF_DEVCG_DEV_CHAR, rw, 1, 3), 1);
    assert.equal(run(insns, BPF_DEVCG_DEV_CHAR, rw, 136, 42), 1);
    assert.equal(run(insns, BPF_DEVCG_DEV_BLOCK, BPF_DEVCG_ACC_MKNOD, 8, 0), 1);
    assert.equal(run(insns, BPF_DEVCG_DEV_BLOCK, BPF_DEVCG_ACC_READ, 8, 0), 0);
    assert.equal(run(insns, BPF_DEVCG_DEV_CHAR, rw, 10, 200), 0);
  });

  it('rejects invalid rules', () => {
    assert.throws(() => deviceFilterInsns([JSON.parse('{"allow": true, "type": "x"}') as DeviceCgroupRule]), /invalid device type/);
    assert.throws(() => deviceFilterInsns([{ allow: true, access: 'rx' }]), /invalid device access/);
    assert.throws(() => deviceFilterInsns([{ allow: true, major: 4096 }]), /invalid device major/);
  });
});
