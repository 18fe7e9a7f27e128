/**
 * The filesystem a cgroup manager touches, as an injectable interface.
 *
 * cgroupfs (cgroups(7)) is driven by mkdir(2), rmdir(2) and one write(2) per value. The node
 * implementation opens files O_WRONLY without O_CREAT: kernfs refuses a read-mode open of a
 * write-only file (devices.allow), and a missing file must fail (ENOENT), not be created.
 * Errors are node's, carrying `code` ('EINVAL'); cgroup-dir.ts turns them into KapselErrors.
 */

import * as fs from 'node:fs';

export interface CgroupDirEntry {
  readonly name: string;
  readonly isDirectory: boolean;
}

export interface CgroupFs {
  /** mkdir(2) with mode 0755; false when the directory already existed. */
  mkdir(path: string): boolean;
  rmdir(path: string): void;
  exists(path: string): boolean;
  /** The file's text, or undefined when it does not exist (ENOENT). */
  read(path: string): string | undefined;
  /** One write(2) of `value` to an existing file. */
  write(path: string, value: string): void;
  /** Directory entries; [] when the directory does not exist. */
  list(path: string): CgroupDirEntry[];
  /** open(2) of a directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC (to attach a BPF program). */
  openDirectory(path: string): number;
  close(fd: number): void;
}

function isCode(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

export const nodeCgroupFs: CgroupFs = {
  mkdir(path) {
    try {
      fs.mkdirSync(path, { mode: 0o755 });
      return true;
    } catch (err) {
      if (isCode(err, 'EEXIST')) return false;
      throw err;
    }
  },
  rmdir(path) {
    fs.rmdirSync(path);
  },
  exists(path) {
    return fs.existsSync(path);
  },
  read(path) {
    try {
      return fs.readFileSync(path, 'utf8');
    } catch (err) {
      if (isCode(err, 'ENOENT')) return undefined;
      throw err;
    }
  },
  write(path, value) {
    const fd = fs.openSync(path, fs.constants.O_WRONLY);
    try {
      fs.writeSync(fd, value);
    } finally {
      fs.closeSync(fd);
    }
  },
  list(path) {
    try {
      return fs.readdirSync(path, { withFileTypes: true }).map((d) => ({ name: d.name, isDirectory: d.isDirectory() }));
    } catch (err) {
      if (isCode(err, 'ENOENT')) return [];
      throw err;
    }
  },
  openDirectory(path) {
    // O_CLOEXEC is node's default for every fd it opens.
    return fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  },
  close(fd) {
    fs.closeSync(fd);
  },
};

/** The errno name (`EBUSY`) of a node error, or of a KapselError's cause chain. */
export function errnoCode(err: unknown): string | undefined {
  let cur: unknown = err;
  for (let depth = 0; depth < 4 && typeof cur === 'object' && cur !== null; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)) return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/** Blocks the thread for `ms` (short kernel-state retries inside synchronous operations). */
export function sleepSyncMs(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms);
}

export function sleepMs(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
