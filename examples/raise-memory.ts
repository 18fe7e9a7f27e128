/**
 * Raises a container's memory limit when its usage nears it: the library API behind
 * kapsel-runtime's `events` and `update`, used from a script.
 *
 *   node dist/examples/raise-memory.js ID [--max 1g] [--threshold 0.9] [--root /run/kapsel-runtime]
 *
 * Every second it reads the container's stats; when usage passes `threshold` of the limit it
 * doubles the limit, up to --max. It ends when the container does. Memory is in bytes (--max
 * takes 512m, 2g: binary units). On cgroup v1 a memory+swap limit (`memory.swap`) must be
 * raised with the limit; this sketch only raises the limit.
 */
import { parseArgs } from 'node:util';
import { containerEvents } from '../runtime/events.js';
import { parseMemoryBytes, updateContainer } from '../runtime/update.js';
import { DEFAULT_ROOT, StateStore } from '../runtime/state-store.js';
import { linuxSyscalls } from '../sys/linux-syscalls.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    max: { type: 'string', default: '1g' },
    threshold: { type: 'string', default: '0.9' },
    root: { type: 'string', default: DEFAULT_ROOT },
  },
});
const id = positionals[0];
if (id === undefined) {
  process.stderr.write('usage: raise-memory ID [--max 1g] [--threshold 0.9] [--root DIR]\n');
  process.exit(2);
}
const maxBytes = parseMemoryBytes('--max', values.max);
const threshold = Number(values.threshold);
const sys = linuxSyscalls();
const store = new StateStore(values.root);

for await (const event of containerEvents(store, id, { intervalMs: 1000 })) {
  if (event.type === 'oom') {
    console.log(`${id}: the OOM killer took a process`);
    continue;
  }
  const memory = event.stats.memory;
  if (memory === undefined || memory.limitBytes === null) continue; // no limit to raise
  if (memory.usageBytes < threshold * memory.limitBytes || memory.limitBytes >= maxBytes) continue;
  const limit = Math.min(maxBytes, memory.limitBytes * 2);
  await updateContainer(sys, store, id, { memory: { limit } });
  console.log(`${id}: ${memory.usageBytes} of ${memory.limitBytes} bytes used; limit raised to ${limit}`);
}
