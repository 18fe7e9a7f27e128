/**
 * bpf(2) for cgroup v2 device control: load a BPF_PROG_TYPE_CGROUP_DEVICE program and attach it
 * to a cgroup directory with BPF_CGROUP_DEVICE (bpf(2); include/uapi/linux/bpf.h;
 * Documentation/admin-guide/cgroup-v2.rst "Device controller").
 *
 * Replacing: programs are attached with BPF_F_ALLOW_MULTI, so a new one never fails because an
 * old one is there. When exactly one program was attached before, the attach replaces it
 * atomically (BPF_F_REPLACE, 5.6+); otherwise the new program is attached first and every old
 * one detached after, so the cgroup is never without a filter (for that moment the strictest
 * filter wins). This is what runc's devices/ebpf does. Only programs attached directly to the
 * given cgroup are touched (the query is not BPF_F_QUERY_EFFECTIVE).
 *
 * The kernel keeps the program alive while it is attached: every fd opened here is closed
 * before returning. Since 5.11 BPF memory is charged to the memory cgroup, not RLIMIT_MEMLOCK.
 * x86_64 only (syscall number and union bpf_attr offsets).
 */
import { closeSync } from 'node:fs';
import { koffi, type Koffi } from './ffi.js';
import { SyscallError } from './syscall-error.js';

/** arch/x86/entry/syscalls/syscall_64.tbl */
const SYS_bpf = 321;

// enum bpf_cmd
const BPF_PROG_LOAD = 5;
const BPF_PROG_ATTACH = 8;
const BPF_PROG_DETACH = 9;
const BPF_PROG_GET_FD_BY_ID = 13;
const BPF_PROG_QUERY = 16;

/** enum bpf_prog_type */
export const BPF_PROG_TYPE_CGROUP_DEVICE = 15;
/** enum bpf_attach_type */
export const BPF_CGROUP_DEVICE = 6;
export const BPF_F_ALLOW_MULTI = 1 << 1;
export const BPF_F_REPLACE = 1 << 2;

/** One instruction is 8 bytes (struct bpf_insn). */
const INSN_BYTES = 8;
/** Larger than every union bpf_attr member we fill; the kernel checks the tail is zero. */
const ATTR_BYTES = 128;
/** How many attached program ids a query returns at most; a container cgroup has one. */
const QUERY_MAX_PROGRAMS = 64;
const VERIFIER_LOG_BYTES = 64 * 1024;
const EINVAL = 22;

let bpfSyscall: ReturnType<ReturnType<Koffi['load']>['func']> | undefined;

function bpfCall(nr: number, cmd: number, attr: Buffer, size: number): number | bigint {
  bpfSyscall ??= koffi().load('libc.so.6').func('long syscall(long nr, int cmd, void *attr, unsigned int size)');
  return bpfSyscall(nr, cmd, attr, size) as number | bigint;
}

function bpf(cmd: number, attr: Buffer, what: string): number {
  // FFI: `attr` (ATTR_BYTES, owned by the caller) is read and written during the call only;
  // pointers inside it refer to Buffers the caller keeps referenced until we return.
  const ret = Number(bpfCall(SYS_bpf, cmd, attr, attr.length));
  if (ret < 0) throw new SyscallError('bpf', koffi().errno(), what);
  return ret;
}

function address(buf: Buffer): bigint {
  return koffi().address(buf);
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}

/** The first lines of a verifier log (a NUL-terminated string). */
function verifierLog(log: Buffer): string {
  const end = log.indexOf(0);
  const text = log.subarray(0, end < 0 ? log.length : end).toString('utf8').trim();
  return text.split('\n').slice(-8).join(' | ');
}

/**
 * BPF_PROG_LOAD of a cgroup device program; returns its fd. On a verifier rejection the load is
 * repeated with a log, whose last lines end the error message.
 */
export function loadCgroupDeviceProgram(insns: Buffer, license: string): number {
  if (insns.length === 0 || insns.length % INSN_BYTES !== 0) {
    throw new SyscallError('bpf', EINVAL, `load device program: ${insns.length} bytes is not a whole number of instructions`);
  }
  const licenseBuf = Buffer.from(`${license}\0`, 'utf8');
  const name = Buffer.from('kapsel_devices\0', 'ascii');
  const attrFor = (log: Buffer | undefined): Buffer => {
    const attr = Buffer.alloc(ATTR_BYTES);
    attr.writeUInt32LE(BPF_PROG_TYPE_CGROUP_DEVICE, 0); // prog_type
    attr.writeUInt32LE(insns.length / INSN_BYTES, 4); // insn_cnt
    attr.writeBigUInt64LE(address(insns), 8); // insns
    attr.writeBigUInt64LE(address(licenseBuf), 16); // license
    if (log !== undefined) {
      attr.writeUInt32LE(1, 24); // log_level
      attr.writeUInt32LE(log.length, 28); // log_size
      attr.writeBigUInt64LE(address(log), 32); // log_buf
    }
    name.copy(attr, 48); // prog_name[16]
    return attr;
  };
  const what = `load cgroup device program (${insns.length / INSN_BYTES} instructions)`;
  try {
    return bpf(BPF_PROG_LOAD, attrFor(undefined), what);
  } catch (err) {
    if (!(err instanceof SyscallError) || (err.code !== 'EINVAL' && err.code !== 'EACCES')) throw err;
    const log = Buffer.alloc(VERIFIER_LOG_BYTES);
    try {
      return bpf(BPF_PROG_LOAD, attrFor(log), what);
    } catch (again) {
      if (!(again instanceof SyscallError)) throw again;
      throw new SyscallError('bpf', again.errno, `${what}, verifier: ${verifierLog(log)}`);
    }
  }
}

/** Ids of the device programs attached directly to the cgroup open at `cgroupFd`. */
export function queryCgroupDevicePrograms(cgroupFd: number): number[] {
  const ids = Buffer.alloc(QUERY_MAX_PROGRAMS * 4);
  const attr = Buffer.alloc(ATTR_BYTES);
  attr.writeUInt32LE(cgroupFd, 0); // target_fd
  attr.writeUInt32LE(BPF_CGROUP_DEVICE, 4); // attach_type
  attr.writeBigUInt64LE(address(ids), 16); // prog_ids
  attr.writeUInt32LE(QUERY_MAX_PROGRAMS, 24); // prog_cnt (in: capacity, out: count)
  bpf(BPF_PROG_QUERY, attr, 'query cgroup device programs');
  const count = Math.min(attr.readUInt32LE(24), QUERY_MAX_PROGRAMS);
  return Array.from({ length: count }, (_, i) => ids.readUInt32LE(i * 4));
}

function programFdById(id: number): number {
  const attr = Buffer.alloc(ATTR_BYTES);
  attr.writeUInt32LE(id, 0); // prog_id
  return bpf(BPF_PROG_GET_FD_BY_ID, attr, `open bpf program ${id}`);
}

function attach(cgroupFd: number, progFd: number, flags: number, replaceFd: number): void {
  const attr = Buffer.alloc(ATTR_BYTES);
  attr.writeUInt32LE(cgroupFd, 0); // target_fd
  attr.writeUInt32LE(progFd, 4); // attach_bpf_fd
  attr.writeUInt32LE(BPF_CGROUP_DEVICE, 8); // attach_type
  attr.writeUInt32LE(flags, 12); // attach_flags
  attr.writeUInt32LE(replaceFd, 16); // replace_bpf_fd
  bpf(BPF_PROG_ATTACH, attr, 'attach cgroup device program');
}

function detach(cgroupFd: number, progFd: number, id: number): void {
  const attr = Buffer.alloc(ATTR_BYTES);
  attr.writeUInt32LE(cgroupFd, 0); // target_fd
  attr.writeUInt32LE(progFd, 4); // attach_bpf_fd
  attr.writeUInt32LE(BPF_CGROUP_DEVICE, 8); // attach_type
  bpf(BPF_PROG_DETACH, attr, `detach cgroup device program ${id}`);
}

/**
 * Loads `insns` (struct bpf_insn array) as a cgroup device program and makes it the only one
 * attached to the cgroup open at `cgroupDirFd` (see the module header for the replacement).
 * The signature of cgroups' DeviceProgramLoader once `license` is bound.
 */
export function attachCgroupDeviceProgram(cgroupDirFd: number, insns: Buffer, license: string): void {
  const oldIds = queryCgroupDevicePrograms(cgroupDirFd);
  const progFd = loadCgroupDeviceProgram(insns, license);
  const oldFds: { id: number; fd: number }[] = [];
  try {
    for (const id of oldIds) oldFds.push({ id, fd: programFdById(id) });
    const only = oldFds.length === 1 ? oldFds[0] : undefined;
    if (only !== undefined) {
      try {
        attach(cgroupDirFd, progFd, BPF_F_ALLOW_MULTI | BPF_F_REPLACE, only.fd);
        return;
      } catch (err) {
        // Kernels before 5.6 lack BPF_F_REPLACE: attach, then detach below.
        if (!(err instanceof SyscallError) || err.code !== 'EINVAL') throw err;
      }
    }
    attach(cgroupDirFd, progFd, BPF_F_ALLOW_MULTI, 0);
    for (const old of oldFds) detach(cgroupDirFd, old.fd, old.id);
  } finally {
    closeQuietly(progFd);
    for (const old of oldFds) closeQuietly(old.fd);
  }
}
