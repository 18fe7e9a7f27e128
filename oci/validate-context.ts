/**
 * The collector that every section validator writes into, plus typed field readers.
 *
 * Readers report a violation when a field is present with the wrong JSON type and return
 * `undefined`, so each section keeps going and the caller sees every problem at once.
 * Properties the spec does not define are never read and so never reported (config.md:
 * runtimes MUST ignore unknown properties). JSON `null` is not a value of any spec type and is
 * reported like any other wrong type.
 */

/** One problem with a config, located by a JSON path such as `$.linux.namespaces[2].type`. */
export interface Violation {
  path: string;
  message: string;
}

export type JsonObject = Record<string, unknown>;

/** Integer kinds used by the spec, with their inclusive ranges. */
export type IntKind = 'uint8' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64';

const INT_RANGES: Readonly<Record<IntKind, readonly [number, number]>> = {
  uint8: [0, 0xff],
  uint16: [0, 0xffff],
  int32: [-0x80000000, 0x7fffffff],
  uint32: [0, 0xffffffff],
  // 2^63 and 2^64 as doubles: JSON numbers this large are already rounded.
  int64: [-(2 ** 63), 2 ** 63],
  uint64: [0, 2 ** 64],
};

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** `$.a` + `b` → `$.a.b`; keys that are not identifiers use brackets: `$.a["net.ipv4.x"]`. */
export function childPath(path: string, key: string): string {
  return IDENTIFIER.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

export function indexPath(path: string, index: number): string {
  return `${path}[${index}]`;
}

export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isAbsolutePath(value: string): boolean {
  return value.startsWith('/');
}

export function intRangeText(kind: IntKind): string {
  const [min, max] = INT_RANGES[kind];
  if (kind === 'uint64') return 'a non-negative integer';
  if (kind === 'int64') return 'an integer';
  return `an integer from ${min} to ${max}`;
}

export function isInt(value: unknown, kind: IntKind): value is number {
  if (typeof value !== 'number' || !Number.isInteger(value)) return false;
  const [min, max] = INT_RANGES[kind];
  return value >= min && value <= max;
}

export class Checker {
  readonly violations: Violation[] = [];
  readonly warnings: Violation[] = [];

  fail(path: string, message: string): void {
    this.violations.push({ path, message });
  }

  warn(path: string, message: string): void {
    this.warnings.push({ path, message });
  }

  private wrongType(path: string, expected: string, value: unknown): void {
    this.fail(path, `must be ${expected} (got ${describeType(value)})`);
  }

  /** Checks `value` itself is an object; reports and returns undefined otherwise. */
  object(value: unknown, path: string): JsonObject | undefined {
    if (isObject(value)) return value;
    this.wrongType(path, 'an object', value);
    return undefined;
  }

  private missing(obj: JsonObject, key: string, path: string, required: boolean): boolean {
    if (obj[key] !== undefined) return false;
    if (required) this.fail(childPath(path, key), 'is required');
    return true;
  }

  optObject(obj: JsonObject, key: string, path: string, required = false): JsonObject | undefined {
    if (this.missing(obj, key, path, required)) return undefined;
    return this.object(obj[key], childPath(path, key));
  }

  reqObject(obj: JsonObject, key: string, path: string): JsonObject | undefined {
    return this.optObject(obj, key, path, true);
  }

  optString(obj: JsonObject, key: string, path: string, required = false): string | undefined {
    if (this.missing(obj, key, path, required)) return undefined;
    const value = obj[key];
    if (typeof value === 'string') return value;
    this.wrongType(childPath(path, key), 'a string', value);
    return undefined;
  }

  reqString(obj: JsonObject, key: string, path: string): string | undefined {
    return this.optString(obj, key, path, true);
  }

  /** A required or optional string that must be an absolute path when present. */
  absPath(obj: JsonObject, key: string, path: string, required: boolean): string | undefined {
    const value = this.optString(obj, key, path, required);
    if (value === undefined) return undefined;
    if (!isAbsolutePath(value)) this.fail(childPath(path, key), 'must be an absolute path');
    return value;
  }

  optBool(obj: JsonObject, key: string, path: string, required = false): boolean | undefined {
    if (this.missing(obj, key, path, required)) return undefined;
    const value = obj[key];
    if (typeof value === 'boolean') return value;
    this.wrongType(childPath(path, key), 'a boolean', value);
    return undefined;
  }

  optInt(obj: JsonObject, key: string, path: string, kind: IntKind, required = false): number | undefined {
    if (this.missing(obj, key, path, required)) return undefined;
    return this.int(obj[key], childPath(path, key), kind);
  }

  reqInt(obj: JsonObject, key: string, path: string, kind: IntKind): number | undefined {
    return this.optInt(obj, key, path, kind, true);
  }

  int(value: unknown, path: string, kind: IntKind): number | undefined {
    if (isInt(value, kind)) return value;
    if (typeof value === 'number') this.fail(path, `must be ${intRangeText(kind)} (got ${value})`);
    else this.wrongType(path, intRangeText(kind), value);
    return undefined;
  }

  /** An optional array; returns it (elements unchecked) or undefined. */
  optArray(obj: JsonObject, key: string, path: string, required = false): unknown[] | undefined {
    if (this.missing(obj, key, path, required)) return undefined;
    const value = obj[key];
    if (Array.isArray(value)) return value;
    this.wrongType(childPath(path, key), 'an array', value);
    return undefined;
  }

  /**
   * An optional array of strings. Returns the strings that are strings (with their indexes) so
   * later rules still see the good elements of a partly bad array.
   */
  optStringArray(obj: JsonObject, key: string, path: string, required = false): Array<[number, string]> | undefined {
    const array = this.optArray(obj, key, path, required);
    if (array === undefined) return undefined;
    const at = childPath(path, key);
    const out: Array<[number, string]> = [];
    array.forEach((item, i) => {
      if (typeof item === 'string') out.push([i, item]);
      else this.wrongType(indexPath(at, i), 'a string', item);
    });
    return out;
  }

  /** An optional string that must be one of `allowed`. */
  optEnum<T extends string>(obj: JsonObject, key: string, path: string, allowed: readonly T[], required = false): T | undefined {
    const value = this.optString(obj, key, path, required);
    if (value === undefined) return undefined;
    return this.enumValue(value, childPath(path, key), allowed);
  }

  enumValue<T extends string>(value: string, path: string, allowed: readonly T[]): T | undefined {
    if ((allowed as readonly string[]).includes(value)) return value as T;
    this.fail(path, `unknown value ${JSON.stringify(value)} (expected one of ${allowed.join(', ')})`);
    return undefined;
  }

  /** An optional object whose values must all be strings (annotations, sysctl, unified). */
  optStringMap(obj: JsonObject, key: string, path: string): Array<[string, string]> | undefined {
    const map = this.optObject(obj, key, path);
    if (map === undefined) return undefined;
    const at = childPath(path, key);
    const out: Array<[string, string]> = [];
    for (const [name, value] of Object.entries(map)) {
      if (typeof value === 'string') out.push([name, value]);
      else this.wrongType(childPath(at, name), 'a string', value);
    }
    return out;
  }

  /** Visits each element of an optional array of objects. */
  eachObject(obj: JsonObject, key: string, path: string, visit: (item: JsonObject, at: string, index: number) => void): void {
    const array = this.optArray(obj, key, path);
    if (array === undefined) return;
    const base = childPath(path, key);
    array.forEach((item, i) => {
      const at = indexPath(base, i);
      const value = this.object(item, at);
      if (value !== undefined) visit(value, at, i);
    });
  }
}
