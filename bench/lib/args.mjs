/** `--name value` / `--name=value` options for the bench scripts (no dependencies). */

/**
 * @param {string[]} argv process.argv.slice(2)
 * @param {Record<string, { default: string | number | boolean, describe: string }>} spec
 */
export function parseArgs(argv, spec, usage) {
  const out = Object.fromEntries(Object.entries(spec).map(([k, v]) => [k, v.default]));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') {
      const lines = Object.entries(spec).map(([k, v]) => `  --${k.padEnd(14)} ${v.describe} (default: ${v.default})`);
      process.stdout.write(`${usage}\n\n${lines.join('\n')}\n`);
      process.exit(0);
    }
    const m = /^--([^=]+)(?:=(.*))?$/.exec(arg);
    if (!m || !(m[1] in spec)) throw new Error(`unknown argument \`${arg}\` (see --help)`);
    const key = m[1];
    const def = spec[key].default;
    if (typeof def === 'boolean' && m[2] === undefined) {
      out[key] = true;
      continue;
    }
    const raw = m[2] ?? argv[++i];
    if (raw === undefined) throw new Error(`\`--${key}\` needs a value`);
    if (typeof def === 'number') {
      const n = Number(raw);
      if (!Number.isInteger(n) || n < 0) throw new Error(`\`--${key}\` must be a non-negative integer, got \`${raw}\``);
      out[key] = n;
    } else {
      out[key] = typeof def === 'boolean' ? raw !== 'false' : raw;
    }
  }
  return out;
}
