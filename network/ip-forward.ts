/**
 * net.ipv4.ip_forward (ip-sysctl.rst) is one host-wide switch. The first kapsel table that needs
 * forwarding (a non-internal network) records the value it found and sets 1; the last one to
 * go restores the recorded value. The record lives in /run (gone with a reboot, as the sysctl
 * is) and lists its users, so several kapsel stores (a test store beside the real one) agree.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { LOCK_EX } from '../sys/syscalls.js';
import type { Syscalls } from '../sys/syscalls.js';
import { O_CLOEXEC, O_CREAT, O_RDWR } from '../sys/constants.js';

export const IP_FORWARD_RECORD = '/run/kapsel/network-ip-forward.json';
const SYSCTL = '/proc/sys/net/ipv4/ip_forward';

interface Record {
  previous: string;
  users: string[];
}

function locked<T>(sys: Syscalls, path: string, fn: (rec: Record | undefined) => T): T {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const fd = sys.open(`${path}.lock`, O_RDWR | O_CREAT | O_CLOEXEC, 0o600);
  try {
    sys.flock(fd, LOCK_EX); // released by close
    let rec: Record | undefined;
    try {
      rec = JSON.parse(readFileSync(path, 'utf8')) as Record;
    } catch {
      rec = undefined;
    }
    return fn(rec);
  } finally {
    sys.close(fd);
  }
}

/** Registers `user` as needing forwarding (or not) and sets or restores the sysctl. */
export function setForwardingNeeded(sys: Syscalls, user: string, needed: boolean, path = IP_FORWARD_RECORD): void {
  locked(sys, path, (rec) => {
    const users = new Set(rec?.users ?? []);
    if (needed === users.has(user) && (!needed || readFileSync(SYSCTL, 'utf8').trim() === '1')) return;
    if (needed) {
      const previous = rec?.previous ?? readFileSync(SYSCTL, 'utf8').trim();
      users.add(user);
      writeFileSync(path, JSON.stringify({ previous, users: [...users] }));
      writeFileSync(SYSCTL, '1');
      return;
    }
    users.delete(user);
    if (users.size > 0) {
      writeFileSync(path, JSON.stringify({ previous: rec?.previous ?? '0', users: [...users] }));
      return;
    }
    if (rec !== undefined) writeFileSync(SYSCTL, rec.previous);
    rmSync(path, { force: true });
  });
}
