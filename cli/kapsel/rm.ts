/** `kapsel rm [-f] [-v] CONTAINER...` */
import type { CommandModule } from 'yargs';
import { engine } from './context.js';

export const rmCommand: CommandModule = {
  command: 'rm <containers..>',
  describe: 'remove containers',
  builder: (y) => y
    .positional('containers', { type: 'string', array: true })
    .option('force', { alias: 'f', type: 'boolean', default: false, describe: 'kill a running container first' })
    .option('volumes', { alias: 'v', type: 'boolean', default: false, describe: 'accepted; kapsel has no anonymous volumes' }),
  handler: async (argv) => {
    const ctx = await engine();
    const { removeContainer } = await import('../../engine/lifecycle.js');
    for (const c of argv['containers'] as string[]) {
      await removeContainer(ctx, c, { force: argv['force'] as boolean });
      process.stdout.write(`${c}\n`);
    }
  },
};
