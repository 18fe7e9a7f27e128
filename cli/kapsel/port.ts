/** `kapsel port CONTAINER`: published ports; none can be published until `-p` exists (network issue). */
import type { CommandModule } from 'yargs';
import { engine } from './context.js';

export const portCommand: CommandModule = {
  command: 'port <container>',
  describe: 'list the container\'s published ports',
  builder: (y) => y.positional('container', { type: 'string', demandOption: true }),
  handler: async (argv) => {
    const ctx = await engine();
    ctx.containers.resolve(argv['container'] as string); // a clear error for an unknown container
  },
};
