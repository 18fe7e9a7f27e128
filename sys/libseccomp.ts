/**
 * libseccomp 2.5 through koffi: build a seccomp filter in memory and export it as classic BPF or
 * as pseudo filter code (PFC) text. We never call seccomp_load(): the native stage loads the bytes.
 * seccomp_init(3), seccomp_arch_add(3), seccomp_attr_set(3), seccomp_rule_add(3),
 * seccomp_syscall_resolve_name(3), seccomp_export_bpf(3); constants from /usr/include/seccomp.h.
 *
 * The shared libraries are opened on the first call, not on import: most kapsel commands never
 * compile a filter. libseccomp functions return a negative errno on failure; those become
 * SyscallError with the function's name as the syscall.
 */
import fs from 'node:fs';
import os from 'node:os';
import { koffi } from './ffi.js';
import { SyscallError } from './syscall-error.js';

// enum scmp_filter_attr
export const SCMP_FLTATR_CTL_NNP = 3;
export const SCMP_FLTATR_CTL_TSYNC = 4;
export const SCMP_FLTATR_CTL_OPTIMIZE = 8;

// enum scmp_compare
export const SCMP_CMP_NE = 1;
export const SCMP_CMP_LT = 2;
export const SCMP_CMP_LE = 3;
export const SCMP_CMP_EQ = 4;
export const SCMP_CMP_GE = 5;
export const SCMP_CMP_GT = 6;
export const SCMP_CMP_MASKED_EQ = 7;

// seccomp actions (the kernel's SECCOMP_RET_* values; ERRNO and TRACE carry 16 data bits)
export const SCMP_ACT_KILL_PROCESS = 0x80000000;
export const SCMP_ACT_KILL_THREAD = 0x00000000;
export const SCMP_ACT_TRAP = 0x00030000;
export const SCMP_ACT_NOTIFY = 0x7fc00000;
export const SCMP_ACT_LOG = 0x7ffc0000;
export const SCMP_ACT_ALLOW = 0x7fff0000;
export function SCMP_ACT_ERRNO(errno: number): number {
  return (0x00050000 | (errno & 0xffff)) >>> 0;
}
export function SCMP_ACT_TRACE(msgNum: number): number {
  return (0x7ff00000 | (msgNum & 0xffff)) >>> 0;
}

/** seccomp_syscall_resolve_name() result for a name libseccomp does not know. */
export const NR_SCMP_ERROR = -1;

const EEXIST = 17;
// include/uapi/linux/memfd.h
const MFD_CLOEXEC = 0x1;
/** sizeof(struct scmp_arg_cmp): u32 arg, u32 op, u64 datum_a, u64 datum_b (no padding needed). */
const ARG_CMP_SIZE = 24;

/** One argument comparison, as struct scmp_arg_cmp. For MASKED_EQ, datumA is the mask. */
export interface ArgCmp {
  readonly arg: number;
  readonly op: number;
  readonly datumA: bigint;
  readonly datumB: bigint;
}

type Ctx = bigint;

interface Bindings {
  init(defAction: number): Ctx | null;
  release(ctx: Ctx): void;
  archAdd(ctx: Ctx, token: number): number;
  archNative(): number;
  archResolveName(name: string): number;
  attrSet(ctx: Ctx, attr: number, value: number): number;
  resolveName(name: string): number;
  resolveNameArch(token: number, name: string): number;
  ruleAddArray(ctx: Ctx, action: number, nr: number, count: number, cmps: Buffer | null): number;
  exportBpf(ctx: Ctx, fd: number): number;
  exportPfc(ctx: Ctx, fd: number): number;
  apiGet(): number;
  memfdCreate(name: string, flags: number): number;
}

let bindings: Bindings | undefined;

function lib(): Bindings {
  if (bindings !== undefined) return bindings;
  const scmp = koffi().load('libseccomp.so.2');
  const libc = koffi().load('libc.so.6');
  // FFI: scmp_filter_ctx is `void *`; koffi hands it back as a bigint address (null for NULL).
  // Strings (syscall and arch names, the memfd name) are copied into temporary C strings that
  // live for the call only; libseccomp and memfd_create keep no pointer to them.
  bindings = {
    init: scmp.func('void *seccomp_init(uint32_t def_action)'),
    release: scmp.func('void seccomp_release(void *ctx)'),
    archAdd: scmp.func('int seccomp_arch_add(void *ctx, uint32_t arch_token)'),
    archNative: scmp.func('uint32_t seccomp_arch_native(void)'),
    archResolveName: scmp.func('uint32_t seccomp_arch_resolve_name(const char *arch_name)'),
    attrSet: scmp.func('int seccomp_attr_set(void *ctx, int attr, uint32_t value)'),
    resolveName: scmp.func('int seccomp_syscall_resolve_name(const char *name)'),
    resolveNameArch: scmp.func('int seccomp_syscall_resolve_name_arch(uint32_t arch_token, const char *name)'),
    ruleAddArray: scmp.func(
      'int seccomp_rule_add_array(void *ctx, uint32_t action, int syscall, unsigned int arg_cnt, const void *arg_array)',
    ),
    exportBpf: scmp.func('int seccomp_export_bpf(void *ctx, int fd)'),
    exportPfc: scmp.func('int seccomp_export_pfc(void *ctx, int fd)'),
    apiGet: scmp.func('unsigned int seccomp_api_get(void)'),
    memfdCreate: libc.func('int memfd_create(const char *name, unsigned int flags)'),
  };
  return bindings;
}

function check(ret: number, fn: string, what?: string): number {
  if (ret < 0) throw new SyscallError(fn, -ret, what);
  return ret;
}

/** The syscall number on the native arch; may be a negative pseudo number; NR_SCMP_ERROR if unknown. */
export function resolveSyscall(name: string): number {
  return lib().resolveName(name);
}

/** The syscall number on arch `token` (SCMP_ARCH_*), without rewriting; NR_SCMP_ERROR if unknown. */
export function resolveSyscallOnArch(token: number, name: string): number {
  return lib().resolveNameArch(token, name);
}

/** seccomp_arch_native(): the SCMP_ARCH_* token of the running process. */
export function nativeArch(): number {
  return lib().archNative();
}

/** seccomp_arch_resolve_name(): the SCMP_ARCH_* token for `x86_64`, `aarch64`, ...; 0 if unknown. */
export function resolveArchName(name: string): number {
  return lib().archResolveName(name);
}

/** seccomp_api_get(): 5 and up support SCMP_ACT_NOTIFY, 6 also TSYNC with notify. */
export function apiLevel(): number {
  return lib().apiGet();
}

/** Encodes struct scmp_arg_cmp[] in host byte order. */
function encodeArgCmps(cmps: readonly ArgCmp[]): Buffer {
  const le = os.endianness() === 'LE';
  const buf = Buffer.alloc(ARG_CMP_SIZE * cmps.length);
  cmps.forEach((c, i) => {
    const off = i * ARG_CMP_SIZE;
    if (le) {
      buf.writeUInt32LE(c.arg, off);
      buf.writeUInt32LE(c.op, off + 4);
      buf.writeBigUInt64LE(c.datumA, off + 8);
      buf.writeBigUInt64LE(c.datumB, off + 16);
    } else {
      buf.writeUInt32BE(c.arg, off);
      buf.writeUInt32BE(c.op, off + 4);
      buf.writeBigUInt64BE(c.datumA, off + 8);
      buf.writeBigUInt64BE(c.datumB, off + 16);
    }
  });
  return buf;
}

/**
 * A libseccomp filter context. Owns native memory: call release() (in `finally`).
 */
export class SeccompFilter {
  // FFI: the scmp_filter_ctx address, owned by this object from seccomp_init() until
  // seccomp_release(); never handed out, and null once released so it cannot be used again.
  #ctx: Ctx | null;

  private constructor(ctx: Ctx) {
    this.#ctx = ctx;
  }

  /** seccomp_init(3); the native architecture is already in the filter. */
  static create(defaultAction: number): SeccompFilter {
    const ctx = lib().init(defaultAction);
    // seccomp_init returns NULL without errno for an invalid action or ENOMEM.
    if (ctx === null || ctx === 0n) throw new SyscallError('seccomp_init', 22, `seccomp_init 0x${defaultAction.toString(16)}`);
    return new SeccompFilter(ctx);
  }

  get #live(): Ctx {
    if (this.#ctx === null) throw new Error('seccomp filter used after release');
    return this.#ctx;
  }

  /** seccomp_arch_add(3); returns false when the arch was already present. */
  addArch(token: number): boolean {
    const ret = lib().archAdd(this.#live, token);
    if (ret === -EEXIST) return false;
    check(ret, 'seccomp_arch_add', `seccomp_arch_add 0x${token.toString(16)}`);
    return true;
  }

  setAttr(attr: number, value: number): void {
    check(lib().attrSet(this.#live, attr, value), 'seccomp_attr_set', `seccomp_attr_set ${attr}=${value}`);
  }

  /** seccomp_rule_add_array(3): the comparisons are AND'ed. */
  addRule(action: number, nr: number, cmps: readonly ArgCmp[]): void {
    // FFI: the scmp_arg_cmp array is 24 bytes per entry, owned by this frame; libseccomp copies
    // it during the call and keeps no pointer to it.
    const array = cmps.length > 0 ? encodeArgCmps(cmps) : null;
    check(lib().ruleAddArray(this.#live, action, nr, cmps.length, array), 'seccomp_rule_add_array');
  }

  /** seccomp_export_bpf(3): struct sock_filter[] in host byte order, 8 bytes per instruction. */
  exportBpf(): Buffer {
    return this.#export((ctx, fd) => lib().exportBpf(ctx, fd), 'seccomp_export_bpf');
  }

  /** seccomp_export_pfc(3): human-readable pseudo filter code. */
  exportPfc(): string {
    return this.#export((ctx, fd) => lib().exportPfc(ctx, fd), 'seccomp_export_pfc').toString('utf8');
  }

  /**
   * libseccomp writes to an fd. A memfd has no capacity limit: libseccomp writes synchronously,
   * so a pipe would block once the program outgrew its buffer. We read it back with pread.
   */
  #export(write: (ctx: Ctx, fd: number) => number, fn: string): Buffer {
    const ctx = this.#live;
    const fd = lib().memfdCreate('kapsel-seccomp', MFD_CLOEXEC);
    if (fd < 0) throw new SyscallError('memfd_create', koffi().errno(), 'memfd_create `kapsel-seccomp`');
    try {
      check(write(ctx, fd), fn);
      const size = fs.fstatSync(fd).size;
      const out = Buffer.alloc(size);
      let done = 0;
      while (done < size) {
        const n = fs.readSync(fd, out, done, size - done, done);
        if (n === 0) break;
        done += n;
      }
      return out.subarray(0, done);
    } finally {
      fs.closeSync(fd);
    }
  }

  /** seccomp_release(3). Safe to call twice. */
  release(): void {
    if (this.#ctx === null) return;
    lib().release(this.#ctx);
    this.#ctx = null;
  }
}
