/** argv splitting for `kapsel run` and `kapsel exec` (kept apart from the entry point so tests can import it). */
/** Flags of `run` and `exec` that take a value (the next word is not the image/container). */
const WITH_VALUE: Record<string, ReadonlySet<string>> = {
  run: new Set(['--name', '-e', '--env', '--env-file', '-w', '--workdir', '-u', '--user', '-h', '--hostname', '--entrypoint',
    '-v', '--volume', '--tmpfs', '-m', '--memory', '--memory-swap', '--cpus', '-c', '--cpu-shares', '--cpuset-cpus',
    '--pids-limit', '--cap-add', '--cap-drop', '--security-opt', '--stop-signal', '--restart', '--network', '--net',
    '-p', '--publish', '--ip', '--isolation', '--log-opt']),
  exec: new Set(['-e', '--env', '-u', '--user', '-w', '--workdir']),
};

/**
 * Splits `run [options] IMAGE [COMMAND...]` (and `exec [options] CONTAINER [COMMAND...]`) so the
 * command's own flags (`sh -c ...`) are never taken for kapsel's: options end at the image, as in docker.
 */
export function splitRunArgs(argv: readonly string[]): { head: string[]; command: string[] } {
  const at = argv.findIndex((a) => !a.startsWith('-'));
  const verb = at < 0 ? undefined : argv[at];
  const valued = verb !== undefined && Object.hasOwn(WITH_VALUE, verb) ? WITH_VALUE[verb]! : undefined;
  if (valued === undefined) return { head: [...argv], command: [] };
  for (let i = at + 1; i < argv.length; i++) {
    const t = argv[i] ?? '';
    if (valued.has(t)) { i++; continue; }
    if (t.startsWith('-')) continue;
    return { head: argv.slice(0, i + 1), command: argv.slice(i + 1) };
  }
  return { head: [...argv], command: [] };
}
