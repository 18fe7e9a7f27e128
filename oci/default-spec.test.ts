import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { defaultSpec, toRootless } from './default-spec.js';
import { OCI_VERSION } from './runtime-spec.js';
import { validateSpec } from './validate.js';

const RUNC_CANDIDATES = ['/usr/sbin/runc', '/usr/bin/runc', '/usr/local/sbin/runc', '/usr/local/bin/runc'];
const work = mkdtempSync(join(tmpdir(), 'kapsel-default-spec-'));
after(() => rmSync(work, { recursive: true, force: true }));

function findRunc(): string {
  const fromPath = (process.env['PATH'] ?? '').split(':').filter((dir) => dir !== '').map((dir) => join(dir, 'runc'));
  const found = [...fromPath, ...RUNC_CANDIDATES].find((candidate) => existsSync(candidate));
  if (found === undefined) {
    assert.fail('runc is not installed (looked in PATH and /usr/sbin): this test compares defaultSpec() with `runc spec`; install runc (CI does)');
  }
  return found;
}

/** The text `runc spec [--rootless]` writes, with ociVersion replaced by ours. */
function runcSpec(rootless: boolean): string {
  const bundle = mkdtempSync(join(work, 'bundle-'));
  execFileSync(findRunc(), ['spec', '--bundle', bundle, ...(rootless ? ['--rootless'] : [])], { stdio: 'pipe' });
  const spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(typeof spec['ociVersion'], 'string');
  spec['ociVersion'] = OCI_VERSION;
  // JSON.stringify keeps insertion order, so equal text means equal fields in the same order.
  return JSON.stringify(spec, null, 2);
}

describe('defaultSpec', () => {
  it('matches `runc spec` field for field and in key order, except ociVersion', () => {
    assert.equal(JSON.stringify(defaultSpec(), null, 2), runcSpec(false));
  });

  it('matches `runc spec --rootless` for the current user', () => {
    const ours = defaultSpec({ rootless: true, hostUid: process.geteuid?.() ?? 0, hostGid: process.getegid?.() ?? 0 });
    assert.equal(JSON.stringify(ours, null, 2), runcSpec(true));
  });

  it('declares runtime-spec 1.2.0', () => {
    assert.equal(defaultSpec().ociVersion, '1.2.0');
  });

  it('is valid, rootful and rootless', () => {
    assert.deepEqual(validateSpec(defaultSpec(), { requireProcess: true }), []);
    assert.deepEqual(validateSpec(defaultSpec({ rootless: true, hostUid: 1000, hostGid: 1000 }), { requireProcess: true }), []);
  });

  it('returns a fresh document each call', () => {
    const first = defaultSpec();
    first.process?.capabilities?.bounding?.push('CAP_SYS_ADMIN');
    first.mounts?.pop();
    assert.deepEqual(defaultSpec().process?.capabilities?.bounding, ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE']);
    assert.equal(defaultSpec().mounts?.length, 7);
  });
});

describe('toRootless', () => {
  it('maps the given ids, swaps network for user namespace and drops resources', () => {
    const spec = defaultSpec({ rootless: true, hostUid: 1234, hostGid: 5678 });
    assert.deepEqual(spec.linux?.uidMappings, [{ containerID: 0, hostID: 1234, size: 1 }]);
    assert.deepEqual(spec.linux?.gidMappings, [{ containerID: 0, hostID: 5678, size: 1 }]);
    assert.deepEqual(spec.linux?.namespaces?.map((ns) => ns.type), ['pid', 'ipc', 'uts', 'mount', 'user']);
    assert.equal(spec.linux?.resources, undefined);
    assert.deepEqual(spec.mounts?.find((m) => m.destination === '/sys'),
      { destination: '/sys', type: 'none', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] });
  });

  it('strips uid=/gid= options and leaves the input untouched', () => {
    const input = defaultSpec();
    input.mounts = [{ destination: '/x', type: 'tmpfs', source: 'tmpfs', options: ['uid=5', 'gid=5'] }];
    const out = toRootless(input, 1, 1);
    assert.deepEqual(out.mounts, [{ destination: '/x', type: 'tmpfs', source: 'tmpfs' }]);
    assert.deepEqual(input.mounts[0]?.options, ['uid=5', 'gid=5']);
    assert.deepEqual(input.linux?.namespaces?.map((ns) => ns.type), ['pid', 'network', 'ipc', 'uts', 'mount']);
  });
});
