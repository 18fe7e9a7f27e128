/**
 * The store's writer lock: flock(2) LOCK_EX on `<root>/index.lock`, so writers in different
 * processes take turns, and a promise queue per lock file, so writers in this process do too
 * (flock is per open file description, and a blocking flock would stall the event loop that
 * the holder needs to finish). The kernel drops the lock when its holder dies, so a crashed
 * writer never leaves a stale lock behind, unlike an O_EXCL lock file.
 */

import { open } from 'node:fs/promises';
import { KapselError } from '../common/errors.js';
import { isErrno } from '../sys/syscall-error.js';
import { LOCK_EX, LOCK_NB, LOCK_UN, type Syscalls } from '../sys/syscalls.js';

export type LockSyscalls = Pick<Syscalls, 'flock'>;

const queues = new Map<string, Promise<void>>();
const FIRST_RETRY_MS = 1;
const MAX_RETRY_MS = 50;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `fn` holding the exclusive lock on `lockPath`; waits at most `timeoutMs` for it. */
export async function withFileLock<T>(sys: LockSyscalls, lockPath: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const previous = queues.get(lockPath) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((resolve) => (release = resolve));
  const tail = previous.then(() => mine);
  queues.set(lockPath, tail);
  try {
    await previous;
    return await holdFlock(sys, lockPath, timeoutMs, fn);
  } finally {
    release();
    if (queues.get(lockPath) === tail) queues.delete(lockPath);
  }
}

async function holdFlock<T>(sys: LockSyscalls, lockPath: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const handle = await open(lockPath, 'a', 0o600);
  try {
    const deadline = Date.now() + timeoutMs;
    let waitMs = FIRST_RETRY_MS;
    for (;;) {
      try {
        sys.flock(handle.fd, LOCK_EX | LOCK_NB);
        break;
      } catch (err) {
        if (!isErrno(err, 'EAGAIN')) throw err;
        if (Date.now() >= deadline) {
          throw new KapselError('ERR_IMAGE_STORE_LOCKED', `lock \`${lockPath}\`: still held by another process after ${timeoutMs} ms`, {
            hint: 'another kapsel command is writing the image store; retry when it has finished',
          });
        }
        await sleep(waitMs);
        waitMs = Math.min(waitMs * 2, MAX_RETRY_MS);
      }
    }
    try {
      return await fn();
    } finally {
      sys.flock(handle.fd, LOCK_UN);
    }
  } finally {
    await handle.close();
  }
}
