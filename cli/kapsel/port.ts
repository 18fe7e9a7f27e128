/** `kapsel port CONTAINER`: published ports, from the container's network attachment (docker's format). */
import type { CommandModule } from 'yargs';
import { engine } from './context.js';

export const portCommand: CommandModule = {
  command: 'port <container>',
  describe: 'list the container\'s published ports',
  builder: (y) => y.positional('container', { type: 'string', demandOption: true }),
  handler: async (argv) => {
    const ctx = await engine();
    const rec = ctx.containers.read(ctx.containers.resolve(argv['container'] as string)); // a clear error for an unknown container
    const [{ publishedPorts }, { formatPort }] = await Promise.all([import('../../engine/network.js'), import('../../network/ports.js')]);
    process.stdout.write(publishedPorts(ctx, rec).map((p) => `${formatPort(p)}\n`).join(''));
  },
};
