/**
 * The ip_forward record (ip-forward.ts) in a temp dir standing for /run/kapsel, with a temp file
 * for the sysctl: the first user sets 1, the last restores the value found and removes the record
 * and its lock file; a process that opened the lock file just before the last user removed it
 * must not end up holding a lock nobody else can see (flock on an unlinked file).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { linuxSyscalls } from '../sys/linux-syscalls.js';
import { O_CLOEXEC, O_CREAT, O_RDWR } from '../sys/constants.js';
import { LOCK_EX, LOCK_NB } from '../sys/syscalls.js';
import type { Syscalls } from '../sys/syscalls.js';
import { setForwardingNeeded, withRecordLock } from './ip-forward.js';

const tmp = mkdtempSync(join(tmpdir(), 'kapsel-ip-forward-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const sys = linuxSyscalls();
let n = 0;

/** A host of its own: the run dir (record not made yet) and the sysctl file holding `value`. */
function host(value: string): { run: string; record: string; sysctl: string } {
  const dir = join(tmp, `h${n++}`);
  mkdirSync(dir);
  const sysctl = join(dir, 'ip_forward');
  writeFileSync(sysctl, `${value}\n`);
  const run = join(dir, 'run-kapsel');
  return { run, record: join(run, 'network-ip-forward.json'), sysctl };
}

const sysctlValue = (file: string): string => readFileSync(file, 'utf8').trim();

test('the first user sets 1, the last restores the value found and leaves nothing in the run dir', () => {
  const h = host('0');
  setForwardingNeeded(sys, 'kapsel_a', true, h.record, h.sysctl);
  assert.equal(sysctlValue(h.sysctl), '1');
  setForwardingNeeded(sys, 'kapsel_b', true, h.record, h.sysctl);
  assert.deepEqual(JSON.parse(readFileSync(h.record, 'utf8')), { previous: '0', users: ['kapsel_a', 'kapsel_b'] });
  setForwardingNeeded(sys, 'kapsel_a', false, h.record, h.sysctl);
  assert.equal(sysctlValue(h.sysctl), '1', 'kapsel_b still needs it');
  assert.deepEqual(readdirSync(h.run).sort(), ['network-ip-forward.json', 'network-ip-forward.json.lock']);
  setForwardingNeeded(sys, 'kapsel_b', false, h.record, h.sysctl);
  assert.equal(sysctlValue(h.sysctl), '0');
  assert.deepEqual(readdirSync(h.run), [], 'neither the record nor its lock file remains');
});

test('a table that never needed forwarding (internal networks only) leaves no lock file either', () => {
  const h = host('1');
  setForwardingNeeded(sys, 'kapsel_internal', false, h.record, h.sysctl);
  assert.equal(sysctlValue(h.sysctl), '1');
  assert.deepEqual(readdirSync(h.run), []);
});

test('a lock taken on a lock file the last user removed meanwhile is taken again on the new file', () => {
  const h = host('0');
  setForwardingNeeded(sys, 'kapsel_last', true, h.record, h.sysctl);
  const lockPath = `${h.record}.lock`;
  // This "process" has opened the lock file and is about to flock it when the last user goes:
  // the last user's whole detach runs between our open and our flock, and removes the file.
  let raced = false;
  const racing: Syscalls = Object.assign(Object.create(sys) as Syscalls, {
    flock(fd: number, op: number): void {
      if (!raced) {
        raced = true;
        setForwardingNeeded(sys, 'kapsel_last', false, h.record, h.sysctl);
        assert.equal(existsSync(lockPath), false, 'the last user removed the lock file');
      }
      sys.flock(fd, op);
    },
  });
  let sawRecord: unknown = 'not run';
  withRecordLock(racing, h.record, (rec) => {
    sawRecord = rec;
    // we hold the lock: anyone opening the lock file by its name now must wait for us
    const other = sys.open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600);
    try {
      assert.throws(() => sys.flock(other, LOCK_EX | LOCK_NB), (err: unknown) => {
        assert.match(String((err as { code?: unknown }).code), /^(EAGAIN|EWOULDBLOCK)$/);
        return true;
      }, 'a second locker by name is shut out while we hold the lock');
    } finally {
      sys.close(other);
    }
  });
  assert.ok(raced);
  assert.equal(sawRecord, undefined, 'the record went with the last user');
  assert.equal(sysctlValue(h.sysctl), '0');
  assert.deepEqual(readdirSync(h.run), [], 'no record: the lock file went too');
});
