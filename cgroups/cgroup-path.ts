/**
 * runtime-spec `linux.cgroupsPath` (config-linux.md "Cgroups path"):
 * - absolute (`/a/b`): relative to each hierarchy's mount point;
 * - relative (`a/b`): relative to the calling process's own cgroup in that hierarchy
 *   (/proc/self/cgroup), as runc's fs driver does;
 * - `slice:prefix:name`: the systemd driver's syntax, not supported yet (ERR_CGROUP_SYSTEMD).
 * A path must stay inside its hierarchy: `..` components are refused outright. Pure.
 */

import { posix } from 'node:path';
import { KapselError } from '../common/errors.js';

export type CgroupsPath = { readonly kind: 'absolute' | 'relative'; readonly path: string };

/** Validates `cgroupsPath` and normalises it (no empty, `.` or trailing components). */
export function parseCgroupsPath(cgroupsPath: string): CgroupsPath {
  if (cgroupsPath === '') throw new KapselError('ERR_CGROUP_PATH', 'invalid cgroups path: empty', { hint: 'the runtime default is `/kapsel/<id>`' });
  if (!cgroupsPath.startsWith('/') && /^[^/:]*:[^/:]*:[^/:]*$/.test(cgroupsPath)) {
    throw new KapselError('ERR_CGROUP_SYSTEMD', `cgroups path \`${cgroupsPath}\`: systemd \`slice:prefix:name\` paths are not supported yet`, {
      hint: 'use a filesystem path such as `/kapsel/<id>`',
    });
  }
  if (cgroupsPath.includes('\0')) throw new KapselError('ERR_CGROUP_PATH', 'invalid cgroups path: contains NUL');
  const parts = cgroupsPath.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) {
    throw new KapselError('ERR_CGROUP_PATH', `invalid cgroups path \`${cgroupsPath}\`: \`..\` components are not allowed`);
  }
  if (parts.length === 0) throw new KapselError('ERR_CGROUP_PATH', `invalid cgroups path \`${cgroupsPath}\`: names the hierarchy root`);
  return { kind: cgroupsPath.startsWith('/') ? 'absolute' : 'relative', path: parts.join('/') };
}

/**
 * The directory of the container's cgroup in one hierarchy.
 * `mountRoot` is the mountinfo root field (the cgroup the mount exposes: `/` on the host,
 * deeper inside a container); `ownCgroup` the caller's path from /proc/self/cgroup.
 */
export function cgroupDirIn(mountPoint: string, mountRoot: string, ownCgroup: string | undefined, path: CgroupsPath): string {
  if (path.kind === 'absolute') return posix.join(mountPoint, path.path);
  if (ownCgroup === undefined) {
    throw new KapselError('ERR_CGROUP_PATH', `resolve relative cgroups path \`${path.path}\`: own cgroup unknown for \`${mountPoint}\``);
  }
  const rel = posix.relative(mountRoot, ownCgroup);
  if (rel.startsWith('..')) {
    throw new KapselError('ERR_CGROUP_PATH', `resolve relative cgroups path \`${path.path}\`: own cgroup \`${ownCgroup}\` is outside the mount of \`${mountPoint}\``);
  }
  return posix.join(mountPoint, rel, path.path);
}
