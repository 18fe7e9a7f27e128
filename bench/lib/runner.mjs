#!/usr/bin/env node
/**
 * The measuring process. The driver starts one per mount namespace it needs (crun runs in one
 * that shows cgroup v1 only, see runtimes.mjs) and sends it one JSON command per
 * line on stdin; each answer is one JSON line on stdout. All timing happens here, with the same
 * code for every runtime: performance.now() around posix_spawn + waitpid (proc.mjs), so a sample
 * is the wall time of the runtime command from exec to exit, as a shell user would see it, plus
 * the spawn overhead that the `exec` of /bin/true measures on its own.
 *
 * The runner is a child subreaper (proc.mjs): detached container inits become its children,
 * so "wait for exit" is waitpid(WNOHANG) polled every 0.1 ms and no zombie outlives the run.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { openProcessControl } from './proc.mjs';

// The driver decides when to stop; on ^C it still needs this runner to delete containers.
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => undefined);

const proc = await openProcessControl();

/** Runs argv with stdin/stdout on /dev/null and stderr into a file (a pipe would be held open by a detached init). */
function exec(argv, errPath, env = {}) {
  return execTimed(argv, errPath, env).ms;
}

/** As exec, also with the wall-clock time of the spawn (to place the runtime's log lines). */
function execTimed(argv, errPath, env = {}) {
  const r = proc.run(argv, errPath, env);
  if (r.code !== 0) {
    let stderr = '';
    try {
      stderr = readFileSync(errPath, 'utf8').trim();
    } catch {
      // no stderr file: spawn failed before opening it
    }
    throw new Error(`${argv.join(' ')}: exit ${r.code ?? `signal ${r.signal}`}: ${stderr.slice(-2000)}`);
  }
  return r;
}

function rt(c, ...args) {
  return [...c.prefix, '--root', c.root, ...args];
}

/** create + start + wait for the init to exit + delete. */
function lifecycle(c) {
  rmSync(c.pidFile, { force: true });
  const createMs = exec(rt(c, 'create', '--bundle', c.bundle, '--pid-file', c.pidFile, c.id), c.errPath, c.env);
  const pid = Number(readFileSync(c.pidFile, 'utf8').trim());
  const startMs = exec(rt(c, 'start', c.id), c.errPath, c.env);
  const t0 = performance.now();
  proc.waitExit(pid);
  const waitMs = performance.now() - t0;
  const deleteMs = exec(rt(c, 'delete', c.id), c.errPath, c.env);
  return { createMs, startMs, waitMs, deleteMs, totalMs: createMs + startMs + waitMs + deleteMs };
}

/** Peak RSS of the `create` process (GNU time %M: ru_maxrss in KiB, including reaped children). */
function createRss(c) {
  rmSync(c.pidFile, { force: true });
  exec(['/usr/bin/time', '-f', '%M', '-o', c.rssPath, ...rt(c, 'create', '--bundle', c.bundle, '--pid-file', c.pidFile, c.id)], c.errPath, c.env);
  const lines = readFileSync(c.rssPath, 'utf8').trim().split('\n');
  const kib = Number(lines[lines.length - 1]);
  const pid = Number(readFileSync(c.pidFile, 'utf8').trim());
  exec(rt(c, 'start', c.id), c.errPath, c.env);
  proc.waitExit(pid);
  exec(rt(c, 'delete', c.id), c.errPath, c.env);
  return { kib };
}

/**
 * Deletes whatever of `ids` the runtime still knows (after a failure or an interrupt). runc,
 * crun and kapsel all keep one directory per container under --root; `delete --force` of an
 * unknown id succeeds in some of them, so the directory decides.
 */
function cleanup(c) {
  let deleted = 0;
  const failed = [];
  for (const id of c.ids) {
    if (!existsSync(join(c.root, id))) continue;
    try {
      exec(rt(c, 'delete', '--force', id), c.errPath, c.env);
      deleted++;
    } catch (err) {
      failed.push(`${id}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  let remaining = [];
  try {
    remaining = readdirSync(c.root);
  } catch {
    // no root: nothing was ever created
  }
  return { deleted, failed, remaining, reaped: proc.reapAll() };
}

/**
 * Creates and starts `c.ids` (a bundle whose process keeps running) `c.parallel` at a time:
 * one by one, the time of each create + start; in groups, all creates at once, then all starts,
 * the wall time of each group. Returns per-container (or per-group) ms and the total.
 */
function startMany(c) {
  const per = [];
  const t0 = performance.now();
  const k = Math.max(1, c.parallel ?? 1);
  if (k > 1 && proc.runMany === undefined) throw new Error('parallel starts need koffi (posix_spawn)');
  for (let i = 0; i < c.ids.length; i += k) {
    const group = c.ids.slice(i, i + k);
    if (k === 1) {
      const id = group[0];
      per.push(exec(rt(c, 'create', '--bundle', c.bundle, id), c.errPath, c.env) + exec(rt(c, 'start', id), c.errPath, c.env));
      continue;
    }
    const errs = group.map((_, j) => `${c.errPath}.${j}`);
    const run = (verb) => {
      const r = proc.runMany(group.map((id) => rt(c, verb, ...(verb === 'create' ? ['--bundle', c.bundle] : []), id)), errs, c.env);
      const bad = r.exits.findIndex((e) => e.code !== 0);
      if (bad >= 0) throw new Error(`${verb} ${group[bad]}: exit ${r.exits[bad].code ?? r.exits[bad].signal}: ${readFileSync(errs[bad], 'utf8').slice(-500)}`);
      return r.ms;
    };
    per.push(run('create') + run('start'));
  }
  return { perMs: per, totalMs: performance.now() - t0 };
}

/** delete --force of each id (kills the running process): total ms. */
function deleteMany(c) {
  const t0 = performance.now();
  for (const id of c.ids) exec(rt(c, 'delete', '--force', id), c.errPath, c.env);
  const ms = performance.now() - t0;
  proc.reapAll();
  return { totalMs: ms };
}

const OPS = {
  startMany,
  deleteMany,
  execIn: (c) => execTimed(rt(c, 'exec', c.id, ...c.argv), c.errPath, c.env),
  hello: () => ({ pid: process.pid, spawnMode: proc.spawnMode, reapMode: proc.reapMode }),
  exec: (c) => execTimed(c.argv, c.errPath),
  run: (c) => execTimed(rt(c, 'run', '--bundle', c.bundle, c.id), c.errPath, c.env),
  lifecycle,
  rss: createRss,
  cleanup,
};

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  const cmd = JSON.parse(line);
  let answer;
  try {
    const op = OPS[cmd.op];
    if (op === undefined) throw new Error(`unknown op \`${cmd.op}\``);
    answer = { seq: cmd.seq, ok: true, ...op(cmd) };
  } catch (err) {
    answer = { seq: cmd.seq, ok: false, error: err instanceof Error ? err.message : String(err) };
  }
  process.stdout.write(`${JSON.stringify(answer)}\n`);
}
proc.reapAll();
