/**
 * Argument parsing for `exec`, whose command line ends with the container's own argv
 * (`exec ID sh -c "..."`): options stop at the first non-option (the id), as in runc, so the
 * command's own flags are never taken for ours.
 */
import { KapselError } from '../common/errors.js';

export interface ExecArgs {
  id: string;
  command: string[];
  process?: string;
  tty: boolean;
  consoleSocket?: string;
  detach: boolean;
  pidFile?: string;
  cwd?: string;
  env: string[];
  user?: string;
  additionalGids: number[];
  caps: string[];
  noNewPrivs: boolean;
  preserveFds: number;
  apparmor?: string;
  processLabel?: string;
}

const WITH_VALUE: Readonly<Record<string, keyof ExecArgs>> = {
  '--process': 'process', '-p': 'process',
  '--console-socket': 'consoleSocket',
  '--pid-file': 'pidFile',
  '--cwd': 'cwd',
  '--env': 'env', '-e': 'env',
  '--user': 'user', '-u': 'user',
  '--additional-gids': 'additionalGids', '-g': 'additionalGids',
  '--cap': 'caps', '-c': 'caps',
  '--preserve-fds': 'preserveFds',
  '--apparmor': 'apparmor',
  '--process-label': 'processLabel',
};

const FLAGS: Readonly<Record<string, keyof ExecArgs>> = {
  '--tty': 'tty', '-t': 'tty',
  '--detach': 'detach', '-d': 'detach',
  '--no-new-privs': 'noNewPrivs',
};

export function parseExecArgs(argv: readonly string[]): ExecArgs {
  const out: ExecArgs = { id: '', command: [], tty: false, detach: false, env: [], additionalGids: [], caps: [], noNewPrivs: false, preserveFds: 0 };
  let i = 0;
  for (; i < argv.length; i++) {
    const token = argv[i] ?? '';
    if (token === '--') { i++; break; }
    if (!token.startsWith('-') || token === '-') break;
    const eq = token.indexOf('=');
    const name = eq > 0 ? token.slice(0, eq) : token;
    const flag = FLAGS[name];
    if (flag !== undefined && Object.hasOwn(FLAGS, name)) {
      (out as unknown as Record<string, unknown>)[flag] = eq > 0 ? token.slice(eq + 1) !== 'false' : true;
      continue;
    }
    const key = Object.hasOwn(WITH_VALUE, name) ? WITH_VALUE[name] : undefined;
    if (key === undefined) throw new KapselError('ERR_USAGE', `exec: unknown option \`${name}\``);
    const value = eq > 0 ? token.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new KapselError('ERR_USAGE', `exec: option \`${name}\` needs a value`);
    if (key === 'env' || key === 'caps') out[key].push(value);
    else if (key === 'additionalGids') out.additionalGids.push(...value.split(',').map(Number));
    else if (key === 'preserveFds') out.preserveFds = Number(value);
    else (out as unknown as Record<string, unknown>)[key] = value;
  }
  out.id = argv[i] ?? '';
  if (out.id === '') throw new KapselError('ERR_USAGE', 'exec: name the container');
  out.command = argv.slice(i + 1);
  if (out.command.length === 0 && out.process === undefined) {
    throw new KapselError('ERR_USAGE', 'exec: give a command or --process FILE');
  }
  return out;
}
