/**
 * A cgroup plan: the file writes that apply resources to one cgroup directory, as plain data.
 *
 * Controller modules (v1/*.ts, v2/*.ts) turn LinuxResources into steps without touching the
 * filesystem; CgroupDir.run (cgroup-dir.ts) walks them. Each step is one effect, except
 * `write-pair`, which encodes the kernel's ordering rules (runc fs/memory.go, fs/cpu.go).
 */

import { KapselError } from '../common/errors.js';

/** Writes `value` to `file` (one write(2)). `ifExists` skips the step when the file is absent. */
export interface CgroupWrite {
  readonly op: 'write';
  readonly file: string;
  readonly value: string;
  readonly ifExists?: boolean;
}

/**
 * Two writes whose valid order depends on the current values (memory vs memsw, cfs period vs
 * quota): write `first` then `second`; if `first` fails with EINVAL, write `second` then `first`.
 */
export interface CgroupWritePair {
  readonly op: 'write-pair';
  readonly first: CgroupWrite;
  readonly second: CgroupWrite;
}

/** Writes the first choice whose file exists (blkio.weight vs blkio.bfq.weight); else fails. */
export interface CgroupWriteFirstExisting {
  readonly op: 'write-first-existing';
  readonly choices: readonly CgroupWrite[];
}

export type CgroupStep = CgroupWrite | CgroupWritePair | CgroupWriteFirstExisting;

export function write(file: string, value: string | number, ifExists = false): CgroupWrite {
  const step: CgroupWrite = { op: 'write', file, value: String(value) };
  return ifExists ? { ...step, ifExists: true } : step;
}

export function writePair(first: CgroupWrite, second: CgroupWrite): CgroupWritePair {
  return { op: 'write-pair', first, second };
}

export function writeFirstExisting(...choices: CgroupWrite[]): CgroupWriteFirstExisting {
  return { op: 'write-first-existing', choices };
}

/** A bad value in LinuxResources: raised while planning, before any write. */
export function invalidResource(message: string, hint?: string): KapselError {
  return new KapselError('ERR_CGROUP_RESOURCES', message, hint === undefined ? {} : { hint });
}

/** Checks an integer field; returns it unchanged. */
export function checkInt(name: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw invalidResource(`invalid ${name} ${value}: want an integer in ${min}..${max}`);
  }
  return value;
}

const CPU_LIST = /^\d+(-\d+)?(,\d+(-\d+)?)*$/;

/** Checks a cpuset list (`0-3,6`), the syntax of cpuset.cpus and cpuset.mems. */
export function checkCpuList(name: string, value: string): string {
  if (!CPU_LIST.test(value)) throw invalidResource(`invalid ${name} \`${value}\`: want a list like \`0-3,6\``);
  return value;
}
