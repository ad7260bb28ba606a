// Parses the text glibc's `ldd` prints (LD_TRACE_LOADED_OBJECTS, elf/rtld.c):
// `\tname => path (0x...)`, `\tname => not found`, `\tpath (0x...)`.

/** name => path (or 'not found'), without the vDSO. */
export function parseLddOutput(output: string): Map<string, string> {
  const libraries = new Map<string, string>();
  for (const rawLine of output.split('\n')) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('linux-vdso.so') || line.startsWith('linux-gate.so')) continue;

    const arrow = /^(\S+) => (not found|\S+)(?: \(0x[0-9a-f]+\))?$/.exec(line);
    if (arrow) {
      libraries.set(arrow[1] as string, arrow[2] as string);
      continue;
    }
    const bare = /^(\S+) \(0x[0-9a-f]+\)$/.exec(line);
    if (bare) libraries.set(bare[1] as string, bare[1] as string);
  }
  return libraries;
}
