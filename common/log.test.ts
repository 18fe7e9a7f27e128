import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatLine } from './log.js';

const NOW = new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678));
// RFC 3339 date-time (section 5.6) with fractional seconds and an explicit zone
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

describe('formatLine: json', () => {
  it('writes one JSON object with level, msg and time, in that order, and a newline', () => {
    const line = formatLine('error', 'container init: exec: `nope`: no such file', 'json', NOW);
    assert.equal(line, '{"level":"error","msg":"container init: exec: `nope`: no such file","time":"2024-01-02T03:04:05.678Z"}\n');
    assert.deepEqual(Object.keys(JSON.parse(line) as object), ['level', 'msg', 'time']);
  });

  it('uses an RFC 3339 time that round-trips', () => {
    const { time } = JSON.parse(formatLine('info', 'x', 'json', NOW)) as { time: string };
    assert.match(time, RFC3339);
    assert.equal(new Date(time).getTime(), NOW.getTime());
    assert.match((JSON.parse(formatLine('info', 'x', 'json')) as { time: string }).time, RFC3339);
  });

  it('escapes quotes, backslashes and newlines so a message stays one line', () => {
    const line = formatLine('warning', 'a "quoted"\\path\nsecond line', 'json', NOW);
    assert.equal(line.indexOf('\n'), line.length - 1);
    assert.equal((JSON.parse(line) as { msg: string }).msg, 'a "quoted"\\path\nsecond line');
  });

  it('keeps the level names logrus uses', () => {
    for (const level of ['debug', 'info', 'warning', 'error'] as const) {
      assert.equal((JSON.parse(formatLine(level, 'm', 'json', NOW)) as { level: string }).level, level);
    }
  });
});

describe('formatLine: text', () => {
  it('writes logfmt-style time, level and quoted msg', () => {
    assert.equal(formatLine('info', 'hello world', 'text', NOW), 'time="2024-01-02T03:04:05.678Z" level=info msg="hello world"\n');
  });

  it('quotes the message so it stays on one line', () => {
    const line = formatLine('error', 'bad "thing"\nhere', 'text', NOW);
    assert.equal(line, 'time="2024-01-02T03:04:05.678Z" level=error msg="bad \\"thing\\"\\nhere"\n');
    assert.equal(line.indexOf('\n'), line.length - 1);
  });

  it('uses an RFC 3339 time', () => {
    const time = /^time="([^"]+)"/.exec(formatLine('debug', 'x', 'text'))?.[1];
    assert.ok(time !== undefined);
    assert.match(time, RFC3339);
  });
});
