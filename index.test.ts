import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as kapsel from './index.js';

test('the library API exports the runtime verbs as functions', () => {
  for (const name of ['createContainer', 'startContainer', 'killContainer', 'deleteContainer', 'listContainers', 'stateOf', 'runContainer', 'execInContainer', 'pauseContainer', 'resumeContainer', 'updateContainer', 'containerStats', 'containerEvents', 'containerPids', 'linuxSyscalls', 'validateSpec', 'defaultSpec']) {
    assert.equal(typeof (kapsel as Record<string, unknown>)[name], 'function', name);
  }
  assert.equal(new kapsel.StateStore('/nonexistent-root').list().length, 0);
});

test('the Kapsel class is exported with the docker-like verbs', () => {
  for (const name of ['run', 'list', 'inspect', 'exec', 'stats', 'update', 'stop', 'kill', 'wait', 'remove', 'logs', 'top', 'start']) {
    assert.equal(typeof (kapsel.Kapsel.prototype as unknown as Record<string, unknown>)[name], 'function', name);
  }
  assert.equal(typeof kapsel.Kapsel.open, 'function');
});
