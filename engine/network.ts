/**
 * The engine's side of bridge networks (network/): attach a container's new network namespace
 * between the runtime's create and start, detach when its init is gone. The attachment records
 * live in the network store (<store>/networks), so `inspect` and `port` read them from there.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { KapselError } from '../common/errors.js';
import { deriveState } from './status.js';
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

/**
 * `--network container:REF`: the network namespace of REF's running init, as a path for the
 * runtime to join. Resolved at every start (a restart joins the target's current namespace).
 */
export function joinedNetnsPath(ctx: EngineContext, mode: string): string {
  const ref = mode.slice('container:'.length);
  const target = ctx.containers.read(ctx.containers.resolve(ref));
  const s = deriveState(ctx, target);
  if (s.status !== 'running' || s.pid <= 0) {
    throw new KapselError('ERR_STATE', `--network container:${ref}: container ${target.name} is not running`);
  }
  return `/proc/${s.pid}/ns/net`;
}

/** Points config.json's network namespace at the target of `--network container:REF`. */
export function refreshJoinedNetwork(ctx: EngineContext, rec: ContainerRecord): void {
  if (!rec.hostConfig.networkMode.startsWith('container:')) return;
  const file = join(ctx.containers.dir(rec.id), 'config.json');
  const spec = JSON.parse(readFileSync(file, 'utf8')) as { linux?: { namespaces?: { type: string; path?: string }[] } };
  const path = joinedNetnsPath(ctx, rec.hostConfig.networkMode);
  const namespaces = (spec.linux?.namespaces ?? []).filter((n) => n.type !== 'network');
  spec.linux = { ...spec.linux, namespaces: [...namespaces, { type: 'network', path }] };
  writeFileSync(file, JSON.stringify(spec, null, 1));
}
