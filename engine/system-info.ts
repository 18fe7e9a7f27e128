/** `kapsel system info`: the host and engine facts docker info shows, for kapsel. */
import { readFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { detectCgroupHost } from '../cgroups/detect.js';
import type { EngineContext } from './context.js';
import { deriveState } from './status.js';

export function systemInfo(ctx: EngineContext): Record<string, unknown> {
  const counts = { running: 0, paused: 0, stopped: 0 };
  const ids = ctx.containers.ids();
  for (const id of ids) {
    try {
      const s = deriveState(ctx, ctx.containers.read(id)).status;
      if (s === 'running') counts.running++;
      else if (s === 'paused') counts.paused++;
      else counts.stopped++;
    } catch {
      // removed while we counted
    }
  }
  let cgroup = 'unknown';
  try {
    const mode = detectCgroupHost().mode;
    cgroup = String(mode);
  } catch {
    // no cgroup filesystem
  }
  const osRelease = (() => {
    try {
      return /^PRETTY_NAME="?([^"\n]*)/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? 'unknown';
    } catch {
      return 'unknown';
    }
  })();
  return {
    ServerVersion: '0.1.0',
    Containers: ids.length,
    ContainersRunning: counts.running,
    ContainersPaused: counts.paused,
    ContainersStopped: counts.stopped,
    StoreRoot: ctx.storeRoot,
    StateRoot: ctx.stateRoot,
    Runtime: 'kapsel-runtime (in-process)',
    Monitor: ctx.monitor,
    LoggingDriver: 'json-file',
    CgroupDriver: 'cgroupfs',
    CgroupVersion: cgroup,
    KernelVersion: release(),
    OperatingSystem: osRelease,
    NCPU: cpus().length,
    MemTotal: totalmem(),
    Isolation: ['container'],
  };
}
