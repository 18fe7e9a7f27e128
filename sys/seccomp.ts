/**
 * Compiles an OCI seccomp profile (runtime-spec config-linux.md "Seccomp") into classic BPF for
 * seccomp(2) SECCOMP_SET_MODE_FILTER. The native stage loads the bytes right before execve; this
 * module only compiles, it never loads a filter.
 *
 * Behaviour follows runc 1.2 (libcontainer/seccomp/seccomp_linux.go and patchbpf/):
 * - libseccomp builds the filter; a rule whose action equals the default action is skipped, and
 *   a syscall name libseccomp does not know is skipped (it may exist on another kernel);
 * - args with distinct indices are AND'ed in one rule; if any index repeats, every arg becomes a
 *   rule of its own, so they are all OR'ed (runc's and crun's "multiple args" fallback);
 * - unless the default action is permissive (ALLOW, LOG, TRACE) or already returns ENOSYS, a stub
 *   is prepended that returns ENOSYS for syscall numbers above the largest the profile names,
 *   per architecture, so libc falls back from syscalls newer than the profile (clone3, openat2)
 *   instead of failing with EPERM;
 * - `flags` absent means SECCOMP_FILTER_FLAG_SPEC_ALLOW (runc 1.2); `flags: []` means none.
 */
import os from 'node:os';
import { KapselError, wrapError } from '../common/errors.js';
import {
  NR_SCMP_ERROR, SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_KILL_PROCESS, SCMP_ACT_KILL_THREAD,
  SCMP_ACT_LOG, SCMP_ACT_NOTIFY, SCMP_ACT_TRACE, SCMP_ACT_TRAP, SCMP_CMP_EQ, SCMP_CMP_GE,
  SCMP_CMP_GT, SCMP_CMP_LE, SCMP_CMP_LT, SCMP_CMP_MASKED_EQ, SCMP_CMP_NE, SCMP_FLTATR_CTL_NNP,
  SCMP_FLTATR_CTL_OPTIMIZE, SCMP_FLTATR_CTL_TSYNC, SeccompFilter, apiLevel, nativeArch,
  resolveSyscall, resolveSyscallOnArch,
} from './libseccomp.js';
import type { ArgCmp } from './libseccomp.js';

/** Mirror of runtime-spec LinuxSeccomp, defined here so sys/ does not depend on oci/. */
export interface SeccompProfileInput {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  listenerPath?: string;
  listenerMetadata?: string;
  syscalls?: SeccompSyscallInput[];
}

export interface SeccompSyscallInput {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: SeccompArgInput[];
}

export interface SeccompArgInput {
  index: number;
  value: number | bigint;
  valueTwo?: number | bigint;
  op: string;
}

export interface CompiledSeccomp {
  /** struct sock_filter[] in host byte order, 8 bytes per instruction. */
  bpf: Buffer;
  /**
   * SECCOMP_FILTER_FLAG_* bits for seccomp(2). Includes NEW_LISTENER when needsNotify; TSYNC
   * together with NEW_LISTENER also gets TSYNC_ESRCH, without which the kernel refuses the pair.
   */
  filterFlags: number;
  /** A rule uses SCMP_ACT_NOTIFY: the stage must pass the listener fd to `listenerPath`. */
  needsNotify: boolean;
}

// include/uapi/linux/seccomp.h
export const SECCOMP_FILTER_FLAG_TSYNC = 1 << 0;
export const SECCOMP_FILTER_FLAG_LOG = 1 << 1;
export const SECCOMP_FILTER_FLAG_SPEC_ALLOW = 1 << 2;
export const SECCOMP_FILTER_FLAG_NEW_LISTENER = 1 << 3;
export const SECCOMP_FILTER_FLAG_TSYNC_ESRCH = 1 << 4;
export const SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV = 1 << 5;

const FLAGS: Readonly<Record<string, number>> = {
  SECCOMP_FILTER_FLAG_TSYNC,
  SECCOMP_FILTER_FLAG_LOG,
  SECCOMP_FILTER_FLAG_SPEC_ALLOW,
  SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
};

const OPS: Readonly<Record<string, number>> = {
  SCMP_CMP_NE, SCMP_CMP_LT, SCMP_CMP_LE, SCMP_CMP_EQ, SCMP_CMP_GE, SCMP_CMP_GT, SCMP_CMP_MASKED_EQ,
};

/**
 * SCMP_ARCH_* tokens from <seccomp.h>: the kernel's AUDIT_ARCH_* (EM_* | __AUDIT_ARCH_64BIT
 * 0x80000000 | __AUDIT_ARCH_LE 0x40000000), except X32, which libseccomp tells apart from X86_64.
 */
export const SCMP_ARCH = {
  SCMP_ARCH_X86: 0x40000003,
  SCMP_ARCH_X86_64: 0xc000003e,
  SCMP_ARCH_X32: 0x4000003e,
  SCMP_ARCH_ARM: 0x40000028,
  SCMP_ARCH_AARCH64: 0xc00000b7,
  SCMP_ARCH_MIPS: 0x00000008,
  SCMP_ARCH_MIPS64: 0x80000008,
  SCMP_ARCH_MIPS64N32: 0xa0000008,
  SCMP_ARCH_MIPSEL: 0x40000008,
  SCMP_ARCH_MIPSEL64: 0xc0000008,
  SCMP_ARCH_MIPSEL64N32: 0xe0000008,
  SCMP_ARCH_PPC: 0x00000014,
  SCMP_ARCH_PPC64: 0x80000015,
  SCMP_ARCH_PPC64LE: 0xc0000015,
  SCMP_ARCH_S390: 0x00000016,
  SCMP_ARCH_S390X: 0x80000016,
  SCMP_ARCH_PARISC: 0x0000000f,
  SCMP_ARCH_PARISC64: 0x8000000f,
  SCMP_ARCH_RISCV64: 0xc00000f3,
  // EM_LOONGARCH 258: in runtime-spec, but libseccomp 2.5 does not know it (arch_add fails).
  SCMP_ARCH_LOONGARCH64: 0xc0000102,
} as const satisfies Readonly<Record<string, number>>;
const ARCH_BY_NAME: Readonly<Record<string, number>> = SCMP_ARCH;

const EPERM = 1;
const ENOSYS = 38;
/** Linux system calls take at most six arguments. */
const MAX_ARGS = 6;
const U64_MAX = (1n << 64n) - 1n;
/** runc enables libseccomp's binary-tree layout above 32 rules (2.5.x misbehaves with 0 rules). */
const BINARY_TREE_MIN_RULES = 33;
/** BPF_MAXINSNS (include/uapi/linux/bpf_common.h): the kernel refuses longer programs. */
const BPF_MAXINSNS = 4096;

function fail(message: string, hint?: string): never {
  throw new KapselError('ERR_SECCOMP', `seccomp profile: ${message}`, hint === undefined ? {} : { hint });
}

/** Where a rule sits in the profile, for messages: ``syscalls[3] (`mkdir`, `mkdirat`)``. */
function ruleName(i: number, rule: SeccompSyscallInput): string {
  const names = (rule.names ?? []).slice(0, 3).map((n) => `\`${n}\``).join(', ');
  return `syscalls[${i}] (${names}${(rule.names?.length ?? 0) > 3 ? ', ...' : ''})`;
}

function errnoValue(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff) fail(`${what} ${value} is not an errno (0-65535)`);
  return value;
}

/** Maps an SCMP_ACT_* name to its action value. `errnoRet` is only valid for ERRNO and TRACE. */
function actionValue(name: string, errnoRet: number | undefined, where: string): number {
  const ret = errnoRet === undefined ? EPERM : errnoValue(errnoRet, `${where}: errnoRet`);
  if (name === 'SCMP_ACT_ERRNO') return SCMP_ACT_ERRNO(ret);
  if (name === 'SCMP_ACT_TRACE') return SCMP_ACT_TRACE(ret);
  let value: number;
  switch (name) {
    case 'SCMP_ACT_KILL': case 'SCMP_ACT_KILL_THREAD': value = SCMP_ACT_KILL_THREAD; break;
    case 'SCMP_ACT_KILL_PROCESS': value = SCMP_ACT_KILL_PROCESS; break;
    case 'SCMP_ACT_TRAP': value = SCMP_ACT_TRAP; break;
    case 'SCMP_ACT_ALLOW': value = SCMP_ACT_ALLOW; break;
    case 'SCMP_ACT_LOG': value = SCMP_ACT_LOG; break;
    case 'SCMP_ACT_NOTIFY': value = SCMP_ACT_NOTIFY; break;
    default: fail(`${where}: unknown action \`${name}\``);
  }
  // runtime-spec: "When the action doesn't support an errno, the runtime MUST print an error and fail."
  if (errnoRet !== undefined) fail(`${where}: errnoRet is set but action \`${name}\` returns no errno`);
  return value;
}

function datum(value: number | bigint | undefined, what: string): bigint {
  if (value === undefined) return 0n;
  if (typeof value === 'bigint') {
    if (value < 0n || value > U64_MAX) fail(`${what} ${value} is not an unsigned 64-bit integer`);
    return value;
  }
  if (!Number.isSafeInteger(value) || value < 0) {
    fail(`${what} ${value} is not an exact unsigned integer`, 'values above 2^53 must be parsed as bigint');
  }
  return BigInt(value);
}

/** The libseccomp rules for one profile entry: each inner list is one rule of AND'ed comparisons. */
function ruleConditions(rule: SeccompSyscallInput, where: string): ArgCmp[][] {
  const args = rule.args ?? [];
  if (args.length === 0) return [[]];
  const seen = new Set<number>();
  let repeated = false;
  const cmps = args.map((a, j): ArgCmp => {
    const what = `${where}: args[${j}]`;
    if (!Number.isInteger(a.index) || a.index < 0 || a.index >= MAX_ARGS) fail(`${what}: index ${a.index} is not 0-5`);
    const op = OPS[a.op];
    if (op === undefined) fail(`${what}: unknown operator \`${a.op}\``);
    if (seen.has(a.index)) repeated = true;
    seen.add(a.index);
    return { arg: a.index, op, datumA: datum(a.value, `${what}: value`), datumB: datum(a.valueTwo, `${what}: valueTwo`) };
  });
  return repeated ? cmps.map((c) => [c]) : [cmps];
}

function archToken(name: string): number {
  const token = ARCH_BY_NAME[name];
  if (token === undefined) fail(`unknown architecture \`${name}\``);
  return token;
}

function filterFlagBits(flags: readonly string[] | undefined, needsNotify: boolean): number {
  let bits = 0;
  for (const name of flags ?? ['SECCOMP_FILTER_FLAG_SPEC_ALLOW']) {
    const bit = FLAGS[name];
    if (bit === undefined) fail(`unknown flag \`${name}\``);
    bits |= bit;
  }
  if (needsNotify) {
    bits |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
    if (bits & SECCOMP_FILTER_FLAG_TSYNC) bits |= SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
  } else {
    // WAIT_KILLABLE_RECV only changes how notifications wait; the kernel refuses it (EINVAL)
    // without NEW_LISTENER, so a profile without notify rules drops it.
    bits &= ~SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
  }
  return bits;
}

/** A profile checked and turned into numbers; nothing native is touched yet. */
interface Plan {
  readonly defaultAction: number;
  readonly archTokens: readonly number[];
  readonly rules: readonly { readonly where: string; readonly names: readonly string[]; readonly action: number; readonly conditions: ArgCmp[][] }[];
  readonly filterFlags: number;
  readonly needsNotify: boolean;
  readonly wantsEnosysStub: boolean;
}

function plan(profile: SeccompProfileInput): Plan {
  if (typeof profile.defaultAction !== 'string' || profile.defaultAction === '') fail('defaultAction is missing');
  const defaultAction = actionValue(profile.defaultAction, profile.defaultErrnoRet, 'defaultAction');
  // runc: a notify default would send every syscall, write(2) included, to the agent.
  if (defaultAction === SCMP_ACT_NOTIFY) fail('SCMP_ACT_NOTIFY cannot be the default action');
  const archTokens = [...new Set((profile.architectures ?? []).map(archToken))];
  const rules = (profile.syscalls ?? []).map((rule, i) => {
    const where = ruleName(i, rule);
    const action = actionValue(rule.action, rule.errnoRet, where);
    if ((rule.names ?? []).some((n) => n === '')) fail(`${where}: an empty string is not a syscall name`);
    return { where, names: rule.names ?? [], action, conditions: ruleConditions(rule, where) };
  });
  const needsNotify = rules.some((r) => r.action === SCMP_ACT_NOTIFY);
  if (needsNotify && !profile.listenerPath) {
    fail('SCMP_ACT_NOTIFY is used but listenerPath is not set', 'set linux.seccomp.listenerPath to the agent socket');
  }
  const permissive = ['SCMP_ACT_ALLOW', 'SCMP_ACT_LOG', 'SCMP_ACT_TRACE'].includes(profile.defaultAction);
  const wantsEnosysStub = !permissive && defaultAction !== SCMP_ACT_ERRNO(ENOSYS);
  return { defaultAction, archTokens, rules, filterFlags: filterFlagBits(profile.flags, needsNotify), needsNotify, wantsEnosysStub };
}

/** Runs one libseccomp step, turning its SyscallError into ERR_SECCOMP with the step named. */
function step<T>(what: string, run: () => T): T {
  try {
    return run();
  } catch (err) {
    throw wrapError('ERR_SECCOMP', `seccomp profile: ${what}`, err);
  }
}

/** Builds the libseccomp filter for `p`; the caller releases it. */
function buildFilter(p: Plan): SeccompFilter {
  const api = p.needsNotify ? apiLevel() : Infinity;
  if (api < 5) fail(`SCMP_ACT_NOTIFY needs libseccomp API level 5, this system has ${api}`, 'needs libseccomp >= 2.5 and Linux >= 5.0');
  const filter = step('create filter', () => SeccompFilter.create(p.defaultAction));
  try {
    // The stage decides no_new_privs and loads a single-threaded process: neither is ours to set.
    step('clear SCMP_FLTATR_CTL_NNP', () => filter.setAttr(SCMP_FLTATR_CTL_NNP, 0));
    step('clear SCMP_FLTATR_CTL_TSYNC', () => filter.setAttr(SCMP_FLTATR_CTL_TSYNC, 0));
    // Architectures first: libseccomp adds a rule only to the architectures present at the time.
    // addArch() returns false for the native arch, which seccomp_init() already added.
    for (const token of p.archTokens) step(`add architecture \`${archName(token)}\``, () => filter.addArch(token));
    let added = 0;
    for (const rule of p.rules) {
      if (rule.action === p.defaultAction) continue; // libseccomp refuses rules equal to the default
      for (const name of rule.names) {
        const nr = resolveSyscall(name);
        if (nr === NR_SCMP_ERROR) continue; // unknown to libseccomp: runc skips it too
        for (const cmps of rule.conditions) {
          step(`${rule.where}: add rule for \`${name}\``, () => filter.addRule(rule.action, nr, cmps));
        }
        added++;
      }
    }
    if (added >= BINARY_TREE_MIN_RULES) step('set SCMP_FLTATR_CTL_OPTIMIZE', () => filter.setAttr(SCMP_FLTATR_CTL_OPTIMIZE, 2));
    return filter;
  } catch (err) {
    filter.release();
    throw err;
  }
}

/** The largest syscall number the profile names, per architecture in the filter (runc findLastSyscalls). */
function stubArches(p: Plan): StubArch[] {
  const names = new Set(p.rules.flatMap((r) => r.names));
  const native = nativeArch();
  const tokens = [native, ...p.archTokens.filter((t) => t !== native)];
  const out: StubArch[] = [];
  for (const token of tokens) {
    let max = 0;
    for (const name of names) max = Math.max(max, resolveSyscallOnArch(token, name));
    if (max > 0) out.push({ token, maxSyscall: max });
  }
  return out;
}

function withFilter<T>(profile: SeccompProfileInput, use: (filter: SeccompFilter, p: Plan) => T): T {
  const p = plan(profile);
  const filter = buildFilter(p);
  try {
    return use(filter, p);
  } finally {
    filter.release();
  }
}

/** Compiles `profile` into BPF bytes and the seccomp(2) flags to load them with. */
export function compileSeccomp(profile: SeccompProfileInput): CompiledSeccomp {
  return withFilter(profile, (filter, p) => {
    const body = step('export bpf', () => filter.exportBpf());
    const stub = p.wantsEnosysStub ? assembleEnosysStub(stubArches(p)) : Buffer.alloc(0);
    const bpf = Buffer.concat([stub, body]);
    if (body.length === 0 || bpf.length % 8 !== 0) fail(`libseccomp exported ${body.length} bytes of BPF`);
    if (bpf.length / 8 > BPF_MAXINSNS) {
      fail(`the filter has ${bpf.length / 8} instructions, the kernel allows ${BPF_MAXINSNS}`, 'split or shorten the syscall list');
    }
    return { bpf, filterFlags: p.filterFlags, needsNotify: p.needsNotify };
  });
}

/** libseccomp's pseudo filter code for `profile`, preceded by comments describing the ENOSYS stub. */
export function seccompPfc(profile: SeccompProfileInput): string {
  return withFilter(profile, (filter, p) => {
    const stub = p.wantsEnosysStub ? describeEnosysStub(stubArches(p)) : '';
    return stub + step('export pfc', () => filter.exportPfc());
  });
}

// ---- the -ENOSYS stub (runc libcontainer/seccomp/patchbpf/enosys_linux.go, rewritten) ----
//
//   ld [4]                       ; seccomp_data.arch
//   jeq AUDIT_ARCH_a, arch0      ; one per architecture, native first
//   ja filter                    ; an arch we do not know: libseccomp's filter decides
// arch0:
//   ld [0]                       ; seccomp_data.nr
//   jeq 0, enosys                ; s390(x) only: nr 0 is the multiplexer for unknown syscalls
//   jset X32_SYSCALL_BIT, ...    ; x86_64 only: x86_64 and x32 share AUDIT_ARCH_X86_64
//   jgt MAX, enosys, filter
// enosys:
//   ret SCMP_ACT_ERRNO(ENOSYS)
// filter:                        ; libseccomp's program, unchanged (it starts with its own ld [4])

/** One architecture for the stub: SCMP_ARCH_* token and the largest syscall number the profile names. */
interface StubArch {
  readonly token: number;
  readonly maxSyscall: number;
}

// include/uapi/linux/bpf_common.h: class | size | mode, class | op | source
const BPF_LD_W_ABS = 0x00 | 0x00 | 0x20;
const BPF_JMP_JA = 0x05 | 0x00;
const BPF_JMP_JEQ_K = 0x05 | 0x10 | 0x00;
const BPF_JMP_JGT_K = 0x05 | 0x20 | 0x00;
const BPF_JMP_JSET_K = 0x05 | 0x40 | 0x00;
const BPF_RET_K = 0x06 | 0x00;
/** Offsets in struct seccomp_data (include/uapi/linux/seccomp.h). */
const SECCOMP_DATA_NR = 0;
const SECCOMP_DATA_ARCH = 4;
/** arch/x86/include/uapi/asm/unistd.h: x32 syscalls set this bit in nr. */
const X32_SYSCALL_BIT = 0x40000000;
/** A conditional jump skips at most 255 instructions (u8 jt/jf in struct sock_filter). */
const MAX_COND_JUMP = 255;

const ARCH_X86_64: number = SCMP_ARCH.SCMP_ARCH_X86_64;
const ARCH_X32: number = SCMP_ARCH.SCMP_ARCH_X32;
const ARCH_S390: readonly number[] = [SCMP_ARCH.SCMP_ARCH_S390, SCMP_ARCH.SCMP_ARCH_S390X];

/** Jump targets are labels; `filter` is the first instruction after the stub. */
interface Insn {
  readonly code: number;
  readonly k?: number;
  readonly jt?: string;
  readonly jf?: string;
  /** For BPF_JA: the label to jump to (k becomes the offset). */
  readonly ja?: string;
}
type Item = Insn | { readonly label: string };

function archName(token: number): string {
  return Object.keys(ARCH_BY_NAME).find((k) => ARCH_BY_NAME[k] === token) ?? `0x${token.toString(16)}`;
}

/** x32 shares the kernel's AUDIT_ARCH_X86_64; every other token is its audit arch. */
function groupByAuditArch(arches: readonly StubArch[]): Map<number, Map<number, number>> {
  const groups = new Map<number, Map<number, number>>();
  for (const a of arches) {
    const audit = a.token === ARCH_X32 ? ARCH_X86_64 : a.token;
    const group = groups.get(audit) ?? new Map<number, number>();
    group.set(a.token, a.maxSyscall);
    groups.set(audit, group);
  }
  return groups;
}

function stubSection(audit: number, maxes: ReadonlyMap<number, number>, i: number): Item[] {
  const jgt = (max: number): Insn => ({ code: BPF_JMP_JGT_K, k: max, jt: 'enosys', jf: 'filter' });
  const items: Item[] = [{ label: `arch${i}` }, { code: BPF_LD_W_ABS, k: SECCOMP_DATA_NR }];
  if (ARCH_S390.includes(audit)) items.push({ code: BPF_JMP_JEQ_K, k: 0, jt: 'enosys' });
  if (audit !== ARCH_X86_64) {
    for (const max of maxes.values()) items.push(jgt(max));
    return items;
  }
  const x86 = maxes.get(ARCH_X86_64);
  const x32 = maxes.get(ARCH_X32);
  if (x86 !== undefined && x32 !== undefined) {
    items.push({ code: BPF_JMP_JSET_K, k: X32_SYSCALL_BIT, jt: `x32_${i}` }, jgt(x86), { label: `x32_${i}` }, jgt(x32));
  } else if (x86 !== undefined) {
    items.push({ code: BPF_JMP_JSET_K, k: X32_SYSCALL_BIT, jt: 'filter' }, jgt(x86));
  } else if (x32 !== undefined) {
    items.push({ code: BPF_JMP_JSET_K, k: X32_SYSCALL_BIT, jf: 'filter' }, jgt(x32));
  }
  return items;
}

/** The stub's BPF bytes, to prepend to libseccomp's program; empty when there is nothing to check. */
function assembleEnosysStub(arches: readonly StubArch[]): Buffer {
  const sections = [...groupByAuditArch(arches)];
  if (sections.length === 0) return Buffer.alloc(0);
  const items: Item[] = [{ code: BPF_LD_W_ABS, k: SECCOMP_DATA_ARCH }];
  sections.forEach(([audit], i) => items.push({ code: BPF_JMP_JEQ_K, k: audit, jt: `arch${i}` }));
  items.push({ code: BPF_JMP_JA, ja: 'filter' });
  sections.forEach(([audit, maxes], i) => items.push(...stubSection(audit, maxes, i)));
  items.push({ label: 'enosys' }, { code: BPF_RET_K, k: SCMP_ACT_ERRNO(ENOSYS) });
  return assemble(items);
}

/** Resolves labels to forward offsets and encodes struct sock_filter { u16 code; u8 jt, jf; u32 k }. */
function assemble(items: readonly Item[]): Buffer {
  const labels = new Map<string, number>();
  const insns: Insn[] = [];
  for (const item of items) {
    if ('label' in item) labels.set(item.label, insns.length);
    else insns.push(item);
  }
  labels.set('filter', insns.length);
  const le = os.endianness() === 'LE';
  const out = Buffer.alloc(insns.length * 8);
  insns.forEach((insn, pc) => {
    const offset = (label: string | undefined): number => {
      if (label === undefined) return 0;
      const to = labels.get(label);
      if (to === undefined || to <= pc) throw new Error(`seccomp stub: bad jump to ${label}`);
      return to - pc - 1;
    };
    const jt = offset(insn.jt);
    const jf = offset(insn.jf);
    // The stub is at most ~130 instructions, so conditional jumps always fit.
    if (jt > MAX_COND_JUMP || jf > MAX_COND_JUMP) throw new Error('seccomp stub: conditional jump too long');
    const k = insn.ja !== undefined ? offset(insn.ja) : (insn.k ?? 0);
    const at = pc * 8;
    if (le) out.writeUInt16LE(insn.code, at);
    else out.writeUInt16BE(insn.code, at);
    out.writeUInt8(jt, at + 2);
    out.writeUInt8(jf, at + 3);
    if (le) out.writeUInt32LE(k >>> 0, at + 4);
    else out.writeUInt32BE(k >>> 0, at + 4);
  });
  return out;
}

/** PFC-style comments describing the stub, for --debug. */
function describeEnosysStub(arches: readonly StubArch[]): string {
  if (arches.length === 0) return '';
  const lines = arches.map((a) => `#   ${archName(a.token)}: syscall > ${a.maxSyscall} -> ERRNO(${ENOSYS})`);
  return `# kapsel: -ENOSYS stub, checked before the filter below\n${lines.join('\n')}\n`;
}
