/**
 * `kapsel run` flags -> the container's config (docker's Config/HostConfig) and the edits to the
 * image's runtime-spec: mounts (-v, --tmpfs), resources, capabilities, seccomp, namespaces.
 * Pure except for reading --env-file and a seccomp profile file.
 */
import { parsePublish } from '../network/ports.js';
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { KapselError, UsageError } from '../common/errors.js';
import type { Spec } from '../oci/runtime-spec.js';

type LinuxSeccomp = NonNullable<NonNullable<Spec['linux']>['seccomp']>;
import { parseMemoryBytes } from '../runtime/update.js';
import { parseSignal } from '../runtime/signals.js';
import { ISOLATION_ANNOTATION } from '../runtime/vm-container.js';
import type { HostConfig, RestartPolicy } from './container-store.js';

export interface RunFlags {
  readonly image: string;
  readonly args: readonly string[];
  readonly name?: string | undefined;
  readonly detach?: boolean;
  readonly interactive?: boolean;
  readonly tty?: boolean;
  readonly rm?: boolean;
  readonly env?: readonly string[];
  readonly envFile?: readonly string[];
  readonly workdir?: string | undefined;
  readonly user?: string | undefined;
  readonly volumes?: readonly string[];
  readonly tmpfs?: readonly string[];
  readonly hostname?: string | undefined;
  readonly memory?: string | undefined;
  readonly memorySwap?: string | undefined;
  readonly cpus?: string | undefined;
  readonly cpuShares?: number | undefined;
  readonly cpusetCpus?: string | undefined;
  readonly pidsLimit?: number | undefined;
  readonly readOnly?: boolean;
  readonly capAdd?: readonly string[];
  readonly capDrop?: readonly string[];
  readonly securityOpt?: readonly string[];
  readonly privileged?: boolean;
  readonly entrypoint?: string | undefined;
  readonly init?: boolean;
  readonly stopSignal?: string | undefined;
  readonly restart?: string | undefined;
  readonly network?: string | undefined;
  readonly isolation?: string | undefined;
  readonly publish?: readonly string[];
  /** --ip on the (first) bridge network. */
  readonly ip?: string | undefined;
  /** docker's --log-opt for the json-file driver: max-size=SIZE, max-file=N. */
  readonly logOpts?: readonly string[];
}

/** `--log-opt max-size=10m --log-opt max-file=3` (docker's json-file options; defaults 10m and 2). */
export function parseLogOpts(opts: readonly string[]): { maxBytes: number; maxFiles: number } {
  let maxBytes = 10 * 1024 * 1024;
  let maxFiles = 2;
  for (const o of opts) {
    const m = /^(max-size|max-file)=(.+)$/.exec(o);
    if (!m) throw new UsageError(`invalid --log-opt \`${o}\`: use max-size=SIZE or max-file=N`);
    if (m[1] === 'max-size') maxBytes = parseMemoryBytes('--log-opt max-size', m[2]!);
    else {
      maxFiles = Number(m[2]);
      if (!Number.isInteger(maxFiles) || maxFiles < 1 || maxFiles > 9) throw new UsageError(`invalid --log-opt \`${o}\`: max-file is 1 to 9`);
    }
  }
  if (maxBytes < 1024 && maxBytes !== -1) throw new UsageError('--log-opt max-size: at least 1k');
  return { maxBytes: maxBytes === -1 ? 0 : maxBytes, maxFiles };
}

/** docker's default capability set (moby oci/caps/defaults.go). */
export const DOCKER_DEFAULT_CAPS = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

export function parseRestartPolicy(text: string | undefined): RestartPolicy {
  if (text === undefined || text === '' || text === 'no') return { name: 'no', maximumRetryCount: 0 };
  const m = /^(always|unless-stopped|on-failure)(?::(\d+))?$/.exec(text);
  if (!m || (m[2] !== undefined && m[1] !== 'on-failure')) {
    throw new UsageError(`invalid restart policy \`${text}\`: use no, always, unless-stopped or on-failure[:N]`);
  }
  return { name: m[1] as RestartPolicy['name'], maximumRetryCount: m[2] === undefined ? 0 : Number(m[2]) };
}

export function readEnvFiles(files: readonly string[]): string[] {
  const out: string[] = [];
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch (err) {
      throw new KapselError('ERR_USAGE', `read env file \`${f}\`: ${(err as Error).message}`, { cause: err });
    }
    for (const raw of text.split('\n')) {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) continue;
      // a bare NAME takes the value from our own environment, as docker does
      out.push(line.includes('=') ? line : `${line}=${process.env[line] ?? ''}`);
    }
  }
  return out;
}

function capName(c: string): string {
  const u = c.toUpperCase();
  return u === 'ALL' ? u : u.startsWith('CAP_') ? u : `CAP_${u}`;
}

/** `--cpus 1.5` as docker's NanoCpus (1.5e9); a usage error unless it is a positive number. */
export function parseCpus(text: string): number {
  const nanoCpus = Math.round(Number(text) * 1e9);
  if (!Number.isFinite(nanoCpus) || nanoCpus <= 0) throw new UsageError(`invalid value for --cpus: \`${text}\``);
  return nanoCpus;
}

/** NanoCpus as a CFS quota over docker's 100 ms period. */
export function cpuQuotaOf(nanoCpus: number): { period: number; quota: number } {
  return { period: 100_000, quota: Math.round((nanoCpus / 1e9) * 100_000) };
}

export function hostConfigFrom(f: RunFlags): HostConfig {
  const nanoCpus = f.cpus === undefined ? 0 : parseCpus(f.cpus);
  const vm = isolationIsVm(f);
  // docker's default: the kapsel0 bridge network; a VM container has no network device yet
  const network = f.network ?? (vm ? 'none' : 'bridge');
  if (network === 'container:') throw new UsageError('--network container: needs a container name or id');
  if (!isBridgeMode(network)) {
    if ((f.publish ?? []).length > 0) throw new UsageError(`-p/--publish needs a bridge network, not --network ${network}`, { hint: 'add --network bridge (or a network made with `kapsel network create`)' });
    if (f.ip !== undefined) throw new UsageError(`--ip needs a bridge network, not --network ${network}`);
  }
  const portBindings = (f.publish ?? []).map(parsePublish);
  if (vm) {
    const unsupported = [
      network !== 'none' && `--network ${network}`,
      (f.volumes ?? []).length > 0 && '-v/--volume',
      (f.tmpfs ?? []).length > 0 && '--tmpfs',
      f.init === true && '--init',
      f.tty === true && '-t/--tty',
    ].filter((x): x is string => typeof x === 'string');
    if (unsupported.length > 0) throw new UsageError(`--isolation vm: ${unsupported.join(', ')} not supported for VM containers yet`, { hint: 'VM containers run with --network none, without volumes or a terminal' });
  }
  for (const s of f.securityOpt ?? []) {
    if (!/^(seccomp[=:].+|no-new-privileges(:true|:false|=true|=false)?)$/.test(s)) {
      throw new UsageError(`invalid --security-opt \`${s}\`: use seccomp=FILE|unconfined or no-new-privileges`);
    }
  }
  if (f.stopSignal !== undefined) parseSignal(f.stopSignal);
  return {
    autoRemove: f.rm === true,
    restartPolicy: parseRestartPolicy(f.restart),
    binds: [...(f.volumes ?? [])],
    tmpfs: [...(f.tmpfs ?? [])],
    networkMode: network,
    portBindings,
    ...(f.ip !== undefined && { ipAddress: f.ip }),
    readonlyRootfs: f.readOnly === true,
    privileged: f.privileged === true,
    init: f.init === true,
    capAdd: (f.capAdd ?? []).map(capName),
    capDrop: (f.capDrop ?? []).map(capName),
    securityOpt: [...(f.securityOpt ?? [])],
    memory: f.memory === undefined ? 0 : parseMemoryBytes('--memory', f.memory),
    memorySwap: f.memorySwap === undefined ? 0 : parseMemoryBytes('--memory-swap', f.memorySwap),
    nanoCpus,
    cpuShares: f.cpuShares ?? 0,
    cpusetCpus: f.cpusetCpus ?? '',
    pidsLimit: f.pidsLimit ?? 0,
    logMaxBytes: parseLogOpts(f.logOpts ?? []).maxBytes,
    logMaxFiles: parseLogOpts(f.logOpts ?? []).maxFiles,
    ...(vm && { isolation: 'vm' as const }),
  };
}

/** --isolation: container (or default, docker's word) or vm (README "MicroVM isolation"). */
function isolationIsVm(f: RunFlags): boolean {
  if (f.isolation === undefined || f.isolation === 'container' || f.isolation === 'default') return false;
  if (f.isolation === 'vm') return true;
  throw new UsageError(`invalid --isolation \`${f.isolation}\`: use container, default or vm`);
}

function bindMount(spec: string): { source: string; destination: string; readonly: boolean } {
  const parts = spec.split(':');
  if (parts.length < 2 || parts.length > 3 || parts[0] === '' || !isAbsolute(parts[1] ?? '')) {
    throw new UsageError(`invalid volume \`${spec}\`: use SRC:DST[:ro|rw] with an absolute DST`);
  }
  const mode = parts[2] ?? 'rw';
  if (mode !== 'ro' && mode !== 'rw') throw new UsageError(`invalid volume mode \`${mode}\` in \`${spec}\`: use ro or rw`);
  if (!isAbsolute(parts[0]!)) throw new KapselError('ERR_NOT_YET', `volume \`${spec}\`: named volumes are not yet supported; give an absolute host path`);
  return { source: resolve(parts[0]!), destination: parts[1]!, readonly: mode === 'ro' };
}

function loadSeccomp(file: string): LinuxSeccomp {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as LinuxSeccomp;
  } catch (err) {
    throw new KapselError('ERR_USAGE', `seccomp profile \`${file}\`: ${(err as Error).message}`, { cause: err });
  }
}

/** Where `--init` puts kapsel-init in the container (docker uses the same path). */
export const INIT_PATH = '/dev/init';

/** Applies the host config to the spec the image gave (in place); `initBinary` is kapsel-init on the host. */
export function applyHostConfig(spec: Spec, hc: HostConfig, initBinary = ''): void {
  const proc = spec.process!;
  if (hc.init === true) {
    if (initBinary === '') throw new KapselError('ERR_INIT', '--init: no kapsel-init binary', { hint: 'build it with `make -C native`' });
    // read-only bind of the static init, which runs the command as its child
    (spec.mounts ??= []).push({ destination: INIT_PATH, type: 'bind', source: initBinary, options: ['bind', 'ro', 'nosuid', 'nodev'] });
    proc.args = [INIT_PATH, '--', ...(proc.args ?? [])];
  }
  const linux = (spec.linux ??= {});
  // kapsel-runtime boots the container in a VM (runtime/vm-container.ts); limits size the VM
  if (hc.isolation === 'vm') spec.annotations = { ...(spec.annotations ?? {}), [ISOLATION_ANNOTATION]: 'vm' };
  // docker's defaults, not runc's: its 14 capabilities, no_new_privs only on request
  let caps = hc.privileged ? ALL_CAPS : [...DOCKER_DEFAULT_CAPS];
  if (hc.capAdd.includes('ALL')) caps = ALL_CAPS;
  else for (const c of hc.capAdd) if (!caps.includes(c)) caps.push(c);
  caps = hc.capDrop.includes('ALL') ? [] : caps.filter((c) => !hc.capDrop.includes(c));
  proc.capabilities = { bounding: [...caps], effective: [...caps], permitted: [...caps] };
  proc.noNewPrivileges = false;
  for (const opt of hc.securityOpt) {
    const m = /^seccomp[=:](.+)$/.exec(opt);
    if (m) {
      if (m[1] === 'unconfined') delete linux.seccomp;
      else linux.seccomp = loadSeccomp(m[1]!);
    } else if (/^no-new-privileges(:true|=true)?$/.test(opt)) proc.noNewPrivileges = true;
  }
  if (hc.privileged) {
    delete linux.seccomp;
    linux.maskedPaths = [];
    linux.readonlyPaths = [];
    linux.resources = { ...linux.resources, devices: [{ allow: true, access: 'rwm' }] };
    for (const m of spec.mounts ?? []) if (m.type === 'sysfs' || m.type === 'cgroup') m.options = (m.options ?? []).filter((o) => o !== 'ro');
  }
  if (hc.networkMode === 'host') linux.namespaces = (linux.namespaces ?? []).filter((n) => n.type !== 'network');
  const mounts = (spec.mounts ??= []);
  for (const v of hc.binds) {
    const b = bindMount(v);
    mounts.push({ destination: b.destination, type: 'bind', source: b.source, options: ['rbind', b.readonly ? 'ro' : 'rw'] });
  }
  for (const t of hc.tmpfs) {
    const [dest, opts] = [t.split(':')[0] ?? '', t.split(':').slice(1).join(':')];
    if (!isAbsolute(dest)) throw new UsageError(`invalid --tmpfs \`${t}\`: use an absolute path[:options]`);
    mounts.push({ destination: dest, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', ...(opts === '' ? [] : opts.split(','))] });
  }
  const r = (linux.resources ??= {});
  if (hc.memory > 0) {
    r.memory = { ...r.memory, limit: hc.memory };
    // docker: without --memory-swap the container may use as much swap as memory
    r.memory.swap = hc.memorySwap !== 0 ? hc.memorySwap : hc.memory * 2;
  } else if (hc.memorySwap !== 0) {
    throw new UsageError('--memory-swap needs --memory');
  }
  if (hc.nanoCpus > 0) r.cpu = { ...r.cpu, ...cpuQuotaOf(hc.nanoCpus) };
  if (hc.cpuShares > 0) r.cpu = { ...r.cpu, shares: hc.cpuShares };
  if (hc.cpusetCpus !== '') r.cpu = { ...r.cpu, cpus: hc.cpusetCpus };
  if (hc.pidsLimit !== 0) r.pids = { limit: hc.pidsLimit };
}

const ALL_CAPS = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW',
  'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD',
  'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG',
  'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

/** A network mode that means a kapsel bridge network: `bridge` (the default network) or a name. */
export function isBridgeMode(mode: string): boolean {
  return mode !== 'none' && mode !== 'host' && !mode.startsWith('container:');
}
