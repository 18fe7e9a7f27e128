/**
 * The runtime-spec "features" document (features.md, features-linux.md) that `kapsel features`
 * prints: what this runtime recognizes, independent of what the host supports. An absent list
 * means "unknown", not "none" (features.md), so the builder leaves out whatever the caller
 * does not supply.
 */

import { HOOK_NAMES, NAMESPACE_TYPES, OCI_VERSION } from './runtime-spec.js';

export interface Features {
  ociVersionMin: string;
  ociVersionMax: string;
  hooks?: string[];
  mountOptions?: string[];
  linux?: LinuxFeatures;
  annotations?: Record<string, string>;
  /** Config annotation names (a trailing `.` marks a prefix) that change runtime behaviour. */
  potentiallyUnsafeConfigAnnotations?: string[];
}

export interface LinuxFeatures {
  namespaces?: string[];
  capabilities?: string[];
  cgroup?: CgroupFeatures;
  seccomp?: SeccompFeatures;
  apparmor?: EnabledFeature;
  selinux?: EnabledFeature;
  intelRdt?: EnabledFeature;
  mountExtensions?: MountExtensionFeatures;
}

/** Which cgroup managers the runtime implements (not what the host runs). */
export interface CgroupFeatures {
  v1?: boolean;
  v2?: boolean;
  systemd?: boolean;
  systemdUser?: boolean;
  rdma?: boolean;
}

export interface SeccompFeatures {
  enabled?: boolean;
  actions?: string[];
  operators?: string[];
  archs?: string[];
  /** Flags the runtime recognizes. */
  knownFlags?: string[];
  /** The subset of knownFlags this kernel and libseccomp accept. */
  supportedFlags?: string[];
}

export interface EnabledFeature {
  enabled?: boolean;
}

export interface MountExtensionFeatures {
  idmap?: EnabledFeature;
}

/** What the caller knows about the runtime build; every field is optional. */
export interface KapselFeatureInput {
  mountOptions?: string[];
  capabilities?: string[];
  cgroup?: CgroupFeatures;
  seccomp?: SeccompFeatures;
  apparmor?: boolean;
  selinux?: boolean;
  intelRdt?: boolean;
  idmapMounts?: boolean;
  annotations?: Record<string, string>;
  potentiallyUnsafeConfigAnnotations?: string[];
}

/** The oldest runtime-spec version whose configs kapsel accepts. */
export const OCI_VERSION_MIN = '1.0.0';

export function kapselFeatures(input: KapselFeatureInput = {}): Features {
  const linux: LinuxFeatures = { namespaces: [...NAMESPACE_TYPES].sort() };
  if (input.capabilities !== undefined) linux.capabilities = [...input.capabilities];
  if (input.cgroup !== undefined) linux.cgroup = { ...input.cgroup };
  if (input.seccomp !== undefined) linux.seccomp = copySeccomp(input.seccomp);
  if (input.apparmor !== undefined) linux.apparmor = { enabled: input.apparmor };
  if (input.selinux !== undefined) linux.selinux = { enabled: input.selinux };
  if (input.intelRdt !== undefined) linux.intelRdt = { enabled: input.intelRdt };
  if (input.idmapMounts !== undefined) linux.mountExtensions = { idmap: { enabled: input.idmapMounts } };

  const features: Features = {
    ociVersionMin: OCI_VERSION_MIN,
    ociVersionMax: OCI_VERSION,
    hooks: [...HOOK_NAMES],
  };
  if (input.mountOptions !== undefined) features.mountOptions = [...input.mountOptions].sort();
  features.linux = linux;
  if (input.annotations !== undefined) features.annotations = { ...input.annotations };
  if (input.potentiallyUnsafeConfigAnnotations !== undefined) {
    features.potentiallyUnsafeConfigAnnotations = [...input.potentiallyUnsafeConfigAnnotations];
  }
  return features;
}

function copySeccomp(seccomp: SeccompFeatures): SeccompFeatures {
  const out: SeccompFeatures = {};
  if (seccomp.enabled !== undefined) out.enabled = seccomp.enabled;
  for (const key of ['actions', 'operators', 'archs', 'knownFlags', 'supportedFlags'] as const) {
    const list = seccomp[key];
    if (list !== undefined) out[key] = [...list].sort();
  }
  return out;
}
