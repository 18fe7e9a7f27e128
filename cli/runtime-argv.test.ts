import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFastArgv, parseFastGlobals, type FastArgv } from './runtime-argv.js';
import { parseWithYargs, type YargsContext } from './runtime-yargs.js';
import type { RuntimeGlobals } from './runtime-argv.js';

/** What yargs makes of a command line: the verb the handler got and its arguments. */
async function viaYargs(argv: string[]): Promise<FastArgv> {
  let got: FastArgv | undefined;
  let globals: RuntimeGlobals | undefined;
  const pick = (g: RuntimeGlobals): RuntimeGlobals => ({ root: g.root, log: g.log, 'log-format': g['log-format'], debug: g.debug, 'systemd-cgroup': g['systemd-cgroup'] });
  const record = (verb: string, args: object) => {
    got = { globals: pick(globals!), command: { verb, args } as FastArgv['command'] };
    return Promise.resolve();
  };
  const createArgs = (a: Record<string, unknown>) => ({
    id: a['id'], bundle: a['bundle'], 'pid-file': a['pid-file'], 'console-socket': a['console-socket'],
    'no-pivot': a['no-pivot'], 'no-new-keyring': a['no-new-keyring'], 'preserve-fds': a['preserve-fds'],
  });
  const ctx = {
    setup: (g: RuntimeGlobals) => { globals = g; },
    runtime: () => { throw new Error('not in this test'); },
    version: 'test',
    verbs: {
      create: (_g: unknown, a: Record<string, unknown>) => record('create', createArgs(a)),
      run: (_g: unknown, a: Record<string, unknown>) => record('run', { ...createArgs(a), detach: a['detach'], keep: a['keep'] }),
      start: (_g: unknown, id: string) => record('start', { id }),
      state: (_g: unknown, id: string) => record('state', { id }),
      kill: (_g: unknown, id: string, signal: string, all: boolean) => record('kill', { id, signal, all }),
      delete: (_g: unknown, id: string, force: boolean) => record('delete', { id, force }),
    },
  } as unknown as YargsContext;
  await parseWithYargs(argv, ctx);
  assert.ok(got, `yargs ran no verb for ${argv.join(' ')}`);
  return got;
}

// The command lines containerd's runc shim (go-runc), podman/conmon and runtime-tools send.
const HOT: string[][] = [
  ['--root', '/run/containerd/runc/k8s.io', '--log', '/run/x/log.json', '--log-format', 'json', 'create', '--bundle', '/b', '--pid-file', '/b/init.pid', 'abc'],
  ['--root', '/r', '--log', '/l', '--log-format', 'json', 'create', '--bundle', '/b', '--pid-file', '/p', '--console-socket', '/tmp/pty.sock', '--no-pivot', '--no-new-keyring', 'abc'],
  ['--root', '/r', 'create', '-b', 'rel/bundle', '--preserve-fds', '2', 'abc'],
  ['--root=/r', '--log-format=json', 'create', '--bundle=/b', '--pid-file=/p', 'abc'],
  ['--debug', 'create', 'abc'],
  ['--root', '/r', 'start', 'abc'],
  ['--root', '/r', '--log', '/l', '--log-format', 'json', 'delete', '--force', 'abc'],
  ['--root', '/r', 'delete', '-f', 'abc'],
  ['--root', '/r', 'delete', 'abc'],
  ['--root', '/r', 'kill', 'abc', '9'],
  ['--root', '/r', 'kill', '--all', 'abc', 'SIGKILL'],
  ['--root', '/r', 'kill', '-a', 'abc'],
  ['--root', '/r', 'state', 'abc'],
  ['state', '123'],
  ['--root', '/r', 'run', '--bundle', '/b', 'abc'],
  ['run', '-d', '--keep', '--pid-file', 'p', '-b', '/b', 'abc'],
];

for (const argv of HOT) {
  test(`fast parse equals yargs: ${argv.join(' ')}`, async () => {
    const fast = parseFastArgv(argv);
    assert.ok(fast, 'the fast path takes this command line');
    assert.deepEqual(fast, await viaYargs(argv));
  });
}

test('command lines the fast path leaves to yargs', () => {
  for (const argv of [
    ['--help'], ['--version'], ['create', '--help'], ['state', '-h'], [], ['--root', '/r'],
    ['list'], ['spec'], ['features'], ['update', '--resources', '-', 'abc'], ['ps', 'abc', '-ef'],
    ['create', 'a', 'b'], ['start'], ['kill', 'a', '9', 'x'],
    ['create', '--unknown', 'abc'], ['create', '--bundle', '/a', '--bundle', '/b', 'abc'],
    ['create', '--bundle'], ['create', '--pid-file', '--bundle', 'abc'],
    ['--debug=false', 'start', 'abc'], ['--log-format', 'xml', 'start', 'abc'],
    ['create', '--preserve-fds', 'x', 'abc'], ['start', '--', 'abc'],
    ['--systemd-cgroup', '--root', '/r', 'start', '--root', '/s', 'abc'],
    ['--criu', '/c', '--rootless', 'auto', 'start', 'constructor', '--toString'],
  ]) {
    assert.equal(parseFastArgv(argv), undefined, argv.join(' '));
  }
});

test('global options before exec', () => {
  assert.deepEqual(parseFastGlobals(['--root', '/r', '--log-format', 'json', '--debug']), {
    root: '/r', log: undefined, 'log-format': 'json', debug: true, 'systemd-cgroup': false,
  });
  assert.equal(parseFastGlobals(['--root']), undefined);
  assert.equal(parseFastGlobals(['--bogus']), undefined);
});
