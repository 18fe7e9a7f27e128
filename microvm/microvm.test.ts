// Unit tests of the microVM's pure parts: cpio bytes, the guest config encoding, the
// accelerator decision, module order, resources, the bzImage version and QEMU's command line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CpioWriter, S_IFDIR, S_IFLNK, S_IFREG } from './cpio.js';
import { decodeGuestConfig, encodeGuestConfig } from './guest-config.js';
import { chooseAccelerator, cpuVirtualization } from './accelerator.js';
import { parseModulesDep, resolveModules } from './modules.js';
import { planVmResources } from './resources.js';
import { bzImageVersion, compareReleases, defaultKernelPath, findKernel } from './kernel.js';
import { qemuArgs } from './qemu.js';
import { addTree } from './initramfs.js';
import { chooseRootfsMode, parseRootfsMode, treeBytes } from './rootfs-image.js';

/** Parses a newc archive back into entries (name, mode, data). */
function parseCpio(buf: Buffer): { name: string; mode: number; data: Buffer }[] {
  const out = [];
  let off = 0;
  for (;;) {
    assert.equal(buf.toString('ascii', off, off + 6), '070701');
    const field = (i: number): number => parseInt(buf.toString('ascii', off + 6 + i * 8, off + 14 + i * 8), 16);
    const mode = field(1);
    const size = field(6);
    const nameSize = field(11);
    const name = buf.toString('utf8', off + 110, off + 110 + nameSize - 1);
    off += 110 + nameSize;
    off += (4 - (off % 4)) % 4;
    const data = buf.subarray(off, off + size);
    off += size;
    off += (4 - (off % 4)) % 4;
    if (name === 'TRAILER!!!') break;
    out.push({ name, mode, data });
  }
  assert.equal(off, buf.length, 'nothing after the trailer');
  return out;
}

test('cpio: newc entries with 4-byte alignment and a trailer', () => {
  const w = new CpioWriter();
  w.add({ name: '/kapsel', mode: S_IFDIR | 0o755 }).add({ name: 'kapsel/config', mode: S_IFREG | 0o600, data: Buffer.from('abcde') }).add({ name: 'l', mode: S_IFLNK | 0o777, data: Buffer.from('kapsel') });
  const buf = Buffer.concat(w.finish());
  assert.equal(buf.length % 4, 0);
  assert.equal(buf.length, w.byteLength);
  const entries = parseCpio(buf);
  assert.deepEqual(entries.map((e) => [e.name, e.mode.toString(8), e.data.toString()]), [
    ['kapsel', '40755', ''],
    ['kapsel/config', '100600', 'abcde'],
    ['l', '120777', 'kapsel'],
  ]);
  assert.throws(() => new CpioWriter().add({ name: 'a/../b', mode: S_IFREG }), /invalid cpio entry name/);
});

test('cpio: a directory tree keeps files, symlinks and directories', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kapsel-vm-cpio-'));
  try {
    mkdirSync(join(dir, 'bin'));
    writeFileSync(join(dir, 'bin', 'busybox'), 'ELF');
    symlinkSync('busybox', join(dir, 'bin', 'sh'));
    const w = new CpioWriter();
    addTree(w, dir, 'rootfs');
    const entries = parseCpio(Buffer.concat(w.finish()));
    assert.deepEqual(entries.map((e) => e.name), ['rootfs', 'rootfs/bin', 'rootfs/bin/busybox', 'rootfs/bin/sh']);
    assert.equal(entries[3]!.data.toString(), 'busybox');
    assert.equal(entries[3]!.mode & 0o170000, S_IFLNK);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('guest config: NUL-separated pairs in a fixed order; NUL inside a value is refused', () => {
  const bytes = encodeGuestConfig({ args: ['sh', '-c', 'echo a\nb'], env: ['A=1'], cwd: '/w', uid: 1000, gid: 100, additionalGids: [5], umask: 0o22, hostname: 'h', modules: ['/kapsel/modules/virtio.ko'], root: '/rootfs', port: 'kapsel' });
  assert.deepEqual(decodeGuestConfig(bytes), [
    ['module', '/kapsel/modules/virtio.ko'], ['port', 'kapsel'], ['root', '/rootfs'], ['hostname', 'h'], ['cwd', '/w'], ['uid', '1000'], ['gid', '100'], ['group', '5'], ['umask', '22'],
    ['arg', 'sh'], ['arg', '-c'], ['arg', 'echo a\nb'], ['env', 'A=1'],
  ]);
  assert.throws(() => encodeGuestConfig({ args: ['a\0b'], env: [], cwd: '/', uid: 0, gid: 0, modules: [], root: '/rootfs', port: 'k' }), /NUL/);
});

test('accelerator: kvm with VMX/SVM and a usable /dev/kvm; PVM and no /dev/kvm fall back to tcg with a note', () => {
  const vmx = 'processor\t: 0\nflags\t\t: fpu vme vmx sse\n';
  const none = 'processor\t: 0\nflags\t\t: fpu vme sse hypervisor\n';
  assert.equal(cpuVirtualization('flags\t: svm lm'), 'svm');
  assert.equal(chooseAccelerator(vmx, 'usable').accelerator, 'kvm');
  const pvm = chooseAccelerator(none, 'usable');
  assert.equal(pvm.accelerator, 'tcg');
  assert.match(pvm.note, /PVM/);
  assert.match(chooseAccelerator(vmx, 'missing').note, /no \/dev\/kvm/);
  assert.match(chooseAccelerator(vmx, 'no-access').note, /cannot be opened/);
  assert.equal(chooseAccelerator(vmx, 'usable', 'tcg').accelerator, 'tcg');
  assert.throws(() => chooseAccelerator(none, 'usable', 'kvm'), /kvm requested but not usable/);
  assert.throws(() => chooseAccelerator(none, 'usable', 'hvf'), /unknown VM accelerator/);
});

test('modules: dependencies load first, each once; built-ins are skipped; unknown is an error', () => {
  const dep = parseModulesDep([
    'kernel/drivers/virtio/virtio_ring.ko:',
    'kernel/drivers/virtio/virtio.ko:',
    'kernel/drivers/virtio/virtio_pci_modern_dev.ko:',
    'kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko',
    'kernel/drivers/char/virtio_console.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko',
  ].join('\n'));
  assert.deepEqual(resolveModules(dep, ['virtio_pci', 'virtio_console', 'ext4'], new Set(['ext4'])), [
    'kernel/drivers/virtio/virtio_ring.ko',
    'kernel/drivers/virtio/virtio.ko',
    'kernel/drivers/virtio/virtio_pci_modern_dev.ko',
    'kernel/drivers/virtio/virtio_pci.ko',
    'kernel/drivers/char/virtio_console.ko',
  ]);
  assert.throws(() => resolveModules(dep, ['erofs']), /kernel module `erofs`/);
});

test('resources: quota/period → vCPUs, memory limit → guest RAM minus the VMM allowance', () => {
  assert.deepEqual(planVmResources(undefined, 'tcg'), { vcpus: 1, memoryMiB: 256 });
  assert.deepEqual(planVmResources({ cpu: { quota: 150_000, period: 100_000 }, memory: { limit: 512 * 1024 * 1024 } }, 'tcg'), { vcpus: 2, memoryMiB: 384 });
  assert.deepEqual(planVmResources({ memory: { limit: 512 * 1024 * 1024 } }, 'kvm'), { vcpus: 1, memoryMiB: 464 });
  assert.throws(() => planVmResources({ memory: { limit: 100 * 1024 * 1024 } }, 'tcg'), /too small for a VM container/);
});

test('kernel: bzImage version string, newest cloud kernel, clear error when missing', () => {
  const header = Buffer.alloc(0x400);
  header.write('HdrS', 0x202, 'latin1');
  header.writeUInt16LE(0x100, 0x20e);
  header.write('6.1.0-9-cloud-amd64 (debian-kernel@lists.debian.org) #1 SMP\0', 0x300, 'latin1');
  assert.equal(bzImageVersion(header), '6.1.0-9-cloud-amd64 (debian-kernel@lists.debian.org) #1 SMP');
  assert.equal(bzImageVersion(Buffer.alloc(0x400)), undefined);
  assert.ok(compareReleases('6.1.0-10-cloud-amd64', '6.1.0-9-cloud-amd64') > 0);
  const boot = mkdtempSync(join(tmpdir(), 'kapsel-vm-boot-'));
  try {
    assert.throws(() => findKernel(undefined, '/lib/modules', boot), /no guest kernel/);
    for (const v of ['6.1.0-9', '6.1.0-10', '6.1.0-2']) writeFileSync(join(boot, `vmlinuz-${v}-cloud-amd64`), header);
    writeFileSync(join(boot, 'vmlinuz-6.2.0-1-amd64'), '');
    assert.equal(defaultKernelPath(boot), join(boot, 'vmlinuz-6.1.0-10-cloud-amd64'));
    assert.equal(findKernel(undefined, '/mods', boot).modulesDir, '/mods/6.1.0-9-cloud-amd64', 'the release comes from the header');
    assert.throws(() => findKernel(join(boot, 'nope')), /guest kernel `.*nope` does not exist/);
  } finally {
    rmSync(boot, { recursive: true, force: true });
  }
});

test('qemu: minimal q35 machine, accelerator, size, control port and disks on the command line', () => {
  const def = {
    kernel: '/boot/k', initrd: '/s/initrd.img', cmdline: 'console=ttyS0 quiet', vcpus: 2, memoryMiB: 384,
    accelerator: chooseAccelerator('flags: vmx', 'usable'), disks: [{ path: '/s/root.img', format: 'raw', readOnly: true }], log: '/s/vm.log', controlPort: 'kapsel',
  };
  const a = qemuArgs('/usr/bin/qemu-system-x86_64', def);
  const after = (flag: string): string | undefined => a[a.indexOf(flag) + 1];
  assert.ok(a.includes('-nodefaults') && a.includes('-no-user-config') && a.includes('-nographic'));
  assert.equal(after('-accel'), 'kvm');
  assert.equal(after('-cpu'), 'host');
  assert.equal(after('-smp'), '2');
  assert.equal(after('-m'), '384M');
  assert.equal(after('-kernel'), '/boot/k');
  assert.match(a.join(' '), /virtserialport,bus=kapsel-serial\.0,chardev=kapsel-ctl,name=kapsel/);
  assert.match(a.join(' '), /file=\/s\/root\.img,if=none,id=disk0,format=raw,readonly=on/);
  const tcg = qemuArgs('q', { ...def, accelerator: chooseAccelerator('flags: sse', 'missing'), disks: [] });
  assert.equal(tcg[tcg.indexOf('-accel') + 1], 'tcg,tb-size=64');
  assert.throws(() => qemuArgs('q', { ...def, disks: [{ path: '/a,b', format: 'raw', readOnly: false }] }), /contains , or =/);
});

test('rootfs mode: small trees go in the initramfs, large ones on an ext4 disk; unknown modes are refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kapsel-vm-rootfs-'));
  try {
    writeFileSync(join(dir, 'a'), Buffer.alloc(1000));
    mkdirSync(join(dir, 'd'));
    writeFileSync(join(dir, 'd', 'b'), Buffer.alloc(24));
    assert.equal(treeBytes(dir), 1024);
    assert.equal(chooseRootfsMode('auto', dir), 'initramfs');
    assert.equal(chooseRootfsMode('ext4', dir), 'ext4');
    assert.equal(parseRootfsMode(undefined), 'auto');
    assert.throws(() => parseRootfsMode('squashfs'), /unknown VM rootfs mode/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
