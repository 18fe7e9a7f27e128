/**
 * A fast parser for the command lines containerd, podman and runtime-tools send to the hot verbs
 * (create, run, start, state, kill, delete): runc's global options, the verb, its options and
 * positionals, with no yargs (loading yargs costs more than the work of `start`).
 *
 * It accepts only what it understands completely. Anything else (help, version, an unknown or
 * repeated option, `--`, a wrong number of positionals, another verb) returns undefined and the
 * caller hands the whole command line to yargs, which then behaves exactly as before.
 */

export interface RuntimeGlobals {
  root: string;
  log?: string | undefined;
  'log-format': 'text' | 'json';
  debug: boolean;
  'systemd-cgroup': boolean;
}

export interface CreateArgv {
  id: string;
  bundle: string;
  'pid-file'?: string | undefined;
  'console-socket'?: string | undefined;
  'no-pivot': boolean;
  'no-new-keyring': boolean;
  'preserve-fds': number;
}

export type FastCommand =
  | { verb: 'create'; args: CreateArgv }
  | { verb: 'run'; args: CreateArgv & { detach: boolean; keep: boolean } }
  | { verb: 'start' | 'state'; args: { id: string } }
  | { verb: 'kill'; args: { id: string; signal: string; all: boolean } }
  | { verb: 'delete'; args: { id: string; force: boolean } };

export interface FastArgv {
  globals: RuntimeGlobals;
  command: FastCommand;
}

/** Option table of one parse: long and short names to a key, and whether it takes a value. */
interface Spec {
  readonly names: Readonly<Record<string, string>>;
  readonly valued: ReadonlySet<string>;
}

const GLOBALS: Spec = {
  names: { '--root': 'root', '--log': 'log', '--log-format': 'log-format', '--debug': 'debug', '--systemd-cgroup': 'systemd-cgroup', '--rootless': 'rootless', '--criu': 'criu' },
  valued: new Set(['root', 'log', 'log-format', 'rootless', 'criu']),
};

const CREATE: Spec = {
  names: { '--bundle': 'bundle', '-b': 'bundle', '--pid-file': 'pid-file', '--console-socket': 'console-socket', '--no-pivot': 'no-pivot', '--no-new-keyring': 'no-new-keyring', '--preserve-fds': 'preserve-fds' },
  valued: new Set(['bundle', 'pid-file', 'console-socket', 'preserve-fds']),
};

const RUN: Spec = {
  names: { ...CREATE.names, '--detach': 'detach', '-d': 'detach', '--keep': 'keep' },
  valued: CREATE.valued,
};

const VERBS: Readonly<Record<string, { spec: Spec; positionals: [number, number] }>> = {
  create: { spec: CREATE, positionals: [1, 1] },
  run: { spec: RUN, positionals: [1, 1] },
  start: { spec: { names: {}, valued: new Set() }, positionals: [1, 1] },
  state: { spec: { names: {}, valued: new Set() }, positionals: [1, 1] },
  kill: { spec: { names: { '--all': 'all', '-a': 'all' }, valued: new Set() }, positionals: [1, 2] },
  delete: { spec: { names: { '--force': 'force', '-f': 'force' }, valued: new Set() }, positionals: [1, 1] },
};

type Values = Map<string, string | boolean>;

/**
 * Reads options of `spec` from argv[from..] into `values` until the first positional (global
 * options) or to the end (verb options, positionals collected). Returns the index it stopped at,
 * or -1 when the command line needs yargs.
 */
function readOptions(argv: readonly string[], from: number, spec: Spec, values: Values, positionals?: string[]): number {
  let i = from;
  for (; i < argv.length; i++) {
    const token = argv[i]!;
    if (!token.startsWith('-') || token === '-') {
      if (positionals === undefined) return i;
      positionals.push(token);
      continue;
    }
    const eq = token.indexOf('=');
    const name = eq > 0 ? token.slice(0, eq) : token;
    const key = Object.hasOwn(spec.names, name) ? spec.names[name] : undefined;
    if (key === undefined || values.has(key)) return -1;
    if (spec.valued.has(key)) {
      const value = eq > 0 ? token.slice(eq + 1) : argv[++i];
      if (value === undefined || (eq < 0 && value.startsWith('-'))) return -1;
      values.set(key, value);
    } else {
      if (eq > 0) return -1; // --debug=false and the like: yargs' business
      values.set(key, true);
    }
  }
  return i;
}

const str = (v: Values, k: string): string | undefined => {
  const x = v.get(k);
  return typeof x === 'string' ? x : undefined;
};
const flag = (v: Values, k: string): boolean => v.get(k) === true;

function globalsOf(g: Values): RuntimeGlobals | undefined {
  const logFormat = str(g, 'log-format') ?? 'text';
  if (logFormat !== 'text' && logFormat !== 'json') return undefined;
  return {
    root: str(g, 'root') ?? '/run/kapsel-runtime',
    log: str(g, 'log'),
    'log-format': logFormat,
    debug: flag(g, 'debug'),
    'systemd-cgroup': flag(g, 'systemd-cgroup'),
  };
}

/** Global options only (the part of an `exec` command line before the verb). */
export function parseFastGlobals(argv: readonly string[]): RuntimeGlobals | undefined {
  const g: Values = new Map();
  return readOptions(argv, 0, GLOBALS, g) === argv.length ? globalsOf(g) : undefined;
}

/** The hot command lines, parsed; undefined when yargs must parse this one. */
export function parseFastArgv(argv: readonly string[]): FastArgv | undefined {
  const g: Values = new Map();
  const at = readOptions(argv, 0, GLOBALS, g);
  if (at < 0 || at >= argv.length) return undefined;
  const globals = globalsOf(g);
  if (globals === undefined) return undefined;
  const verb = argv[at]!;
  const def = Object.hasOwn(VERBS, verb) ? VERBS[verb] : undefined;
  if (def === undefined) return undefined;
  const v: Values = new Map();
  const pos: string[] = [];
  if (readOptions(argv, at + 1, def.spec, v, pos) < 0) return undefined;
  if (pos.length < def.positionals[0] || pos.length > def.positionals[1]) return undefined;
  const id = pos[0]!;
  switch (verb) {
    case 'create':
    case 'run': {
      const fds = str(v, 'preserve-fds') ?? '0';
      if (!/^\d+$/.test(fds)) return undefined;
      const create: CreateArgv = {
        id,
        bundle: str(v, 'bundle') ?? '.',
        'pid-file': str(v, 'pid-file'),
        'console-socket': str(v, 'console-socket'),
        'no-pivot': flag(v, 'no-pivot'),
        'no-new-keyring': flag(v, 'no-new-keyring'),
        'preserve-fds': Number(fds),
      };
      if (verb === 'create') return { globals, command: { verb, args: create } };
      return { globals, command: { verb, args: { ...create, detach: flag(v, 'detach'), keep: flag(v, 'keep') } } };
    }
    case 'kill':
      return { globals, command: { verb, args: { id, signal: pos[1] ?? 'SIGTERM', all: flag(v, 'all') } } };
    case 'delete':
      return { globals, command: { verb, args: { id, force: flag(v, 'force') } } };
    default:
      return { globals, command: { verb: verb as 'start' | 'state', args: { id } } };
  }
}
