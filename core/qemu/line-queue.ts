// An async iterator over lines pushed by an event source, which buffers lines
// until the consumer reads them.

export class LineQueue implements AsyncIterableIterator<string> {
  private readonly buffered: string[] = [];
  private readonly waiting: ((result: IteratorResult<string>) => void)[] = [];
  private ended = false;

  push(line: string): void {
    if (this.ended) return;
    const waiter = this.waiting.shift();
    if (waiter === undefined) this.buffered.push(line);
    else waiter({ value: line, done: false });
  }

  /** Ends the iteration once the buffered lines are read. */
  end(): void {
    this.ended = true;
    for (const waiter of this.waiting.splice(0)) waiter({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<string>> {
    const line = this.buffered.shift();
    if (line !== undefined) return Promise.resolve({ value: line, done: false });
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Called when a `for await` loop exits early; drops the buffer. */
  return(): Promise<IteratorResult<string>> {
    this.buffered.length = 0;
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
