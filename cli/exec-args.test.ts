import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseExecArgs } from './exec-args.js';

test('options stop at the container id; the command keeps its own flags', () => {
  const a = parseExecArgs(['-t', '--console-socket', '/s', '-e', 'A=1', '--env=B=2', '-u', '1000:1000', 'box', 'sh', '-c', 'echo -e x']);
  assert.equal(a.id, 'box');
  assert.deepEqual(a.command, ['sh', '-c', 'echo -e x']);
  assert.equal(a.tty, true);
  assert.equal(a.consoleSocket, '/s');
  assert.deepEqual(a.env, ['A=1', 'B=2']);
  assert.equal(a.user, '1000:1000');
});

test('--detach, --pid-file, --process, --cap (repeatable), -g, --preserve-fds', () => {
  const a = parseExecArgs(['-d', '--pid-file', 'p', '--process', 'proc.json', '--cap', 'CAP_A', '-c', 'CAP_B', '-g', '10,20', '--preserve-fds', '2', 'box']);
  assert.equal(a.detach, true);
  assert.equal(a.pidFile, 'p');
  assert.equal(a.process, 'proc.json');
  assert.deepEqual(a.caps, ['CAP_A', 'CAP_B']);
  assert.deepEqual(a.additionalGids, [10, 20]);
  assert.equal(a.preserveFds, 2);
  assert.deepEqual(a.command, []);
});

test('errors name the problem', () => {
  assert.throws(() => parseExecArgs(['--bogus', 'box', 'true']), /unknown option `--bogus`/);
  assert.throws(() => parseExecArgs(['--cwd']), /needs a value/);
  assert.throws(() => parseExecArgs([]), /name the container/);
  assert.throws(() => parseExecArgs(['box']), /give a command or --process/);
  assert.throws(() => parseExecArgs(['--constructor', 'box', 'x']), /unknown option/);
});
