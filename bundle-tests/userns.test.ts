// A user namespace with id mappings: root inside is an unprivileged id outside.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeBundle, runIn, leftovers, type Bundle } from './helpers.js';

const bundles: Bundle[] = [];
after(() => bundles.forEach((b) => b.cleanup()));

test('uid/gid mappings: root in the container maps to the configured host ids', () => {
  const b = makeBundle(['sh', '-c', 'id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map; stat -c %U /dev; touch /dev/shm/f && echo devshm-ok'], (s) => {
    s.linux!.namespaces!.push({ type: 'user' });
    s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  });
  bundles.push(b);
  const id = 'userns1';
  const r = runIn(b, id);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => l.trim().replace(/\s+/g, ' '));
  assert.equal(lines[0], '0');
  assert.equal(lines[1], '0');
  assert.equal(lines[2], '0 100000 65536');
  assert.equal(lines[3], '0 100000 65536');
  assert.equal(lines[4], 'root', 'the container\'s /dev tmpfs belongs to its root');
  assert.equal(lines[5], 'devshm-ok');
  assert.deepEqual(leftovers(b, id), []);
});

test('in a user namespace the process cannot use host privileges (mknod of a device is refused)', () => {
  const b = makeBundle(['sh', '-c', 'mknod /dev/shm/sda b 8 0; echo rc=$?'], (s) => {
    s.linux!.namespaces!.push({ type: 'user' });
    s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    s.process!.capabilities!.bounding!.push('CAP_MKNOD');
    s.process!.capabilities!.effective!.push('CAP_MKNOD');
    s.process!.capabilities!.permitted!.push('CAP_MKNOD');
  });
  bundles.push(b);
  const r = runIn(b, 'userns2');
  assert.match(r.stdout, /rc=1/);
  assert.match(r.stderr, /Operation not permitted/);
});
