/**
 * Container state under `--root` (runc keeps the same shape: one directory per container).
 *
 *   <root>/<id>/            created with mkdir(2): the create that makes it owns the id, so two
 *                           concurrent creates of one id cannot both win
 *   <root>/<id>/state.json  written atomically (temp file + rename)
 *   <root>/<id>/exec.fifo   exists from create until start (runtime-spec "created" state)
 *
 * Operations on one container hold flock(LOCK_EX) on its directory.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync, readdirSync, existsSync, openSync, closeSync, constants } from 'node:fs';
import { join } from 'node:path';
import { KapselError, NotFoundError } from '../common/errors.js';
import type { Spec } from '../oci/runtime-spec.js';
import type { Syscalls } from '../sys/syscalls.js';
import { LOCK_EX, LOCK_UN } from '../sys/syscalls.js';

export const DEFAULT_ROOT = '/run/kapsel-runtime';

/** What kapsel-runtime remembers about a container between invocations. */
export interface ContainerRecord {
  id: string;
  /** Host pid of the container init; 0 while creating before the init exists. */
  pid: number;
  /** Field 22 of /proc/<pid>/stat when the init started: guards against pid reuse. */
  pidStartTime: string;
  bundle: string;
  rootfs: string;
  /** RFC 3339. */
  created: string;
  owner: string;
  annotations: Record<string, string>;
  /** 'creating' until create finished; afterwards the status is derived from the process. */
  phase: 'creating' | 'created';
  /** Absolute cgroup directories by controller ('' for the v2 unified hierarchy). */
  cgroupPaths: Record<string, string>;
  cgroupsPath: string;
  /** Namespace file paths of the init, for exec and hooks (/proc/<pid>/ns/...). */
  namespaceTypes: string[];
  /** poststart/poststop hooks, kept from config.json. */
  hooks: { poststart?: unknown[]; poststop?: unknown[] };
  /** Whether the container shares the host's pid namespace (kill --all needs the cgroup). */
  sharedPidNamespace: boolean;
  /** Exit status recorded by `run` when kapsel waited for the init. */
  exitStatus?: number;
}

/**
 * The record of a container whose create has just claimed its id (phase `creating`, no init
 * yet): what create and the VM create share. The poststart/poststop hooks are kept for the
 * verbs that run them later.
 */
export function creatingRecord(id: string, bundle: string, rootfs: string, spec: Spec, more: Pick<ContainerRecord, 'annotations' | 'namespaceTypes' | 'sharedPidNamespace'>): ContainerRecord {
  return {
    id,
    pid: 0,
    pidStartTime: '',
    bundle,
    rootfs,
    created: new Date().toISOString(),
    owner: '',
    phase: 'creating',
    cgroupPaths: {},
    cgroupsPath: spec.linux?.cgroupsPath ?? `/kapsel/${id}`,
    hooks: { ...(spec.hooks?.poststart ? { poststart: spec.hooks.poststart } : {}), ...(spec.hooks?.poststop ? { poststop: spec.hooks.poststop } : {}) },
    ...more,
  };
}

const ID_RE = /^[\w+.-]+$/;

export function checkId(id: string): void {
  if (id === '' || id === '.' || id === '..' || !ID_RE.test(id) || id.length > 1024) {
    throw new KapselError('ERR_INVALID_ID', `invalid container id \`${id}\`: use letters, digits, '_', '+', '-' and '.'`);
  }
}

export class StateStore {
  constructor(readonly root: string) {}

  dir(id: string): string {
    return join(this.root, id);
  }

  fifoPath(id: string): string {
    return join(this.dir(id), 'exec.fifo');
  }

  /** Claims the id; throws if a container with this id exists. */
  claim(id: string): void {
    checkId(id);
    mkdirSync(this.root, { recursive: true, mode: 0o700 });
    try {
      mkdirSync(this.dir(id), { mode: 0o711 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new KapselError('ERR_EXISTS', `container with id exists: ${id}`);
      }
      throw err;
    }
  }

  write(record: ContainerRecord): void {
    const dir = this.dir(record.id);
    const tmp = join(dir, `.state.json.${process.pid}`);
    writeFileSync(tmp, JSON.stringify(record), { mode: 0o600 });
    renameSync(tmp, join(dir, 'state.json'));
  }

  read(id: string): ContainerRecord {
    checkId(id);
    let text: string;
    try {
      text = readFileSync(join(this.dir(id), 'state.json'), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`container ${id}`);
      throw err;
    }
    try {
      return JSON.parse(text) as ContainerRecord;
    } catch (err) {
      throw new KapselError('ERR_STATE_CORRUPT', `state of container ${id} is unreadable`, { cause: err });
    }
  }

  exists(id: string): boolean {
    return existsSync(join(this.dir(id), 'state.json'));
  }

  list(): string[] {
    try {
      return readdirSync(this.root, { withFileTypes: true })
        .filter((e) => e.isDirectory() && existsSync(join(this.root, e.name, 'state.json')))
        .map((e) => e.name)
        .sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  remove(id: string): void {
    rmSync(this.dir(id), { recursive: true, force: true });
  }

  /** Takes an exclusive flock on the container's directory; returns the release function. */
  private lock(sys: Syscalls, id: string): () => void {
    checkId(id);
    let fd: number;
    try {
      fd = openSync(this.dir(id), constants.O_RDONLY | constants.O_DIRECTORY);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`container ${id}`);
      throw err;
    }
    try {
      sys.flock(fd, LOCK_EX);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    return () => {
      try {
        sys.flock(fd, LOCK_UN);
      } finally {
        closeSync(fd);
      }
    };
  }

  /** Runs `fn` holding an exclusive lock on the container's directory. */
  withLock<T>(sys: Syscalls, id: string, fn: () => T): T {
    const release = this.lock(sys, id);
    try {
      return fn();
    } finally {
      release();
    }
  }

  /** withLock across awaits (freezing and thawing wait for the kernel). */
  async withLockAsync<T>(sys: Syscalls, id: string, fn: () => Promise<T>): Promise<T> {
    const release = this.lock(sys, id);
    try {
      return await fn();
    } finally {
      release();
    }
  }
}
