/**
 * The engine's entry points: attach a container's network namespace between `runtime create`
 * and `start` (netnsPath = /proc/<init pid>/ns/net), detach it on `rm`. `--network none` needs
 * no call (the runtime already brings lo up in the new namespace); `host` and `container:ID`
 * are namespace choices in config.json, not attachments.
 */
import { runNft } from '../sys/libnftables.js';
import { NetworkManager, containerResolvConf } from './manager.js';
import type { AttachRequest, AttachResult } from './manager.js';
import type { Syscalls } from '../sys/syscalls.js';

export interface NetworkContext {
  readonly sys: Syscalls;
  /** KAPSEL_STORE; default /var/lib/kapsel. */
  readonly storeRoot?: string | undefined;
}

export function networkManager(ctx: NetworkContext): NetworkManager {
  return new NetworkManager({ sys: ctx.sys, nft: runNft, storeRoot: ctx.storeRoot });
}

/** Attaches the container to each network in order (the first gets eth0 and the default route). */
export function attachContainer(ctx: NetworkContext, req: AttachRequest): AttachResult {
  return networkManager(ctx).attach(req);
}

/** Detaches the container from `network`, or from all of its networks; releases its addresses and ports. */
export function detachContainer(ctx: NetworkContext, containerId: string, network?: string): void {
  networkManager(ctx).detach(containerId, network);
}

export { containerResolvConf };
export { prepareNetworkFiles, networkSettings, type DockerNetworkSettings } from './container-files.js';
export { parsePublish, formatPort } from './ports.js';
