/**
 * The `Kapsel` class end to end: run a detached container with a memory limit, watch its memory
 * use, raise the limit live, read its logs, stop and remove it. Programs outside this repository
 * import the same class as `import { Kapsel } from 'kapsel'`.
 *
 *   node dist/examples/kapsel-api.js     (root; KAPSEL_STORE / KAPSEL_STATE select the roots)
 */
import { Kapsel } from '../engine/kapsel.js';

const kapsel = await Kapsel.open({ ...(process.env['KAPSEL_STORE'] && { storeRoot: process.env['KAPSEL_STORE'] }), ...(process.env['KAPSEL_STATE'] && { stateRoot: process.env['KAPSEL_STATE'] }) });
const id = await kapsel.run('busybox', ['sh', '-c', 'echo started; while true; do sleep 1; done'], { memory: '32m', name: `api-demo-${process.pid}` });
try {
  for await (const s of kapsel.stats(id, { intervalMs: 200 })) {
    console.log(`memory ${s.MemUsageBytes} of ${s.MemLimitBytes}, ${s.Pids} processes`);
    break;
  }
  await kapsel.update(id, { memory: '64m' });
  console.log(`limit now ${(kapsel.inspect(id)['HostConfig'] as { Memory: number }).Memory}`);
  console.log(`logs: ${(await kapsel.logs(id)).map((l) => l.log.trim()).join(', ')}`);
  await kapsel.stop(id, { timeoutS: 1 });
  console.log(`exit code ${await kapsel.wait(id)}`);
} finally {
  await kapsel.remove(id, { force: true });
}
