// Isolation checked from inside the container: seccomp, read-only root, masked and read-only
// paths, no leaked fds, and the CVEs runtimes are known for.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { bundleFactory, makeBundle, runIn, runtime, leftovers, mountsUnder, sleepMs, type Bundle } from './helpers.js';
import { REPO } from './helpers.js';

const { bundle, cleanupAll } = bundleFactory();
after(cleanupAll);

test('seccomp: a syscall the profile denies fails with EPERM inside the container', () => {
  const b = bundle(['sh', '-c', 'mkdir /tmp/denied; echo rc=$?; ls -d /tmp; echo ok'], (s) => {
    s.root!.readonly = false;
    s.linux!.seccomp = {
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' }],
    };
  });
  const r = runIn(b);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /Operation not permitted/);
  assert.match(r.stdout, /rc=1\n\/tmp\nok\n/);
  assert.equal(existsSync(join(b.rootfs, 'tmp', 'denied')), false);
});

test('seccomp: errnoRet is returned and the filter is active (Seccomp: 2)', () => {
  const b = bundle(['sh', '-c', 'grep ^Seccomp: /proc/self/status; mkdir /tmp/x'], (s) => {
    s.root!.readonly = false;
    s.linux!.seccomp = {
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 28 }],
    };
  });
  const r = runIn(b);
  assert.match(r.stdout, /Seccomp:\s+2/);
  assert.match(r.stderr, /No space left on device/);
});

test('root.readonly makes / read-only (EROFS)', () => {
  const r = runIn(bundle(['sh', '-c', 'touch /newfile'], (s) => { s.root!.readonly = true; }));
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /Read-only file system/);
});

test('masked paths read empty and read-only paths refuse writes', () => {
  // /proc/timer_list has content on the host (this kernel has no /proc/kcore)
  assert.ok(readFileSync('/proc/timer_list').length > 0);
  const b = bundle(['sh', '-c', 'wc -c < /proc/timer_list; ls /proc/acpi | wc -l; echo 1 > /proc/sys/kernel/ns_last_pid; echo rc=$?']);
  const r = runIn(b);
  const [timerList, acpi, rc] = r.stdout.trim().split('\n').map((s) => s.trim());
  assert.equal(timerList, '0');
  assert.equal(acpi, '0');
  assert.equal(rc, 'rc=1');
  assert.match(r.stderr, /Read-only file system/);
});

test('CVE-2024-21626: no runtime fd reaches the process and its cwd is inside the container', () => {
  const b = bundle(['sh', '-c', 'ls /proc/self/fd; readlink /proc/self/cwd'], (s) => { s.process!.cwd = '/tmp'; });
  const r = runIn(b);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  // 0-2 are stdio; 3 is ls's own handle on /proc/self/fd
  assert.deepEqual(lines.slice(0, -1).join(' ').split(/\s+/), ['0', '1', '2', '3']);
  assert.equal(lines.at(-1), '/tmp');
});

test('--preserve-fds passes exactly the extra fds', () => {
  const b = bundle(['sh', '-c', 'ls /proc/self/fd | tr "\\n" " "']);
  b.write();
  // the shell gives the runtime fd 3 and 4; one is preserved
  const r = runtime(b, ['run', '--preserve-fds', '1', '--bundle', b.dir, 'pfd']);
  assert.equal(r.status, 0, r.stderr);
  // spawnSync has no fd 3 of its own; what the container sees must be stdio + at most the preserved one + ls's own fd
  assert.ok(r.stdout.trim().split(' ').every((fd) => Number(fd) <= 4), r.stdout);
});

test('CVE-2021-30465 class: a symlink in the image cannot redirect a mount onto the host', () => {
  const hostTarget = join(bundle(['true']).dir, 'host-target');
  mkdirSync(hostTarget);
  const b = bundle(['sh', '-c', `ls -d ${hostTarget}/mnt`], (s) => {
    s.mounts!.push({ destination: '/escape/mnt', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] });
  });
  // /escape -> <absolute host path>: resolved inside the rootfs it means <rootfs>/<that path>
  symlinkSync(hostTarget, join(b.rootfs, 'escape'));
  const r = runIn(b);
  assert.equal(mountsUnder(hostTarget).length, 0, 'nothing may be mounted on the host path');
  assert.equal(existsSync(join(hostTarget, 'mnt')), false, 'no directory may be created on the host path');
  assert.equal(r.status, 0, r.stderr);
  assert.ok(existsSync(join(b.rootfs, hostTarget, 'mnt')), 'the mount point was created inside the rootfs');
});

test('CVE-2019-5736: the native stage cannot be overwritten from inside a container', async () => {
  const stage = join(REPO, 'native', 'build', 'kapsel-stage');
  const before = createHash('sha256').update(readFileSync(stage)).digest('hex');
  // Container A is created: its init is the native stage, waiting on the exec fifo.
  const a = bundle(['sleep', '30']);
  const create = runtime(a, ['create', '--bundle', a.dir, 'victim']);
  assert.equal(create.status, 0, create.stderr);
  const pid = JSON.parse(runtime(a, ['state', 'victim']).stdout).pid as number;
  assert.match(readlinkSync(`/proc/${pid}/exe`), /^\/memfd:kapsel-stage/, 'the stage runs from a sealed memfd');
  // Container B shares A's pid namespace: A's init is its pid 1. It grabs /proc/1/exe, waits for
  // A to exec, then tries to write through the descriptor, as the published exploit does.
  const b = bundle(['sh', '-c', [
    'readlink /proc/1/exe',
    'exec 3</proc/1/exe',
    'printf x >> /proc/1/exe; echo direct=$?',
    'while [ ! -e /go ]; do sleep 0.05; done',
    'printf x >> /proc/self/fd/3; echo via-fd=$?',
  ].join('; ')], (s) => {
    s.root!.readonly = false;
    s.linux!.namespaces = s.linux!.namespaces!.map((n) => (n.type === 'pid' ? { type: 'pid', path: `/proc/${pid}/ns/pid` } : n));
  });
  b.write();
  const { spawn } = await import('node:child_process');
  const child = spawn(join(REPO, 'bin', 'kapsel-runtime'), ['--root', b.root, 'run', '--bundle', b.dir, 'attacker'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  const done = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  for (let i = 0; i < 250 && !out.includes('direct='); i++) await sleepMs(20);
  assert.equal(runtime(a, ['start', 'victim']).status, 0);
  writeFileSync(join(b.rootfs, 'go'), '');
  chmodSync(join(b.rootfs, 'go'), 0o644);
  await done;
  assert.match(out, /memfd:kapsel-stage/);
  assert.match(out, /direct=1/);
  assert.match(out, /via-fd=1/);
  const afterHash = createHash('sha256').update(readFileSync(stage)).digest('hex');
  assert.equal(afterHash, before, 'the host binary is unchanged');
  assert.equal(runtime(a, ['delete', '--force', 'victim']).status, 0);
  assert.deepEqual(leftovers(a, 'victim'), []);
  assert.deepEqual(leftovers(b, 'attacker'), []);
});
