/**
 * The bpf(2) loader against the real kernel: a device program attached to a cgroup2 directory
 * this test creates (on a hybrid host /sys/fs/cgroup/unified: device programs attach there even
 * without controllers) decides what a process in that cgroup may open. The programs here are
 * written by hand so sys/ tests depend on nothing above sys/; runtime/device-filter.root.test.ts
 * runs the cgroups emitter's programs through the same loader.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmdirSync, constants } from 'node:fs';
import { after, describe, it } from 'node:test';
import { attachCgroupDeviceProgram, loadCgroupDeviceProgram, queryCgroupDevicePrograms } from './bpf.js';

const v2Mount = readFileSync('/proc/self/mountinfo', 'utf8')
  .split('\n')
  .map((l) => l.split(' '))
  .find((f) => f[f.indexOf('-') + 1] === 'cgroup2')?.[4];
const skip = process.getuid?.() !== 0 ? 'needs root' : v2Mount === undefined ? 'needs a cgroup2 mount' : false;
const DIR = `${v2Mount ?? '/sys/fs/cgroup'}/kapsel-bpf-test-${process.pid}`;

/** struct bpf_insn: code, dst | src << 4, off (s16), imm (s32). */
function insn(code: number, dst: number, src: number, off: number, imm: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt8(code, 0);
  b.writeUInt8(dst | (src << 4), 1);
  b.writeInt16LE(off, 2);
  b.writeInt32LE(imm, 4);
  return b;
}

/** return `verdict` for every device. */
function constant(verdict: number): Buffer {
  return Buffer.concat([insn(0xb4, 0, 0, 0, verdict), insn(0x95, 0, 0, 0, 0)]);
}

/** Denies `access` bits (BPF_DEVCG_ACC_*) on char device major:minor, allows the rest. */
function denyChar(major: number, minor: number, access: number): Buffer {
  return Buffer.concat([
    insn(0x61, 2, 1, 0, 0), // r2 = ctx->access_type
    insn(0xbc, 3, 2, 0, 0), // r3 = r2
    insn(0x54, 2, 0, 0, 0xffff), // r2 &= 0xffff: type
    insn(0x74, 3, 0, 0, 16), // r3 >>= 16: access
    insn(0x61, 4, 1, 4, 0), // r4 = ctx->major
    insn(0x61, 5, 1, 8, 0), // r5 = ctx->minor
    insn(0x55, 2, 0, 6, 2), // if type != char goto allow
    insn(0x55, 4, 0, 5, major), // if major != M goto allow
    insn(0x55, 5, 0, 4, minor), // if minor != m goto allow
    insn(0x54, 3, 0, 0, access), // r3 &= access
    insn(0x15, 3, 0, 2, 0), // if r3 == 0 goto allow
    ...[insn(0xb4, 0, 0, 0, 0), insn(0x95, 0, 0, 0, 0)], // deny
    ...[insn(0xb4, 0, 0, 0, 1), insn(0x95, 0, 0, 0, 0)], // allow
  ]);
}

/** Runs `script` in a shell that first moves itself into the test cgroup; returns its stderr. */
function inCgroup(script: string): { status: number | null; stderr: string } {
  const r = spawnSync('/bin/sh', ['-c', `echo $$ > ${DIR}/cgroup.procs && ${script}`], { encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr };
}

describe('bpf(2) cgroup device programs on the real kernel', { skip }, () => {
  let fd: number | undefined;

  after(() => {
    if (fd !== undefined) closeSync(fd);
    // rmdir detaches every program; the shells above have exited, so the cgroup is empty
    if (existsSync(DIR)) rmdirSync(DIR);
    assert.equal(existsSync(DIR), false);
  });

  it('a deny program makes opening /dev/null fail with EPERM; replacing it lifts the deny', () => {
    mkdirSync(DIR);
    fd = openSync(DIR, constants.O_RDONLY | constants.O_DIRECTORY);
    assert.deepEqual(queryCgroupDevicePrograms(fd), []);
    assert.equal(inCgroup('echo x > /dev/null').status, 0);

    attachCgroupDeviceProgram(fd, denyChar(1, 3, 4 /* BPF_DEVCG_ACC_WRITE */), 'Apache');
    const first = queryCgroupDevicePrograms(fd);
    assert.equal(first.length, 1);
    const write = inCgroup('echo x > /dev/null');
    assert.notEqual(write.status, 0);
    assert.match(write.stderr, /Operation not permitted/);
    assert.equal(inCgroup('cat /dev/null').status, 0, 'reading stays allowed');
    assert.equal(inCgroup('echo x > /dev/zero').status, 0, 'other devices stay allowed');

    attachCgroupDeviceProgram(fd, constant(1), 'Apache');
    const second = queryCgroupDevicePrograms(fd);
    assert.equal(second.length, 1, 'the old program was replaced, not stacked');
    assert.notEqual(second[0], first[0]);
    assert.equal(inCgroup('echo x > /dev/null').status, 0);

    attachCgroupDeviceProgram(fd, constant(0), 'GPL');
    assert.match(inCgroup('cat /dev/null').stderr, /Operation not permitted/);
    assert.equal(queryCgroupDevicePrograms(fd).length, 1);
  });

  it('a program the verifier rejects fails with its log in the message', () => {
    // falls off the end without exit: the verifier refuses it
    assert.throws(() => loadCgroupDeviceProgram(insn(0xb4, 0, 0, 0, 1), 'Apache'), /bpf|verifier/);
    assert.throws(() => loadCgroupDeviceProgram(Buffer.alloc(5), 'Apache'), /whole number of instructions/);
  });
});
