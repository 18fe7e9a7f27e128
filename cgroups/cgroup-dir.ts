/**
 * One cgroup directory and the executor for plans (cgroup-plan.ts).
 *
 * Every failure becomes a KapselError whose message names the operation, the value and the
 * file (``write `100` to `/sys/fs/cgroup/pids/x/pids.max`: EINVAL (invalid argument)``) and
 * whose cause is a SyscallError, so the errno is never dropped.
 */

import { join } from 'node:path';
import { KapselError } from '../common/errors.js';
import { errnoDescription, errnoNumber } from '../sys/errno.js';
import { SyscallError } from '../sys/syscall-error.js';
import { errnoCode, sleepSyncMs, type CgroupDirEntry, type CgroupFs } from './cgroup-fs.js';
import type { CgroupStep, CgroupWrite } from './cgroup-plan.js';

/** Wraps a node fs error as KapselError(code) with a SyscallError cause. */
export function cgroupFsError(code: string, syscall: string, what: string, path: string, err: unknown): KapselError {
  const name = errnoCode(err);
  const errno = name === undefined ? undefined : errnoNumber(name);
  if (errno === undefined) {
    const detail = err instanceof Error ? err.message : String(err);
    return new KapselError(code, `${what}: ${detail}`, { cause: err });
  }
  const cause = new SyscallError(syscall, errno, what, path);
  return new KapselError(code, `${what}: ${errnoDescription(errno)}`, { cause });
}

export class CgroupDir {
  constructor(
    readonly path: string,
    private readonly fs: CgroupFs,
  ) {}

  file(name: string): string {
    return join(this.path, name);
  }

  has(name: string): boolean {
    return this.fs.exists(this.file(name));
  }

  /** Reads a file; throws ERR_CGROUP_READ when it is absent or unreadable. */
  read(name: string): string {
    const text = this.readIfExists(name);
    if (text === undefined) {
      throw new KapselError('ERR_CGROUP_READ', `read \`${this.file(name)}\`: ENOENT (no such file or directory)`);
    }
    return text;
  }

  readIfExists(name: string): string | undefined {
    const path = this.file(name);
    try {
      return this.fs.read(path);
    } catch (err) {
      throw cgroupFsError('ERR_CGROUP_READ', 'read', `read \`${path}\``, path, err);
    }
  }

  /** A reader bound to this directory (for the stats parsers). */
  reader(): (name: string) => string | undefined {
    return (name) => this.readIfExists(name);
  }

  list(): CgroupDirEntry[] {
    return this.fs.list(this.path);
  }

  write(name: string, value: string): void {
    const path = this.file(name);
    try {
      this.fs.write(path, value);
    } catch (err) {
      throw cgroupFsError('ERR_CGROUP_WRITE', 'write', `write \`${value}\` to \`${path}\``, path, err);
    }
  }

  /** Walks a plan in order; the first failing step throws. */
  run(steps: readonly CgroupStep[]): void {
    for (const step of steps) {
      if (step.op === 'write') this.runWrite(step);
      else if (step.op === 'write-pair') this.runPair(step.first, step.second);
      else this.runFirstExisting(step.choices);
    }
  }

  /** Writes a pid to cgroup.procs, retrying EINVAL (a task still in TASK_NEW, as runc does). */
  writePid(pid: number): void {
    for (let attempt = 0; ; attempt++) {
      try {
        this.write('cgroup.procs', String(pid));
        return;
      } catch (err) {
        if (errnoCode(err) !== 'EINVAL' || attempt >= 4) throw err;
        sleepSyncMs(30);
      }
    }
  }

  private runWrite(step: CgroupWrite): void {
    if (step.ifExists === true && !this.has(step.file)) return;
    this.write(step.file, step.value);
  }

  private runPair(first: CgroupWrite, second: CgroupWrite): void {
    try {
      this.runWrite(first);
    } catch (err) {
      if (errnoCode(err) !== 'EINVAL') throw err;
      this.runWrite(second);
      this.runWrite(first);
      return;
    }
    this.runWrite(second);
  }

  private runFirstExisting(choices: readonly CgroupWrite[]): void {
    const choice = choices.find((c) => this.has(c.file));
    if (choice === undefined) {
      const names = choices.map((c) => `\`${c.file}\``).join(' or ');
      throw new KapselError('ERR_CGROUP_CONTROLLER_MISSING', `write to ${names} in \`${this.path}\`: no such file`, {
        hint: 'the kernel lacks this feature (for weights: an I/O scheduler with cgroup support, e.g. bfq)',
      });
    }
    this.write(choice.file, choice.value);
  }
}
