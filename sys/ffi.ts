/**
 * koffi, loaded on first use. Requiring the addon costs ~10 ms at start-up; the runtime's `state`
 * and `list` never call C, and `start`, `kill` and `delete` only sometimes (issue 9).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type koffiModule from 'koffi';
import { distPath } from '../common/install-paths.js';

export type Koffi = typeof koffiModule;

let loaded: Koffi | undefined;

/**
 * The koffi module (required from node_modules, also by the bundle, which keeps it external).
 * The package beside dist/ (where `require('koffi')` from dist/sys/ finds it first) is required by
 * its file: resolving the package's `exports` map costs ~4 ms of every kapsel run (issue 9).
 */
export function koffi(): Koffi {
  if (loaded === undefined) {
    const req = createRequire(distPath('sys/ffi.js'));
    const beside = distPath('../node_modules/koffi/index.cjs');
    loaded = req(existsSync(beside) ? beside : 'koffi') as Koffi;
  }
  return loaded;
}
