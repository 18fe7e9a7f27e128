/**
 * What every engine operation needs: the syscalls, the container store (under the image store
 * root), the runtime's state store, and where the native monitor and the CLI entry point live
 * (the monitor runs `node kapsel.js __monitor-create|__monitor-exit` for the TypeScript parts).
 */
import { existsSync } from 'node:fs';
import { distPath, nativeBinaryPath } from '../common/install-paths.js';
import type { Syscalls } from '../sys/syscalls.js';
import type { Logger } from '../common/log.js';
import { DEFAULT_STORE_ROOT } from '../images/store.js';
import { StateStore } from '../runtime/state-store.js';
import { ContainerStore } from './container-store.js';

export const KAPSEL_STATE_ROOT = '/run/kapsel';

export interface EngineContext {
  readonly sys: Syscalls;
  readonly log: Logger;
  readonly storeRoot: string;
  readonly stateRoot: string;
  readonly containers: ContainerStore;
  readonly runtime: StateStore;
  /** argv prefix that runs the kapsel CLI: [node, dist/cli/kapsel.js]. */
  readonly cli: readonly string[];
  readonly monitor: string;
}

/** The kapsel CLI entry the monitor execs for exit policy: the bundle with its code cache when built. */
function kapselEntry(): string {
  const bundled = distPath('bundle/kapsel.start.cjs');
  return existsSync(bundled) ? bundled : distPath('cli/kapsel.js');
}

export function engineContext(sys: Syscalls, log: Logger, roots: { storeRoot?: string | undefined; stateRoot?: string | undefined } = {}): EngineContext {
  const storeRoot = roots.storeRoot ?? DEFAULT_STORE_ROOT;
  const stateRoot = roots.stateRoot ?? KAPSEL_STATE_ROOT;
  return {
    sys,
    log,
    storeRoot,
    stateRoot,
    containers: new ContainerStore(storeRoot, sys),
    runtime: new StateStore(stateRoot),
    cli: [process.execPath, kapselEntry()],
    monitor: process.env['KAPSEL_MONITOR'] ?? nativeBinaryPath('kapsel-monitor'),
  };
}
