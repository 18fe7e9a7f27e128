/**
 * The engine's containers on disk (docker keeps the same shape under /var/lib/docker/containers):
 *
 *   <store>/containers/<id>/container.json  the record, written atomically (temp file + rename)
 *   <store>/containers/<id>/config.json     the bundle's runtime-spec config; rootfs/ beside it
 *   <store>/containers/<id>/container.log   json-file log (the monitor writes it), .1 .. rotated
 *   <store>/containers/<id>/exit            "CODE SIGNAL SECONDS NANOS" from the monitor
 *   <store>/containers/names.json           name -> id, changed only under flock(names.lock)
 *
 * Ids are 64 hex digits; a container is found by name, full id or a unique id prefix.
 */
import type { PortMapping } from '../network/types.js';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync, constants } from 'node:fs';
import { releaseRootfs } from '../images/snapshots.js';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { KapselError, NotFoundError } from '../common/errors.js';
import type { Syscalls } from '../sys/syscalls.js';
import { LOCK_EX, LOCK_UN } from '../sys/syscalls.js';

export type RestartPolicy = { readonly name: 'no' | 'always' | 'on-failure' | 'unless-stopped'; readonly maximumRetryCount: number };

/** What `kapsel run` was asked for, kept for inspect and for restarts. */
export interface ContainerConfig {
  readonly image: string;
  readonly cmd: readonly string[];
  readonly entrypoint?: readonly string[] | undefined;
  readonly env: readonly string[];
  readonly workingDir: string;
  readonly user: string;
  readonly hostname: string;
  readonly tty: boolean;
  readonly openStdin: boolean;
  readonly stopSignal: string;
  readonly labels?: Readonly<Record<string, string>>;
}

export interface HostConfig {
  readonly autoRemove: boolean;
  readonly restartPolicy: RestartPolicy;
  readonly binds: readonly string[];
  readonly tmpfs: readonly string[];
  readonly networkMode: string;
  /** -p: published ports (network/ports.ts); absent in records older than networking. */
  readonly portBindings?: readonly PortMapping[];
  /** --ip: the address asked for on the network (kept across restarts). */
  readonly ipAddress?: string;
  readonly readonlyRootfs: boolean;
  readonly privileged: boolean;
  /** `--init`: kapsel-init runs as pid 1 (absent in records written before it existed) */
  readonly init?: boolean;
  readonly capAdd: readonly string[];
  readonly capDrop: readonly string[];
  readonly securityOpt: readonly string[];
  readonly memory: number;
  readonly memorySwap: number;
  readonly nanoCpus: number;
  readonly cpuShares: number;
  readonly cpusetCpus: string;
  readonly pidsLimit: number;
  readonly logMaxBytes: number;
  readonly logMaxFiles: number;
  /** `--isolation vm`: the container runs in a microVM (absent: a container) */
  readonly isolation?: 'vm';
}

export interface ContainerRecord {
  readonly id: string;
  name: string;
  readonly created: string;
  readonly config: ContainerConfig;
  readonly hostConfig: HostConfig;
  /** Last start; '' before the first. */
  startedAt: string;
  finishedAt: string;
  exitCode: number;
  oomKilled: boolean;
  restartCount: number;
  /** Set by stop/kill from the user so --restart does not bring the container back. */
  manuallyStopped: boolean;
  /** The monitor of the current run: pid and start time (field 22 of /proc/<pid>/stat). */
  monitorPid: number;
  monitorStartTime: string;
  /** The init of the current run, as the runtime reported it. */
  pid: number;
  /** created | running | exited: what the engine last recorded; status.ts derives the truth. */
  state: 'created' | 'running' | 'restarting' | 'exited';
  error: string;
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export function newContainerId(): string {
  return randomBytes(32).toString('hex');
}

export class ContainerStore {
  readonly root: string;

  constructor(storeRoot: string, private readonly sys: Syscalls) {
    this.root = join(storeRoot, 'containers');
  }

  dir(id: string): string {
    return join(this.root, id);
  }

  logPath(id: string): string {
    return join(this.dir(id), 'container.log');
  }

  /** Runs fn holding flock on names.lock: names and directories change only under it. */
  withNamesLock<T>(fn: () => T): T {
    mkdirSync(this.root, { recursive: true, mode: 0o711 });
    const fd = openSync(join(this.root, 'names.lock'), constants.O_RDWR | constants.O_CREAT, 0o600);
    try {
      this.sys.flock(fd, LOCK_EX);
      return fn();
    } finally {
      try {
        this.sys.flock(fd, LOCK_UN);
      } finally {
        closeSync(fd);
      }
    }
  }

  /** The same lock, per container: record updates from the CLI and the monitor's exit handler. */
  async withLock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    let fd: number;
    try {
      fd = openSync(this.dir(id), constants.O_RDONLY | constants.O_DIRECTORY);
    } catch {
      throw new NotFoundError(`container \`${id}\``);
    }
    try {
      this.sys.flock(fd, LOCK_EX);
      return await fn();
    } finally {
      try {
        this.sys.flock(fd, LOCK_UN);
      } finally {
        closeSync(fd);
      }
    }
  }

  private readNames(): Record<string, string> {
    try {
      return JSON.parse(readFileSync(join(this.root, 'names.json'), 'utf8')) as Record<string, string>;
    } catch {
      return {};
    }
  }

  private writeNames(names: Record<string, string>): void {
    const tmp = join(this.root, `.names.json.${process.pid}`);
    writeFileSync(tmp, JSON.stringify(names), { mode: 0o600 });
    renameSync(tmp, join(this.root, 'names.json'));
  }

  /** Claims the name and the directory of a new container; a taken name is a clear error. */
  claim(id: string, name: string): void {
    if (!NAME_RE.test(name)) {
      throw new KapselError('ERR_USAGE', `invalid container name \`${name}\`: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    }
    this.withNamesLock(() => {
      const names = this.readNames();
      const owner = names[name];
      if (owner !== undefined && Object.hasOwn(names, name) && existsSync(this.dir(owner))) {
        throw new KapselError('ERR_NAME_CONFLICT', `the container name \`${name}\` is already in use by container ${owner.slice(0, 12)}`, {
          hint: 'remove that container (kapsel rm) or choose another name',
        });
      }
      mkdirSync(this.dir(id), { mode: 0o711 });
      names[name] = id;
      this.writeNames(names);
    });
  }

  write(record: ContainerRecord): void {
    const tmp = join(this.dir(record.id), `.container.json.${process.pid}`);
    writeFileSync(tmp, JSON.stringify(record, null, 1), { mode: 0o600 });
    renameSync(tmp, join(this.dir(record.id), 'container.json'));
  }

  read(id: string): ContainerRecord {
    let text: string;
    try {
      text = readFileSync(join(this.dir(id), 'container.json'), 'utf8');
    } catch {
      throw new NotFoundError(`container \`${id}\``);
    }
    return JSON.parse(text) as ContainerRecord;
  }

  ids(): string[] {
    try {
      return readdirSync(this.root).filter((n) => /^[0-9a-f]{64}$/.test(n) && existsSync(join(this.root, n, 'container.json')));
    } catch {
      return [];
    }
  }

  /** Name, full id, or a unique id prefix. */
  resolve(ref: string): string {
    const names = this.readNames();
    const byName = Object.hasOwn(names, ref) ? names[ref] : undefined;
    if (byName !== undefined && existsSync(join(this.dir(byName), 'container.json'))) return byName;
    if (/^[0-9a-f]+$/.test(ref)) {
      const matches = this.ids().filter((id) => id.startsWith(ref));
      if (matches.length === 1) return matches[0]!;
      if (matches.length > 1) throw new KapselError('ERR_AMBIGUOUS', `container id prefix \`${ref}\` matches ${matches.length} containers`, { hint: 'give more digits or the name' });
    }
    throw new NotFoundError(`container \`${ref}\``);
  }

  /** Removes the directory and the name (rm). */
  remove(id: string, name: string | undefined): void {
    this.withNamesLock(() => {
      const names = this.readNames();
      if (name !== undefined && names[name] === id) {
        delete names[name];
        this.writeNames(names);
      }
      // the rootfs overlay (if any) is unmounted before its directory goes
      releaseRootfs(this.dir(id), this.sys);
      rmSync(this.dir(id), { recursive: true, force: true });
    });
  }

  /** `kapsel rename`: moves the name under the lock; a taken name is a clear error. */
  rename(id: string, newName: string): void {
    if (!NAME_RE.test(newName)) {
      throw new KapselError('ERR_USAGE', `invalid container name \`${newName}\`: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    }
    this.withNamesLock(() => {
      const names = this.readNames();
      const owner = Object.hasOwn(names, newName) ? names[newName] : undefined;
      if (owner !== undefined && owner !== id && existsSync(this.dir(owner))) {
        throw new KapselError('ERR_NAME_CONFLICT', `the container name \`${newName}\` is already in use by container ${owner.slice(0, 12)}`);
      }
      const rec = this.read(id);
      if (names[rec.name] === id) delete names[rec.name];
      names[newName] = id;
      this.write({ ...rec, name: newName });
      this.writeNames(names);
    });
  }

  /**
   * Directories of creates that died before writing their record (older than `minAgeMs`, so a
   * create in progress is left alone), with their names: `container prune` removes them.
   */
  orphans(minAgeMs = 60_000): { id: string; name: string | undefined }[] {
    let entries: string[];
    try {
      entries = readdirSync(this.root);
    } catch {
      return [];
    }
    const names = this.readNames();
    const now = Date.now();
    return entries
      .filter((n) => /^[0-9a-f]{64}$/.test(n) && !existsSync(join(this.root, n, 'container.json')))
      .filter((n) => {
        try {
          return now - statSync(join(this.root, n)).mtimeMs >= minAgeMs;
        } catch {
          return false;
        }
      })
      .map((id) => ({ id, name: Object.keys(names).find((k) => names[k] === id) }));
  }

  /** Releases a name whose claim failed before a record existed. */
  unclaim(id: string, name: string): void {
    this.remove(id, name);
  }
}
