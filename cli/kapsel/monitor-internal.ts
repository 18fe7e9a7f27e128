/**
 * `kapsel __monitor-exit STORE STATE ID`: the TypeScript step native/monitor.c execs when the
 * container's init exited (engine/monitor.ts). Not for users; hidden from --help.
 */
import type { CommandModule } from 'yargs';
import { silentLogger } from '../../common/log.js';

async function ctxFor(argv: Record<string, unknown>) {
  const [{ linuxSyscalls }, { engineContext }] = await Promise.all([import('../../sys/linux-syscalls.js'), import('../../engine/context.js')]);
  return engineContext(linuxSyscalls(), silentLogger, { storeRoot: argv['store'] as string, stateRoot: argv['state'] as string });
}

export const monitorExitCommand: CommandModule = {
  command: '__monitor-exit <store> <state> <id>',
  describe: false,
  handler: async (argv) => {
    const ctx = await ctxFor(argv);
    const [{ monitorExit }, { removeContainer }] = await Promise.all([import('../../engine/monitor.js'), import('../../engine/lifecycle.js')]);
    await monitorExit(ctx, argv['id'] as string, async (rec) => {
      await removeContainer(ctx, rec.id, { force: true });
    });
  },
};
