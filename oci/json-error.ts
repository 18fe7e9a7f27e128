/**
 * Finds where a JSON text (RFC 8259) first goes wrong, for error messages that point at a line
 * and column. V8's JSON.parse messages name a position only for some errors, so after JSON.parse
 * has failed this small scanner walks the text again and reports the first bad character.
 */

export interface JsonErrorLocation {
  /** UTF-16 offset of the offending character (text.length at an unexpected end). */
  offset: number;
  /** 1-based line and column. */
  line: number;
  column: number;
  reason: string;
}

class ScanError extends Error {
  constructor(readonly offset: number, reason: string) {
    super(reason);
  }
}

/** Returns undefined when the text is valid JSON (or nests too deeply to scan). */
export function locateJsonError(text: string): JsonErrorLocation | undefined {
  try {
    const scanner = new Scanner(text);
    scanner.document();
    return undefined;
  } catch (err: unknown) {
    if (!(err instanceof ScanError)) return undefined; // RangeError: nesting beyond the stack
    return { offset: err.offset, ...lineColumn(text, err.offset), reason: err.message };
  }
}

function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text[i] === '\n') {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

class Scanner {
  private pos = 0;

  constructor(private readonly text: string) {}

  document(): void {
    this.value();
    this.space();
    if (this.pos < this.text.length) this.fail('unexpected text after the end of the JSON value');
  }

  private fail(reason: string): never {
    if (this.pos >= this.text.length) throw new ScanError(this.text.length, 'unexpected end of input');
    throw new ScanError(this.pos, reason);
  }

  private describe(): string {
    const ch = this.text[this.pos];
    return ch === undefined ? 'end of input' : JSON.stringify(ch);
  }

  private space(): void {
    while (this.pos < this.text.length && ' \t\n\r'.includes(this.text[this.pos] ?? '')) this.pos++;
  }

  private value(): void {
    this.space();
    const ch = this.text[this.pos];
    if (ch === '{') this.object();
    else if (ch === '[') this.array();
    else if (ch === '"') this.string();
    else if (ch === '-' || (ch !== undefined && ch >= '0' && ch <= '9')) this.number();
    else if (!this.literal('true') && !this.literal('false') && !this.literal('null')) {
      this.fail(`unexpected ${this.describe()} where a value was expected`);
    }
  }

  private literal(word: string): boolean {
    if (!this.text.startsWith(word, this.pos)) return false;
    this.pos += word.length;
    return true;
  }

  private object(): void {
    this.pos++; // {
    this.space();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return;
    }
    for (;;) {
      this.space();
      if (this.text[this.pos] !== '"') this.fail(`expected a double-quoted property name, found ${this.describe()}`);
      this.string();
      this.space();
      if (this.text[this.pos] !== ':') this.fail(`expected ':' after the property name, found ${this.describe()}`);
      this.pos++;
      this.value();
      this.space();
      const ch = this.text[this.pos];
      this.pos++;
      if (ch === '}') return;
      if (ch !== ',') {
        this.pos--;
        this.fail(`expected ',' or '}' after a property value, found ${this.describe()}`);
      }
    }
  }

  private array(): void {
    this.pos++; // [
    this.space();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return;
    }
    for (;;) {
      this.value();
      this.space();
      const ch = this.text[this.pos];
      this.pos++;
      if (ch === ']') return;
      if (ch !== ',') {
        this.pos--;
        this.fail(`expected ',' or ']' after an array element, found ${this.describe()}`);
      }
    }
  }

  private string(): void {
    this.pos++; // opening quote
    for (;;) {
      const ch = this.text[this.pos];
      if (ch === undefined) this.fail('unterminated string');
      if (ch === '"') {
        this.pos++;
        return;
      }
      if (ch < ' ') this.fail('control character in a string (escape it)');
      if (ch === '\\') {
        const esc = this.text[this.pos + 1];
        if (esc === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(this.text.slice(this.pos + 2, this.pos + 6))) this.fail('bad \\u escape in a string');
          this.pos += 6;
          continue;
        }
        if (esc === undefined || !'"\\/bfnrt'.includes(esc)) this.fail('bad escape in a string');
        this.pos += 2;
        continue;
      }
      this.pos++;
    }
  }

  private number(): void {
    NUMBER.lastIndex = this.pos;
    const match = NUMBER.exec(this.text);
    if (match === null) this.fail('malformed number');
    this.pos += match[0].length;
    const next = this.text[this.pos];
    if (next !== undefined && /[0-9.eE+-]/.test(next)) this.fail('malformed number');
  }
}
