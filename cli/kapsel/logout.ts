/** `kapsel logout SERVER`: forgets the credentials `kapsel login` stored for SERVER. */
import type { CommandModule } from 'yargs';

interface LogoutArgs {
  server: string;
}

export const logoutCommand: CommandModule<object, LogoutArgs> = {
  command: 'logout <server>',
  describe: 'remove the stored credentials of a registry',
  builder: (y) => y.positional('server', { type: 'string', demandOption: true }) as never,
  handler: async (argv) => {
    const { removeCredentials, kapselAuthFile, normalizeRegistryHost } = await import('../../images/auth-config.js');
    const registry = normalizeRegistryHost(argv.server);
    if (await removeCredentials(registry)) process.stdout.write(`Removing login credentials for ${registry}\n`);
    else process.stderr.write(`not logged in to ${registry} (no entry in ${kapselAuthFile()})\n`);
  },
};
