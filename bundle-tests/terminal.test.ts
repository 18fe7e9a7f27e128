// process.terminal: the pty master reaches --console-socket, the process runs on the slave as
// its controlling terminal, and a missing socket is a clear error.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync } from 'node:fs';
import { join } from 'node:path';
import { linuxSyscalls } from '../sys/linux-syscalls.js';
import { makeBundle, runtime, leftovers, RUNTIME, sleepMs, type Bundle, readTerminal } from './helpers.js';

const bundles: Bundle[] = [];
after(() => bundles.forEach((b) => b.cleanup()));

test('the terminal master is sent over --console-socket and the process has a controlling tty', async () => {
  const b = makeBundle(['sh', '-c', 'tty; [ -t 0 ] && echo stdin-is-tty; stty size; echo done'], (s) => {
    s.process!.terminal = true;
    s.process!.consoleSize = { height: 33, width: 101 };
  });
  bundles.push(b);
  const sys = linuxSyscalls();
  const sockPath = join(b.dir, 'console.sock');
  const listener = sys.listenUnix(sockPath);
  const create = spawn(RUNTIME, ['--root', b.root, 'create', '--bundle', b.dir, '--console-socket', sockPath, 'tty1'], { stdio: 'ignore' });
  const created = new Promise<number | null>((resolve) => create.on('exit', (c) => resolve(c)));
  const conn = sys.accept(listener);
  const msg = sys.recvmsg(conn, 4096, 4);
  sys.close(conn);
  sys.close(listener);
  assert.equal(await created, 0);
  assert.equal(msg.fds.length, 1, 'one fd: the pty master');
  const master = msg.fds[0]!;
  assert.equal(runtime(b, ['start', 'tty1']).status, 0);
  const text = await readTerminal(master, 'done');
  closeSync(master);
  assert.match(text, /\/dev\/pts\/\d+/);
  assert.match(text, /stdin-is-tty/);
  assert.match(text, /33 101/, 'consoleSize is the initial window size');
  for (let i = 0; i < 100 && JSON.parse(runtime(b, ['state', 'tty1']).stdout).status !== 'stopped'; i++) await sleepMs(20);
  assert.equal(runtime(b, ['delete', 'tty1']).status, 0);
  assert.deepEqual(leftovers(b, 'tty1'), []);
});

test('terminal: true without --console-socket is refused before anything is created', () => {
  const b = makeBundle(['true'], (s) => { s.process!.terminal = true; });
  bundles.push(b);
  const r = runtime(b, ['create', '--bundle', b.dir, 'tty2']);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /--console-socket is required/);
  assert.deepEqual(leftovers(b, 'tty2'), []);
});
