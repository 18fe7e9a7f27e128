/**
 * One benchmark session: a tmpdir with the busybox bundle and a state root per runtime, the
 * runners, each runtime placed on the runner where it works, and a cleanup that deletes every
 * container the session made, checks that none of its cgroups are left and removes the tmpdir.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBusyboxBundle } from './bundle.mjs';
import { findCgroups } from './cgroup-scan.mjs';
import { startRunner } from './runner-client.mjs';
import { selectRuntimes } from './runtimes.mjs';
import { snapshotKapsel } from './snapshot.mjs';

/** A place for each runtime: a runner, the argv prefix, and what was tried. */
async function place(session, def) {
  const tried = [];
  for (const where of ['host', 'cgroup-v1-only-ns']) {
    const runner = await session.runner(where);
    const answer = await runner.request({ op: 'run', ...session.target({ def, prefix: [def.bin], runner }, session.newId(def)) });
    tried.push({ where, flags: [], ok: answer.ok, error: answer.error });
    if (answer.ok) {
      if (where === 'host') return { def, prefix: [def.bin], runner, tried };
      // Record why the host did not work, also with flags that were not chosen.
      const host = await session.runner('host');
      for (const flags of def.docOnlyProbes ?? []) {
        const prefix = [def.bin, ...flags];
        const a = await host.request({ op: 'run', ...session.target({ def, prefix, runner: host }, session.newId(def)) });
        tried.push({ where: 'host', flags, ok: a.ok, error: a.error });
      }
      return { def, prefix: [def.bin], runner, tried };
    }
  }
  return { def, prefix: [def.bin], runner: undefined, tried };
}

function firstLine(s) {
  return (s ?? '').split(/: exit \d+: /).pop().split('\n')[0];
}

/** Mounts under `dir`: removing it recursively must not reach into a mounted filesystem. */
function mountsUnder(dir) {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m) => m !== undefined && (m === dir || m.startsWith(`${dir}/`)));
}

/**
 * @param {{ runtimes?: string[], snapshot?: boolean }} [opts] `snapshot` (default true): measure
 *   a frozen copy of kapsel's build (snapshot.mjs) rather than the live tree
 */
export async function openSession(opts = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'kapsel-bench-'));
  const idPrefix = `kbench-${process.pid}-`;
  const cgroupsBefore = findCgroups((n) => n.startsWith(idPrefix));
  const runners = new Map();
  const ids = new Map(); // runtime name -> ids used
  let counter = 0;
  let closed = false;

  const bundleDir = join(dir, 'bundle');
  mkdirSync(bundleDir);
  const { bundle } = createBusyboxBundle(bundleDir);
  // a process that stays up, for the scale and exec benches
  const sleepDir = join(dir, 'bundle-sleep');
  mkdirSync(sleepDir);
  const { bundle: sleepBundle } = createBusyboxBundle(sleepDir, { args: ['sleep', '1000000'] });
  const daemons = [];

  const session = {
    dir,
    bundle,
    sleepBundle,
    idPrefix,
    /** @type {any[]} */
    placed: [],
    async runner(where) {
      if (!runners.has(where)) runners.set(where, await startRunner(where));
      return runners.get(where);
    },
    newId(def) {
      const id = `${idPrefix}${def.short}-${++counter}`;
      if (!ids.has(def.name)) ids.set(def.name, []);
      ids.get(def.name).push(id);
      return id;
    },
    /** The per-call fields runner.mjs needs for a runtime command on container `id`. */
    target(p, id) {
      const root = join(dir, 'state', p.def.short);
      mkdirSync(root, { recursive: true });
      return {
        prefix: p.prefix,
        root,
        bundle,
        id,
        // kapsel rows name their daemon socket (or one nobody serves), so a daemon the user runs
        // at the default path cannot change what is measured
        env: p.def.short.startsWith('kapsel') ? { KAPSEL_RUNTIME_DAEMON_SOCKET: p.def.daemonSocket ?? join(dir, 'no-daemon.sock') } : {},
        pidFile: join(dir, `${p.def.short}.pid`),
        rssPath: join(dir, `${p.def.short}.rss`),
        errPath: join(dir, `${p.def.short}.stderr`),
      };
    },
    errPath: join(dir, 'exec.stderr'),
    /**
     * Memory of each running `kapsel-runtime daemon` (one process serves every container): peak and
     * current RSS in MiB from /proc/<pid>/status.
     * @returns {{ pid: number, peakMiB: number, rssMiB: number }[]}
     */
    daemonMemory() {
      return daemons.filter((d) => d.exitCode === null).map((d) => {
        const status = readFileSync(`/proc/${d.pid}/status`, 'utf8');
        const kib = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
        return { pid: d.pid, peakMiB: kib('VmHWM') / 1024, rssMiB: kib('VmRSS') / 1024 };
      });
    },
    /** @type {{ from: 'snapshot' | 'live tree', stamp?: string }} which kapsel build is measured */
    kapselBuild: { from: 'live tree' },
    /** @type {false | string} the signal that asked to stop */
    aborted: false,
    throwIfAborted() {
      if (session.aborted) throw new Error(`interrupted by ${session.aborted}`);
    },
    async close() {
      if (closed) return { leftoverCgroups: [], deleted: 0, problems: [] };
      closed = true;
      let deleted = 0;
      const problems = [];
      for (const p of session.placed) {
        // where it was placed, or every runner it was tried on
        for (const runner of p.runner ? [p.runner] : [...runners.values()]) {
          const a = await runner.request({ op: 'cleanup', ...session.target(p, ''), ids: ids.get(p.def.name) ?? [] }).catch((err) => ({ ok: false, error: err.message }));
          if (!a.ok) problems.push(`${p.def.name}: cleanup: ${a.error}`);
          deleted += a.deleted ?? 0;
          for (const f of a.failed ?? []) problems.push(`${p.def.name}: ${f}`);
          if (a.remaining?.length) problems.push(`${p.def.name}: state left under --root: ${a.remaining.join(', ')}`);
        }
      }
      for (const msg of problems) process.stderr.write(`bench: ${msg}\n`);
      for (const r of runners.values()) await r.close();
      for (const d of daemons) {
        if (d.exitCode === null && d.signalCode === null) {
          d.kill('SIGTERM');
          await new Promise((r) => d.once('exit', r));
        }
      }
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      const leftoverCgroups = findCgroups((n) => n.startsWith(idPrefix)).filter((c) => !cgroupsBefore.includes(c));
      const mounts = mountsUnder(dir);
      if (mounts.length === 0) rmSync(dir, { recursive: true, force: true });
      else process.stderr.write(`bench: not removing ${dir}: still mounted: ${mounts.join(', ')}\n`);
      return { leftoverCgroups, deleted, problems, keptDir: mounts.length > 0 ? dir : undefined };
    },
  };

  // ^C stops the measuring loops at the next sample (throwIfAborted); their callers' `finally`
  // then runs close(). A second ^C leaves at once, cleanup or not.
  const onSignal = (signal) => {
    if (session.aborted) {
      process.stderr.write(`\nbench: ${signal} again: exiting without cleanup; look for ${dir} and ${idPrefix}* containers\n`);
      process.exit(130);
    }
    session.aborted = signal;
    process.stderr.write(`\nbench: ${signal}: stopping after the current sample, then cleaning up\n`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    let snap;
    for (let def of selectRuntimes(opts.runtimes)) {
      if (def.short.startsWith('kapsel') && opts.snapshot !== false) {
        snap ??= await snapshotKapsel(join(dir, 'kapsel-build'));
        session.kapselBuild = { from: 'snapshot', stamp: snap.stamp };
        def = { ...def, bin: snap.bin, cliJs: snap.cliJs };
      }
      if (def.daemon) def = { ...def, daemonSocket: await startDaemon(def.bin, join(dir, 'daemon.sock'), daemons) };
      session.placed.push(await place(session, def));
    }
  } catch (err) {
    await session.close();
    throw err;
  }
  return session;
}

/** Starts `bin daemon` on `socket` (host namespaces, as the host runner) and waits for it. */
async function startDaemon(bin, socket, daemons) {
  const d = spawn(bin, ['daemon', '--socket', socket], { stdio: ['ignore', 'ignore', 'inherit'] });
  daemons.push(d);
  for (let i = 0; i < 1000 && !existsSync(socket); i++) {
    if (d.exitCode !== null) throw new Error(`kapsel-runtime daemon exited: ${d.exitCode}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  if (!existsSync(socket)) throw new Error('kapsel-runtime daemon: no socket after 10 s');
  return socket;
}

/** One line per runtime on where it ran and what failed elsewhere, for the report. */
export function describePlacement(p) {
  const where = p.runner ? p.runner.where : 'nowhere (all probes failed)';
  const failures = p.tried
    .filter((t) => !t.ok)
    .map((t) => `${t.where}${t.flags.length ? ` with \`${t.flags.join(' ')}\`` : ''}: \`${firstLine(t.error)}\``);
  const worked = p.tried.filter((t) => t.ok && t.where !== where).map((t) => `also works on ${t.where}${t.flags.length ? ` with \`${t.flags.join(' ')}\`` : ''}`);
  return `${p.def.name}: runs on **${where}**${failures.length ? `; failed on ${failures.join('; ')}` : ''}${worked.length ? `; ${worked.join('; ')}` : ''}`;
}
