#!/usr/bin/env node
/**
 * kapsel: the docker-like CLI. Each verb lives in cli/kapsel/<verb>.ts over engine/; this file
 * only registers them and maps errors to docker's exit codes.
 */
import yargs from 'yargs';
import { KapselError } from '../common/errors.js';
import { formatError } from './errors.js';
import { splitRunArgs } from './kapsel-args.js';
import { runCommand } from './kapsel/run.js';
import { psCommand } from './kapsel/ps.js';
import { execCommand } from './kapsel/exec.js';
import { logsCommand } from './kapsel/logs.js';
import { stopCommand } from './kapsel/stop.js';
import { killCommand } from './kapsel/kill.js';
import { startCommand } from './kapsel/start.js';
import { restartCommand } from './kapsel/restart.js';
import { rmCommand } from './kapsel/rm.js';
import { waitCommand } from './kapsel/wait.js';
import { inspectCommand } from './kapsel/inspect.js';
import { monitorExitCommand } from './kapsel/monitor-internal.js';
import { statsCommand } from './kapsel/stats.js';
import { topCommand } from './kapsel/top.js';
import { updateCommand } from './kapsel/update.js';
import { renameCommand } from './kapsel/rename.js';
import { containerCommand } from './kapsel/container.js';
import { systemCommand } from './kapsel/system.js';
import { portCommand } from './kapsel/port.js';
import { networkCommand } from './kapsel/network.js';
import { setImageInspector } from './kapsel/inspect.js';
import { inspectImageDoc } from './kapsel/inspect-image.js';
import { pullCommand } from './kapsel/pull.js';
import { loginCommand } from './kapsel/login.js';
import { logoutCommand } from './kapsel/logout.js';
import { imageCommand } from './kapsel/image.js';
import { imagesCommand } from './kapsel/images.js';
import { loadCommand } from './kapsel/load.js';
import { rmiCommand } from './kapsel/rmi.js';
import { saveCommand } from './kapsel/save.js';
import { tagCommand } from './kapsel/tag.js';

async function main(): Promise<void> {
  // `inspect NAME` that is no container shows the image of that name
  setImageInspector(inspectImageDoc);
  const { head, command } = splitRunArgs(process.argv.slice(2));
  await yargs(head)
    .scriptName('kapsel')
    .command(runCommand(command))
    .command(psCommand)
    .command(execCommand(command))
    .command(logsCommand)
    .command(stopCommand)
    .command(killCommand)
    .command(startCommand)
    .command(restartCommand)
    .command(rmCommand)
    .command(waitCommand)
    .command(inspectCommand)
    .command(statsCommand)
    .command(topCommand)
    .command(updateCommand)
    .command(renameCommand)
    .command(containerCommand)
    .command(systemCommand)
    .command(portCommand)
    .command(networkCommand)
    .command(monitorExitCommand)
    .command(pullCommand)
    .command(loginCommand)
    .command(logoutCommand)
    .command(imagesCommand)
    .command(imageCommand)
    .command(loadCommand)
    .command(saveCommand)
    .command(rmiCommand)
    .command(tagCommand)
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
  const status = (err as { exitStatus?: unknown }).exitStatus;
  if (typeof status === 'number') {
    process.exitCode = status;
    return;
  }
  const text = err instanceof Error ? err.message : '';
  process.exitCode = /executable file not found/.test(text) ? 127 : /exec: .*(not an executable file|EACCES)/.test(text) ? 126 : 125;
});
