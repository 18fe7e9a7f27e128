/**
 * kapsel's full command line through yargs: help, version, every verb and every spelling of an
 * option. cli/kapsel.ts sends the common `run` command lines past it (cli/kapsel-args.ts) and
 * imports this module for the rest.
 */
import yargs from 'yargs';
import type { CommandModule } from 'yargs';
import { KapselError } from '../common/errors.js';

type Loader = (command: readonly string[]) => Promise<CommandModule[]>;

/** One loader per verb, so `kapsel run` loads only run's module (not registry or archive code). */
const VERBS: Record<string, Loader> = {
  run: async (c) => [(await import('./kapsel/run.js')).runCommand(c)],
  ps: async () => [(await import('./kapsel/ps.js')).psCommand],
  exec: async (c) => [(await import('./kapsel/exec.js')).execCommand(c)],
  logs: async () => [(await import('./kapsel/logs.js')).logsCommand],
  stop: async () => [(await import('./kapsel/stop.js')).stopCommand],
  kill: async () => [(await import('./kapsel/kill.js')).killCommand],
  start: async () => [(await import('./kapsel/start.js')).startCommand],
  restart: async () => [(await import('./kapsel/restart.js')).restartCommand],
  rm: async () => [(await import('./kapsel/rm.js')).rmCommand],
  wait: async () => [(await import('./kapsel/wait.js')).waitCommand],
  inspect: async () => {
    const [m, img] = await Promise.all([import('./kapsel/inspect.js'), import('./kapsel/inspect-image.js')]);
    // `inspect NAME` that is no container shows the image of that name
    m.setImageInspector(img.inspectImageDoc);
    return [m.inspectCommand];
  },
  stats: async () => [(await import('./kapsel/stats.js')).statsCommand],
  top: async () => [(await import('./kapsel/top.js')).topCommand],
  update: async () => [(await import('./kapsel/update.js')).updateCommand],
  rename: async () => [(await import('./kapsel/rename.js')).renameCommand],
  container: async () => [(await import('./kapsel/container.js')).containerCommand],
  system: async () => [(await import('./kapsel/system.js')).systemCommand],
  port: async () => [(await import('./kapsel/port.js')).portCommand],
  network: async () => [(await import('./kapsel/network.js')).networkCommand],
  cp: async () => [(await import('./kapsel/cp.js')).cpCommand],
  '__monitor-exit': async () => [(await import('./kapsel/monitor-internal.js')).monitorExitCommand],
  pull: async () => [(await import('./kapsel/pull.js')).pullCommand as unknown as CommandModule],
  login: async () => [(await import('./kapsel/login.js')).loginCommand as unknown as CommandModule],
  logout: async () => [(await import('./kapsel/logout.js')).logoutCommand as unknown as CommandModule],
  images: async () => [(await import('./kapsel/images.js')).imagesCommand as unknown as CommandModule],
  image: async () => [(await import('./kapsel/image.js')).imageCommand],
  load: async () => [(await import('./kapsel/load.js')).loadCommand as unknown as CommandModule],
  save: async () => [(await import('./kapsel/save.js')).saveCommand as unknown as CommandModule],
  rmi: async () => [(await import('./kapsel/rmi.js')).rmiCommand as unknown as CommandModule],
  tag: async () => [(await import('./kapsel/tag.js')).tagCommand as unknown as CommandModule],
};

/** Parses `head` (the command's own words in `command`) with yargs and runs the verb. */
export async function parseWithYargs(head: readonly string[], command: readonly string[]): Promise<void> {
  const verb = head.find((a) => !a.startsWith('-'));
  const one = verb !== undefined && Object.hasOwn(VERBS, verb) ? VERBS[verb] : undefined;
  // a known verb loads its own module only; --help, no verb or an unknown one load them all
  const modules = one !== undefined ? await one(command) : (await Promise.all(Object.values(VERBS).map((l) => l(command)))).flat();
  let y = yargs(head.slice()).scriptName('kapsel')
    .option('debug', { alias: 'D', type: 'boolean', default: false, describe: 'debug output, with the timeline of `run`' });
  for (const m of modules) y = y.command(m);
  await y
    .demandCommand(1, 'name a command; see --help')
    .strictCommands()
    .help()
    .version('kapsel 0.1.0')
    .fail((msg, err) => {
      throw err ?? new KapselError('ERR_USAGE', msg);
    })
    .parseAsync();
}
