#!/usr/bin/env node
/**
 * kapsel: the docker-like CLI (issue 6 grows it). Today: `kapsel run` of a local image, with
 * the embedded busybox image built on first use.
 */
import yargs from 'yargs';
import { createLogger } from '../common/log.js';
import { KapselError } from '../common/errors.js';
import { formatError } from './errors.js';
import { pullCommand } from './kapsel/pull.js';
import { loginCommand } from './kapsel/login.js';
import { logoutCommand } from './kapsel/logout.js';
import { imageCommand } from './kapsel/image.js';
import { imagesCommand } from './kapsel/images.js';
import { inspectImageCommand } from './kapsel/inspect-image.js';
import { loadCommand } from './kapsel/load.js';
import { rmiCommand } from './kapsel/rmi.js';
import { saveCommand } from './kapsel/save.js';
import { tagCommand } from './kapsel/tag.js';

const logger = createLogger();

const RUN_WITH_VALUE = new Set(['--name', '-e', '--env', '-w', '--workdir', '-u', '--user', '-h', '--hostname', '--entrypoint']);

/**
 * Splits `run [options] IMAGE [COMMAND...]` so the command's own flags (`sh -c ...`) are never
 * taken for kapsel's: options end at the image, as in docker.
 */
export function splitRunArgs(argv: readonly string[]): { head: string[]; command: string[] } {
  const at = argv.indexOf('run');
  if (at < 0) return { head: [...argv], command: [] };
  for (let i = at + 1; i < argv.length; i++) {
    const t = argv[i] ?? '';
    if (RUN_WITH_VALUE.has(t)) { i++; continue; }
    if (t.startsWith('-')) continue;
    return { head: argv.slice(0, i + 1), command: argv.slice(i + 1) };
  }
  return { head: [...argv], command: [] };
}

async function main(): Promise<void> {
  const { head, command } = splitRunArgs(process.argv.slice(2));
  await yargs(head)
    .scriptName('kapsel')
    .command('run [options] <image> [command..]', 'run a command in a new container', (y) => y
      .positional('image', { type: 'string', demandOption: true })
      .option('rm', { type: 'boolean', default: false, describe: 'remove the container when it exits' })
      .option('name', { type: 'string' })
      .option('env', { alias: 'e', type: 'string', describe: 'KEY=VALUE (repeatable)' })
      .option('workdir', { alias: 'w', type: 'string' })
      .option('user', { alias: 'u', type: 'string' })
      .option('hostname', { alias: 'h', type: 'string' })
      .option('entrypoint', { type: 'string' })
      .option('read-only', { type: 'boolean', default: false }), async (argv) => {
      const [{ linuxSyscalls }, { kapselRun }] = await Promise.all([import('../sys/linux-syscalls.js'), import('../engine/run.js')]);
      process.exitCode = await kapselRun(linuxSyscalls(), {
        image: argv.image as string,
        args: command,
        name: argv.name,
        rm: argv.rm,
        env: argv.env === undefined ? [] : ([] as string[]).concat(argv.env),
        workdir: argv.workdir,
        user: argv.user,
        hostname: argv.hostname,
        entrypoint: argv.entrypoint,
        readOnly: argv['read-only'],
        storeRoot: process.env['KAPSEL_STORE'],
        stateRoot: process.env['KAPSEL_STATE'],
      }, logger);
    })
    .command(pullCommand)
    .command(loginCommand)
    .command(logoutCommand)

    .command(loadCommand)
    .command(saveCommand)
    .command(imagesCommand)
    .command(inspectImageCommand)
    .command(rmiCommand)
    .command(tagCommand)
    .command(imageCommand)
    .demandCommand(1, 'name a command; see --help')
    .strictCommands()
    .help()
    .version('kapsel 0.1.0')
    .fail((msg, err) => {
      throw err ?? new KapselError('ERR_USAGE', msg);
    })
    .parseAsync();
}

main().catch((err: unknown) => {
  process.stderr.write(`kapsel: ${formatError(err)}\n`);
  // docker's convention: 127 command not found, 126 not executable, 125 kapsel's own failure
  const text = err instanceof Error ? err.message : '';
  process.exitCode = /executable file not found/.test(text) ? 127 : /exec: .*(not an executable file|EACCES)/.test(text) ? 126 : 125;
});
