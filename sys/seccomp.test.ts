/**
 * compileSeccomp / seccompPfc against the real libseccomp (no filter is loaded: unprivileged).
 * The filter's effect on real syscalls is proven in seccomp.root.test.ts.
 */
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  SCMP_ARCH, SECCOMP_FILTER_FLAG_LOG, SECCOMP_FILTER_FLAG_NEW_LISTENER, SECCOMP_FILTER_FLAG_SPEC_ALLOW,
  SECCOMP_FILTER_FLAG_TSYNC, SECCOMP_FILTER_FLAG_TSYNC_ESRCH, SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
  compileSeccomp, seccompPfc,
} from './seccomp.js';
import type { SeccompProfileInput } from './seccomp.js';
import { resolveArchName } from './libseccomp.js';

// Captured before any test compiles a filter.
const mapsAtImport = readFileSync('/proc/self/maps', 'utf8');

/** struct sock_filter[] as [code, jt, jf, k] tuples (x86_64 is little-endian). */
function insns(bpf: Buffer): [number, number, number, number][] {
  const out: [number, number, number, number][] = [];
  for (let at = 0; at < bpf.length; at += 8) out.push([bpf.readUInt16LE(at), bpf[at + 2] ?? 0, bpf[at + 3] ?? 0, bpf.readUInt32LE(at + 4)]);
  return out;
}
const RET_K = 0x06;
const RET_ENOSYS = 0x00050026;

function seccompError(value: string): (err: unknown) => boolean {
  return (err: unknown) => {
    assert.ok(err instanceof Error);
    assert.equal((err as { code?: unknown }).code, 'ERR_SECCOMP');
    assert.match(err.message, new RegExp(value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    return true;
  };
}

const mkdirErrno: SeccompProfileInput = {
  defaultAction: 'SCMP_ACT_ALLOW',
  syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }],
};

describe('compileSeccomp', () => {
  it('does not load libseccomp on import', () => {
    assert.doesNotMatch(mapsAtImport, /libseccomp/);
  });

  it('default-allow profile with mkdir -> ERRNO: the rule and errno are in the pfc', () => {
    const pfc = seccompPfc(mkdirErrno);
    assert.match(pfc, /filter for syscall "mkdir" \(83\)[^\n]*\n\s+if \(\$syscall == 83\)\n\s+action ERRNO\(1\);/);
    assert.match(pfc, /# default action\n\s+action ALLOW;/);
    assert.doesNotMatch(pfc, /-ENOSYS stub/); // permissive default: no stub
  });

  it('uses errnoRet for the rule and defaultErrnoRet for the default action', () => {
    const pfc = seccompPfc({
      defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 13,
      syscalls: [{ names: ['getpid'], action: 'SCMP_ACT_ALLOW' }, { names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 30 }],
    });
    assert.match(pfc, /if \(\$syscall == 83\)\n\s+action ERRNO\(30\);/);
    assert.match(pfc, /# default action\n\s+action ERRNO\(13\);/);
  });

  it('maps every action name', () => {
    const pfc = seccompPfc({
      defaultAction: 'SCMP_ACT_KILL_PROCESS', listenerPath: '/run/agent.sock',
      syscalls: [
        { names: ['read'], action: 'SCMP_ACT_ALLOW' },
        { names: ['write'], action: 'SCMP_ACT_LOG' },
        { names: ['mkdir'], action: 'SCMP_ACT_TRAP' },
        { names: ['rmdir'], action: 'SCMP_ACT_TRACE', errnoRet: 7 },
        { names: ['chdir'], action: 'SCMP_ACT_KILL' },
        { names: ['fchdir'], action: 'SCMP_ACT_KILL_THREAD' },
        { names: ['getpid'], action: 'SCMP_ACT_NOTIFY' },
      ],
    });
    for (const [nr, action] of [[0, 'ALLOW'], [1, 'LOG'], [83, 'TRAP'], [84, 'TRACE\\(7\\)'], [80, 'KILL'], [81, 'KILL'], [39, '(NOTIFY|0x7fc00000)']] as const) {
      assert.match(pfc, new RegExp(`if \\(\\$syscall == ${nr}\\)\\n\\s+action ${action};`));
    }
    assert.match(pfc, /# default action\n\s+action KILL_PROCESS;/);
  });

  it('ANDs args with distinct indices in one rule', () => {
    const pfc = seccompPfc({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [{
        names: ['clone'], action: 'SCMP_ACT_ERRNO', args: [
          { index: 0, value: 0x7e020000, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' },
          { index: 1, value: 5, op: 'SCMP_CMP_GT' },
        ],
      }],
    });
    // Nested ifs: a1 > 5 is only checked inside the a0 mask match.
    assert.match(pfc, /if \(\$a0\.lo32 & 0x7e020000 == 0\)\n\s+if \(\$a1\.hi32 > 0\)\n\s+action ERRNO\(1\);/);
  });

  it('ORs args that repeat an index: one rule each (runc)', () => {
    const pfc = seccompPfc({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [{
        names: ['personality'], action: 'SCMP_ACT_ERRNO', errnoRet: 22, args: [
          { index: 0, value: 8, op: 'SCMP_CMP_EQ' },
          { index: 0, value: 16, op: 'SCMP_CMP_EQ' },
          { index: 1, value: 3, op: 'SCMP_CMP_EQ' },
        ],
      }],
    });
    // Siblings, each with its own action: a0 == 8, a0 == 16 and a1 == 3 (not nested under a0).
    assert.match(pfc, /\n(\s+)if \(\$a0\.lo32 == (8|16)\)\n\s+action ERRNO\(22\);\n\1if \(\$a0\.lo32 == (8|16)\)\n\s+action ERRNO\(22\);/);
    assert.match(pfc, /\n(\s+)if \(\$a1\.hi32 == 0\)\n\s+if \(\$a1\.lo32 == 3\)\n\s+action ERRNO\(22\);\n\1if \(\$a0\.hi32 == 0\)/);
  });

  it('accepts 64-bit values as bigint and every operator', () => {
    const ops = ['SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_MASKED_EQ'];
    const pfc = seccompPfc({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: ops.map((op, i) => ({ names: [['read', 'write', 'open', 'close', 'stat', 'fstat', 'lstat'][i] ?? ''], action: 'SCMP_ACT_ERRNO', args: [{ index: 2, value: 0xfedcba9876543210n, valueTwo: 0x10n, op }] })),
    });
    assert.match(pfc, /\$a2\.hi32 == 4275878552/); // 0xfedcba98
    assert.match(pfc, /\$a2\.hi32 & 0xfedcba98 == 0/);
  });

  it('skips syscall names libseccomp does not know', () => {
    const pfc = seccompPfc({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [{ names: ['kapsel_no_such_syscall', 'mkdir'], action: 'SCMP_ACT_ERRNO' }],
    });
    assert.doesNotMatch(pfc, /kapsel_no_such_syscall/);
    assert.match(pfc, /"mkdir"/);
  });

  it('skips rules whose action equals the default action', () => {
    const profile: SeccompProfileInput = {
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [
        { names: ['getpid'], action: 'SCMP_ACT_ERRNO' }, // ERRNO(1) == default: skipped
        { names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }, // same value: skipped
        { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 }, // differs: kept
      ],
    };
    const pfc = seccompPfc(profile);
    assert.doesNotMatch(pfc, /"getpid"|"mkdir"/);
    assert.match(pfc, /"clone3"[^\n]*\n\s+if \(\$syscall == 435\)\n\s+action ERRNO\(38\);/);
    assert.ok(compileSeccomp(profile).bpf.length > 0);
  });

  it('adds architectures; the native one may be listed', () => {
    const pfc = seccompPfc({
      defaultAction: 'SCMP_ACT_ERRNO',
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32', 'SCMP_ARCH_AARCH64'],
      syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW' }],
    });
    for (const arch of ['x86_64', 'x86', 'x32', 'aarch64']) assert.match(pfc, new RegExp(`# filter for arch ${arch} `));
  });

  it('keeps SCMP_ARCH_* tokens equal to libseccomp\'s', () => {
    for (const [name, token] of Object.entries(SCMP_ARCH)) {
      if (name === 'SCMP_ARCH_LOONGARCH64') continue; // not in libseccomp 2.5
      assert.equal(resolveArchName(name.slice('SCMP_ARCH_'.length).toLowerCase()), token, name);
    }
  });

  it('produces whole sock_filter instructions', () => {
    const { bpf, filterFlags, needsNotify } = compileSeccomp(mkdirErrno);
    assert.ok(bpf.length > 0);
    assert.equal(bpf.length % 8, 0);
    assert.equal(filterFlags, SECCOMP_FILTER_FLAG_SPEC_ALLOW); // runc 1.2 default when flags is absent
    assert.equal(needsNotify, false);
    const last = insns(bpf).at(-1);
    assert.equal(last?.[0], RET_K);
  });

  it('prepends the -ENOSYS stub only for a non-permissive default', () => {
    const allow = insns(compileSeccomp(mkdirErrno).bpf);
    assert.ok(!allow.some(([code, , , k]) => code === RET_K && k === RET_ENOSYS));
    const deny = insns(compileSeccomp({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read', 'openat2'], action: 'SCMP_ACT_ALLOW' }] }).bpf);
    assert.deepEqual(deny[0], [0x20, 0, 0, 4]); // ld [4]: seccomp_data.arch
    assert.deepEqual(deny[1]?.slice(0, 1).concat(deny[1]?.slice(3) ?? []), [0x15, 0xc000003e]); // jeq AUDIT_ARCH_X86_64
    assert.ok(deny.some(([code, , , k]) => code === 0x25 && k === 437)); // jgt openat2
    assert.ok(deny.some(([code, , , k]) => code === RET_K && k === RET_ENOSYS));
    // The stub loads the arch once more than libseccomp's single-arch program does.
    const loadsArch = (p: SeccompProfileInput): number => insns(compileSeccomp(p).bpf).filter(([code, , , k]) => code === 0x20 && k === 4).length;
    const allowReadOpenat2 = [{ names: ['read', 'openat2'], action: 'SCMP_ACT_ALLOW' }];
    assert.equal(loadsArch({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: allowReadOpenat2 }), 2);
    assert.equal(loadsArch({ defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 38, syscalls: allowReadOpenat2 }), 1);
    assert.equal(loadsArch({ defaultAction: 'SCMP_ACT_LOG', syscalls: allowReadOpenat2 }), 1);
    assert.equal(loadsArch({ defaultAction: 'SCMP_ACT_TRACE', syscalls: allowReadOpenat2 }), 1);
    assert.match(seccompPfc({ defaultAction: 'SCMP_ACT_KILL', syscalls: [{ names: ['read', 'openat2'], action: 'SCMP_ACT_ALLOW' }] }), /SCMP_ARCH_X86_64: syscall > 437 -> ERRNO\(38\)/);
  });

  it('compiles a Docker-like default profile', () => {
    const profile = dockerLikeProfile();
    const { bpf, filterFlags } = compileSeccomp(profile);
    assert.equal(bpf.length % 8, 0);
    assert.ok(bpf.length / 8 > 100 && bpf.length / 8 <= 4096, `${bpf.length / 8} instructions`);
    assert.equal(filterFlags, SECCOMP_FILTER_FLAG_SPEC_ALLOW);
    const pfc = seccompPfc(profile);
    assert.match(pfc, /# filter for arch x32 /);
    assert.match(pfc, /"clone3"[\s\S]*?action ERRNO\(38\);/);
    // SCMP_CMP_NE 40: allowed unless a0 == 40 (AF_VSOCK).
    assert.match(pfc, /"socket"[^\n]*\n\s+if \(\$syscall == 41\)\n\s+if \(\$a0\.hi32 == 0\)\n\s+if \(\$a0\.lo32 == 40\)\n\s+else\n\s+action ALLOW;/);
  });
});

describe('compileSeccomp flags', () => {
  const base = mkdirErrno;
  it('maps flag names to SECCOMP_FILTER_FLAG_* bits; [] means none', () => {
    assert.equal(compileSeccomp({ ...base, flags: [] }).filterFlags, 0);
    assert.equal(compileSeccomp({ ...base, flags: ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_TSYNC'] }).filterFlags, SECCOMP_FILTER_FLAG_LOG | SECCOMP_FILTER_FLAG_TSYNC);
    assert.equal(compileSeccomp({ ...base, flags: ['SECCOMP_FILTER_FLAG_SPEC_ALLOW'] }).filterFlags, SECCOMP_FILTER_FLAG_SPEC_ALLOW);
  });

  it('notify sets needsNotify and NEW_LISTENER; TSYNC then gets TSYNC_ESRCH', () => {
    const notify: SeccompProfileInput = {
      defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/run/agent.sock',
      flags: ['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'],
      syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }],
    };
    const out = compileSeccomp(notify);
    assert.equal(out.needsNotify, true);
    assert.equal(out.filterFlags, SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_TSYNC_ESRCH | SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV);
  });

  it('drops WAIT_KILLABLE_RECV without notify rules (the kernel refuses it without a listener)', () => {
    assert.equal(compileSeccomp({ ...base, flags: ['SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'] }).filterFlags, 0);
  });
});

describe('compileSeccomp errors', () => {
  const bad = (profile: SeccompProfileInput, value: string): void => {
    assert.throws(() => compileSeccomp(profile), seccompError(value));
    assert.throws(() => seccompPfc(profile), seccompError(value));
  };

  it('names an unknown action, default or rule', () => {
    bad({ defaultAction: 'SCMP_ACT_FOO' }, '`SCMP_ACT_FOO`');
    bad({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_BAR' }] }, 'syscalls[0] (`mkdir`): unknown action `SCMP_ACT_BAR`');
  });

  it('names an unknown operator', () => {
    bad({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 1, op: 'SCMP_CMP_ALMOST' }] }] }, '`SCMP_CMP_ALMOST`');
  });

  it('names an unknown architecture, and one libseccomp 2.5 lacks', () => {
    bad({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_VAX'] }, '`SCMP_ARCH_VAX`');
    bad({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_LOONGARCH64'], syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }] }, '`SCMP_ARCH_LOONGARCH64`');
  });

  it('names an unknown flag', () => {
    bad({ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_BOGUS'] }, '`SECCOMP_FILTER_FLAG_BOGUS`');
  });

  it('refuses notify without listenerPath, and notify as default', () => {
    bad({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }] }, 'listenerPath');
    bad({ defaultAction: 'SCMP_ACT_NOTIFY', listenerPath: '/run/agent.sock' }, 'SCMP_ACT_NOTIFY cannot be the default');
  });

  it('refuses errnoRet on an action without errno (runtime-spec MUST)', () => {
    bad({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_KILL', errnoRet: 1 }] }, '`SCMP_ACT_KILL`');
    bad({ defaultAction: 'SCMP_ACT_ALLOW', defaultErrnoRet: 1 }, 'defaultAction: errnoRet');
  });

  it('refuses arg indices above 5, inexact or negative values', () => {
    const arg = (a: { index: number; value: number | bigint }): SeccompProfileInput => ({
      defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', args: [{ ...a, op: 'SCMP_CMP_EQ' }] }],
    });
    bad(arg({ index: 6, value: 1 }), 'index 6');
    bad(arg({ index: 0, value: 2 ** 60 }), 'not an exact unsigned integer');
    bad(arg({ index: 0, value: -1 }), 'value -1');
    bad(arg({ index: 0, value: 1n << 64n }), '18446744073709551616');
  });

  it('refuses an empty syscall name and a missing default action', () => {
    bad({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: [''], action: 'SCMP_ACT_ERRNO' }] }, 'empty string');
    bad({ defaultAction: '' }, 'defaultAction is missing');
  });

  it('still works after a failed compile (the context was released)', () => {
    for (let i = 0; i < 50; i++) {
      assert.throws(() => compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_LOONGARCH64'] }), seccompError('LOONGARCH64'));
    }
    assert.ok(compileSeccomp(mkdirErrno).bpf.length > 0);
  });
});

/**
 * The shape of the profile Docker (moby profiles/seccomp/default.json) writes into config.json on
 * x86_64 for a container without extra capabilities: a large allow-list, ERRNO(EPERM) default.
 */
function dockerLikeProfile(): SeccompProfileInput {
  const allow = [
  'accept accept4 access adjtimex alarm bind brk capget capset chdir chmod chown chown32',
  'clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime clock_gettime64',
  'clock_nanosleep clock_nanosleep_time64 close close_range connect copy_file_range creat dup dup2',
  'dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait',
  'epoll_wait_old eventfd eventfd2 execve execveat exit exit_group faccessat faccessat2 fadvise64',
  'fadvise64_64 fallocate fanotify_mark fchdir fchmod fchmodat fchown fchown32 fchownat fcntl',
  'fcntl64 fdatasync fgetxattr flistxattr flock fork fremovexattr fsetxattr fstat fstat64 fstatat64',
  'fstatfs fstatfs64 fsync ftruncate ftruncate64 futex futex_time64 futex_waitv futimesat getcpu',
  'getcwd getdents getdents64 getegid getegid32 geteuid geteuid32 getgid getgid32 getgroups',
  'getgroups32 getitimer getpeername getpgid getpgrp getpid getppid getpriority getrandom getresgid',
  'getresgid32 getresuid getresuid32 getrlimit get_robust_list getrusage getsid getsockname',
  'getsockopt get_thread_area gettid gettimeofday getuid getuid32 getxattr inotify_add_watch',
  'inotify_init inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy io_getevents',
  'io_pgetevents io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit io_uring_enter',
  'io_uring_register io_uring_setup ipc kill landlock_add_rule landlock_create_ruleset',
  'landlock_restrict_self lchown lchown32 lgetxattr link linkat listen listxattr llistxattr _llseek',
  'lremovexattr lseek lsetxattr lstat lstat64 madvise membarrier memfd_create memfd_secret mincore',
  'mkdir mkdirat mknod mknodat mlock mlock2 mlockall mmap mmap2 mprotect mq_getsetattr mq_notify',
  'mq_open mq_timedreceive mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink mremap',
  'msgctl msgget msgrcv msgsnd msync munlock munlockall munmap name_to_handle_at nanosleep',
  'newfstatat _newselect open openat openat2 pause pidfd_open pidfd_send_signal pipe pipe2',
  'pkey_alloc pkey_free pkey_mprotect poll ppoll ppoll_time64 prctl pread64 preadv preadv2',
  'prlimit64 process_mrelease pselect6 pselect6_time64 pwrite64 pwritev pwritev2 read readahead',
  'readlink readlinkat readv recv recvfrom recvmmsg recvmmsg_time64 recvmsg remap_file_pages',
  'removexattr rename renameat renameat2 restart_syscall rmdir rseq rt_sigaction rt_sigpending',
  'rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64',
  'rt_tgsigqueueinfo sched_getaffinity sched_getattr sched_getparam sched_get_priority_max',
  'sched_get_priority_min sched_getscheduler sched_rr_get_interval sched_rr_get_interval_time64',
  'sched_setaffinity sched_setattr sched_setparam sched_setscheduler sched_yield seccomp select',
  'semctl semget semop semtimedop semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg',
  'sendto setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 setitimer',
  'setpgid setpriority setregid setregid32 setresgid setresgid32 setresuid setresuid32 setreuid',
  'setreuid32 setrlimit set_robust_list setsid setsockopt set_thread_area set_tid_address setuid',
  'setuid32 setxattr shmat shmctl shmdt shmget shutdown sigaltstack signalfd signalfd4 sigprocmask',
  'sigreturn socketcall socketpair splice stat stat64 statfs statfs64 statx symlink symlinkat sync',
  'sync_file_range syncfs sysinfo tee tgkill time timer_create timer_delete timer_getoverrun',
  'timer_gettime timer_gettime64 timer_settime timer_settime64 timerfd_create timerfd_gettime',
  'timerfd_gettime64 timerfd_settime timerfd_settime64 times tkill truncate truncate64 ugetrlimit',
  'umask uname unlink unlinkat utime utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid',
  'waitpid write writev process_vm_readv process_vm_writev ptrace arch_prctl modify_ldt',
  ].join(' ').split(' ');
  const personality = [0, 8, 131072, 131080, 4294967295].map((value) => ({
    names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value, op: 'SCMP_CMP_EQ' }],
  }));
  return {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: 1,
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
    syscalls: [
      { names: allow, action: 'SCMP_ACT_ALLOW' },
      { names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 40, op: 'SCMP_CMP_NE' }] },
      ...personality,
      { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 2114060288, op: 'SCMP_CMP_MASKED_EQ' }] },
      { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 },
    ],
  };
}
