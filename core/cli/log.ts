// Command-line log lines: one prefix per source, written whole so lines from
// the guest console and from the tool never interleave mid-line.

export type LogLine = (line: string) => void;

export function createLog(source: string, stream: NodeJS.WritableStream = process.stderr): LogLine {
  const prefix = `[nx-unikernel ${source}] `;
  return (line: string) => {
    const text = line.endsWith('\n') ? line.slice(0, -1) : line;
    stream.write(`${text.split('\n').map((part) => prefix + part).join('\n')}\n`);
  };
}
