#!/usr/bin/env node
/**
 * kapsel: the docker-like CLI. Each verb lives in cli/kapsel/<verb>.ts over engine/; this file
 * only dispatches and maps errors to docker's exit codes. A plain `kapsel run` is parsed here
 * without yargs (cli/kapsel-args.ts); everything else goes through cli/kapsel-yargs.ts.
 */
import { formatError } from './errors.js';
import { globalsOf, parseRunFast, splitRunArgs } from './kapsel-args.js';
import { enableDebug } from './kapsel/context.js';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '__monitor-exit' && args.length === 4) {
    // the monitor's exit handler (--rm of a detached container, --restart): its argv is fixed
    await (await import('./kapsel/monitor-internal.js')).monitorExitHandler({ store: args[1], state: args[2], id: args[3] });
    return;
  }
  const { head, command } = splitRunArgs(args);
  if (globalsOf(head).debug) enableDebug();
  const fast = parseRunFast(head);
  if (fast !== undefined) {
    await (await import('./kapsel/run.js')).runHandler(fast.argv, command);
    // nothing is left to do (stdout and stderr writes are synchronous on Linux, the monitor has
    // exited or runs on its own): skip the environment's teardown (~2-3 ms)
    process.exit();
    return;
  }
  await (await import('./kapsel-yargs.js')).parseWithYargs(head, command);
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
