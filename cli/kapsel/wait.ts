/** `kapsel wait CONTAINER...`: prints each exit code. */
import type { CommandModule } from 'yargs';
import { engine } from './context.js';

export const waitCommand: CommandModule = {
  command: 'wait <containers..>',
  describe: 'block until containers stop, print their exit codes',
  builder: (y) => y.positional('containers', { type: 'string', array: true }),
  handler: async (argv) => {
    const ctx = await engine();
    const { waitContainer } = await import('../../engine/lifecycle.js');
    for (const c of argv['containers'] as string[]) process.stdout.write(`${await waitContainer(ctx, c)}\n`);
  },
};
