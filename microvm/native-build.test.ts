/**
 * native/Makefile against native/util.h (the I/O helpers shared by kapsel-vmm, kapsel-guest-init
 * and any other helper that includes it): editing the header must rebuild exactly its users.
 * The check runs make(1) with -n (print, run nothing) and -W util.h ("what if util.h changed")
 * on a copy of native/ whose binaries are stand-ins newer than every source, so nothing is
 * compiled and the answer does not depend on what the last build left.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const NATIVE = fileURLToPath(new URL('../../native/', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'kapsel-native-build-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** The build/ targets of `all`, e.g. build/kapsel-vmm. */
function targets(makefile: string): string[] {
  const line = makefile.split('\n').find((l) => l.startsWith('all:')) ?? '';
  return line.slice('all:'.length).trim().split(/\s+/).filter((t) => t !== '');
}

/** The target whose rule compiles `source`, e.g. vmm.c -> build/kapsel-vmm. */
function targetOf(makefile: string, source: string): string | undefined {
  return new RegExp(`^(build/\\S+):\\s*${source.replace('.', '\\.')}\\b`, 'm').exec(makefile)?.[1];
}

test('editing util.h rebuilds every helper that includes it, and only those', () => {
  const makefile = readFileSync(join(NATIVE, 'Makefile'), 'utf8');
  const sources = readdirSync(NATIVE).filter((f) => f.endsWith('.c') || f.endsWith('.h'));
  // sources an hour old, stand-in binaries new: make sees the tree as built
  const earlier = new Date(Date.now() - 3_600_000);
  for (const f of [...sources, 'Makefile']) {
    copyFileSync(join(NATIVE, f), join(tmp, f));
    utimesSync(join(tmp, f), earlier, earlier);
  }
  mkdirSync(join(tmp, 'build'));
  for (const t of targets(makefile)) writeFileSync(join(tmp, t), '');
  assert.equal(execFileSync('make', ['-n', '-C', tmp], { encoding: 'utf8' }).includes('-o build/'), false, 'the stand-in tree is up to date');

  const users = sources.filter((f) => f.endsWith('.c') && /^#include "util\.h"$/m.test(readFileSync(join(NATIVE, f), 'utf8')));
  assert.ok(users.includes('vmm.c') && users.includes('guest-init.c'), `util.h users: ${users.join(', ')}`);
  const rebuilt = execFileSync('make', ['-n', '-W', 'util.h', '-C', tmp], { encoding: 'utf8' })
    .split('\n')
    .map((l) => / -o (build\/\S+)/.exec(l)?.[1])
    .filter((t): t is string => t !== undefined)
    .sort();
  const want = users.map((u) => targetOf(makefile, u)).filter((t): t is string => t !== undefined).sort();
  assert.equal(want.length, users.length, 'every util.h user has a rule in native/Makefile');
  assert.deepEqual(rebuilt, want);
});
