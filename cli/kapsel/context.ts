/** The engine context for a verb: KAPSEL_STORE / KAPSEL_STATE roots, the real syscalls. */
import { createLogger } from '../../common/log.js';
import type { EngineContext } from '../../engine/context.js';

export async function engine(): Promise<EngineContext> {
  const [{ linuxSyscalls }, { engineContext }] = await Promise.all([import('../../sys/linux-syscalls.js'), import('../../engine/context.js')]);
  return engineContext(linuxSyscalls(), createLogger(), { storeRoot: process.env['KAPSEL_STORE'], stateRoot: process.env['KAPSEL_STATE'] });
}

/** yargs array options arrive as a string, an array, or undefined. */
export function list(v: unknown): string[] {
  return v === undefined ? [] : ([] as unknown[]).concat(v).map(String);
}
