/**
 * kapsel-runtime's cgroup verbs with runc's flags and output: pause, resume, update, events, ps.
 * Definitions only: each handler loads its runtime module when it runs (start-up cost), parses,
 * calls the library and prints.
 */
import type { Argv, CommandModule } from 'yargs';
import { KapselError } from '../common/errors.js';
import type { Logger } from '../common/log.js';

/** The global options every handler reads. */
interface GlobalArgs {
  root: string;
  log?: string | undefined;
  'log-format'?: 'text' | 'json' | undefined;
  debug?: boolean | undefined;
}

async function deps() {
  const [{ linuxSyscalls }, { StateStore }, { createLogger }] = await Promise.all([
    import('../sys/linux-syscalls.js'),
    import('../runtime/state-store.js'),
    import('../common/log.js'),
  ]);
  return { linuxSyscalls, StateStore, createLogger };
}

async function setup(argv: GlobalArgs) {
  const d = await deps();
  const log: Logger = d.createLogger({ file: argv.log, format: argv['log-format'] ?? 'text', debug: argv.debug === true });
  return { sys: d.linuxSyscalls(), store: new d.StateStore(argv.root), log };
}

const GLOBAL_VALUE_OPTIONS = new Set(['--root', '--log', '--log-format', '--criu', '--rootless']);
const GLOBAL_FLAGS = new Set(['--debug', '--systemd-cgroup']);

/** Index of the token naming `command`, after the global options; args.length when absent. */
function commandAt(args: readonly string[], command: string): number {
  let i = 0;
  while (i < args.length && args[i] !== command) {
    if (GLOBAL_VALUE_OPTIONS.has(args[i]!)) i++;
    i++;
  }
  return i;
}

/**
 * runc stops parsing `ps` flags at the container id: everything after it goes to ps(1) verbatim
 * (`ps ID -ef`, `ps ID -o pid,comm`). yargs would read those as its own flags, so the ps command
 * line is taken from the raw arguments: global options, `ps`, [-f|--format F], ID, ps args.
 */
export function splitPsArgv(args: readonly string[]): { format: string; id: string | undefined; psArgs: string[] } {
  let format = 'table';
  let i = commandAt(args, 'ps');
  for (i++; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--format' || a === '-f') format = args[++i] ?? '';
    else if (a.startsWith('--format=')) format = a.slice('--format='.length);
    else if (a.startsWith('-f=')) format = a.slice(3);
    else if (a === '--') {
      i++;
      break;
    } else if (!a.startsWith('-')) break;
  }
  return { format, id: args[i], psArgs: args.slice(i + 1) };
}

/**
 * The id and `--resources` source of an `update` command line. yargs cannot be trusted with a
 * lone `-` as an option value (`--resources - ID`, how containerd calls it: it yields an empty
 * value and shifts the id), so both come from the raw arguments. Every other update option
 * takes a value.
 */
export function splitUpdateArgv(args: readonly string[]): { id: string | undefined; resources: string | undefined; extra: string[] } {
  const positionals: string[] = [];
  let resources: string | undefined;
  for (let i = commandAt(args, 'update') + 1; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--resources' || a === '-r') resources = args[++i];
    else if (a.startsWith('--resources=')) resources = a.slice('--resources='.length);
    else if (a.startsWith('-r=')) resources = a.slice(3);
    else if (a === '--') {
      positionals.push(...args.slice(i + 1));
      break;
    } else if (a.startsWith('-') && a !== '-') {
      if (!a.includes('=') && !GLOBAL_FLAGS.has(a)) i++;
    } else positionals.push(a);
  }
  return { id: positionals[0], resources: resources === '' ? undefined : resources, extra: positionals.slice(1) };
}

interface UpdateArgs extends GlobalArgs {
  memory?: string;
  'memory-swap'?: string;
  'memory-reservation'?: string;
  'kernel-memory'?: string;
  'kernel-memory-tcp'?: string;
  'cpu-shares'?: string;
  'cpu-quota'?: string;
  'cpu-period'?: string;
  'cpu-burst'?: string;
  'cpu-rt-period'?: string;
  'cpu-rt-runtime'?: string;
  'cpu-idle'?: string;
  'cpuset-cpus'?: string;
  'cpuset-mems'?: string;
  'pids-limit'?: string;
  'blkio-weight'?: string;
}

function updateOptions(y: Argv) {
  const s = (describe: string) => ({ type: 'string' as const, describe });
  return y
    .positional('id', { type: 'string', demandOption: true })
    .option('resources', { alias: 'r', type: 'string', describe: 'LinuxResources JSON file, or - for stdin (all other options are then ignored)' })
    .option('memory', s('memory limit in bytes (64m, 1g: binary units; -1 unlimited)'))
    .option('memory-swap', s('memory+swap limit in bytes (-1 unlimited swap)'))
    .option('memory-reservation', s('memory soft limit in bytes'))
    .option('kernel-memory', { type: 'string', hidden: true })
    .option('kernel-memory-tcp', { type: 'string', hidden: true })
    .option('cpu-shares', { ...s('cpu shares, relative weight (2..262144; cpu.weight on v2)'), alias: 'cpu-share' })
    .option('cpu-quota', s('CFS quota in µs per period (-1 unlimited)'))
    .option('cpu-period', s('CFS period in µs'))
    .option('cpu-burst', s('CFS burst in µs'))
    .option('cpu-rt-period', s('realtime period in µs'))
    .option('cpu-rt-runtime', s('realtime runtime in µs'))
    .option('cpu-idle', s('1: SCHED_IDLE for the cgroup'))
    .option('cpuset-cpus', s('CPUs to use (0-3,6)'))
    .option('cpuset-mems', s('memory nodes to use'))
    .option('pids-limit', s('maximum number of processes (-1 unlimited)'))
    .option('blkio-weight', s('block I/O weight, 10..1000 (io.weight on v2)'));
}

/**
 * The command modules, for `.command([...])` in kapsel-runtime's chain. Each handler types its
 * own argv, which yargs' single-U array type cannot express: hence the cast at the end.
 */
export function cgroupCommands<T extends object>(): CommandModule<T, T>[] {
  return [
    {
      command: 'pause <id>',
      describe: 'freeze every process of the container',
      builder: (y: Argv<T>) => y.positional('id', { type: 'string', demandOption: true }),
      handler: async (argv: { id: string } & GlobalArgs) => {
        const { sys, store } = await setup(argv);
        const { pauseContainer } = await import('../runtime/pause.js');
        await pauseContainer(sys, store, argv.id);
      },
    },
    {
      command: 'resume <id>',
      describe: 'thaw a paused container',
      builder: (y: Argv<T>) => y.positional('id', { type: 'string', demandOption: true }),
      handler: async (argv: { id: string } & GlobalArgs) => {
        const { sys, store } = await setup(argv);
        const { resumeContainer } = await import('../runtime/pause.js');
        await resumeContainer(sys, store, argv.id);
      },
    },
    {
      command: 'update <id> [rest..]',
      describe: 'change the resource limits of a container, live',
      // `rest` only keeps yargs quiet about the id it shifts (see splitUpdateArgv)
      builder: (y: Argv<T>) => updateOptions(y as Argv).positional('rest', { type: 'string', array: true }),
      handler: async (argv: UpdateArgs) => {
        const { sys, store, log } = await setup(argv);
        const u = await import('../runtime/update.js');
        const { id, resources: source, extra } = splitUpdateArgv(process.argv.slice(2));
        if (id === undefined) throw new KapselError('ERR_USAGE', 'update: name a container');
        if (extra.length > 0) throw new KapselError('ERR_USAGE', `update: unexpected arguments ${extra.join(' ')}`);
        const warn = (m: string): void => log.warn(m);
        const resources = source !== undefined
          ? u.resourcesFromJson(u.readResourcesInput(source), warn)
          : u.resourcesFromFlags({
            memory: argv.memory,
            memorySwap: argv['memory-swap'],
            memoryReservation: argv['memory-reservation'],
            kernelMemory: argv['kernel-memory'],
            kernelMemoryTcp: argv['kernel-memory-tcp'],
            cpuShares: argv['cpu-shares'],
            cpuQuota: argv['cpu-quota'],
            cpuPeriod: argv['cpu-period'],
            cpuBurst: argv['cpu-burst'],
            cpuRtPeriod: argv['cpu-rt-period'],
            cpuRtRuntime: argv['cpu-rt-runtime'],
            cpuIdle: argv['cpu-idle'],
            cpusetCpus: argv['cpuset-cpus'],
            cpusetMems: argv['cpuset-mems'],
            pidsLimit: argv['pids-limit'],
            blkioWeight: argv['blkio-weight'],
          }, warn);
        await u.updateContainer(sys, store, id, resources, log);
      },
    },
    {
      command: 'events <id>',
      describe: 'print stats every interval and OOM events as JSON lines',
      builder: (y: Argv<T>) => y
        .positional('id', { type: 'string', demandOption: true })
        .option('interval', { type: 'string', default: '5s', describe: 'time between stats events (Go duration: 5s, 500ms)' })
        .option('stats', { type: 'boolean', default: false, describe: 'print the stats once, then exit' }),
      handler: async (argv: { id: string; interval: string; stats: boolean } & GlobalArgs) => {
        const { store } = await setup(argv);
        const { containerEvents, encodeEvent, parseIntervalMs } = await import('../runtime/events.js');
        const stop = new AbortController();
        const onSignal = (): void => stop.abort();
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        try {
          const events = containerEvents(store, argv.id, { intervalMs: parseIntervalMs(argv.interval), statsOnly: argv.stats, signal: stop.signal });
          for await (const ev of events) process.stdout.write(encodeEvent(ev));
        } finally {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
      },
    },
    {
      command: 'ps <id> [ps-args..]',
      describe: "list the container's processes (ps options after the id)",
      builder: (y: Argv<T>) => y
        .positional('id', { type: 'string', demandOption: true })
        .positional('ps-args', { type: 'string', array: true, describe: 'options for ps(1), default -ef' })
        .option('format', { alias: 'f', type: 'string', default: 'table', describe: 'table or json' }),
      handler: async (argv: GlobalArgs) => {
        const { store } = await setup(argv);
        const { containerPids, psTable } = await import('../runtime/ps.js');
        const { format, id, psArgs } = splitPsArgv(process.argv.slice(2));
        if (id === undefined) throw new KapselError('ERR_USAGE', 'ps: name a container');
        if (format !== 'table' && format !== 'json') throw new KapselError('ERR_USAGE', 'invalid format option');
        const pids = containerPids(store, id);
        process.stdout.write(format === 'json' ? `${JSON.stringify(pids)}\n` : psTable(pids, psArgs));
      },
    },
  ] as unknown as CommandModule<T, T>[];
}

/** Adds the cgroup verbs to a yargs instance. */
export function registerCgroupCommands<T extends object>(y: Argv<T>): Argv<T> {
  return y.command(cgroupCommands<T>());
}
