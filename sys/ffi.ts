/**
 * koffi, loaded on first use. Requiring the addon costs ~10 ms at start-up; the runtime's `state`
 * and `list` never call C, and `start`, `kill` and `delete` only sometimes (issue 9).
 */
import { createRequire } from 'node:module';
import type koffiModule from 'koffi';
import { distPath } from '../common/install-paths.js';

export type Koffi = typeof koffiModule;

let loaded: Koffi | undefined;

/** The koffi module (required from node_modules, also by the bundle, which keeps it external). */
export function koffi(): Koffi {
  loaded ??= createRequire(distPath('sys/ffi.js'))('koffi') as Koffi;
  return loaded;
}
