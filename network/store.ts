/**
 * Network records on disk: <store>/networks/<name>.json, written atomically (temp + rename),
 * and one lock (<store>/networks/.lock, flock(2)) held for every read-modify-write, so parallel
 * kapsel processes never hand out the same address. A process killed while holding the lock
 * releases it with its last fd.
 */
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { LOCK_EX, LOCK_UN } from '../sys/syscalls.js';
import type { Syscalls } from '../sys/syscalls.js';
import { O_CLOEXEC, O_CREAT, O_RDWR } from '../sys/constants.js';
import { KapselError, UsageError } from '../common/errors.js';
import type { NetworkRecord } from './types.js';

export const DEFAULT_STORE_ROOT = '/var/lib/kapsel';
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/;

export function checkNetworkName(name: string): void {
  if (!NAME.test(name)) throw new UsageError(`invalid network name \`${name}\``, { hint: 'use letters, digits, _, . and -, starting with a letter or digit' });
}

export class NetworkStore {
  readonly dir: string;
  /** Distinguishes a non-default store root (test stores) in host-wide names: nft table. */
  readonly key: string | undefined;
  readonly #sys: Syscalls;

  constructor(sys: Syscalls, storeRoot = DEFAULT_STORE_ROOT) {
    this.#sys = sys;
    this.dir = join(storeRoot, 'networks');
    this.key = storeRoot === DEFAULT_STORE_ROOT ? undefined : createHash('sha256').update(storeRoot).digest('hex').slice(0, 8);
  }

  /** Runs `fn` holding the networks lock (blocking flock on this thread). */
  withLock<T>(fn: () => T): T {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const fd = this.#sys.open(join(this.dir, '.lock'), O_RDWR | O_CREAT | O_CLOEXEC, 0o600);
    try {
      this.#sys.flock(fd, LOCK_EX);
      try {
        return fn();
      } finally {
        this.#sys.flock(fd, LOCK_UN);
      }
    } finally {
      this.#sys.close(fd);
    }
  }

  list(): NetworkRecord[] {
    let names: string[];
    try {
      names = readdirSync(this.dir).filter((f) => f.endsWith('.json') && !f.startsWith('.'));
    } catch {
      return [];
    }
    return names.sort().map((f) => this.#read(join(this.dir, f)));
  }

  get(name: string): NetworkRecord | undefined {
    checkNetworkName(name);
    try {
      return this.#read(join(this.dir, `${name}.json`));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  #read(path: string): NetworkRecord {
    try {
      return JSON.parse(readFileSync(path, 'utf8')) as NetworkRecord;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw err;
      throw new KapselError('ERR_NETWORK_STATE', `read network record \`${path}\``, { cause: err });
    }
  }

  save(net: NetworkRecord): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const path = join(this.dir, `${net.name}.json`);
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(net, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, path);
  }

  delete(name: string): void {
    rmSync(join(this.dir, `${name}.json`), { force: true });
  }
}
