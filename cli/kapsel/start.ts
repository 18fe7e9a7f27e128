/** `kapsel start CONTAINER...` (detached) */
import type { CommandModule } from 'yargs';
import { engine } from './context.js';

export const startCommand: CommandModule = {
  command: 'start <containers..>',
  describe: 'start stopped containers',
  builder: (y) => y.positional('containers', { type: 'string', array: true }),
  handler: async (argv) => {
    const ctx = await engine();
    const { startByRef } = await import('../../engine/lifecycle.js');
    for (const c of argv['containers'] as string[]) {
      await startByRef(ctx, c);
      process.stdout.write(`${c}\n`);
    }
  },
};
