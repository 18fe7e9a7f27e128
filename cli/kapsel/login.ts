/** `kapsel login [-u USER] [-p PASSWORD | --password-stdin] SERVER`: checks, then stores credentials. */
import type { CommandModule } from 'yargs';
import { UsageError } from '../../common/errors.js';

interface LoginArgs {
  server: string;
  username?: string;
  password?: string;
  'password-stdin': boolean;
  'insecure-registry'?: string | string[];
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

export const loginCommand: CommandModule<object, LoginArgs> = {
  command: 'login <server>',
  describe: 'log in to a registry (credentials are checked, then stored)',
  builder: (y) => y
    .positional('server', { type: 'string', demandOption: true })
    .option('username', { alias: 'u', type: 'string' })
    .option('password', { alias: 'p', type: 'string' })
    .option('password-stdin', { type: 'boolean', default: false, describe: 'read the password from stdin' })
    .option('insecure-registry', { type: 'string', describe: 'HOST[:PORT] that may use plain HTTP' }) as never,
  handler: async (argv) => {
    const [{ RegistryClient }, { saveCredentials, normalizeRegistryHost }, { isInsecureRegistry, checkInsecureRegistry }] = await Promise.all([
      import('../../images/registry-client.js'), import('../../images/auth-config.js'), import('../../images/registry-insecure.js'),
    ]);
    if (argv.username === undefined || argv.username === '') throw new UsageError('login: give a username with -u');
    if (argv.password !== undefined && argv['password-stdin']) throw new UsageError('login: -p and --password-stdin exclude each other');
    const password = argv['password-stdin'] ? await readStdin() : argv.password;
    if (password === undefined || password === '') throw new UsageError('login: give a password with -p or --password-stdin');
    const registry = normalizeRegistryHost(argv.server);
    const insecure = ([] as string[]).concat(argv['insecure-registry'] ?? []).map(checkInsecureRegistry);
    const credentials = { username: argv.username, password };
    await new RegistryClient({ registry, insecure: isInsecureRegistry(registry, insecure), credentials }).login();
    const file = await saveCredentials(registry, credentials);
    process.stderr.write(`credentials saved in ${file}\n`);
    process.stdout.write('Login Succeeded\n');
  },
};
