import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  O_CLOEXEC, O_CREAT, O_DIRECTORY, O_NOFOLLOW, O_PATH, RESOLVE_BENEATH, RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS,
  RESOLVE_NO_SYMLINKS,
} from '../../sys/constants.js';
import { EACCES, EEXIST, EINVAL, ENOENT } from '../../sys/errno.js';
import { recordingSyscalls, type RecordingSyscalls } from '../../sys/recording-syscalls.js';
import { SyscallError } from '../../sys/syscall-error.js';
import { components, ensureFileInRoot, lookupInRoot, mkdirAllInRoot, openInRoot } from './in-root.js';

const ROOT = 3;

/**
 * A container root as the recording fake sees it: directories, files and symlinks by path
 * relative to the root (`a/b`), and the path each fake fd refers to. openat2 resolves only
 * against ROOT and the fds it handed out; it does not follow symlinks in the middle of a path
 * (mkdirAllInRoot never asks it to).
 */
class FakeRoot {
  readonly dirs = new Set<string>(['']);
  readonly files = new Set<string>();
  readonly links = new Map<string, string>();
  readonly fds = new Map<number, string>([[ROOT, '']]);
  readonly closed: number[] = [];
  private nextFd = 10;
  /** Called before each openat2; may throw to inject a failure. */
  beforeOpen: (path: string) => void = () => undefined;
  /** Called before each readlinkat; may throw to inject a failure. */
  beforeReadlink: (path: string) => void = () => undefined;
  /** Called before each mkdirat; may throw to inject a failure. */
  beforeMkdir: (path: string) => void = () => undefined;
  readonly sys: RecordingSyscalls;

  constructor(setup: { dirs?: string[]; files?: string[]; links?: Record<string, string> } = {}) {
    for (const d of setup.dirs ?? []) this.dirs.add(d);
    for (const f of setup.files ?? []) this.files.add(f);
    for (const [p, t] of Object.entries(setup.links ?? {})) this.links.set(p, t);
    this.sys = recordingSyscalls({
      openat2: (dirfd: unknown, path: unknown) => this.openat2(dirfd as number, path as string),
      mkdirat: (dirfd: unknown, name: unknown) => this.mkdirat(dirfd as number, name as string),
      readlinkat: (fd: unknown, path: unknown) => this.readlinkat(fd as number, path as string),
      close: (fd: unknown) => {
        this.closed.push(fd as number);
      },
    });
  }

  private join(dirfd: number, path: string): string {
    const base = this.fds.get(dirfd);
    if (base === undefined) throw new SyscallError('openat2', 9 /* EBADF */);
    const rel = path === '.' ? '' : path;
    return [base, rel].filter((p) => p !== '').join('/');
  }

  private exists(p: string): boolean {
    return this.dirs.has(p) || this.files.has(p) || this.links.has(p);
  }

  openat2(dirfd: number, path: string): number {
    const p = this.join(dirfd, path);
    this.beforeOpen(p);
    if (!this.exists(p)) throw new SyscallError('openat2', ENOENT, `openat2 \`${p}\``);
    const fd = this.nextFd++;
    this.fds.set(fd, p);
    return fd;
  }

  mkdirat(dirfd: number, name: string): void {
    const p = this.join(dirfd, name);
    this.beforeMkdir(p);
    if (this.exists(p)) throw new SyscallError('mkdirat', EEXIST);
    this.dirs.add(p);
  }

  readlinkat(fd: number, path: string): string {
    assert.equal(path, '', 'readlinkat is called on the O_PATH fd itself');
    const p = this.fds.get(fd) ?? '';
    this.beforeReadlink(p);
    const target = this.links.get(p);
    if (target === undefined) throw new SyscallError('readlinkat', ENOENT);
    return target;
  }

  /** Arguments of every call named `name`. */
  args(name: string): (readonly unknown[])[] {
    return this.sys.calls.filter((c) => c.name === name).map((c) => c.args);
  }

  /** The path (in the root) of each directory created, in order. */
  created(): string[] {
    return this.args('mkdirat').map(([dirfd, name]) => [this.fds.get(dirfd as number) ?? '?', name as string].filter((p) => p !== '').join('/'));
  }

  /** fds handed out by openat2 and not closed, and fds closed more than once. */
  leaks(): { open: number[]; closedTwice: number[] } {
    const opened = [...this.fds.keys()].filter((fd) => fd !== ROOT);
    const counts = new Map<number, number>();
    for (const fd of this.closed) counts.set(fd, (counts.get(fd) ?? 0) + 1);
    return {
      open: opened.filter((fd) => !counts.has(fd)),
      closedTwice: [...counts].filter(([, n]) => n > 1).map(([fd]) => fd),
    };
  }
}

describe('components', () => {
  it('drops empty and `.` parts', () => {
    assert.deepEqual(components('/a/./b//c/'), ['a', 'b', 'c']);
    assert.deepEqual(components('a/b'), ['a', 'b']);
    assert.deepEqual(components(''), []);
    assert.deepEqual(components('/'), []);
    assert.deepEqual(components('.'), []);
  });

  it('applies `..` to the previous component', () => {
    assert.deepEqual(components('/a/b/../c'), ['a', 'c']);
    assert.deepEqual(components('/a/b/../../c'), ['c']);
  });

  it('never climbs above the root', () => {
    assert.deepEqual(components('..'), []);
    assert.deepEqual(components('/../../etc/passwd'), ['etc', 'passwd']);
    assert.deepEqual(components('/a/../../b'), ['b']);
    assert.deepEqual(components('../../../host/path'), ['host', 'path']);
  });

  it('keeps names that only look like dots', () => {
    assert.deepEqual(components('/...'), ['...']);
    assert.deepEqual(components('/.hidden/..x'), ['.hidden', '..x']);
  });
});

describe('openInRoot / lookupInRoot', () => {
  it('opens a clean relative path with openat2 RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS and O_CLOEXEC', () => {
    const sys = recordingSyscalls();
    openInRoot(sys, ROOT, '/etc/../etc/hosts', O_PATH);
    openInRoot(sys, ROOT, '/', O_PATH | O_DIRECTORY);
    assert.deepEqual(sys.calls.map((c) => c.args), [
      [ROOT, 'etc/hosts', O_PATH | O_CLOEXEC, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS],
      [ROOT, '.', O_PATH | O_DIRECTORY | O_CLOEXEC, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS],
    ]);
  });

  it('returns undefined for a missing path and rethrows other errors', () => {
    const root = new FakeRoot({ dirs: ['etc'] });
    assert.equal(lookupInRoot(root.sys, ROOT, '/nope'), undefined);
    assert.equal(typeof lookupInRoot(root.sys, ROOT, '/etc'), 'number');
    root.beforeOpen = () => {
      throw new SyscallError('openat2', EACCES);
    };
    assert.throws(() => lookupInRoot(root.sys, ROOT, '/etc'), (err: unknown) => err instanceof SyscallError && err.code === 'EACCES');
  });
});

describe('mkdirAllInRoot', () => {
  it('creates each missing component with mkdirat relative to its parent fd', () => {
    const root = new FakeRoot({ dirs: ['a'] });
    const fd = mkdirAllInRoot(root.sys, ROOT, '/a/b/c');
    assert.deepEqual(root.created(), ['a/b', 'a/b/c']);
    // the dirfd of each mkdirat is the fd of the parent directory, opened just before
    const [first, second] = root.args('mkdirat');
    assert.equal(root.fds.get(first?.[0] as number), 'a');
    assert.equal(first?.[1], 'b');
    assert.equal(root.fds.get(second?.[0] as number), 'a/b');
    assert.equal(second?.[1], 'c');
    assert.deepEqual(root.args('mkdirat').map((a) => a[2]), [0o755, 0o755]);
    assert.equal(root.fds.get(fd), 'a/b/c');
  });

  it('passes the mode through', () => {
    const root = new FakeRoot();
    mkdirAllInRoot(root.sys, ROOT, '/m', 0o700);
    assert.deepEqual(root.args('mkdirat').map((a) => a[2]), [0o700]);
  });

  it('creates nothing when the directory exists', () => {
    const root = new FakeRoot({ dirs: ['a', 'a/b'] });
    const fd = mkdirAllInRoot(root.sys, ROOT, 'a/b');
    assert.deepEqual(root.created(), []);
    assert.equal(root.fds.get(fd), 'a/b');
  });

  it('returns the root for `/` and for paths that climb above it', () => {
    for (const p of ['/', '/../..']) {
      const root = new FakeRoot();
      const fd = mkdirAllInRoot(root.sys, ROOT, p);
      assert.deepEqual(root.created(), []);
      assert.equal(root.fds.get(fd), '');
    }
  });

  it('resolves every open with openat2 RESOLVE_IN_ROOT against the root fd', () => {
    const root = new FakeRoot({ dirs: ['a'], links: { 'a/l': '/x' } });
    mkdirAllInRoot(root.sys, ROOT, '/a/b/../l/c/d');
    const opens = root.args('openat2');
    assert.ok(opens.length > 0);
    for (const [dirfd, , flags, , resolve] of opens) {
      assert.equal(dirfd, ROOT);
      assert.equal((resolve as number) & RESOLVE_IN_ROOT, RESOLVE_IN_ROOT, `resolve 0x${(resolve as number).toString(16)}`);
      assert.equal((resolve as number) & RESOLVE_NO_MAGICLINKS, RESOLVE_NO_MAGICLINKS);
      assert.equal((flags as number) & O_CLOEXEC, O_CLOEXEC);
    }
    assert.equal(root.sys.names().filter((n) => n === 'open').length, 0, 'no plain open(2)');
  });

  it('opens each component with O_NOFOLLOW so a symlink is seen, not followed by the kernel', () => {
    const root = new FakeRoot();
    mkdirAllInRoot(root.sys, ROOT, '/a/b');
    const componentOpens = root.args('openat2').filter(([, path]) => path === 'a' || path === 'a/b');
    assert.ok(componentOpens.length >= 2);
    for (const [, , flags] of componentOpens.slice(0, -1)) assert.equal((flags as number) & O_NOFOLLOW, O_NOFOLLOW);
  });

  it('follows an absolute symlink component by restarting from its target inside the root', () => {
    const root = new FakeRoot({ links: { escape: '/host/path' } });
    const fd = mkdirAllInRoot(root.sys, ROOT, '/escape/sub');
    assert.deepEqual(root.created(), ['host', 'host/path', 'host/path/sub']);
    assert.equal(root.fds.get(fd), 'host/path/sub');
    assert.ok(!root.created().some((p) => p.startsWith('escape')), 'nothing is created through the link itself');
  });

  it('follows a relative symlink from the link\'s directory, clamped at the root', () => {
    const root = new FakeRoot({ dirs: ['etc'], links: { 'etc/link': '../var/lib', 'up': '../../../../host' } });
    const fd = mkdirAllInRoot(root.sys, ROOT, '/etc/link/d');
    assert.deepEqual(root.created(), ['var', 'var/lib', 'var/lib/d']);
    assert.equal(root.fds.get(fd), 'var/lib/d');

    const fd2 = mkdirAllInRoot(root.sys, ROOT, '/up/x');
    assert.deepEqual(root.created().slice(3), ['host', 'host/x']);
    assert.equal(root.fds.get(fd2), 'host/x');
  });

  it('reads the link target with readlinkat on the component fd', () => {
    const root = new FakeRoot({ links: { l: 'target' } });
    mkdirAllInRoot(root.sys, ROOT, '/l');
    const reads = root.args('readlinkat');
    assert.equal(root.fds.get(reads[0]?.[0] as number), 'l');
    assert.deepEqual(reads.map((r) => r[1]), reads.map(() => ''));
    assert.deepEqual(root.created(), ['target']);
  });

  it('fails with ELOOP on a symlink loop', () => {
    const root = new FakeRoot({ links: { loop: '/loop' } });
    assert.throws(() => mkdirAllInRoot(root.sys, ROOT, '/loop/x'), (err: unknown) => err instanceof SyscallError && err.errno === 40);
    assert.deepEqual(root.leaks(), { open: [], closedTwice: [] });
  });

  it('tolerates EEXIST from a concurrent mkdir', () => {
    const root = new FakeRoot();
    root.beforeMkdir = (p) => {
      root.dirs.add(p); // someone else made it first
    };
    const fd = mkdirAllInRoot(root.sys, ROOT, '/a');
    assert.equal(root.fds.get(fd), 'a');
  });

  it('treats EINVAL from readlinkat as "not a symlink"', () => {
    const root = new FakeRoot({ dirs: ['a'] });
    root.beforeReadlink = () => {
      throw new SyscallError('readlinkat', EINVAL);
    };
    assert.equal(root.fds.get(mkdirAllInRoot(root.sys, ROOT, '/a/b')), 'a/b');
  });

  it('closes every fd but the returned one', () => {
    const root = new FakeRoot({ dirs: ['a'], links: { 'a/l': '/x/y' } });
    const fd = mkdirAllInRoot(root.sys, ROOT, '/a/l/z');
    const { open, closedTwice } = root.leaks();
    assert.deepEqual(open, [fd]);
    assert.deepEqual(closedTwice, []);
  });

  it('closes its fds and rethrows when mkdirat fails', () => {
    const root = new FakeRoot({ dirs: ['a'] });
    root.beforeMkdir = () => {
      throw new SyscallError('mkdirat', EACCES);
    };
    assert.throws(() => mkdirAllInRoot(root.sys, ROOT, '/a/b'), (err: unknown) => err instanceof SyscallError && err.code === 'EACCES');
    assert.deepEqual(root.leaks(), { open: [], closedTwice: [] });
  });

  it('closes the component fd when readlinkat fails unexpectedly', () => {
    const root = new FakeRoot({ dirs: ['a'] });
    root.beforeReadlink = (p) => {
      if (p === 'a') throw new SyscallError('readlinkat', EACCES);
    };
    assert.throws(() => mkdirAllInRoot(root.sys, ROOT, '/a/b'));
    assert.deepEqual(root.leaks(), { open: [], closedTwice: [] });
  });

  it('closes no fd twice when reopening the root after a symlink fails', () => {
    const root = new FakeRoot({ links: { l: '/x' } });
    let rootOpens = 0;
    root.beforeOpen = (p) => {
      if (p === '' && ++rootOpens === 2) throw new SyscallError('openat2', 24 /* EMFILE */);
    };
    assert.throws(() => mkdirAllInRoot(root.sys, ROOT, '/l/y'));
    assert.deepEqual(root.leaks().closedTwice, []);
  });
});

describe('ensureFileInRoot', () => {
  it('returns the existing file without creating anything', () => {
    const root = new FakeRoot({ dirs: ['etc'], files: ['etc/hosts'] });
    const fd = ensureFileInRoot(root.sys, ROOT, '/etc/hosts');
    assert.equal(root.fds.get(fd), 'etc/hosts');
    assert.deepEqual(root.created(), []);
  });

  it('creates the parents in the root and the file beneath its parent without following symlinks', () => {
    const root = new FakeRoot();
    const sys = root.sys;
    // O_CREAT on the fake: record the file
    const created: string[] = [];
    root.beforeOpen = (p) => {
      const last = sys.calls.at(-1);
      if (last?.name === 'openat2' && ((last.args[2] as number) & O_CREAT) !== 0) {
        root.files.add(p);
        created.push(p);
      }
    };
    const fd = ensureFileInRoot(sys, ROOT, '/run/secrets/token');
    assert.deepEqual(root.created(), ['run', 'run/secrets']);
    assert.deepEqual(created, ['run/secrets/token']);
    const create = root.args('openat2').find((a) => ((a[2] as number) & O_CREAT) !== 0);
    assert.equal(root.fds.get(create?.[0] as number), 'run/secrets');
    assert.equal(create?.[1], 'token');
    assert.equal((create?.[4] as number) & (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
    assert.equal(((create?.[2] as number) & O_NOFOLLOW), O_NOFOLLOW);
    assert.equal(root.fds.get(fd), 'run/secrets/token');
  });
});
