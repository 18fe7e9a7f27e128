/** `kapsel ps` rows and `kapsel inspect` documents (docker's field names), from the record and the derived state. */
import { containerNetworkSettings } from './network.js';
import type { EngineContext } from './context.js';
import type { ContainerRecord } from './container-store.js';
import { deriveState, type DerivedState } from './status.js';

export interface PsRow {
  readonly Id: string;
  readonly Names: string;
  readonly Image: string;
  readonly Command: string;
  readonly CreatedAt: string;
  readonly State: string;
  readonly Status: string;
  readonly ExitCode: number;
  readonly Pid: number;
}

function ago(iso: string): string {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return `${s} seconds ago`;
  if (s < 3600) return `${Math.round(s / 60)} minutes ago`;
  return `${Math.round(s / 3600)} hours ago`;
}

function statusText(rec: ContainerRecord, d: DerivedState): string {
  if (d.status === 'running') return `Up since ${rec.startedAt}`;
  if (d.status === 'paused') return `Up since ${rec.startedAt} (Paused)`;
  if (d.status === 'exited') return `Exited (${d.exitCode}) ${rec.finishedAt === '' ? '' : ago(rec.finishedAt)}`.trim();
  if (d.status === 'restarting') return `Restarting (${rec.exitCode})`;
  return 'Created';
}

export function listContainers(ctx: EngineContext, all: boolean): PsRow[] {
  const rows: PsRow[] = [];
  for (const id of ctx.containers.ids()) {
    let rec: ContainerRecord;
    try {
      rec = ctx.containers.read(id);
    } catch {
      continue; // removed while we listed
    }
    const d = deriveState(ctx, rec);
    if (!all && d.status !== 'running' && d.status !== 'paused' && d.status !== 'restarting') continue;
    rows.push({
      Id: id,
      Names: rec.name,
      Image: rec.config.image,
      Command: [...(rec.config.entrypoint ?? []), ...rec.config.cmd].join(' '),
      CreatedAt: rec.created,
      State: d.status,
      Status: statusText(rec, d),
      ExitCode: d.exitCode,
      Pid: d.pid,
    });
  }
  return rows.sort((a, b) => b.CreatedAt.localeCompare(a.CreatedAt));
}

/** docker inspect's shape for a container. */
export function inspectContainer(ctx: EngineContext, ref: string): Record<string, unknown> {
  const id = ctx.containers.resolve(ref);
  const rec = ctx.containers.read(id);
  const d = deriveState(ctx, rec);
  const hc = rec.hostConfig;
  const net = containerNetworkSettings(ctx, rec) ?? {};
  const dir = ctx.containers.dir(id);
  return {
    Id: id,
    Created: rec.created,
    Path: [...(rec.config.entrypoint ?? []), ...rec.config.cmd][0] ?? '',
    Args: [...(rec.config.entrypoint ?? []), ...rec.config.cmd].slice(1),
    State: {
      Status: d.status,
      Running: d.status === 'running' || d.status === 'paused',
      Paused: d.status === 'paused',
      Restarting: d.status === 'restarting',
      OOMKilled: rec.oomKilled,
      Dead: false,
      Pid: d.pid,
      ExitCode: d.exitCode,
      Error: rec.error,
      StartedAt: rec.startedAt === '' ? '0001-01-01T00:00:00Z' : rec.startedAt,
      FinishedAt: rec.finishedAt === '' ? '0001-01-01T00:00:00Z' : rec.finishedAt,
    },
    Image: rec.config.image,
    ResolvConfPath: '',
    HostnamePath: '',
    LogPath: ctx.containers.logPath(id),
    Name: `/${rec.name}`,
    RestartCount: rec.restartCount,
    Driver: 'copy',
    Platform: 'linux',
    HostConfig: {
      AutoRemove: hc.autoRemove,
      RestartPolicy: { Name: hc.restartPolicy.name, MaximumRetryCount: hc.restartPolicy.maximumRetryCount },
      Binds: hc.binds,
      Tmpfs: Object.fromEntries(hc.tmpfs.map((t) => [t.split(':')[0], t.split(':').slice(1).join(':')])),
      NetworkMode: hc.networkMode,
      ReadonlyRootfs: hc.readonlyRootfs,
      Privileged: hc.privileged,
      Init: hc.init === true,
      CapAdd: hc.capAdd,
      CapDrop: hc.capDrop,
      SecurityOpt: hc.securityOpt,
      Memory: hc.memory,
      MemorySwap: hc.memorySwap,
      NanoCpus: hc.nanoCpus,
      CpuShares: hc.cpuShares,
      CpusetCpus: hc.cpusetCpus,
      PidsLimit: hc.pidsLimit,
      LogConfig: { Type: 'json-file', Config: { 'max-size': String(hc.logMaxBytes), 'max-file': String(hc.logMaxFiles) } },
      Isolation: hc.isolation ?? 'container',
    },
    GraphDriver: { Name: 'copy', Data: { MergedDir: `${dir}/rootfs` } },
    Mounts: hc.binds.map((b) => {
      const [src, dst, mode] = b.split(':');
      return { Type: 'bind', Source: src, Destination: dst, Mode: mode ?? '', RW: mode !== 'ro', Propagation: 'rprivate' };
    }),
    Config: {
      Hostname: rec.config.hostname,
      User: rec.config.user,
      Tty: rec.config.tty,
      OpenStdin: rec.config.openStdin,
      Env: rec.config.env,
      Cmd: rec.config.cmd,
      Image: rec.config.image,
      WorkingDir: rec.config.workingDir,
      Entrypoint: rec.config.entrypoint ?? null,
      Labels: rec.config.labels ?? {},
      StopSignal: rec.config.stopSignal,
    },
    NetworkSettings: {
      Networks: { [hc.networkMode]: { IPAddress: '', Gateway: '', MacAddress: '' } },
      Ports: {},
      IPAddress: '',
      ...net,
      SandboxKey: d.pid > 0 && hc.networkMode !== 'host' ? `/proc/${d.pid}/ns/net` : '',
    },
  };
}
