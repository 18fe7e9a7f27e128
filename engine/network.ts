/**
 * The engine's side of bridge networks (network/): attach a container's new network namespace
 * between the runtime's create and start, detach when its init is gone. The attachment records
 * live in the network store (<store>/networks), so `inspect` and `port` read them from there.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { attachContainer, detachContainer, networkManager, networkSettings, type DockerNetworkSettings } from '../network/attach.js';
import type { AttachResult } from '../network/manager.js';
import type { PortMapping } from '../network/types.js';
import type { EngineContext } from './context.js';
import type { ContainerRecord } from './container-store.js';
import { isBridgeMode } from './run-config.js';

export function hostResolvConf(): string {
  try {
    return readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    return '';
  }
}

/** Attaches the container whose init is `pid` to its network (a no-op for none and host). */
export function attachToNetwork(ctx: EngineContext, rec: ContainerRecord, pid: number): AttachResult | undefined {
  const hc = rec.hostConfig;
  if (!isBridgeMode(hc.networkMode)) return undefined;
  return attachContainer({ sys: ctx.sys, storeRoot: ctx.storeRoot }, {
    network: hc.networkMode,
    containerId: rec.id,
    netnsPath: `/proc/${pid}/ns/net`,
    ip: hc.ipAddress,
    ports: hc.portBindings ?? [],
    hostname: rec.config.hostname,
    aliases: [rec.name],
    hostsPath: join(ctx.containers.dir(rec.id), 'hosts'),
  });
}

/** Releases the container's addresses, veths and published ports; idempotent. */
export function detachFromNetworks(ctx: EngineContext, rec: ContainerRecord): void {
  // also for --network none: `kapsel network connect` may have joined it to one since
  detachContainer({ sys: ctx.sys, storeRoot: ctx.storeRoot }, rec.id);
}

export function containerNetworkSettings(ctx: EngineContext, rec: ContainerRecord): DockerNetworkSettings | undefined {
  if (rec.hostConfig.networkMode === 'host') return undefined;
  const s = networkSettings(rec.id, networkManager({ sys: ctx.sys, storeRoot: ctx.storeRoot }).list());
  return Object.keys(s.Networks).length === 0 ? undefined : s;
}

export function publishedPorts(ctx: EngineContext, rec: ContainerRecord): PortMapping[] {
  return networkManager({ sys: ctx.sys, storeRoot: ctx.storeRoot }).ports(rec.id);
}
