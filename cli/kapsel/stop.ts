/** `kapsel stop [-t SECS] CONTAINER...`: the stop signal, then SIGKILL after the timeout. */
import type { CommandModule } from 'yargs';
import { engine } from './context.js';

export const stopCommand: CommandModule = {
  command: 'stop <containers..>',
  describe: 'stop running containers',
  builder: (y) => y.positional('containers', { type: 'string', array: true }).option('time', { alias: 't', type: 'number', describe: 'seconds before SIGKILL (default 10)' }),
  handler: async (argv) => {
    const ctx = await engine();
    const { stopContainer } = await import('../../engine/lifecycle.js');
    for (const c of argv['containers'] as string[]) {
      await stopContainer(ctx, c, argv['time'] as number | undefined);
      process.stdout.write(`${c}\n`);
    }
  },
};
