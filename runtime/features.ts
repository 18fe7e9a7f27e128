/** `features`: what this build of kapsel-runtime supports (runtime-spec features.md). */
import { CAPABILITIES } from '../sys/constants.js';
import { kapselFeatures, type Features } from '../oci/features.js';
import { SECCOMP_ACTIONS, SECCOMP_ARCHES, SECCOMP_FLAGS, SECCOMP_OPERATORS } from '../oci/runtime-spec.js';

const MOUNT_OPTIONS = [
  'async', 'atime', 'bind', 'defaults', 'dev', 'diratime', 'dirsync', 'exec', 'lazytime', 'loud', 'mand',
  'noatime', 'nodev', 'nodiratime', 'noexec', 'nolazytime', 'nomand', 'norelatime', 'nostrictatime', 'nosuid',
  'nosymfollow', 'private', 'ratime', 'rbind', 'rdev', 'rdiratime', 'relatime', 'remount', 'rexec',
  'rnoatime', 'rnodev', 'rnodiratime', 'rnoexec', 'rnorelatime', 'rnostrictatime', 'rnosuid', 'rnosymfollow',
  'ro', 'rprivate', 'rrelatime', 'rro', 'rrw', 'rshared', 'rslave', 'rstrictatime', 'rsuid', 'rsymfollow',
  'runbindable', 'rw', 'shared', 'silent', 'slave', 'strictatime', 'suid', 'sync', 'tmpcopyup', 'unbindable',
];

export function runtimeFeatures(): Features {
  return kapselFeatures({
    mountOptions: MOUNT_OPTIONS,
    capabilities: [...CAPABILITIES],
    cgroup: { v1: true, v2: true, systemd: false, systemdUser: false, rdma: false },
    seccomp: {
      enabled: true,
      actions: SECCOMP_ACTIONS.filter((a) => a !== 'SCMP_ACT_NOTIFY'),
      operators: [...SECCOMP_OPERATORS],
      archs: [...SECCOMP_ARCHES],
      knownFlags: [...SECCOMP_FLAGS],
      supportedFlags: [...SECCOMP_FLAGS],
    },
    apparmor: false,
    selinux: false,
    intelRdt: false,
    idmapMounts: false,
    annotations: { 'io.github.kapsel.runtime': 'kapsel-runtime' },
  });
}
