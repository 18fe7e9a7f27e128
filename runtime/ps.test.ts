import { test } from 'node:test';
import assert from 'node:assert/strict';
import { filterPsOutput } from './ps.js';

const PS = `UID        PID  PPID  C STIME TTY          TIME CMD
root         1     0  0 10:00 ?        00:00:01 /sbin/init
root       420     1  0 10:01 ?        00:00:00 sh -c sleep 100
root       421   420  0 10:01 ?        00:00:00 sleep 100
`;

test('the table keeps the header and the container\'s lines, found by the PID column', () => {
  assert.equal(filterPsOutput(PS, [420, 421]), `${PS.split('\n').filter((l) => !l.includes('init')).join('\n')}`);
  assert.equal(filterPsOutput('  PID COMMAND\n  421 sleep\n    7 other\n', [421]), '  PID COMMAND\n  421 sleep\n');
  assert.throws(() => filterPsOutput('USER COMMAND\nroot sh\n', [1]), /couldn't find PID field/);
});
