// Parses configuration text as JSON. JSON.parse does not always report where
// the text is wrong (Node 20 omits the position for an unexpected token), so
// on failure a small scanner finds the first error and its line and column.

import { ConfigError } from './errors';

interface SyntaxProblem {
  readonly offset: number;
  readonly message: string;
}

/** Parses `text` from `file`; throws ConfigError naming line:column and the problem on invalid JSON. */
export function parseJsonText(text: string, file: string): unknown {
  const withoutBom = text.startsWith('\uFEFF') ? text.slice(1) : text;
  try {
    return JSON.parse(withoutBom);
  } catch (error) {
    const problem = findSyntaxProblem(withoutBom) ?? { offset: 0, message: (error as Error).message };
    const { line, column } = lineAndColumn(withoutBom, problem.offset);
    throw new ConfigError(
      file,
      [{ path: '', message: `invalid JSON at ${file}:${line}:${column}: ${problem.message}. JSON allows no comments and no trailing commas.` }],
      { cause: error },
    );
  }
}

/** Converts a UTF-16 offset into a 1-based line and column. */
export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const lines = before.split('\n');
  return { line: lines.length, column: (lines[lines.length - 1]?.length ?? 0) + 1 };
}

/** Returns the first JSON syntax error in `text`, or undefined when the text is valid JSON. */
export function findSyntaxProblem(text: string): SyntaxProblem | undefined {
  const scanner = new Scanner(text);
  try {
    scanner.skipWhitespace();
    scanner.value();
    scanner.skipWhitespace();
    if (!scanner.atEnd()) {
      scanner.fail(`unexpected ${scanner.describeNext()} after the end of the JSON value`);
    }
    return undefined;
  } catch (problem) {
    if (problem instanceof ScanError) {
      return { offset: problem.offset, message: problem.message };
    }
    throw problem;
  }
}

class ScanError extends Error {
  constructor(
    readonly offset: number,
    message: string,
  ) {
    super(message);
  }
}

const LITERALS = ['true', 'false', 'null'];

class Scanner {
  private offset = 0;

  constructor(private readonly text: string) {}

  atEnd(): boolean {
    return this.offset >= this.text.length;
  }

  fail(message: string, offset = this.offset): never {
    throw new ScanError(offset, message);
  }

  describeNext(): string {
    if (this.atEnd()) {
      return 'end of file';
    }
    if (this.text.startsWith('//', this.offset) || this.text.startsWith('/*', this.offset)) {
      return 'comment';
    }
    return `character ${JSON.stringify(this.text[this.offset])}`;
  }

  skipWhitespace(): void {
    while (!this.atEnd() && ' \t\n\r'.includes(this.text[this.offset] as string)) {
      this.offset++;
    }
  }

  value(): void {
    const next = this.text[this.offset];
    if (next === '{') {
      this.object();
    } else if (next === '[') {
      this.array();
    } else if (next === '"') {
      this.string();
    } else if (next === '-' || (next !== undefined && next >= '0' && next <= '9')) {
      this.number();
    } else {
      const literal = LITERALS.find((word) => this.text.startsWith(word, this.offset));
      if (literal === undefined) {
        this.fail(`unexpected ${this.describeNext()} where a value should start`);
      }
      this.offset += literal.length;
    }
  }

  private object(): void {
    this.offset++;
    this.skipWhitespace();
    if (this.text[this.offset] === '}') {
      this.offset++;
      return;
    }

    for (;;) {
      if (this.text[this.offset] !== '"') {
        const reason = this.text[this.offset] === '}' ? 'trailing comma before "}"' : `unexpected ${this.describeNext()} where a property name in double quotes should be`;
        this.fail(reason);
      }
      this.string();
      this.skipWhitespace();
      if (this.text[this.offset] !== ':') {
        this.fail(`expected ":" after the property name, found ${this.describeNext()}`);
      }
      this.offset++;
      this.skipWhitespace();
      this.value();
      this.skipWhitespace();

      const separator = this.text[this.offset];
      if (separator === '}') {
        this.offset++;
        return;
      }
      if (separator !== ',') {
        this.fail(`expected "," or "}" after a property value, found ${this.describeNext()}`);
      }
      this.offset++;
      this.skipWhitespace();
    }
  }

  private array(): void {
    this.offset++;
    this.skipWhitespace();
    if (this.text[this.offset] === ']') {
      this.offset++;
      return;
    }

    for (;;) {
      if (this.text[this.offset] === ']') {
        this.fail('trailing comma before "]"');
      }
      this.value();
      this.skipWhitespace();

      const separator = this.text[this.offset];
      if (separator === ']') {
        this.offset++;
        return;
      }
      if (separator !== ',') {
        this.fail(`expected "," or "]" after an array element, found ${this.describeNext()}`);
      }
      this.offset++;
      this.skipWhitespace();
    }
  }

  private string(): void {
    const start = this.offset;
    this.offset++;
    for (;;) {
      if (this.atEnd()) {
        this.fail('unterminated string', start);
      }
      const character = this.text[this.offset] as string;
      if (character === '"') {
        this.offset++;
        return;
      }
      if (character < ' ') {
        this.fail('control character (such as a line break) inside a string; write it as an escape like \\n');
      }
      if (character === '\\') {
        this.escape();
      } else {
        this.offset++;
      }
    }
  }

  private escape(): void {
    const escaped = this.text[this.offset + 1];
    if (escaped === 'u') {
      const hex = this.text.slice(this.offset + 2, this.offset + 6);
      if (!/^[0-9a-fA-F]{4}$/.test(hex)) {
        this.fail('invalid \\u escape; it needs four hex digits');
      }
      this.offset += 6;
    } else if (escaped !== undefined && '"\\/bfnrt'.includes(escaped)) {
      this.offset += 2;
    } else {
      this.fail(`invalid escape \\${escaped ?? ''} in a string`);
    }
  }

  private number(): void {
    const match = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/.exec(this.text.slice(this.offset));
    if (!match) {
      this.fail('invalid number');
    }
    this.offset += match[0].length;
  }
}
