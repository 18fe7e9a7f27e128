/**
 * argv of `kapsel run` and `kapsel exec` (kept apart from the entry point so tests can import it):
 * the split at the image, run's option table (yargs' builder and the fast parser share it), and
 * the fast parser that reads the common `run` command lines without loading yargs (issue 9).
 */

export interface OptionSpec {
  readonly name: string;
  /** A one-letter alias (`-d`) or a second long name (`--net`). */
  readonly alias?: string;
  readonly type: 'boolean' | 'string' | 'number';
  readonly describe?: string;
  /** Repeatable (`-e A=1 -e B=2`); the others take one value. */
  readonly many?: boolean;
}

/** `kapsel run`'s options: yargs' builder (cli/kapsel/run.ts) and parseRunFast() read this table. */
export const RUN_OPTIONS: readonly OptionSpec[] = [
  { name: 'detach', alias: 'd', type: 'boolean', describe: 'run in the background, print the id' },
  { name: 'interactive', alias: 'i', type: 'boolean', describe: 'keep stdin open' },
  { name: 'tty', alias: 't', type: 'boolean', describe: 'allocate a pseudo-terminal' },
  { name: 'rm', type: 'boolean', describe: 'remove the container when it exits' },
  { name: 'name', type: 'string' },
  { name: 'env', alias: 'e', type: 'string', describe: 'KEY=VALUE', many: true },
  { name: 'env-file', type: 'string', many: true },
  { name: 'workdir', alias: 'w', type: 'string' },
  { name: 'user', alias: 'u', type: 'string' },
  { name: 'volume', alias: 'v', type: 'string', describe: 'SRC:DST[:ro]', many: true },
  { name: 'tmpfs', type: 'string', describe: 'DST[:options]', many: true },
  { name: 'hostname', alias: 'h', type: 'string' },
  { name: 'memory', alias: 'm', type: 'string' },
  { name: 'memory-swap', type: 'string' },
  { name: 'cpus', type: 'string' },
  { name: 'cpu-shares', alias: 'c', type: 'number' },
  { name: 'cpuset-cpus', type: 'string' },
  { name: 'pids-limit', type: 'number' },
  { name: 'read-only', type: 'boolean' },
  { name: 'cap-add', type: 'string', many: true },
  { name: 'cap-drop', type: 'string', many: true },
  { name: 'security-opt', type: 'string', describe: 'seccomp=FILE|unconfined, no-new-privileges', many: true },
  { name: 'privileged', type: 'boolean' },
  { name: 'entrypoint', type: 'string' },
  { name: 'init', type: 'boolean' },
  { name: 'stop-signal', type: 'string' },
  { name: 'restart', type: 'string', describe: 'no | on-failure[:N] | always | unless-stopped' },
  { name: 'network', alias: 'net', type: 'string', describe: 'bridge (default: the kapsel0 network) | none | host | a network from `kapsel network create`' },
  { name: 'publish', alias: 'p', type: 'string', describe: '[IP:]HOST_PORT:CONTAINER_PORT[/tcp|udp] (repeatable; needs a bridge network)', many: true },
  { name: 'ip', type: 'string', describe: 'the address on the bridge network' },
  { name: 'isolation', type: 'string', describe: 'container (default) or vm: run the container in a microVM' },
  { name: 'log-opt', type: 'string', describe: 'max-size=SIZE, max-file=N (json-file log rotation)', many: true },
];

function spelling(o: OptionSpec): string[] {
  const names = [`--${o.name}`];
  if (o.alias !== undefined) names.push(o.alias.length === 1 ? `-${o.alias}` : `--${o.alias}`);
  return names;
}

const RUN_BY_SPELLING = new Map(RUN_OPTIONS.flatMap((o) => spelling(o).map((s) => [s, o] as const)));

/** Flags of `run` and `exec` that take a value (the next word is not the image/container). */
const WITH_VALUE: Record<string, ReadonlySet<string>> = {
  run: new Set(RUN_OPTIONS.filter((o) => o.type !== 'boolean').flatMap(spelling)),
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

/** kapsel's global options (before the verb). */
export interface KapselGlobals {
  /** `-D`/`--debug`: debug lines and the run path's timeline on stderr. */
  readonly debug: boolean;
}

const DEBUG_SPELLINGS = new Set(['-D', '--debug']);

/** The global flags before the verb, read the way yargs does for the ones kapsel has. */
export function globalsOf(head: readonly string[]): KapselGlobals {
  const at = head.findIndex((a) => !a.startsWith('-'));
  return { debug: head.slice(0, at < 0 ? head.length : at).some((a) => DEBUG_SPELLINGS.has(a)) };
}

/**
 * `run`'s options and image as yargs would give them (dashed names, booleans false by default,
 * repeated options as arrays), for the head splitRunArgs() returned: [globals] run [options] IMAGE.
 * Returns undefined for anything it does not read exactly like yargs (help, `--opt=value` of a
 * boolean, `--no-*`, an unknown option, a repeated single-value option, a value that starts with
 * `-`, an image named `true` or `false`, ...): those command lines go to yargs, which parses them or explains the error.
 */
export function parseRunFast(head: readonly string[]): { globals: KapselGlobals; argv: Record<string, unknown> } | undefined {
  const at = head.indexOf('run');
  if (at < 0 || head.findIndex((a) => !a.startsWith('-')) !== at) return undefined;
  if (!head.slice(0, at).every((a) => DEBUG_SPELLINGS.has(a))) return undefined;
  const image = head[head.length - 1];
  // yargs reads `--rm true IMAGE` as rm=true: an image named true or false goes to yargs
  if (head.length < at + 2 || image === undefined || image.startsWith('-') || image === 'true' || image === 'false') return undefined;
  const argv: Record<string, unknown> = {};
  for (const o of RUN_OPTIONS) if (o.type === 'boolean') argv[o.name] = false;
  const set = (o: OptionSpec, value: string | true): boolean => {
    if (o.type === 'boolean') {
      argv[o.name] = true;
      return true;
    }
    if (typeof value !== 'string' || value.startsWith('-')) return false;
    if (o.type === 'number' && !/^\d+$/.test(value)) return false;
    const v = o.type === 'number' ? Number(value) : value;
    const prev = argv[o.name];
    if (prev === undefined) argv[o.name] = v;
    else if (o.many === true) argv[o.name] = ([] as unknown[]).concat(prev, v);
    else return false;
    return true;
  };
  const end = head.length - 1;
  for (let i = at + 1; i < end; i++) {
    const t = head[i]!;
    const eq = t.startsWith('--') ? t.indexOf('=') : -1;
    if (eq > 0) {
      const o = RUN_BY_SPELLING.get(t.slice(0, eq));
      if (o === undefined || o.type === 'boolean' || !set(o, t.slice(eq + 1))) return undefined;
      continue;
    }
    const o = RUN_BY_SPELLING.get(t);
    if (o !== undefined) {
      if (o.type === 'boolean') set(o, true);
      else if (i + 1 >= end || !set(o, head[++i]!)) return undefined;
      continue;
    }
    // -it, -dit: a cluster of one-letter boolean flags
    if (!/^-[a-zA-Z]{2,}$/.test(t)) return undefined;
    for (const c of t.slice(1)) {
      const f = RUN_BY_SPELLING.get(`-${c}`);
      if (f === undefined || f.type !== 'boolean') return undefined;
      set(f, true);
    }
  }
  argv['image'] = image;
  return { globals: globalsOf(head), argv };
}
