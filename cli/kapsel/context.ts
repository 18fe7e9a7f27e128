/** The engine context for a verb: KAPSEL_STORE / KAPSEL_STATE roots, the real syscalls. */
import { createLogger } from '../../common/log.js';
import { mark } from '../../common/timeline.js';
import type { EngineContext } from '../../engine/context.js';

let debug = false;

/** `kapsel --debug`: debug lines on stderr, with the timeline of the run path (common/timeline.ts). */
export function enableDebug(): void {
  debug = true;
}

export async function engine(): Promise<EngineContext> {
  const [{ linuxSyscalls }, { engineContext }] = await Promise.all([import('../../sys/linux-syscalls.js'), import('../../engine/context.js')]);
  const log = createLogger({ debug });
  mark(log, 'engine modules loaded');
  const ctx = engineContext(linuxSyscalls(), log, { storeRoot: process.env['KAPSEL_STORE'], stateRoot: process.env['KAPSEL_STATE'] });
  mark(log, 'syscalls bound');
  return ctx;
}

/** yargs array options arrive as a string, an array, or undefined. */
export function list(v: unknown): string[] {
  return v === undefined ? [] : ([] as unknown[]).concat(v).map(String);
}
