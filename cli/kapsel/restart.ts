/** `kapsel restart [-t SECS] CONTAINER...` */
import type { CommandModule } from 'yargs';
import { engine } from './context.js';

export const restartCommand: CommandModule = {
  command: 'restart <containers..>',
  describe: 'stop and start containers',
  builder: (y) => y.positional('containers', { type: 'string', array: true }).option('time', { alias: 't', type: 'number' }),
  handler: async (argv) => {
    const ctx = await engine();
    const { restartContainer } = await import('../../engine/lifecycle.js');
    for (const c of argv['containers'] as string[]) {
      await restartContainer(ctx, c, argv['time'] as number | undefined);
      process.stdout.write(`${c}\n`);
    }
  },
};
