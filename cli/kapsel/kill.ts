/** `kapsel kill [-s SIG] CONTAINER...` */
import type { CommandModule } from 'yargs';
import { engine } from './context.js';

export const killCommand: CommandModule = {
  command: 'kill <containers..>',
  describe: 'send a signal to running containers (default SIGKILL)',
  builder: (y) => y.positional('containers', { type: 'string', array: true }).option('signal', { alias: 's', type: 'string', default: 'SIGKILL' }),
  handler: async (argv) => {
    const ctx = await engine();
    const { killByRef } = await import('../../engine/lifecycle.js');
    for (const c of argv['containers'] as string[]) {
      await killByRef(ctx, c, argv['signal'] as string);
      process.stdout.write(`${c}\n`);
    }
  },
};
