import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execProcess } from './exec.js';
import type { Process } from '../oci/runtime-spec.js';

const base: Process = {
  terminal: true,
  consoleSize: { height: 10, width: 20 },
  user: { uid: 0, gid: 0, additionalGids: [5] },
  args: ['sleep', '100'],
  env: ['PATH=/bin', 'A=base'],
  cwd: '/',
  capabilities: { bounding: ['CAP_KILL'], effective: ['CAP_KILL'], permitted: ['CAP_KILL'] },
};

test('flags override the container\'s process; env by name', () => {
  const p = execProcess(base, { id: 'x', args: ['sh'], env: ['A=exec', 'B=new'], cwd: '/tmp', user: '7:8' });
  assert.deepEqual(p.args, ['sh']);
  assert.deepEqual(p.env, ['PATH=/bin', 'A=exec', 'B=new']);
  assert.equal(p.cwd, '/tmp');
  assert.deepEqual(p.user, { uid: 7, gid: 8, additionalGids: [5] });
  assert.equal(p.terminal, false, 'no terminal unless --tty');
  assert.equal(p.consoleSize, undefined);
});

test('--cap adds to every set; --user without a gid keeps the container\'s gid', () => {
  const p = execProcess(base, { id: 'x', args: ['sh'], caps: ['CAP_SYS_ADMIN'], user: '9' });
  assert.deepEqual(p.capabilities?.bounding, ['CAP_KILL', 'CAP_SYS_ADMIN']);
  assert.deepEqual(p.capabilities?.ambient, ['CAP_SYS_ADMIN']);
  assert.equal(p.user.gid, 0);
});

test('--process replaces everything; no command is an error; a bad --user is refused', () => {
  const own: Process = { user: { uid: 1, gid: 1 }, args: ['true'], cwd: '/' };
  assert.equal(execProcess(base, { id: 'x', process: own }), own);
  assert.throws(() => execProcess(base, { id: 'x' }), /needs a command/);
  assert.throws(() => execProcess(base, { id: 'x', args: ['sh'], user: 'root' }), /invalid --user/);
});

test('exec --tty takes the caller\'s console size; without a tty it is dropped', () => {
  const base = { args: ['sh'], cwd: '/', user: { uid: 0, gid: 0 }, consoleSize: { height: 10, width: 20 } };
  assert.deepEqual(execProcess(base, { id: 'x', args: ['ls'], tty: true, consoleSize: { height: 31, width: 97 } }).consoleSize, { height: 31, width: 97 });
  assert.equal(execProcess(base, { id: 'x', args: ['ls'], consoleSize: { height: 31, width: 97 } }).consoleSize, undefined);
});
