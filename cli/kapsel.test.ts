import { test } from 'node:test';
import assert from 'node:assert/strict';
import yargs from 'yargs';
import { RUN_OPTIONS, globalsOf, parseRunFast, splitRunArgs } from './kapsel-args.js';
import { runCommand } from './kapsel/run.js';

test('run: options end at the image; the command keeps its own flags', () => {
  assert.deepEqual(splitRunArgs(['run', '--rm', '-e', 'A=1', '-v', '/a:/b', '--name', 'x', 'busybox', 'sh', '-c', 'echo -e hi']), {
    head: ['run', '--rm', '-e', 'A=1', '-v', '/a:/b', '--name', 'x', 'busybox'],
    command: ['sh', '-c', 'echo -e hi'],
  });
  assert.deepEqual(splitRunArgs(['run', '-it', '--memory=64m', 'busybox']), { head: ['run', '-it', '--memory=64m', 'busybox'], command: [] });
});

test('exec: options end at the container', () => {
  assert.deepEqual(splitRunArgs(['exec', '-e', 'X=1', '-u', '0', 'web', 'ls', '-l']), { head: ['exec', '-e', 'X=1', '-u', '0', 'web'], command: ['ls', '-l'] });
  assert.deepEqual(splitRunArgs(['ps', '-a']), { head: ['ps', '-a'], command: [] });
});

/** What yargs hands run's handler for `head`, restricted to the keys the fast parser sets. */
function viaYargs(head: readonly string[], keys: readonly string[]): Record<string, unknown> {
  let seen: Record<string, unknown> | undefined;
  yargs(head.slice())
    .option('debug', { alias: 'D', type: 'boolean', default: false })
    .command({ ...runCommand([]), handler: (argv) => { seen = argv; } })
    .fail((msg, err) => { throw err ?? new Error(msg); })
    .parseSync();
  assert.ok(seen !== undefined, `yargs ran no handler for ${head.join(' ')}`);
  return Object.fromEntries(keys.filter((k) => seen![k] !== undefined).map((k) => [k, seen![k]]));
}

test('run fast path: the same options as yargs for the command lines it takes', () => {
  const lines = [
    ['run', '--rm', '--network', 'none', 'busybox'],
    ['-D', 'run', '--rm', 'busybox'],
    ['--debug', 'run', '-d', '--name', 'web', 'nginx'],
    ['run', '-it', '--rm', 'busybox'],
    ['run', '-dit', 'busybox'],
    ['run', '-e', 'A=1', '-e', 'B=2', '--env=C=3', '-v', '/a:/b:ro', '--memory=64m', '--cpus', '0.5', 'busybox'],
    ['run', '--cpu-shares', '512', '--pids-limit', '20', 'busybox'], ['run', '-c', '10', '-m', '1g', 'busybox'],
    ['run', '--net=host', '-p', '8080:80', '-p', '8443:443/tcp', '--ip', '10.0.0.2', 'busybox'],
    ['run', '--entrypoint', '', '-w', '/tmp', '-u', '1000:1000', '-h', 'box', 'busybox'],
    ['run', '--cap-add', 'NET_ADMIN', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges', '--read-only', '--privileged', '--init', 'busybox'],
    ['run', '--restart', 'on-failure:3', '--stop-signal', 'SIGINT', '--log-opt', 'max-size=1k', '--log-opt', 'max-file=2', '--tmpfs', '/run', 'busybox'],
  ];
  for (const line of lines) {
    const fast = parseRunFast(line);
    assert.ok(fast !== undefined, `fast path refused ${line.join(' ')}`);
    assert.deepEqual(fast.argv, viaYargs(line, [...RUN_OPTIONS.map((o) => o.name), 'image']), line.join(' '));
    assert.equal(fast.globals.debug, line[0] === '-D' || line[0] === '--debug');
  }
});

test('run fast path: anything it does not read exactly like yargs goes to yargs', () => {
  for (const line of [
    ['run', '--help', 'busybox'], ['run', '--rm'], ['run', '--name', 'x'], ['run', '--rm=false', 'busybox'], ['run', '--no-rm', 'busybox'],
    ['run', '--unknown', 'busybox'], ['run', '--name', 'a', '--name', 'b', 'busybox'], ['run', '-e', '-x', 'busybox'],
    ['run', '--cpu-shares', 'lots', 'busybox'], ['run', '--rm', 'true'], ['run', '-ie', 'busybox'], ['--version', 'run', 'busybox'], ['ps', '-a'], ['run', '--', 'busybox'],
  ]) {
    assert.equal(parseRunFast(line), undefined, line.join(' '));
  }
});

test('globals: -D and --debug before the verb only', () => {
  assert.equal(globalsOf(['-D', 'ps']).debug, true);
  assert.equal(globalsOf(['ps', '--debug']).debug, false);
  assert.equal(globalsOf(['run', '-D', 'busybox']).debug, false);
});
