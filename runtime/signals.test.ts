import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KapselError } from '../common/errors.js';
import { SIGRTMAX, SIGRTMIN } from '../sys/constants.js';
import { parseSignal } from './signals.js';

function rejects(text: string): void {
  assert.throws(() => parseSignal(text), (err: unknown) => {
    assert.ok(err instanceof KapselError);
    assert.equal(err.code, 'ERR_USAGE');
    assert.equal(err.message, `invalid signal \`${text}\``);
    return true;
  }, text);
}

describe('parseSignal', () => {
  it('accepts names with or without SIG, in any case', () => {
    assert.equal(parseSignal('KILL'), 9);
    assert.equal(parseSignal('SIGKILL'), 9);
    assert.equal(parseSignal('kill'), 9);
    assert.equal(parseSignal('sigterm'), 15);
    assert.equal(parseSignal('Hup'), 1);
    assert.equal(parseSignal('SIGCHLD'), 17);
    assert.equal(parseSignal('SIGSYS'), 31);
    assert.equal(parseSignal(' TERM '), 15);
  });

  it('accepts aliases', () => {
    assert.equal(parseSignal('IOT'), parseSignal('ABRT'));
    assert.equal(parseSignal('POLL'), parseSignal('IO'));
  });

  it('accepts numbers from 1 to SIGRTMAX', () => {
    assert.equal(parseSignal('9'), 9);
    assert.equal(parseSignal('1'), 1);
    assert.equal(parseSignal('15'), 15);
    assert.equal(parseSignal('64'), 64);
    assert.equal(SIGRTMAX, 64);
  });

  it('accepts real-time signals relative to SIGRTMIN and SIGRTMAX', () => {
    assert.equal(SIGRTMIN, 34);
    assert.equal(parseSignal('SIGRTMIN'), 34);
    assert.equal(parseSignal('RTMIN'), 34);
    assert.equal(parseSignal('SIGRTMIN+3'), 37);
    assert.equal(parseSignal('rtmin+30'), 64);
    assert.equal(parseSignal('RTMAX'), 64);
    assert.equal(parseSignal('RTMAX-1'), 63);
    assert.equal(parseSignal('SIGRTMAX-30'), 34);
  });

  it('rejects 0 and numbers above SIGRTMAX', () => {
    rejects('0');
    rejects('65');
    rejects('4294967305'); // would wrap to 9 as a u32
  });

  it('rejects unknown names and real-time offsets outside the range', () => {
    rejects('NOPE');
    rejects('SIG');
    rejects('');
    rejects('SIGRTMIN+31');
    rejects('RTMAX-31');
    rejects('RTMIN-1');
    rejects('RTMAX+1');
    rejects('-9');
    rejects('9.0');
  });
});
