/**
 * The guest kernel: by default the newest /boot/vmlinuz-*-cloud-amd64 (Debian's
 * linux-image-cloud-amd64), with its modules under /lib/modules/<release>/.
 */
import { closeSync, existsSync, openSync, readdirSync, readSync } from 'node:fs';
import { basename, join } from 'node:path';
import { KapselError } from '../common/errors.js';

export interface GuestKernel {
  readonly path: string;
  /** `uname -r` of the guest (from the bzImage header). */
  readonly release: string;
  readonly modulesDir: string;
}

/** The version string of an x86 bzImage (boot protocol: kernel_version at 0x20e, "HdrS" at 0x202). */
export function bzImageVersion(header: Buffer): string | undefined {
  if (header.length < 0x210 || header.toString('latin1', 0x202, 0x206) !== 'HdrS') return undefined;
  const at = header.readUInt16LE(0x20e) + 0x200;
  if (at >= header.length) return undefined;
  const end = header.indexOf(0, at);
  return header.toString('latin1', at, end < 0 ? header.length : end);
}

export function readKernelRelease(path: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const buf = Buffer.alloc(0x10000);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return bzImageVersion(buf.subarray(0, n))?.split(' ')[0];
  } finally {
    closeSync(fd);
  }
}

/** Compares kernel releases like `sort -V` would for the numeric parts. */
export function compareReleases(a: string, b: string): number {
  const pa = a.split(/[^0-9]+/).filter((x) => x !== '').map(Number);
  const pb = b.split(/[^0-9]+/).filter((x) => x !== '').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? -1) - (pb[i] ?? -1);
    if (d !== 0) return d;
  }
  return a.localeCompare(b);
}

export function defaultKernelPath(bootDir = '/boot'): string | undefined {
  let names: string[];
  try {
    names = readdirSync(bootDir).filter((n) => /^vmlinuz-.*-cloud-amd64$/.test(n));
  } catch {
    return undefined;
  }
  names.sort((x, y) => compareReleases(x.slice(8), y.slice(8)));
  const newest = names.at(-1);
  return newest === undefined ? undefined : join(bootDir, newest);
}

/** Resolves the kernel (explicit path or the default) and its modules directory. */
export function findKernel(path: string | undefined, modulesRoot = '/lib/modules', bootDir = '/boot'): GuestKernel {
  const kernel = path ?? defaultKernelPath(bootDir);
  if (kernel === undefined) {
    throw new KapselError('ERR_VM_KERNEL', `no guest kernel: no ${bootDir}/vmlinuz-*-cloud-amd64`, {
      hint: 'install linux-image-cloud-amd64, or name a kernel (vm.kernel.path, annotation run.kapsel.vm.kernel or KAPSEL_VM_KERNEL)',
    });
  }
  if (!existsSync(kernel)) {
    throw new KapselError('ERR_VM_KERNEL', `guest kernel \`${kernel}\` does not exist`, { hint: 'install linux-image-cloud-amd64 or fix the kernel path' });
  }
  const release = readKernelRelease(kernel) ?? basename(kernel).replace(/^vmlinuz-/, '');
  return { path: kernel, release, modulesDir: join(modulesRoot, release) };
}
