// The /etc files of musl programs that resolve host names. musl has no NSS,
// so getaddrinfo, gethostbyname and the res_* functions read /etc/hosts and
// /etc/resolv.conf themselves, and a program that calls them needs both files
// in the image. Without them, musl 1.2.3 fails to resolve even "localhost".

import type { ElfInfo } from '../elf/types';
import { resolverFiles } from './etc-files';
import type { ExtraFile } from './types';

// musl's functions that end in a lookup through /etc/hosts or a DNS query.
const RESOLVER_FUNCTIONS = new Set([
  'getaddrinfo', 'getnameinfo',
  'gethostbyname', 'gethostbyname_r', 'gethostbyname2', 'gethostbyname2_r',
  'gethostbyaddr', 'gethostbyaddr_r',
  'res_init', 'res_query', 'res_search', 'res_querydomain', 'res_send', 'res_mkquery',
  '__res_query', '__res_search', '__res_send', '__res_mkquery',
]);

/** Returns the resolver files when one of the loaded objects imports a resolver function of musl. */
export function muslResolverNeeds(objects: ReadonlyArray<{ elf: ElfInfo }>): ExtraFile[] {
  for (const { elf } of objects) {
    const user = (elf.imports ?? []).find((symbol) => RESOLVER_FUNCTIONS.has(symbol.name));
    if (user !== undefined) {
      return resolverFiles(`musl program imports ${user.name}`);
    }
  }
  return [];
}

// musl's resolver opens these paths by name, so a static program that links
// it contains them in its read-only data (seen with strings on musl 1.2.3).
const RESOLVER_PATHS = ['/etc/resolv.conf', '/etc/hosts'];

/**
 * Returns the resolver files for a static program that is neither glibc nor
 * Go, when its bytes contain a path the resolver opens. The libc is often
 * unknown here (a stripped musl program carries no sign of musl), but any C
 * library whose resolver reads these paths needs the files, and they are two
 * short text files. A program without either path cannot open them by name.
 * NOTE: a packed executable (UPX and the like) hides its strings, so it gets
 * no files; add them with files.
 */
export function staticResolverNeeds(bytes: Buffer, libc: string): ExtraFile[] {
  const found = RESOLVER_PATHS.find((resolverPath) => bytes.includes(Buffer.from(`${resolverPath}\0`, 'latin1')));
  if (found === undefined) return [];
  const program = libc === 'unknown' ? 'static program (C library unknown)' : `static ${libc} program`;
  return resolverFiles(`${program} contains the path "${found}"`);
}
