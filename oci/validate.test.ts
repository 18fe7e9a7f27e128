import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KapselError } from '../common/errors.js';
import { defaultSpec } from './default-spec.js';
import {
  ConfigInvalidError, checkSpec, formatViolations, parseSpec, validateSpec, type Violation,
} from './validate.js';

type Json = Record<string, unknown>;

/** A fresh, valid config as plain JSON (the `runc spec` default). */
function base(rootless = false): Json {
  return JSON.parse(JSON.stringify(defaultSpec({ rootless, hostUid: 1000, hostGid: 1000 }))) as Json;
}

/** Sets `value` at a dotted path (`process.user.uid`, `mounts.0.destination`); undefined deletes. */
function set(doc: Json, path: string, value: unknown): Json {
  const keys = path.split('.');
  let node: Json = doc;
  for (const key of keys.slice(0, -1)) {
    node[key] ??= {};
    node = node[key] as Json;
  }
  const last = keys[keys.length - 1] ?? '';
  if (value === undefined) delete node[last];
  else node[last] = value;
  return doc;
}

function paths(violations: Violation[]): string[] {
  return violations.map((v) => v.path);
}

/** Violation paths after applying `edits` to the default config. */
function check(edits: Record<string, unknown>, opts: { rootless?: boolean; requireProcess?: boolean } = {}): string[] {
  const doc = base(opts.rootless);
  for (const [path, value] of Object.entries(edits)) set(doc, path, value);
  return paths(validateSpec(doc, { requireProcess: opts.requireProcess ?? false }));
}

describe('validateSpec: valid configs', () => {
  it('accepts the default and rootless specs', () => {
    assert.deepEqual(validateSpec(base()), []);
    assert.deepEqual(validateSpec(base(true)), []);
    assert.deepEqual(checkSpec(base()).warnings, []);
  });

  it('ignores properties the spec does not define', () => {
    assert.deepEqual(check({ futureField: 1, 'process.newThing': 'x', 'linux.somethingElse': [1], 'mounts.0.extra': true }), []);
  });

  it('accepts runc\'s 1.0.2-dev version and warns about a newer minor version', () => {
    assert.deepEqual(check({ ociVersion: '1.0.2-dev' }), []);
    const doc = set(base(), 'ociVersion', '1.3.0');
    const result = checkSpec(doc);
    assert.deepEqual(result.violations, []);
    assert.deepEqual(paths(result.warnings), ['$.ociVersion']);
  });
});

describe('validateSpec: top level', () => {
  it('reports a document that is not an object', () => {
    assert.deepEqual(paths(validateSpec([])), ['$']);
    assert.match(validateSpec(null)[0]?.message ?? '', /object \(got null\)/);
  });

  it('requires ociVersion as a 1.x SemVer string', () => {
    assert.deepEqual(check({ ociVersion: undefined }), ['$.ociVersion']);
    assert.deepEqual(check({ ociVersion: '1.2' }), ['$.ociVersion']);
    assert.deepEqual(check({ ociVersion: '2.0.0' }), ['$.ociVersion']);
    assert.deepEqual(check({ ociVersion: 1.2 }), ['$.ociVersion']);
  });

  it('requires root with a non-empty path', () => {
    assert.deepEqual(check({ root: undefined }), ['$.root']);
    assert.deepEqual(check({ 'root.path': undefined }), ['$.root.path']);
    assert.deepEqual(check({ 'root.path': '' }), ['$.root.path']);
    assert.deepEqual(check({ 'root.readonly': 'yes' }), ['$.root.readonly']);
  });

  it('needs a uts namespace for hostname and domainname', () => {
    const noUts = [{ type: 'pid' }, { type: 'mount' }];
    assert.deepEqual(check({ 'linux.namespaces': noUts }), ['$.hostname']);
    assert.deepEqual(check({ 'linux.namespaces': noUts, hostname: '', domainname: 'example.org' }), ['$.domainname']);
    assert.deepEqual(check({ hostname: 'x'.repeat(65) }), ['$.hostname']);
  });

  it('checks annotations are a map of strings with non-empty keys', () => {
    assert.deepEqual(check({ annotations: { 'org.example.key': 1 } }), ['$.annotations["org.example.key"]']);
    assert.deepEqual(check({ annotations: { '': 'x' } }), ['$.annotations[""]']);
    assert.deepEqual(check({ annotations: ['a'] }), ['$.annotations']);
  });

  it('reports null like any other wrong type', () => {
    assert.deepEqual(check({ hostname: null }), ['$.hostname']);
  });
});

describe('validateSpec: process', () => {
  it('is optional unless requireProcess is set', () => {
    assert.deepEqual(check({ process: undefined }), []);
    assert.deepEqual(check({ process: undefined }, { requireProcess: true }), ['$.process']);
  });

  it('requires a non-empty args array of strings', () => {
    assert.deepEqual(check({ 'process.args': [] }), ['$.process.args']);
    assert.deepEqual(check({ 'process.args': undefined }), ['$.process.args']);
    assert.deepEqual(check({ 'process.args': ['sh', 1] }), ['$.process.args']);
    assert.deepEqual(check({ 'process.args': [''] }), ['$.process.args[0]']);
    const [violation] = validateSpec(set(base(), 'process.args', []));
    assert.equal(formatViolations(violation ? [violation] : []), '$.process.args: must be a non-empty array of strings');
  });

  it('requires an absolute cwd', () => {
    assert.deepEqual(check({ 'process.cwd': 'work' }), ['$.process.cwd']);
    assert.deepEqual(check({ 'process.cwd': undefined }), ['$.process.cwd']);
  });

  it('checks the user', () => {
    assert.deepEqual(check({ 'process.user': undefined }), ['$.process.user']);
    assert.deepEqual(check({ 'process.user.uid': -1 }), ['$.process.user.uid']);
    assert.deepEqual(check({ 'process.user.gid': 2 ** 32 }), ['$.process.user.gid']);
    assert.deepEqual(check({ 'process.user.umask': 0o1000 }), ['$.process.user.umask']);
    assert.deepEqual(check({ 'process.user.umask': 0o22 }), []);
    assert.deepEqual(check({ 'process.user.additionalGids': [5, 'wheel'] }), ['$.process.user.additionalGids[1]']);
  });

  it('requires NAME=VALUE environment entries', () => {
    assert.deepEqual(check({ 'process.env': ['A=1', 'B', '=x', 3] }), [
      '$.process.env[3]', '$.process.env[1]', '$.process.env[2]',
    ]);
  });

  it('rejects unknown capabilities and non-array sets', () => {
    assert.deepEqual(check({ 'process.capabilities.bounding': ['CAP_KILL', 'CAP_FLY'] }), ['$.process.capabilities.bounding[1]']);
    assert.deepEqual(check({ 'process.capabilities.inheritable': 'CAP_KILL' }), ['$.process.capabilities.inheritable']);
  });

  it('checks rlimits: known type, soft <= hard, no duplicates', () => {
    const limit = (type: string, soft: number, hard: number) => ({ type, soft, hard });
    assert.deepEqual(check({ 'process.rlimits': [limit('RLIMIT_WINGS', 1, 1)] }), ['$.process.rlimits[0].type']);
    assert.deepEqual(check({ 'process.rlimits': [limit('RLIMIT_NOFILE', 2048, 1024)] }), ['$.process.rlimits[0].soft']);
    assert.deepEqual(check({ 'process.rlimits': [limit('RLIMIT_NOFILE', 1, 1), limit('RLIMIT_CORE', 0, 0), limit('RLIMIT_NOFILE', 2, 2)] }),
      ['$.process.rlimits[2].type']);
    assert.deepEqual(check({ 'process.rlimits': [{ type: 'RLIMIT_CORE', soft: 0 }] }), ['$.process.rlimits[0].hard']);
  });

  it('keeps oomScoreAdj within [-1000, 1000]', () => {
    assert.deepEqual(check({ 'process.oomScoreAdj': 1000 }), []);
    assert.deepEqual(check({ 'process.oomScoreAdj': -1001 }), ['$.process.oomScoreAdj']);
    assert.deepEqual(check({ 'process.oomScoreAdj': 1.5 }), ['$.process.oomScoreAdj']);
  });

  it('checks consoleSize and warns when there is no terminal', () => {
    assert.deepEqual(check({ 'process.consoleSize': { height: 'tall', width: 80 } }), ['$.process.consoleSize.height']);
    const doc = set(set(base(), 'process.terminal', false), 'process.consoleSize', { height: 24, width: 80 });
    const result = checkSpec(doc);
    assert.deepEqual(result.violations, []);
    assert.deepEqual(paths(result.warnings), ['$.process.consoleSize']);
  });

  it('checks the scheduler against sched_setattr rules', () => {
    assert.deepEqual(check({ 'process.scheduler': { policy: 'SCHED_FIFO', priority: 10 } }), []);
    assert.deepEqual(check({ 'process.scheduler': { policy: 'SCHED_FIFO' } }), ['$.process.scheduler.priority']);
    assert.deepEqual(check({ 'process.scheduler': { policy: 'SCHED_OTHER', priority: 5 } }), ['$.process.scheduler.priority']);
    assert.deepEqual(check({ 'process.scheduler': { policy: 'SCHED_FAST' } }), ['$.process.scheduler.policy']);
    assert.deepEqual(check({ 'process.scheduler': { policy: 'SCHED_BATCH', flags: ['SCHED_FLAG_NOPE'] } }), ['$.process.scheduler.flags[0]']);
    assert.deepEqual(check({ 'process.scheduler': { policy: 'SCHED_DEADLINE', runtime: 20, deadline: 10, period: 5 } }),
      ['$.process.scheduler.runtime', '$.process.scheduler.deadline']);
  });

  it('checks ioPriority and execCPUAffinity', () => {
    assert.deepEqual(check({ 'process.ioPriority': { class: 'IOPRIO_CLASS_X', priority: 8 } }),
      ['$.process.ioPriority.class', '$.process.ioPriority.priority']);
    assert.deepEqual(check({ 'process.execCPUAffinity': { initial: '0-3,7', final: '3-1' } }), ['$.process.execCPUAffinity.final']);
  });
});

describe('validateSpec: mounts and hooks', () => {
  it('requires a destination and warns (only) about a relative one', () => {
    assert.deepEqual(check({ 'mounts.0.destination': undefined }), ['$.mounts[0].destination']);
    assert.deepEqual(check({ 'mounts.1.destination': '' }), ['$.mounts[1].destination']);
    const result = checkSpec(set(base(), 'mounts.0.destination', 'proc'));
    assert.deepEqual(result.violations, []);
    assert.deepEqual(paths(result.warnings), ['$.mounts[0].destination']);
  });

  it('checks mount field types', () => {
    assert.deepEqual(check({ 'mounts.1.options': ['nosuid', 7], 'mounts.2.type': 5 }), ['$.mounts[1].options[1]', '$.mounts[2].type']);
    assert.deepEqual(check({ mounts: { destination: '/x' } }), ['$.mounts']);
  });

  it('pairs mount id mappings and needs a user namespace for a bare idmap', () => {
    const map = [{ containerID: 0, hostID: 100000, size: 65536 }];
    assert.deepEqual(check({ 'mounts.0.uidMappings': map, 'mounts.0.options': ['idmap'] }), ['$.mounts[0].gidMappings']);
    assert.deepEqual(check({ 'mounts.0.options': ['rbind', 'idmap'] }), ['$.mounts[0].options']);
    assert.deepEqual(check({ 'mounts.0.options': ['rbind', 'idmap'] }, { rootless: true }), []);
  });

  it('requires absolute hook paths and positive timeouts', () => {
    assert.deepEqual(check({ hooks: { createRuntime: [{ path: 'hook.sh' }], poststop: [{ path: '/bin/true', timeout: 0 }] } }),
      ['$.hooks.createRuntime[0].path', '$.hooks.poststop[0].timeout']);
    assert.deepEqual(check({ hooks: { poststart: [{ args: ['x'] }] } }), ['$.hooks.poststart[0].path']);
    const result = checkSpec(set(base(), 'hooks', { prestart: [{ path: '/bin/true', env: ['A=1'] }] }));
    assert.deepEqual(result.violations, []);
    assert.deepEqual(paths(result.warnings), ['$.hooks.prestart']);
  });

  it('checks the vm section', () => {
    assert.deepEqual(check({ vm: { hypervisor: { path: 'qemu' } } }), ['$.vm.hypervisor.path', '$.vm.kernel']);
    assert.deepEqual(check({ vm: { kernel: { path: '/boot/vmlinuz', initrd: 'initrd.img' }, image: { path: '/img' } } }),
      ['$.vm.kernel.initrd', '$.vm.image.format']);
  });
});

describe('validateSpec: many problems at once', () => {
  it('reports every violation, not the first', () => {
    const found = check({
      ociVersion: 'one',
      'root.path': 7,
      'process.args': [],
      'process.cwd': 'relative',
      'process.capabilities.effective': ['CAP_NOPE'],
      'process.oomScoreAdj': 5000,
      'mounts.3.destination': 42,
      'linux.namespaces': [{ type: 'pid' }, { type: 'pid' }, { type: 'uts' }, { type: 'mount' }, { type: 'spaceship' }],
      'linux.seccomp': { defaultAction: 'SCMP_ACT_MAYBE' },
    });
    assert.deepEqual(new Set(found), new Set([
      '$.ociVersion', '$.root.path', '$.process.args', '$.process.cwd',
      '$.process.capabilities.effective[0]', '$.process.oomScoreAdj', '$.mounts[3].destination',
      '$.linux.namespaces[1].type', '$.linux.namespaces[4].type', '$.linux.seccomp.defaultAction',
    ]));
    assert.equal(found.length, 10);
  });
});

describe('parseSpec', () => {
  it('returns the typed spec for a valid config', () => {
    const spec = parseSpec(JSON.stringify(base()), '/bundles/a/config.json');
    assert.equal(spec.process?.args?.[0], 'sh');
  });

  it('names the file, line and column of malformed JSON', () => {
    const text = '{\n  "ociVersion": "1.2.0",\n  "root": {"path": "rootfs",}\n}';
    assert.throws(() => parseSpec(text, '/bundles/a/config.json'), (err: unknown) => {
      assert.ok(err instanceof KapselError);
      assert.equal(err.code, 'ERR_CONFIG_JSON');
      assert.match(err.message, /`\/bundles\/a\/config\.json`/);
      assert.match(err.message, /line 3, column 29/);
      return true;
    });
    assert.throws(() => parseSpec('', 'empty.json'), /parse `empty\.json`: invalid JSON: line 1, column 1 .*unexpected end of input/);
  });

  it('throws ERR_CONFIG_INVALID listing every violation', () => {
    const doc = set(set(base(), 'process.cwd', 'x'), 'linux.namespaces', [{ type: 'pid' }, { type: 'pid' }, { type: 'mount' }]);
    assert.throws(() => parseSpec(JSON.stringify(doc), 'config.json'), (err: unknown) => {
      assert.ok(err instanceof ConfigInvalidError);
      assert.equal(err.code, 'ERR_CONFIG_INVALID');
      assert.deepEqual(paths(err.violations), ['$.process.cwd', '$.hostname', '$.linux.namespaces[1].type']);
      for (const line of formatViolations(err.violations).split('\n')) assert.ok(err.message.includes(line));
      assert.match(err.message, /^validate `config\.json`: 3 violations\n/);
      return true;
    });
  });

  it('passes requireProcess through', () => {
    const doc = set(base(), 'process', undefined);
    assert.doesNotThrow(() => parseSpec(JSON.stringify(doc), 'config.json'));
    assert.throws(() => parseSpec(JSON.stringify(doc), 'config.json', { requireProcess: true }), /\$\.process: is required/);
  });
});
