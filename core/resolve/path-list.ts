// Parsing of the colon-separated folder lists in DT_RPATH, DT_RUNPATH and
// LD_LIBRARY_PATH, with dynamic string token expansion ($ORIGIN, $LIB,
// $PLATFORM), following glibc's elf/dl-load.c (fillin_rpath,
// _dl_dst_substitute) and musl's ldso/dynlink.c (fixup_rpath).

export interface TokenValues {
  /** Folder of the object that owns the list: the base of `$ORIGIN`. */
  origin: string;
  /** `$LIB`, e.g. `lib/x86_64-linux-gnu` on Debian or `lib64` upstream. */
  lib: string;
  /** `$PLATFORM`, the AT_PLATFORM string, e.g. `x86_64`. */
  platform: string;
}

export interface ExpandedPath {
  /** The expanded folder or path; `''` stands for the current directory. */
  value: string;
  /** Names of the tokens that were expanded, e.g. ['ORIGIN']. */
  tokens: string[];
  /** `$NAME` sequences that are not tokens; glibc keeps them as literal text. */
  unknownTokens: string[];
}

const KNOWN_TOKENS = new Set(['ORIGIN', 'LIB', 'PLATFORM']);
const IDENTIFIER_CHAR = /[A-Za-z0-9_]/;

/**
 * Expands glibc's dynamic string tokens in one list element or DT_NEEDED name.
 * `$NAME` is a token only when the name is not followed by another identifier
 * character, so `$ORIGINAL` stays literal; `${NAME}` is the braced form.
 * Unknown names are copied literally, as glibc does.
 */
export function expandTokens(text: string, values: TokenValues): ExpandedPath {
  const tokens: string[] = [];
  const unknownTokens: string[] = [];
  let value = '';
  let index = 0;

  while (index < text.length) {
    const dollar = text.indexOf('$', index);
    if (dollar < 0) {
      value += text.slice(index);
      break;
    }
    value += text.slice(index, dollar);

    const token = readToken(text, dollar);
    if (token && KNOWN_TOKENS.has(token.name)) {
      tokens.push(token.name);
      value += tokenValue(token.name, values);
      index = token.end;
      continue;
    }
    if (token) unknownTokens.push(text.slice(dollar, token.end));
    value += '$';
    index = dollar + 1;
  }

  return { value, tokens, unknownTokens };
}

function readToken(text: string, dollar: number): { name: string; end: number } | undefined {
  if (text[dollar + 1] === '{') {
    const close = text.indexOf('}', dollar + 2);
    if (close < 0) return undefined;
    return { name: text.slice(dollar + 2, close), end: close + 1 };
  }
  let end = dollar + 1;
  while (end < text.length && IDENTIFIER_CHAR.test(text[end] ?? '')) end += 1;
  if (end === dollar + 1) return undefined;
  return { name: text.slice(dollar + 1, end), end };
}

function tokenValue(name: string, values: TokenValues): string {
  if (name === 'ORIGIN') return values.origin;
  if (name === 'LIB') return values.lib;
  return values.platform;
}

export interface PathListElement extends ExpandedPath {
  /** The element as written in the list, before expansion. */
  raw: string;
}

/**
 * Splits and expands a glibc path list. `:` separates elements, and for
 * LD_LIBRARY_PATH `;` too. An element that was empty as written means the current
 * directory; one that expansion made empty is dropped. Trailing slashes are
 * removed and repeated folders keep their first position, as fillin_rpath does.
 */
export function parseGlibcPathList(
  list: string,
  values: TokenValues,
  options: { semicolonSeparates?: boolean } = {},
): PathListElement[] {
  const separator = options.semicolonSeparates ? /[:;]/ : /:/;
  const seen = new Set<string>();
  const elements: PathListElement[] = [];

  for (const raw of list.split(separator)) {
    const expanded = expandTokens(raw, values);
    if (raw !== '' && expanded.value === '') continue;

    const value = stripTrailingSlashes(expanded.value);
    if (seen.has(value)) continue;
    seen.add(value);
    elements.push({ ...expanded, value, raw });
  }
  return elements;
}

/**
 * Splits and expands a musl path list (musl's fixup_rpath). musl expands only
 * `$ORIGIN` and `${ORIGIN}`, and a list with any other `$` is ignored as a whole.
 * Empty elements are skipped. Returns undefined when the list is ignored.
 */
export function parseMuslPathList(list: string, origin: string): PathListElement[] | undefined {
  const withoutOrigin = list.replaceAll('${ORIGIN}', '').replace(/\$ORIGIN/g, '');
  if (withoutOrigin.includes('$')) return undefined;

  const expandedList = list.replaceAll('${ORIGIN}', origin).replace(/\$ORIGIN/g, origin);
  return expandedList
    .split(':')
    .filter((element) => element !== '')
    .map((value) => ({ raw: value, value: stripTrailingSlashes(value), tokens: [], unknownTokens: [] }));
}

/** Splits musl's LD_LIBRARY_PATH: `:` or newline separate, empty elements are skipped. */
export function parseMuslLibraryPath(list: string): string[] {
  return list
    .split(/[:\n]/)
    .filter((element) => element !== '')
    .map(stripTrailingSlashes);
}

function stripTrailingSlashes(folder: string): string {
  let end = folder.length;
  while (end > 1 && folder[end - 1] === '/') end -= 1;
  return folder.slice(0, end);
}

/**
 * Joins a search folder and a name the way ld.so prints the result: `''` is the
 * current directory, and `..` stays as written (ld.so opens the string as is).
 */
export function joinSearchPath(folder: string, name: string): string {
  if (folder === '') return name;
  return folder.endsWith('/') ? folder + name : `${folder}/${name}`;
}
