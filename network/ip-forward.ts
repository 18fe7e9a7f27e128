/**
 * net.ipv4.ip_forward (ip-sysctl.rst) is one switch per network namespace. The first kapsel table that needs
 * forwarding (a non-internal network) records the value it found and sets 1; the last one to
 * go restores the recorded value. The record lives in /run (gone with a reboot, as the sysctl
 * is) and lists its users, so several kapsel stores (a test store beside the real one) agree.
 *
 * Every read-modify-write of the record holds flock(2) on `<record>.lock`, and the lock file
 * exists only while the record does: the last user removes both, so nothing of kapsel's stays
 * in /run once no kapsel network needs forwarding. Removing a lock file others may already have
 * open is safe only with a check after locking (see withRecordLock).
 */
import { fstatSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { LOCK_EX } from '../sys/syscalls.js';
import type { Syscalls } from '../sys/syscalls.js';
import { AF_UNIX, O_CLOEXEC, O_CREAT, O_RDWR, SOCK_CLOEXEC } from '../sys/constants.js';

export const IP_FORWARD_RECORD = '/run/kapsel/network-ip-forward.json';
const SYSCTL = '/proc/sys/net/ipv4/ip_forward';

/**
 * The record of the network namespace we run in. The sysctl is per namespace while /run is often
 * shared with other namespaces (`ip netns exec`, a test's `unshare -n`): the host's namespace
 * (pid 1's) keeps IP_FORWARD_RECORD, any other one gets a record of its own, named by its
 * SO_NETNS_COOKIE (unique for the boot, unlike the namespace's inode number, which is reused).
 */
export function ipForwardRecordPath(sys: Syscalls, base = IP_FORWARD_RECORD): string {
  const ours = statSync('/proc/self/ns/net');
  let initial;
  try {
    initial = statSync('/proc/1/ns/net');
  } catch {
    initial = undefined; // pid 1 is not ours to inspect (another user): name ours by cookie
  }
  if (initial !== undefined && initial.dev === ours.dev && initial.ino === ours.ino) return base;
  const sock = sys.socket(AF_UNIX, 2 /* SOCK_DGRAM */ | SOCK_CLOEXEC, 0);
  try {
    return base.replace(/\.json$/, `-netns-${sys.netnsCookie(sock)}.json`);
  } finally {
    sys.close(sock);
  }
}

interface Record {
  previous: string;
  users: string[];
}

/** Whether `path` still names the file open as `fd` (it was neither removed nor replaced). */
function isLinkedAs(fd: number, path: string): boolean {
  const held = fstatSync(fd);
  const named = statSync(path, { throwIfNoEntry: false });
  return named !== undefined && named.dev === held.dev && named.ino === held.ino;
}

/**
 * Runs `fn` with the record (undefined when there is none) while holding the lock, and removes
 * the lock file when `fn` leaves no record behind.
 *
 * The protocol, because the lock file is removed while others may hold it open:
 *  1. open (O_CREAT) `<record>.lock` and flock(LOCK_EX) it;
 *  2. if the path no longer names the inode we locked, the previous holder removed it after we
 *     opened it: our lock guards nothing, so close and start again at 1 (a newcomer may by now
 *     hold a lock on a new file of that name);
 *  3. read the record, run fn;
 *  4. no record left: unlink the lock file *while still holding the lock*, then close.
 * The holder of a lock on the inode the path names is therefore alone: unlinking happens only
 * under that lock, and everyone who locked the unlinked inode goes back to 1 (step 2).
 */
export function withRecordLock<T>(sys: Syscalls, path: string, fn: (rec: Record | undefined) => T): T {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const lockPath = `${path}.lock`;
  for (;;) {
    const fd = sys.open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600);
    try {
      sys.flock(fd, LOCK_EX); // released by close
      if (!isLinkedAs(fd, lockPath)) continue; // step 2: the file we locked was removed
      let rec: Record | undefined;
      try {
        rec = JSON.parse(readFileSync(path, 'utf8')) as Record;
      } catch {
        rec = undefined;
      }
      const result = fn(rec);
      if (statSync(path, { throwIfNoEntry: false }) === undefined) rmSync(lockPath, { force: true }); // step 4
      return result;
    } finally {
      sys.close(fd);
    }
  }
}

/**
 * Registers `user` as needing forwarding (or not) and sets or restores the sysctl. `sysctl` is
 * the file of net.ipv4.ip_forward (tests pass a temp file).
 */
export function setForwardingNeeded(sys: Syscalls, user: string, needed: boolean, path = IP_FORWARD_RECORD, sysctl = SYSCTL): void {
  withRecordLock(sys, path, (rec) => {
    const users = new Set(rec?.users ?? []);
    if (needed === users.has(user) && (!needed || readFileSync(sysctl, 'utf8').trim() === '1')) return;
    if (needed) {
      const previous = rec?.previous ?? readFileSync(sysctl, 'utf8').trim();
      users.add(user);
      writeFileSync(path, JSON.stringify({ previous, users: [...users] }));
      writeFileSync(sysctl, '1');
      return;
    }
    users.delete(user);
    if (users.size > 0) {
      writeFileSync(path, JSON.stringify({ previous: rec?.previous ?? '0', users: [...users] }));
      return;
    }
    if (rec !== undefined) writeFileSync(sysctl, rec.previous);
    rmSync(path, { force: true });
  });
}
