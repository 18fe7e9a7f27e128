/**
 * The cgroup v2 device filter: a BPF_PROG_TYPE_CGROUP_DEVICE program built from device rules.
 *
 * cgroup v2 has no devices files; the kernel runs an eBPF program attached with
 * BPF_CGROUP_DEVICE on every open/mknod of a device node and allows the access when it
 * returns 1 (Documentation/admin-guide/cgroup-v2.rst "Device controller"). Its context is
 * `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }`
 * (include/uapi/linux/bpf.h), where access_type = (access << 16) | type.
 *
 * The program layout follows runc's devicefilter (libcontainer/cgroups/devices/ebpf); the
 * code is our own. Semantics: rules reduced by effectiveDeviceRules (a catch-all sets the
 * default), then evaluated LAST rule first, the first match deciding — "the last matching
 * rule wins". An allow rule matches when every requested access bit is in the rule; a deny
 * rule matches when any requested bit is. This is stricter than the v1 kernel, where a deny
 * cannot punch a hole in a wildcard allow (devices.rst "hierarchy"); runc instead emulates v1.
 *
 * Instruction encoding (Documentation/bpf/standardization/instruction-set.rst): 8 bytes,
 * little-endian: opcode u8, dst_reg (low nibble) | src_reg (high nibble) u8, offset s16,
 * imm s32. Jump offsets count instructions from the one after the jump.
 */

import { effectiveDeviceRules, type DeviceRule } from '../device-rules.js';
import type { DeviceCgroupRule } from '../../oci/runtime-spec.js';

// include/uapi/linux/bpf.h
export const BPF_DEVCG_ACC_MKNOD = 1;
export const BPF_DEVCG_ACC_READ = 2;
export const BPF_DEVCG_ACC_WRITE = 4;
export const BPF_DEVCG_DEV_BLOCK = 1;
export const BPF_DEVCG_DEV_CHAR = 2;

/** The license string passed to BPF_PROG_LOAD (no GPL-only helpers are used). */
export const DEVICE_PROGRAM_LICENSE = 'Apache';

// Opcodes: class | op | source (include/uapi/linux/bpf_common.h, bpf.h).
/** BPF_LDX | BPF_MEM | BPF_W: dst = *(u32 *)(src + off). */
export const OP_LDX_MEM_W = 0x61;
/** BPF_ALU | BPF_AND | BPF_K: dst = (u32)(dst & imm). */
export const OP_AND32_IMM = 0x54;
/** BPF_ALU | BPF_RSH | BPF_K: dst = (u32)dst >> imm. */
export const OP_RSH32_IMM = 0x74;
/** BPF_ALU | BPF_MOV | BPF_K: dst = (u32)imm. */
export const OP_MOV32_IMM = 0xb4;
/** BPF_ALU | BPF_MOV | BPF_X: dst = (u32)src. */
export const OP_MOV32_REG = 0xbc;
/** BPF_JMP | BPF_JNE | BPF_K: if dst != imm goto +off. */
export const OP_JNE_IMM = 0x55;
/** BPF_JMP | BPF_JNE | BPF_X: if dst != src goto +off. */
export const OP_JNE_REG = 0x5d;
/** BPF_JMP | BPF_JEQ | BPF_K: if dst == imm goto +off. */
export const OP_JEQ_IMM = 0x15;
/** BPF_JMP | BPF_EXIT: return r0. */
export const OP_EXIT = 0x95;

export interface BpfInsn {
  readonly code: number;
  readonly dst: number;
  readonly src: number;
  readonly off: number;
  readonly imm: number;
}

const R0 = 0; // return value
const R1 = 1; // the context pointer on entry, then scratch
const R2 = 2; // device type (BPF_DEVCG_DEV_*)
const R3 = 3; // requested access (BPF_DEVCG_ACC_*)
const R4 = 4; // major
const R5 = 5; // minor

function insn(code: number, dst: number, src: number, off: number, imm: number): BpfInsn {
  return { code, dst, src, off, imm };
}

/** Loads the context into r2..r5; the same for every program. */
function prologue(): BpfInsn[] {
  return [
    insn(OP_LDX_MEM_W, R2, R1, 0, 0), // r2 = ctx->access_type
    insn(OP_AND32_IMM, R2, 0, 0, 0xffff), // r2 &= 0xffff: the device type
    insn(OP_LDX_MEM_W, R3, R1, 0, 0), // r3 = ctx->access_type
    insn(OP_RSH32_IMM, R3, 0, 0, 16), // r3 >>= 16: the access bits
    insn(OP_LDX_MEM_W, R4, R1, 4, 0), // r4 = ctx->major
    insn(OP_LDX_MEM_W, R5, R1, 8, 0), // r5 = ctx->minor
  ];
}

function accessBits(access: string): number {
  let bits = 0;
  if (access.includes('m')) bits |= BPF_DEVCG_ACC_MKNOD;
  if (access.includes('r')) bits |= BPF_DEVCG_ACC_READ;
  if (access.includes('w')) bits |= BPF_DEVCG_ACC_WRITE;
  return bits;
}

/**
 * One rule: a run of checks that each jump to the next block on mismatch, then
 * `r0 = allow; exit`. Jumps are emitted with off = -1 and patched once the length is known.
 */
function ruleBlock(rule: DeviceRule): BpfInsn[] {
  const block: BpfInsn[] = [];
  if (rule.type !== 'a') {
    block.push(insn(OP_JNE_IMM, R2, 0, -1, rule.type === 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR)); // type differs
  }
  if (rule.access !== 'rwm') {
    block.push(insn(OP_MOV32_REG, R1, R3, 0, 0)); // r1 = requested access
    block.push(insn(OP_AND32_IMM, R1, 0, 0, accessBits(rule.access))); // r1 &= the rule's access
    block.push(
      rule.allow
        ? insn(OP_JNE_REG, R1, R3, -1, 0) // some requested bit not allowed by this rule
        : insn(OP_JEQ_IMM, R1, 0, -1, 0), // no requested bit denied by this rule
    );
  }
  if (rule.major !== undefined) block.push(insn(OP_JNE_IMM, R4, 0, -1, rule.major)); // major differs
  if (rule.minor !== undefined) block.push(insn(OP_JNE_IMM, R5, 0, -1, rule.minor)); // minor differs
  block.push(insn(OP_MOV32_IMM, R0, 0, 0, rule.allow ? 1 : 0)); // the verdict
  block.push(insn(OP_EXIT, 0, 0, 0, 0));
  // Patch each jump to land on the first instruction after the block.
  return block.map((ins, i) => (ins.off === -1 ? { ...ins, off: block.length - i - 1 } : ins));
}

/** The filter's instructions for a rule list (see the module comment for the semantics). */
export function deviceFilterInsns(rules: readonly DeviceCgroupRule[]): BpfInsn[] {
  const { defaultAllow, rules: kept } = effectiveDeviceRules(rules);
  const out = prologue();
  for (let i = kept.length - 1; i >= 0; i--) out.push(...ruleBlock(kept[i]!));
  out.push(insn(OP_MOV32_IMM, R0, 0, 0, defaultAllow ? 1 : 0)); // no rule matched: the default
  out.push(insn(OP_EXIT, 0, 0, 0, 0));
  return out;
}

/** Encodes instructions as the kernel reads them (struct bpf_insn, little-endian). */
export function encodeInsns(insns: readonly BpfInsn[]): Buffer {
  const buf = Buffer.alloc(insns.length * 8);
  insns.forEach((ins, i) => {
    const at = i * 8;
    buf.writeUInt8(ins.code, at);
    buf.writeUInt8(((ins.src & 0xf) << 4) | (ins.dst & 0xf), at + 1);
    buf.writeInt16LE(ins.off, at + 2);
    buf.writeInt32LE(ins.imm, at + 4);
  });
  return buf;
}

/** The program bytes for BPF_PROG_LOAD (`insns`, `insn_cnt` = length / 8). */
export function deviceFilterProgram(rules: readonly DeviceCgroupRule[]): Buffer {
  return encodeInsns(deviceFilterInsns(rules));
}

const MNEMONICS: Record<number, string> = {
  [OP_LDX_MEM_W]: 'ldxw',
  [OP_AND32_IMM]: 'and32',
  [OP_RSH32_IMM]: 'rsh32',
  [OP_MOV32_IMM]: 'mov32',
  [OP_MOV32_REG]: 'mov32',
  [OP_JNE_IMM]: 'jne',
  [OP_JNE_REG]: 'jne',
  [OP_JEQ_IMM]: 'jeq',
  [OP_EXIT]: 'exit',
};

/** One line per instruction (`jne r4, 136, +2`), for tests and debugging. */
export function disassemble(insns: readonly BpfInsn[]): string[] {
  return insns.map((i) => {
    const name = MNEMONICS[i.code] ?? `op${i.code.toString(16)}`;
    switch (i.code) {
      case OP_LDX_MEM_W:
        return `${name} r${i.dst}, [r${i.src}+${i.off}]`;
      case OP_MOV32_REG:
        return `${name} r${i.dst}, r${i.src}`;
      case OP_JNE_REG:
        return `${name} r${i.dst}, r${i.src}, +${i.off}`;
      case OP_JNE_IMM:
      case OP_JEQ_IMM:
        return `${name} r${i.dst}, ${i.imm}, +${i.off}`;
      case OP_EXIT:
        return name;
      default:
        return `${name} r${i.dst}, ${i.imm}`;
    }
  });
}
