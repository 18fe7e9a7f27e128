/**
 * Test support: a CgroupFs over a fake cgroup root in a tmpdir that records every effect in
 * order, can play the kernel on mkdir (populate interface files) and can fail chosen writes
 * with an errno, to exercise the EINVAL/EBUSY paths. Used by unit tests only.
 */

import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { nodeCgroupFs, type CgroupFs } from './cgroup-fs.js';

export interface RecordedOp {
  readonly op: 'mkdir' | 'rmdir' | 'write' | 'openDirectory';
  /** Relative to the fake root. */
  readonly path: string;
  readonly value?: string;
}

export interface RecordingOptions {
  /** Called after a successful mkdir, with the relative path: create the files the kernel would. */
  readonly onMkdir?: (relPath: string) => Record<string, string> | undefined;
  /** Returns an errno name (`EINVAL`) to fail this write with, before it happens. */
  readonly failWrite?: (relPath: string, value: string) => string | undefined;
}

function errnoError(code: string, syscall: string, path: string): Error {
  return Object.assign(new Error(`${code}: ${syscall} '${path}'`), { code, syscall, path });
}

export class RecordingCgroupFs implements CgroupFs {
  readonly ops: RecordedOp[] = [];
  private nextFd = 1000;

  constructor(
    readonly root: string,
    private readonly options: RecordingOptions = {},
  ) {}

  private rel(path: string): string {
    return relative(this.root, path);
  }

  mkdir(path: string): boolean {
    const created = nodeCgroupFs.mkdir(path);
    if (created) {
      this.ops.push({ op: 'mkdir', path: this.rel(path) });
      const files = this.options.onMkdir?.(this.rel(path)) ?? {};
      for (const [name, content] of Object.entries(files)) fs.writeFileSync(join(path, name), content);
    }
    return created;
  }

  rmdir(path: string): void {
    // Plays the kernel: a cgroup directory holds only interface files, removed with it.
    for (const e of fs.readdirSync(path, { withFileTypes: true })) {
      if (e.isDirectory()) throw errnoError('EBUSY', 'rmdir', path);
    }
    fs.rmSync(path, { recursive: true });
    this.ops.push({ op: 'rmdir', path: this.rel(path) });
  }

  exists(path: string): boolean {
    return nodeCgroupFs.exists(path);
  }

  read(path: string): string | undefined {
    return nodeCgroupFs.read(path);
  }

  write(path: string, value: string): void {
    const failure = this.options.failWrite?.(this.rel(path), value);
    if (failure !== undefined) throw errnoError(failure, 'write', path);
    nodeCgroupFs.write(path, value);
    // Files keep the last value written, like most cgroup files read back.
    fs.truncateSync(path, Buffer.byteLength(value));
    this.ops.push({ op: 'write', path: this.rel(path), value });
  }

  list(path: string) {
    return nodeCgroupFs.list(path);
  }

  openDirectory(path: string): number {
    this.ops.push({ op: 'openDirectory', path: this.rel(path) });
    return this.nextFd++;
  }

  close(): void {}

  /** `path=value` for every write, in order. */
  writes(): string[] {
    return this.ops.filter((o) => o.op === 'write').map((o) => `${o.path}=${o.value ?? ''}`);
  }
}

/** Creates a tmpdir and the given files (relative paths → contents); returns the root. */
export function makeFakeCgroupRoot(files: Record<string, string>): string {
  const root = fs.mkdtempSync(join(tmpdir(), 'kapsel-cgroup-fake-'));
  for (const [path, content] of Object.entries(files)) {
    fs.mkdirSync(dirname(join(root, path)), { recursive: true });
    fs.writeFileSync(join(root, path), content);
  }
  return root;
}

export function removeFakeCgroupRoot(root: string): void {
  fs.rmSync(root, { recursive: true, force: true });
}
