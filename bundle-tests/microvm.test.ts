// VM containers (run.kapsel.isolation=vm) through the built kapsel-runtime: the process runs
// under the guest kernel in QEMU (TCG on a host without VMX/SVM), with the OCI process
// settings, stdout and stderr apart, its exit status, the configured memory; kill stops a
// running VM; a missing kernel or hypervisor is a clear error; nothing is left behind.
// Each boot takes seconds under TCG, so the tests boot twice in all.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { release } from 'node:os';
import { bundleFactory, leftovers, runIn, runtime, sleepMs, type Bundle } from './helpers.js';
import { defaultKernelPath, readKernelRelease } from '../microvm/kernel.js';
import { detectAccelerator } from '../microvm/accelerator.js';

const { bundle, cleanupAll } = bundleFactory();
after(cleanupAll);

const KERNEL = defaultKernelPath();
const VM = { 'run.kapsel.isolation': 'vm' };

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    out.push(...readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').split(' ').filter((x) => x.trim() !== '').map(Number));
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

test('the guest kernel is installed (linux-image-cloud-amd64)', () => {
  assert.ok(KERNEL !== undefined && existsSync(KERNEL), 'no /boot/vmlinuz-*-cloud-amd64: install linux-image-cloud-amd64');
});

test('run: guest kernel and memory, stdin, stdout and stderr apart, exit status, env, cwd, user, hostname', () => {
  const b = bundle(['sh', '-c', 'uname -r; cat /proc/meminfo; cat /proc/cpuinfo; cat /sys/class/dmi/id/sys_vendor; echo "$FOO"; pwd; id -u; id -g; hostname; read line; echo "stdin: $line"; echo err >&2; exit 3'], (s) => {
    s.annotations = { ...VM };
    s.process!.env = [...(s.process!.env ?? []), 'FOO=bar baz'];
    s.process!.cwd = '/tmp';
    s.process!.user = { uid: 1000, gid: 1001 };
    s.hostname = 'kapsel-vm-test';
    s.linux!.resources = { memory: { limit: 448 * 1024 * 1024 }, cpu: { quota: 200_000, period: 100_000 } };
  });
  const id = `vm-run-${process.pid}`;
  b.write();
  const r = runtime(b, ['run', '--bundle', b.dir, id], 'from the host\n');
  assert.equal(r.status, 3, r.stderr);
  assert.equal(r.stderr, 'err\n', 'stderr holds only what the process wrote to it');
  const lines = r.stdout.split('\n');
  const guestRelease = readKernelRelease(KERNEL!);
  assert.equal(lines[0], guestRelease, 'uname -r is the release of the kernel that was booted');
  assert.notEqual(lines[0], release(), 'not the host kernel');
  const memKiB = Number(/MemTotal:\s+(\d+) kB/.exec(r.stdout)?.[1]);
  // 448 MiB limit - 128 MiB for QEMU (TCG) = 320 MiB of guest RAM; the kernel keeps some
  assert.ok(memKiB > 260 * 1024 && memKiB <= 320 * 1024, `MemTotal ${memKiB} kB for 320 MiB of guest RAM`);
  assert.ok(lines.includes('QEMU'), 'DMI names QEMU: this is a VM');
  assert.equal(r.stdout.match(/^processor\s*:/gm)?.length, 2, 'cpu quota 200000/100000 → 2 vCPUs');
  assert.deepEqual(lines.slice(-7), ['bar baz', '/tmp', '1000', '1001', 'kapsel-vm-test', 'stdin: from the host', '']);
  assert.deepEqual(leftovers(b, id), []);
});

test('create/start/kill/delete of a VM container (rootfs on an ext4 disk); state names the accelerator; no VMM left', async () => {
  const b = bundle(['sh', '-c', 'echo up; exec sleep 1000'], (s) => {
    s.annotations = { ...VM, 'run.kapsel.vm.rootfs': 'ext4' };
  });
  const id = `vm-kill-${process.pid}`;
  try {
    const c = runtime(b, ['create', '--bundle', b.dir, id]);
    assert.equal(c.status, 0, c.stderr);
    const st = JSON.parse(runtime(b, ['state', id]).stdout) as { status: string; pid: number; annotations: Record<string, string> };
    assert.equal(st.status, 'created');
    assert.match(st.annotations['run.kapsel.vm.accelerator'] ?? '', /^(kvm|tcg)$/);
    assert.ok((st.annotations['run.kapsel.vm.note'] ?? '').length > 0);
    assert.equal(st.annotations['run.kapsel.vm.rootfs'], 'ext4');
    const vmm = childrenOf(st.pid);
    assert.ok(vmm.length >= 1, 'kapsel-vmm runs the VMM');
    const ex = runtime(b, ['exec', id, 'true']);
    assert.notEqual(ex.status, 0);
    assert.match(ex.stderr, /exec into VM container .* is not supported yet/, 'exec never runs on the host');
    assert.equal(runtime(b, ['start', id]).status, 0);
    assert.equal(JSON.parse(runtime(b, ['state', id]).stdout).status, 'running');
    await sleepMs(200);
    const k = runtime(b, ['kill', id, 'TERM']); // relayed to the guest's process
    assert.equal(k.status, 0, k.stderr);
    for (let i = 0; i < 100 && JSON.parse(runtime(b, ['state', id]).stdout).status !== 'stopped'; i++) await sleepMs(50);
    assert.equal(JSON.parse(runtime(b, ['state', id]).stdout).status, 'stopped');
    assert.equal(runtime(b, ['delete', id]).status, 0);
    for (let i = 0; i < 100 && vmm.some(alive); i++) await sleepMs(50);
    assert.deepEqual(vmm.filter(alive), [], 'the QEMU process is gone');
    assert.deepEqual(leftovers(b, id), []);
  } finally {
    runtime(b, ['delete', '--force', id]);
  }
});

test('a missing kernel or hypervisor, or kvm where it is unusable, is a clear error and leaves nothing', () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ 'run.kapsel.vm.kernel': '/nonexistent/vmlinuz' }, /guest kernel `\/nonexistent\/vmlinuz` does not exist/],
    [{ 'run.kapsel.vm.hypervisor': '/nonexistent/qemu' }, /hypervisor `\/nonexistent\/qemu` not found/],
  ];
  // on a host with usable KVM the forced accelerator works instead (the run test covers booting)
  if (detectAccelerator().accelerator === 'tcg') cases.push([{ 'run.kapsel.vm.accelerator': 'kvm' }, /kvm requested but not usable/]);
  for (const [annotations, message] of cases) {
    const b: Bundle = bundle(['true'], (s) => {
      s.annotations = { ...VM, ...annotations };
    });
    const id = `vm-err-${process.pid}`;
    const r = runIn(b, id);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, message);
    assert.deepEqual(leftovers(b, id), []);
  }
});
