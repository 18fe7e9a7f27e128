/**
 * kapsel-runtime's full command line through yargs: help, version, every verb and every spelling
 * of an option. The hot command lines never get here (cli/runtime-argv.ts parses them without
 * loading yargs); this module is imported for the rest.
 */
import yargs, { type Argv } from 'yargs';
import { KapselError } from '../common/errors.js';
import type { RuntimeGlobals as GlobalArgs } from './runtime-argv.js';
import type { runtime, verbs } from './kapsel-runtime.js';

export interface YargsContext {
  readonly verbs: typeof verbs;
  readonly setup: (g: GlobalArgs) => void;
  readonly runtime: typeof runtime;
  readonly version: string;
}

function createOptions(y: Argv<GlobalArgs>) {
  return y
    .option('bundle', { alias: 'b', type: 'string', default: '.', describe: 'path to the OCI bundle' })
    .option('pid-file', { type: 'string', describe: 'write the init pid to this file' })
    .option('console-socket', { type: 'string', describe: 'unix socket that receives the terminal master' })
    .option('no-pivot', { type: 'boolean', default: false, describe: 'use MS_MOVE + chroot instead of pivot_root' })
    .option('no-new-keyring', { type: 'boolean', default: false, describe: 'do not create a session keyring' })
    .option('preserve-fds', { type: 'number', default: 0, describe: 'pass N extra fds (from fd 3) to the process' })
    .positional('id', { type: 'string', demandOption: true });
}

/** The global options before `exec` (whose own options cli/exec-args.ts parses). */
export function parseGlobals(argv: readonly string[]): GlobalArgs {
  return yargs(argv.slice())
    .parserConfiguration({ 'boolean-negation': false })
    .option('root', { type: 'string', default: '/run/kapsel-runtime' })
    .option('log', { type: 'string' })
    .option('log-format', { choices: ['text', 'json'] as const, default: 'text' as const })
    .option('debug', { type: 'boolean', default: false })
    .option('systemd-cgroup', { type: 'boolean', default: false })
    .parseSync() as unknown as GlobalArgs;
}

export async function parseWithYargs(argv: readonly string[], ctx: YargsContext): Promise<void> {
  await yargs(argv.slice())
    .scriptName('kapsel-runtime')
    // runc's flags include --no-pivot and --no-new-keyring: not negations of other flags
    .parserConfiguration({ 'boolean-negation': false })
    .usage('kapsel-runtime [global options] <command> [options]\n\nAn OCI container runtime with runc\'s command line.')
    .option('root', { type: 'string', default: '/run/kapsel-runtime', describe: 'directory for container state' })
    .option('log', { type: 'string', describe: 'log file (default: stderr)' })
    .option('log-format', { choices: ['text', 'json'] as const, default: 'text' as const })
    .option('debug', { type: 'boolean', default: false, describe: 'log debug output (timings per stage)' })
    .option('systemd-cgroup', { type: 'boolean', default: false })
    .option('rootless', { type: 'string', hidden: true })
    .option('criu', { type: 'string', hidden: true })
    .middleware((argv) => ctx.setup(argv as unknown as GlobalArgs))
    .command('create <id>', 'create a container from a bundle', (y) => createOptions(y as Argv<GlobalArgs>), (argv) => ctx.verbs.create(argv, argv))
    .command('start <id>', 'start the process of a created container', (y) => y.positional('id', { type: 'string', demandOption: true }), (argv) => ctx.verbs.start(argv, argv.id as string))
    .command('run <id>', 'create and start a container, and wait for it', (y) => createOptions(y as Argv<GlobalArgs>)
      .option('detach', { alias: 'd', type: 'boolean', default: false })
      .option('keep', { type: 'boolean', default: false, describe: 'keep the stopped container' }), (argv) => ctx.verbs.run(argv, argv))
    .command('state <id>', 'print the state of a container as JSON', (y) => y.positional('id', { type: 'string', demandOption: true }), (argv) => ctx.verbs.state(argv, argv.id as string))
    .command('kill <id> [signal]', 'send a signal to the container init (default SIGTERM)', (y) => y
      .positional('id', { type: 'string', demandOption: true })
      .positional('signal', { type: 'string', default: 'SIGTERM' })
      .option('all', { alias: 'a', type: 'boolean', default: false, describe: 'signal every process in the container' }), (argv) => ctx.verbs.kill(argv, argv.id as string, argv.signal, argv.all))
    .command('delete <id>', 'delete a stopped container (--force: also a running one)', (y) => y
      .positional('id', { type: 'string', demandOption: true })
      .option('force', { alias: 'f', type: 'boolean', default: false }), (argv) => ctx.verbs.delete(argv, argv.id as string, argv.force))
    .command('list', 'list containers', (y) => y
      .option('format', { alias: 'f', choices: ['table', 'json'] as const, default: 'table' as const })
      .option('quiet', { alias: 'q', type: 'boolean', default: false }), async (argv) => {
      const { StateStore } = await ctx.runtime();
      const { listContainers } = await import('../runtime/lifecycle.js');
      const { renderList } = await import('./render.js');
      process.stdout.write(renderList(listContainers(new StateStore(argv.root)), argv.format, argv.quiet));
    })
    .command('spec', 'write a default config.json into the bundle', (y) => y
      .option('bundle', { alias: 'b', type: 'string', default: '.' })
      .option('rootless', { type: 'boolean', default: false }), async (argv) => {
      const { writeDefaultSpec } = await import('../runtime/spec.js');
      writeDefaultSpec(argv.bundle, argv.rootless);
    })
    .command('exec [options] <id> <command..>', 'run a process in a running container (options: --process FILE, -t/--tty, --console-socket, -d/--detach, --pid-file, --cwd, -e/--env, -u/--user UID[:GID], -g/--additional-gids, -c/--cap, --no-new-privs, --preserve-fds)', (y) => y, () => undefined)
    // handled before yargs (cli/kapsel-runtime.ts); listed here for --help. With global options
    // in front it arrives here: refused, since a daemon serves every --root and --log.
    .command('daemon', 'serve this runtime warm for bin/kapsel-runtime (options: --socket PATH, --idle-timeout SECONDS, --request-log FILE, --workers N)', (y) => y, () => {
      throw new KapselError('ERR_USAGE', 'daemon takes no global options: run `kapsel-runtime daemon [--socket PATH] [--idle-timeout SECONDS] [--request-log FILE] [--workers N]`');
    })
    .command('features', 'print the features this runtime supports (runtime-spec features.md)', (y) => y, async () => {
      const { runtimeFeatures } = await import('../runtime/features.js');
      process.stdout.write(`${JSON.stringify(runtimeFeatures(), null, 2)}\n`);
    })
    .command((await import('./cgroup-commands.js')).cgroupCommands())
    .demandCommand(1, 'name a command; see --help')
    .strictCommands()
    .version(`kapsel-runtime version ${ctx.version}\nspec: 1.2.0`)
    .help()
    .fail((msg, err) => {
      throw err ?? new KapselError('ERR_USAGE', msg);
    })
    .parseAsync();
}
