/**
 * The device cgroup rules a container gets (runtime-spec config-linux.md "Device allowlist").
 * Like runc, the configured rules come first, then the devices every container needs (the
 * default devices, ptys, tun, mknod of anything), then the devices linux.devices creates.
 */
import type { Device, DeviceCgroupRule } from '../oci/runtime-spec.js';

export const ALWAYS_ALLOWED: readonly DeviceCgroupRule[] = [
  { allow: true, type: 'c', access: 'm' },
  { allow: true, type: 'b', access: 'm' },
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }, // /dev/null
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' }, // /dev/random
  { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm' }, // /dev/full
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' }, // /dev/tty
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' }, // /dev/zero
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' }, // /dev/urandom
  { allow: true, type: 'c', major: 136, access: 'rwm' }, // /dev/pts/*
  { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' }, // /dev/ptmx
  { allow: true, type: 'c', major: 10, minor: 200, access: 'rwm' }, // /dev/net/tun
];

export function effectiveDeviceRules(configured: readonly DeviceCgroupRule[] | undefined, devices: readonly Device[] | undefined): DeviceCgroupRule[] {
  const created: DeviceCgroupRule[] = (devices ?? [])
    .filter((d) => d.type === 'c' || d.type === 'b' || d.type === 'u')
    .map((d) => ({ allow: true, type: d.type === 'b' ? 'b' : 'c', major: d.major ?? 0, minor: d.minor ?? 0, access: 'rwm' }));
  return [...(configured ?? []), ...ALWAYS_ALLOWED, ...created];
}
