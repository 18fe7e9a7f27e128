// The daemon protocol's byte layouts (native/front.c is the other side; the exchange itself is
// tested end to end in bundle-tests/daemon.test.ts).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeRequest, encodeOutcome, encodeRequest } from './runtime-daemon.js';

describe('daemon requests', () => {
  it('round-trip cwd, argv and umask; undefined until complete', () => {
    const req = { cwd: '/srv/bundles', argv: ['--root', '/run/x', 'create', '--bundle', '.', 'c1'], umask: 0o027 };
    const buf = encodeRequest(req);
    assert.equal(buf.toString('latin1', 0, 4), 'KRT2');
    assert.deepEqual(decodeRequest(buf), req);
    for (const n of [0, 5, 12, buf.length - 1]) assert.equal(decodeRequest(buf.subarray(0, n)), undefined);
  });

  it('refuse another magic (an older front), an oversized or unterminated payload', () => {
    const buf = encodeRequest({ cwd: '/', argv: ['state', 'x'], umask: 0o22 });
    const old = Buffer.from(buf);
    old.write('KRT1', 0, 'latin1');
    assert.throws(() => decodeRequest(old), /bad magic/);
    const huge = Buffer.from(buf);
    huge.writeUInt32LE(1 << 20, 4);
    assert.throws(() => decodeRequest(huge), /too long/);
    const cut = Buffer.concat([buf.subarray(0, 12), Buffer.from('/\0state')]);
    cut.writeUInt32LE(cut.length - 12, 4);
    assert.throws(() => decodeRequest(cut), /unterminated/);
  });
});

describe('daemon outcomes', () => {
  it('"X", i32 status, u32 pid, u32 follow-up length, NUL-terminated follow-up args', () => {
    const out = encodeOutcome({ status: 0, waitPid: 4242, followUp: ['--root', '/r', 'delete', '--force', 'c1'] });
    assert.equal(out.toString('latin1', 0, 1), 'X');
    assert.equal(out.readInt32LE(1), 0);
    assert.equal(out.readUInt32LE(5), 4242);
    const len = out.readUInt32LE(9);
    assert.equal(out.length, 13 + len);
    assert.deepEqual(out.toString('utf8', 13).split('\0'), ['--root', '/r', 'delete', '--force', 'c1', '']);
  });

  it('an error status without a process to wait for or a follow-up', () => {
    const out = encodeOutcome({ status: 125, error: 'not shown to the front' });
    assert.equal(out.length, 13);
    assert.equal(out.readInt32LE(1), 125);
    assert.equal(out.readUInt32LE(5), 0);
    assert.equal(out.readUInt32LE(9), 0);
  });
});
