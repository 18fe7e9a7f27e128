import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { kapselFeatures } from './features.js';

describe('kapselFeatures', () => {
  it('states versions, hooks and namespaces, leaving unknown lists out', () => {
    const features = kapselFeatures();
    assert.equal(features.ociVersionMin, '1.0.0');
    assert.equal(features.ociVersionMax, '1.2.0');
    assert.deepEqual(features.hooks, ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop']);
    assert.deepEqual(features.linux?.namespaces, ['cgroup', 'ipc', 'mount', 'network', 'pid', 'time', 'user', 'uts']);
    assert.equal('mountOptions' in features, false);
    assert.equal(features.linux !== undefined && 'capabilities' in features.linux, false);
    assert.equal(features.linux !== undefined && 'seccomp' in features.linux, false);
  });

  it('copies what the caller supplies, in the spec\'s key order', () => {
    const caps = ['CAP_KILL', 'CAP_CHOWN'];
    const features = kapselFeatures({
      mountOptions: ['ro', 'bind'],
      capabilities: caps,
      cgroup: { v1: false, v2: true, systemd: false },
      seccomp: { enabled: true, actions: ['SCMP_ACT_KILL', 'SCMP_ACT_ALLOW'], knownFlags: ['SECCOMP_FILTER_FLAG_LOG'] },
      apparmor: false,
      selinux: false,
      idmapMounts: true,
      annotations: { 'org.kapsel.version': '0.1.0' },
    });
    caps.push('CAP_BPF');
    assert.deepEqual(Object.keys(features), ['ociVersionMin', 'ociVersionMax', 'hooks', 'mountOptions', 'linux', 'annotations']);
    assert.deepEqual(features.mountOptions, ['bind', 'ro']);
    assert.deepEqual(features.linux?.capabilities, ['CAP_KILL', 'CAP_CHOWN']);
    assert.deepEqual(features.linux?.seccomp, { enabled: true, actions: ['SCMP_ACT_ALLOW', 'SCMP_ACT_KILL'], knownFlags: ['SECCOMP_FILTER_FLAG_LOG'] });
    assert.deepEqual(features.linux?.mountExtensions, { idmap: { enabled: true } });
    assert.deepEqual(features.linux?.apparmor, { enabled: false });
  });
});
