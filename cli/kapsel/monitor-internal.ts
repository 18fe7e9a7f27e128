/**
 * `kapsel __monitor-exit STORE STATE ID`: the TypeScript step native/monitor.c execs when the
 * container's init exited (engine/monitor.ts). Not for users; hidden from --help.
 */
import type { CommandModule } from 'yargs';
import { createLogger } from '../../common/log.js';

async function ctxFor(argv: Record<string, unknown>) {
  const [{ linuxSyscalls }, { engineContext }] = await Promise.all([import('../../sys/linux-syscalls.js'), import('../../engine/context.js')]);
  // its stderr is the monitor's DIR/monitor.log: warnings and errors land there
  return engineContext(linuxSyscalls(), createLogger(), { storeRoot: argv['store'] as string, stateRoot: argv['state'] as string });
}

/** The exit handling itself; cli/kapsel.ts calls it directly for the monitor's fixed argv (no yargs). */
export async function monitorExitHandler(argv: Record<string, unknown>): Promise<void> {
  const ctx = await ctxFor(argv);
  const [{ monitorExit }, { removeContainer }] = await Promise.all([import('../../engine/monitor.js'), import('../../engine/lifecycle.js')]);
  await monitorExit(ctx, argv['id'] as string, async (rec) => {
    await removeContainer(ctx, rec.id, { force: true });
  });
}

export const monitorExitCommand: CommandModule = {
  command: '__monitor-exit <store> <state> <id>',
  describe: false,
  handler: monitorExitHandler,
};
