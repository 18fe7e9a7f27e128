/**
 * Proves compiled filters work in the real kernel: a tiny C probe (built here with `cc`) reads the
 * BPF bytes, sets PR_SET_NO_NEW_PRIVS, loads them with seccomp(SECCOMP_SET_MODE_FILTER, flags) -
 * what the native stage does - then makes raw syscalls and prints `ret errno` for each.
 *
 * Loading a filter under no_new_privs needs no privilege, but this needs a C compiler and a
 * seccomp-enabled kernel, so it lives in the kernel tier. Everything it creates is in a tmpdir.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileSeccomp } from './seccomp.js';
import type { CompiledSeccomp, SeccompProfileInput } from './seccomp.js';

const PROBE_C = String.raw`
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

/* probe FILTER.bpf FLAGS CALL...; CALL is "nr[,arg...]", an arg "s:text" passes a string pointer. */
int main(int argc, char **argv) {
  static struct sock_filter insns[4096];
  FILE *f = fopen(argv[1], "rb");
  if (!f) { perror("open filter"); return 2; }
  size_t n = fread(insns, sizeof insns[0], 4096, f);
  fclose(f);
  struct sock_fprog prog = { .len = (unsigned short) n, .filter = insns };
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) { perror("prctl"); return 2; }
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, strtoul(argv[2], NULL, 0), &prog) < 0) {
    printf("load -1 %d\n", errno);
    return 3;
  }
  for (int i = 3; i < argc; i++) {
    long a[6] = { 0 };
    char *save = NULL, *tok = strtok_r(argv[i], ",", &save);
    long nr = strtol(tok, NULL, 0);
    for (int j = 0; j < 6 && (tok = strtok_r(NULL, ",", &save)) != NULL; j++)
      a[j] = strncmp(tok, "s:", 2) == 0 ? (long) (tok + 2) : (long) strtoul(tok, NULL, 0);
    errno = 0;
    long ret = syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
    printf("%ld %d\n", ret, ret < 0 ? errno : 0);
  }
  fflush(stdout);
  return 0;
}
`;

// x86_64 syscall numbers (arch/x86/entry/syscalls/syscall_64.tbl)
const NR = { getpid: 39, mkdir: 83, rmdir: 84, acct: 163, personality: 135, clone3: 435, openat2: 437 };
const EPERM = 1;
const EACCES = 13;
const ENOSYS = 38;

interface Result {
  readonly ret: number;
  readonly errno: number;
}

let dir = '';
let probe = '';
const hasCc = ((): boolean => {
  try {
    execFileSync('cc', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const skip = process.arch !== 'x64' ? 'syscall numbers are x86_64' : !hasCc ? 'no C compiler (cc)' : false;

/** Runs the probe under `compiled`; one Result per call. */
function runProbe(compiled: CompiledSeccomp, calls: readonly string[]): Result[] {
  const bpfPath = join(dir, 'filter.bpf');
  writeFileSync(bpfPath, compiled.bpf);
  const out = execFileSync(probe, [bpfPath, String(compiled.filterFlags), ...calls], { encoding: 'utf8' });
  return out.trim().split('\n').map((line) => {
    const [ret, errno] = line.split(' ').map(Number);
    return { ret: ret ?? NaN, errno: errno ?? NaN };
  });
}

describe('compiled seccomp filters in the kernel', { skip }, () => {
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'kapsel-seccomp-'));
    writeFileSync(join(dir, 'probe.c'), PROBE_C);
    probe = join(dir, 'probe');
    execFileSync('cc', ['-O1', '-o', probe, join(dir, 'probe.c')]);
  });
  after(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
    assert.equal(dir === '' || !existsSync(dir), true);
  });

  it('mkdir -> SCMP_ACT_ERRNO fails with EPERM and creates nothing; other syscalls pass', () => {
    const target = join(dir, 'blocked');
    const compiled = compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }] });
    const [mkdir, getpid] = runProbe(compiled, [`${NR.mkdir},s:${target},0755`, `${NR.getpid}`]);
    assert.deepEqual(mkdir, { ret: -1, errno: EPERM });
    assert.equal(existsSync(target), false);
    assert.ok((getpid?.ret ?? 0) > 0);
  });

  it('errnoRet is returned as given', () => {
    const target = join(dir, 'eacces');
    const compiled = compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: EACCES }] });
    assert.deepEqual(runProbe(compiled, [`${NR.mkdir},s:${target},0755`]), [{ ret: -1, errno: EACCES }]);
  });

  it('arg rules: same index OR\'ed, different indices AND\'ed', () => {
    const compiled = compileSeccomp({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [
        // personality(a0): EPERM when a0 == 0x1234 or a0 == 0x5678
        { names: ['personality'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 0x1234, op: 'SCMP_CMP_EQ' }, { index: 0, value: 0x5678, op: 'SCMP_CMP_EQ' }] },
        // mkdir(path, mode): EACCES only when mode == 0700 and path pointer != 0
        { names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: EACCES, args: [{ index: 1, value: 0o700, op: 'SCMP_CMP_EQ' }, { index: 0, value: 0, op: 'SCMP_CMP_NE' }] },
      ],
    });
    const made = join(dir, 'made');
    const results = runProbe(compiled, [
      `${NR.personality},0x1234`, `${NR.personality},0x5678`, `${NR.personality},0xffffffff`,
      `${NR.mkdir},s:${join(dir, 'denied')},0700`, `${NR.mkdir},0,0700`, `${NR.mkdir},s:${made},0755`,
    ]);
    assert.deepEqual(results.slice(0, 2), [{ ret: -1, errno: EPERM }, { ret: -1, errno: EPERM }]);
    assert.ok((results[2]?.ret ?? -1) >= 0, 'personality(0xffffffff) only queries and is allowed');
    assert.deepEqual(results[3], { ret: -1, errno: EACCES });
    assert.deepEqual(results[4], { ret: -1, errno: 14 /* EFAULT: the kernel ran mkdir(NULL) */ });
    assert.deepEqual(results[5], { ret: 0, errno: 0 });
    assert.equal(existsSync(made), true);
  });

  it('an allow-list profile: listed passes, unlisted EPERM, newer than the profile ENOSYS', () => {
    const profile: SeccompProfileInput = {
      defaultAction: 'SCMP_ACT_ERRNO',
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
      syscalls: [
        { names: ['write', 'exit_group', 'exit', 'brk', 'mmap', 'munmap', 'fstat', 'newfstatat', 'getpid', 'rmdir', 'openat2'], action: 'SCMP_ACT_ALLOW' },
        { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS },
        { names: ['kapsel_not_a_syscall'], action: 'SCMP_ACT_ALLOW' },
      ],
    };
    const compiled = compileSeccomp(profile);
    const results = runProbe(compiled, [
      `${NR.getpid}`, `${NR.mkdir},s:${join(dir, 'x')},0755`, `${NR.acct},0`, `${NR.clone3},0,0`,
      '1000', '462' /* mseal: newer than openat2, the profile's largest */,
    ]);
    assert.ok((results[0]?.ret ?? 0) > 0);
    assert.deepEqual(results.slice(1), [
      { ret: -1, errno: EPERM }, { ret: -1, errno: EPERM }, { ret: -1, errno: ENOSYS },
      { ret: -1, errno: ENOSYS }, { ret: -1, errno: ENOSYS },
    ]);
  });

  it('the kernel accepts the flags compileSeccomp returns', () => {
    const compiled = compileSeccomp({
      defaultAction: 'SCMP_ACT_ALLOW',
      flags: ['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW'],
      syscalls: [{ names: ['rmdir'], action: 'SCMP_ACT_ERRNO' }],
    });
    assert.deepEqual(runProbe(compiled, [`${NR.rmdir},s:${join(dir, 'nope')}`]), [{ ret: -1, errno: EPERM }]);
  });
});
