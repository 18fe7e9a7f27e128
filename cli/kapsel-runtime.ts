#!/usr/bin/env node
/**
 * kapsel-runtime: the OCI runtime with runc's command line. The only code that reads argv,
 * prints and exits; each verb calls the runtime library. Command modules load lazily so each
 * invocation pays only for what it uses (start-up cost is the performance problem).
 */
import yargs, { type Argv } from 'yargs';
import { KapselError } from '../common/errors.js';
import { createLogger, type Logger } from '../common/log.js';
import { exitCodeFor, formatError } from './errors.js';

interface GlobalArgs {
  root: string;
  log?: string;
  'log-format': 'text' | 'json';
  debug: boolean;
  'systemd-cgroup': boolean;
}

const VERSION = '0.1.0';

let logger: Logger = createLogger();

async function runtime() {
  const [{ linuxSyscalls }, { StateStore }] = await Promise.all([
    import('../sys/linux-syscalls.js'),
    import('../runtime/state-store.js'),
  ]);
  return { linuxSyscalls, StateStore };
}

async function deleteDeps() {
  const { destroyRecordedCgroup } = await import('../runtime/cgroup-cleanup.js');
  return { destroyCgroup: destroyRecordedCgroup };
}

function setup(argv: GlobalArgs): void {
  logger = createLogger({ file: argv.log, format: argv['log-format'], debug: argv.debug });
  if (argv['systemd-cgroup']) {
    throw new KapselError('ERR_UNSUPPORTED', 'the systemd cgroup driver is not supported yet', {
      hint: 'drop --systemd-cgroup (SystemdCgroup = false in containerd) to use cgroupfs',
    });
  }
}

interface CreateArgs {
  id?: string;
  bundle: string;
  'pid-file'?: string | undefined;
  'console-socket'?: string | undefined;
  'no-pivot': boolean;
  'no-new-keyring': boolean;
  'preserve-fds': number;
}

function toCreateOptions(argv: CreateArgs) {
  return {
    id: argv.id as string,
    bundle: argv.bundle,
    pidFile: argv['pid-file'],
    consoleSocket: argv['console-socket'],
    noPivot: argv['no-pivot'],
    noNewKeyring: argv['no-new-keyring'],
    preserveFds: argv['preserve-fds'],
  };
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

const GLOBAL_WITH_VALUE = new Set(['--root', '--log', '--log-format', '--criu', '--rootless']);

/** Index of the subcommand in argv (after global options), or -1. */
function commandIndex(argv: readonly string[]): number {
  for (let i = 0; i < argv.length; i++) {
    const t = argv[i] ?? '';
    if (GLOBAL_WITH_VALUE.has(t)) { i++; continue; }
    if (!t.startsWith('-')) return i;
  }
  return -1;
}

/** `exec` parses its own options: the container command's flags must stay untouched. */
async function execCommand(argv: readonly string[], at: number): Promise<void> {
  const globals = yargs(argv.slice(0, at))
    .parserConfiguration({ 'boolean-negation': false })
    .option('root', { type: 'string', default: '/run/kapsel-runtime' })
    .option('log', { type: 'string' })
    .option('log-format', { choices: ['text', 'json'] as const, default: 'text' as const })
    .option('debug', { type: 'boolean', default: false })
    .option('systemd-cgroup', { type: 'boolean', default: false })
    .parseSync() as unknown as GlobalArgs;
  setup(globals);
  const { parseExecArgs } = await import('./exec-args.js');
  const a = parseExecArgs(argv.slice(at + 1));
  if (a.apparmor !== undefined || a.processLabel !== undefined) {
    throw new KapselError('ERR_UNSUPPORTED', 'apparmor/selinux labels requested but this host has neither');
  }
  const { linuxSyscalls, StateStore } = await runtime();
  const { execInContainer, readProcessFile } = await import('../runtime/exec.js');
  process.exitCode = await execInContainer(linuxSyscalls(), new StateStore(globals.root), {
    id: a.id,
    process: a.process !== undefined ? readProcessFile(a.process) : undefined,
    args: a.command,
    cwd: a.cwd,
    env: a.env,
    user: a.user,
    additionalGids: a.additionalGids,
    caps: a.caps,
    noNewPrivs: a.noNewPrivs,
    tty: a.tty,
    consoleSocket: a.consoleSocket,
    detach: a.detach,
    pidFile: a.pidFile,
    preserveFds: a.preserveFds,
  }, logger);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const at = commandIndex(argv);
  if (at >= 0 && argv[at] === 'exec' && !argv.slice(at + 1).some((t) => t === '--help' || t === '-h')) {
    await execCommand(argv, at);
    return;
  }
  await yargs(argv)
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
    .middleware((argv) => setup(argv as unknown as GlobalArgs))
    .command('create <id>', 'create a container from a bundle', (y) => createOptions(y as Argv<GlobalArgs>), async (argv) => {
      const { linuxSyscalls, StateStore } = await runtime();
      const { createContainer } = await import('../runtime/create.js');
      createContainer(linuxSyscalls(), new StateStore(argv.root), toCreateOptions(argv), logger);
    })
    .command('start <id>', 'start the process of a created container', (y) => y.positional('id', { type: 'string', demandOption: true }), async (argv) => {
      const { linuxSyscalls, StateStore } = await runtime();
      const { startContainer } = await import('../runtime/lifecycle.js');
      startContainer(linuxSyscalls(), new StateStore(argv.root), argv.id as string, logger);
    })
    .command('run <id>', 'create and start a container, and wait for it', (y) => createOptions(y as Argv<GlobalArgs>)
      .option('detach', { alias: 'd', type: 'boolean', default: false })
      .option('keep', { type: 'boolean', default: false, describe: 'keep the stopped container' }), async (argv) => {
      const { linuxSyscalls, StateStore } = await runtime();
      const { runContainer } = await import('../runtime/run.js');
      const code = await runContainer(linuxSyscalls(), new StateStore(argv.root), {
        ...toCreateOptions(argv),
        detach: argv.detach,
        keep: argv.keep,
      }, await deleteDeps(), logger);
      process.exitCode = code;
    })
    .command('state <id>', 'print the state of a container as JSON', (y) => y.positional('id', { type: 'string', demandOption: true }), async (argv) => {
      const { StateStore } = await runtime();
      const { stateOf } = await import('../runtime/lifecycle.js');
      const store = new StateStore(argv.root);
      process.stdout.write(`${JSON.stringify(stateOf(store, store.read(argv.id as string)), null, 2)}\n`);
    })
    .command('kill <id> [signal]', 'send a signal to the container init (default SIGTERM)', (y) => y
      .positional('id', { type: 'string', demandOption: true })
      .positional('signal', { type: 'string', default: 'SIGTERM' })
      .option('all', { alias: 'a', type: 'boolean', default: false, describe: 'signal every process in the container' }), async (argv) => {
      const { linuxSyscalls, StateStore } = await runtime();
      const { killContainer } = await import('../runtime/lifecycle.js');
      const { parseSignal } = await import('../runtime/signals.js');
      const { recordedPids } = await import('../runtime/cgroup-cleanup.js');
      killContainer(linuxSyscalls(), new StateStore(argv.root), argv.id as string, parseSignal(argv.signal), argv.all, recordedPids);
    })
    .command('delete <id>', 'delete a stopped container (--force: also a running one)', (y) => y
      .positional('id', { type: 'string', demandOption: true })
      .option('force', { alias: 'f', type: 'boolean', default: false }), async (argv) => {
      const { linuxSyscalls, StateStore } = await runtime();
      const { deleteContainer } = await import('../runtime/lifecycle.js');
      await deleteContainer(linuxSyscalls(), new StateStore(argv.root), argv.id as string, argv.force, await deleteDeps(), logger);
    })
    .command('list', 'list containers', (y) => y
      .option('format', { alias: 'f', choices: ['table', 'json'] as const, default: 'table' as const })
      .option('quiet', { alias: 'q', type: 'boolean', default: false }), async (argv) => {
      const { StateStore } = await runtime();
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
    .command('features', 'print the features this runtime supports (runtime-spec features.md)', (y) => y, async () => {
      const { runtimeFeatures } = await import('../runtime/features.js');
      process.stdout.write(`${JSON.stringify(runtimeFeatures(), null, 2)}\n`);
    })
    .command((await import('./cgroup-commands.js')).cgroupCommands())
    .demandCommand(1, 'name a command; see --help')
    .strictCommands()
    .version(`kapsel-runtime version ${VERSION}\nspec: 1.2.0`)
    .help()
    .fail((msg, err) => {
      throw err ?? new KapselError('ERR_USAGE', msg);
    })
    .parseAsync();
}

main().catch((err: unknown) => {
  const message = formatError(err);
  logger.error(message);
  process.stderr.write(`kapsel-runtime: ${message}\n`);
  process.exitCode = exitCodeFor(err);
});
