/**
 * Kernel modules for the guest: which `.ko` files, in which order. The guest kernel's virtio
 * drivers are modules (Debian's cloud kernel); modules.dep of the same kernel names each
 * module's dependencies, and they load dependencies first (as modprobe does).
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { KapselError } from '../common/errors.js';

/** modules.dep text → module name (virtio_pci) → { path, deps (names) }. */
export function parseModulesDep(text: string): Map<string, { path: string; deps: string[] }> {
  const out = new Map<string, { path: string; deps: string[] }>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const path = line.slice(0, colon).trim();
    const deps = line.slice(colon + 1).trim().split(/\s+/).filter((d) => d !== '').map(moduleName);
    out.set(moduleName(path), { path, deps });
  }
  return out;
}

export function moduleName(path: string): string {
  return basename(path).replace(/\.ko(\.(xz|gz|zst))?$/, '').replaceAll('-', '_');
}

/**
 * Load order for `wanted`: every module after its dependencies, each once. Modules not in
 * modules.dep are built into the kernel (modules.builtin) or missing: `builtin` tells which.
 */
export function resolveModules(dep: Map<string, { path: string; deps: string[] }>, wanted: readonly string[], builtin: ReadonlySet<string> = new Set()): string[] {
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = (name: string, chain: string[]): void => {
    if (seen.has(name)) return;
    const entry = dep.get(name);
    if (entry === undefined) {
      if (builtin.has(name)) return;
      throw new KapselError('ERR_VM_KERNEL', `kernel module \`${name}\` is neither in modules.dep nor built in${chain.length ? ` (needed by ${chain.join(' → ')})` : ''}`);
    }
    seen.add(name);
    // modules.dep lists a module's dependencies so that the last is loaded first
    for (const d of [...entry.deps].reverse()) visit(d, [...chain, name]);
    order.push(entry.path);
  };
  for (const w of wanted) visit(w, []);
  return order;
}

export interface GuestModule {
  readonly name: string;
  /** Absolute path on the host. */
  readonly hostPath: string;
}

/** Reads /lib/modules/<release>/modules.dep (and modules.builtin) and resolves `wanted`. */
export function guestModules(modulesDir: string, wanted: readonly string[]): GuestModule[] {
  const depFile = join(modulesDir, 'modules.dep');
  let text: string;
  try {
    text = readFileSync(depFile, 'utf8');
  } catch (err) {
    throw new KapselError('ERR_VM_KERNEL', `read \`${depFile}\`: ${(err as Error).message}`, { cause: err, hint: 'install the modules of the guest kernel (the same kernel package)' });
  }
  const builtinFile = join(modulesDir, 'modules.builtin');
  const builtin = new Set(existsSync(builtinFile) ? readFileSync(builtinFile, 'utf8').split('\n').filter((l) => l !== '').map(moduleName) : []);
  return resolveModules(parseModulesDep(text), wanted, builtin).map((p) => {
    if (/\.ko\.(xz|gz|zst)$/.test(p)) throw new KapselError('ERR_VM_KERNEL', `kernel module \`${p}\` is compressed; the guest init loads uncompressed modules only`);
    return { name: moduleName(p), hostPath: join(modulesDir, p) };
  });
}
