/**
 * The starter config that `kapsel spec` writes: the same document as `runc spec` (runc 1.1.5),
 * field for field and in the same key order, but declaring runtime-spec 1.2.0. The rootless
 * variant applies the same edits as `runc spec --rootless` (toRootless below).
 */

import { OCI_VERSION, type Mount, type Spec } from './runtime-spec.js';

export interface DefaultSpecOptions {
  /** Shape the config for an unprivileged user (a user namespace, no cgroup resources). */
  rootless?: boolean;
  /** Host uid/gid mapped to root in the rootless config; default: this process's euid/egid. */
  hostUid?: number;
  hostGid?: number;
}

const DEFAULT_CAPABILITIES = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];

export function defaultSpec(opts: DefaultSpecOptions = {}): Spec {
  const spec = rootfulSpec();
  if (opts.rootless !== true) return spec;
  return toRootless(spec, opts.hostUid ?? process.geteuid?.() ?? 0, opts.hostGid ?? process.getegid?.() ?? 0);
}

function rootfulSpec(): Spec {
  return {
    ociVersion: OCI_VERSION,
    process: {
      terminal: true,
      user: { uid: 0, gid: 0 },
      args: ['sh'],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'],
      cwd: '/',
      capabilities: {
        bounding: [...DEFAULT_CAPABILITIES],
        effective: [...DEFAULT_CAPABILITIES],
        permitted: [...DEFAULT_CAPABILITIES],
        ambient: [...DEFAULT_CAPABILITIES],
      },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: true },
    hostname: 'runc',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      {
        destination: '/dev', type: 'tmpfs', source: 'tmpfs',
        options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
      },
      {
        destination: '/dev/pts', type: 'devpts', source: 'devpts',
        options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
      },
      {
        destination: '/dev/shm', type: 'tmpfs', source: 'shm',
        options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'],
      },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      {
        destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup',
        options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'],
      },
    ],
    linux: {
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      maskedPaths: [
        '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats',
        '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/sys/firmware', '/proc/scsi',
      ],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}

/**
 * The edits `runc spec --rootless` makes: drop the network namespace and add a user namespace
 * mapping root to the caller; bind /sys instead of mounting a sysfs the user may not mount;
 * drop uid=/gid= mount options the unprivileged user cannot honour; drop cgroup resources.
 * Returns a new Spec; the keys keep runc's order (mappings first under `linux`).
 */
export function toRootless(spec: Spec, hostUid: number, hostGid: number): Spec {
  const { resources: _dropped, uidMappings: _u, gidMappings: _g, namespaces = [], ...linuxRest } = spec.linux ?? {};
  const kept = namespaces.filter((ns) => ns.type !== 'network' && ns.type !== 'user');
  const out: Spec = { ...spec };
  if (spec.mounts !== undefined) out.mounts = spec.mounts.map(rootlessMount);
  out.linux = {
    uidMappings: [{ containerID: 0, hostID: hostUid, size: 1 }],
    gidMappings: [{ containerID: 0, hostID: hostGid, size: 1 }],
    namespaces: [...kept.map((ns) => ({ ...ns })), { type: 'user' }],
    ...linuxRest,
  };
  return out;
}

function rootlessMount(mount: Mount): Mount {
  if (mount.destination.replace(/\/+$/, '') === '/sys') {
    return { destination: '/sys', type: 'none', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] };
  }
  const copy: Mount = { ...mount };
  if (mount.options !== undefined) {
    const options = mount.options.filter((o) => !o.startsWith('uid=') && !o.startsWith('gid='));
    if (options.length > 0) copy.options = options;
    else delete copy.options; // runc leaves a nil slice, which JSON omits
  }
  return copy;
}
