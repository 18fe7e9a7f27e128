import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { locateJsonError } from './json-error.js';

describe('locateJsonError', () => {
  it('returns undefined for valid JSON', () => {
    for (const text of ['{}', ' [1, -2.5e3, "a\\u00e9\\n", true, false, null] ', '{"a":{"b":[]}}']) {
      assert.equal(locateJsonError(text), undefined, text);
    }
  });

  it('points at the first bad character with line and column', () => {
    const cases: Array<[string, number, number, RegExp]> = [
      ['{"a":}', 1, 6, /where a value was expected/],
      ['{"a":1', 1, 7, /unexpected end of input/],
      ['{"a":1,}', 1, 8, /property name/],
      ['{\n  "a" 1}', 2, 7, /expected ':'/],
      ['[1 2]', 1, 4, /',' or ']'/],
      ['{"a":1}}', 1, 8, /after the end/],
      ['{"a":"b\\q"}', 1, 8, /bad escape/],
      ['[01]', 1, 3, /malformed number/],
      ['\uFEFF{}', 1, 1, /where a value was expected/],
      ['{"a":"x\ny"}', 1, 8, /control character/],
    ];
    for (const [text, line, column, reason] of cases) {
      const where = locateJsonError(text);
      assert.ok(where !== undefined, text);
      assert.equal(JSON.stringify([where.line, where.column]), JSON.stringify([line, column]), text);
      assert.match(where.reason, reason, text);
      assert.throws(() => JSON.parse(text), SyntaxError); // agrees with JSON.parse that it is bad
    }
  });
});
