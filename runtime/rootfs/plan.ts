/**
 * The container's filesystem view (runtime-spec config.md "Root", "Mounts"; config-linux.md
 * "Devices", "Default Devices", "Masked Paths", "Readonly Paths", "Rootfs Mount Propagation").
 * Pure: spec in, plain data out; runtime/rootfs/apply.ts walks it.
 */
import { MS_REC, MS_SLAVE, S_IFBLK, S_IFCHR, S_IFIFO } from '../../sys/constants.js';
import type { Device, IdMapping, Mount, Spec } from '../../oci/runtime-spec.js';
import { parseMountOptions, type ParsedMountOptions } from '../mount-options.js';
import { toHostId } from '../../namespaces/plan.js';
import { components } from './in-root.js';

export interface MountStep {
  readonly destination: string;
  readonly type: string;
  /** Absolute host path for binds (relative sources resolved against the bundle). */
  readonly source: string;
  readonly bind: boolean;
  readonly recursive: boolean;
  readonly options: ParsedMountOptions;
}

export interface DeviceStep {
  readonly path: string;
  /** st_mode: type bits | permission bits. */
  readonly mode: number;
  readonly major: number;
  readonly minor: number;
  /** Host ids (container ids mapped through the user namespace). */
  readonly uid: number;
  readonly gid: number;
}

export interface RootfsPlan {
  readonly rootfs: string;
  /** Propagation of "/" in the new mount namespace before anything is mounted. */
  readonly rootPropagation: number;
  /** rootfsPropagation applied to the container's "/" after pivot_root, 0 for none. */
  readonly finalPropagation: number;
  readonly mounts: readonly MountStep[];
  readonly devices: readonly DeviceStep[];
  /** Bind-mount host device nodes instead of mknod (user namespace: nodev superblocks). */
  readonly bindDevices: boolean;
  readonly symlinks: readonly { readonly target: string; readonly path: string }[];
  readonly ptmxSymlink: boolean;
  readonly maskedPaths: readonly string[];
  readonly readonlyPaths: readonly string[];
  readonly readonlyRoot: boolean;
  /** pivot_root (default), MS_MOVE + chroot (--no-pivot), or chroot only (no mount namespace). */
  readonly switchRoot: 'pivot' | 'move' | 'chroot';
  readonly console: boolean;
  /** Initial terminal size (rows, columns) when console is set. */
  readonly consoleSize: { readonly height: number; readonly width: number } | undefined;
  readonly cwd: string;
}

/** Created unless the config names the same path (runtime-spec "Default Devices"). */
export const DEFAULT_DEVICES: readonly Device[] = [
  { path: '/dev/null', type: 'c', major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/zero', type: 'c', major: 1, minor: 5, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/full', type: 'c', major: 1, minor: 7, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/random', type: 'c', major: 1, minor: 8, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/urandom', type: 'c', major: 1, minor: 9, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/tty', type: 'c', major: 5, minor: 0, fileMode: 0o666, uid: 0, gid: 0 },
];

const PROPAGATION_FLAGS: Readonly<Record<string, number>> = {
  private: 0x40000, rprivate: 0x40000 | MS_REC, shared: 0x100000, rshared: 0x100000 | MS_REC,
  slave: MS_SLAVE, rslave: MS_SLAVE | MS_REC, unbindable: 0x20000, runbindable: 0x20000 | MS_REC,
};

function deviceMode(d: Device): number {
  const type = d.type === 'b' ? S_IFBLK : d.type === 'p' ? S_IFIFO : S_IFCHR;
  return type | ((d.fileMode ?? 0o666) & 0o7777);
}

function planMount(m: Mount, bundle: string): MountStep {
  const options = parseMountOptions(m.options ?? [], `\`${m.destination}\``);
  const type = m.type ?? (options.flags & 0x1000 ? 'bind' : 'none');
  const bind = type === 'bind' || (options.flags & 0x1000) !== 0;
  const rawSource = m.source ?? '';
  const source = bind && rawSource !== '' && !rawSource.startsWith('/') ? `${bundle}/${rawSource}` : rawSource;
  return { destination: m.destination, type, source, bind, recursive: bind && (options.flags & MS_REC) !== 0, options };
}

export interface RootfsPlanOptions {
  readonly bundle: string;
  readonly rootfs: string;
  readonly newMountNamespace: boolean;
  readonly newUserNamespace: boolean;
  readonly noPivot: boolean;
}

export function planRootfs(spec: Spec, opts: RootfsPlanOptions): RootfsPlan {
  const linux = spec.linux ?? {};
  const uidMappings: readonly IdMapping[] = opts.newUserNamespace ? (linux.uidMappings ?? []) : [];
  const gidMappings: readonly IdMapping[] = opts.newUserNamespace ? (linux.gidMappings ?? []) : [];
  const mounts = (spec.mounts ?? []).map((m) => planMount(m, opts.bundle));
  // A bind mount of /dev from the host replaces device creation (runc: needsSetupDev).
  const devBound = mounts.some((m) => m.bind && components(m.destination).join('/') === 'dev');
  const configured = linux.devices ?? [];
  const names = new Set(configured.map((d) => components(d.path).join('/')));
  const devices = devBound
    ? []
    : [...DEFAULT_DEVICES.filter((d) => !names.has(components(d.path).join('/'))), ...configured].map((d) => ({
        path: d.path,
        mode: deviceMode(d),
        major: d.major ?? 0,
        minor: d.minor ?? 0,
        uid: toHostId(d.uid ?? 0, uidMappings),
        gid: toHostId(d.gid ?? 0, gidMappings),
      }));
  const propagation = linux.rootfsPropagation ? (PROPAGATION_FLAGS[linux.rootfsPropagation] ?? 0) : 0;
  return {
    rootfs: opts.rootfs,
    rootPropagation: propagation !== 0 ? propagation : MS_SLAVE | MS_REC,
    finalPropagation: propagation,
    mounts,
    devices,
    bindDevices: opts.newUserNamespace,
    symlinks: devBound
      ? []
      : [
          { target: '/proc/self/fd', path: '/dev/fd' },
          { target: '/proc/self/fd/0', path: '/dev/stdin' },
          { target: '/proc/self/fd/1', path: '/dev/stdout' },
          { target: '/proc/self/fd/2', path: '/dev/stderr' },
        ],
    ptmxSymlink: !devBound,
    maskedPaths: linux.maskedPaths ?? [],
    readonlyPaths: linux.readonlyPaths ?? [],
    readonlyRoot: spec.root?.readonly === true,
    switchRoot: !opts.newMountNamespace ? 'chroot' : opts.noPivot ? 'move' : 'pivot',
    console: spec.process?.terminal === true,
    consoleSize: spec.process?.consoleSize,
    cwd: spec.process?.cwd ?? '/',
  };
}
