// Entry points of the ELF reader: parse a ByteSource or a file on the host
// into ElfInfo. Only the parts a loader would look at are read: the file
// header, program headers, PT_INTERP, the dynamic section and the tables it
// points to, and the notes.

import { type ElfReadContext, corrupt, describe, fitsInFile, readRegion } from './binary';
import { BufferByteSource, type ByteSource, PrefixCachedSource, withElfFile } from './byte-source';
import { classify } from './classify';
import { ET_CORE, ET_DYN, ET_EXEC, PT_INTERP } from './constants';
import { type DynamicSection, findDynamicSegment, readDynamicSection } from './dynamic';
import { readGoBuildInfo } from './go-buildinfo';
import { hasElfMagic, parseHeader, parseProgramHeaders } from './header';
import { IDENTIFY_HEAD_SIZE, identifyNonElf } from './identify';
import { containsGlibcStrings } from './libc-strings';
import { containsMuslSymbols } from './musl-symbols';
import { readNotes } from './notes';
import { type SectionTable, readSectionTable } from './sections';
import { locateSymbolTable, readImports } from './symbols';
import type { ElfInfo, GoInfo, ProgramHeader } from './types';
import { readVersionDefinitions, readVersionNeeds } from './versions';

export interface ParseOptions {
  /** Also read imported symbols, version needs and version definitions (`imports`, `versionNeeds`, `versionDefinitions`). */
  symbols?: boolean;
  /** File path used in error messages. */
  path?: string;
}

/** Bytes read up front and kept (see PrefixCachedSource). 16 KiB contains all tables of most small libraries. */
const PREFIX_BYTES = 16 * 1024;

/** The Linux kernel rejects a PT_INTERP longer than PATH_MAX (fs/binfmt_elf.c). */
const MAX_INTERPRETER_BYTES = 4096;

/**
 * Parses an ELF file. Throws ElfError for anything that is not a readable
 * ELF file: code 'empty', 'truncated' or 'corrupt', or the kind of non-ELF
 * file found ('mach-o', 'pe', 'script', ...). Works for every e_type and
 * machine; use assertRunnableProgram to check that the file can run.
 */
export function parseElf(input: ByteSource, options: ParseOptions = {}): ElfInfo {
  const path = options.path;
  const source = input instanceof BufferByteSource ? input : new PrefixCachedSource(input, PREFIX_BYTES);
  const head = source.read(0, IDENTIFY_HEAD_SIZE);
  if (!hasElfMagic(head)) {
    throw identifyNonElf(head, path) ?? corrupt({ path }, 'the ELF magic is missing');
  }

  const { header, context } = parseHeader(source, path);
  const programHeaders = parseProgramHeaders(context, header);
  const loadable = header.type === ET_EXEC || header.type === ET_DYN;

  // A core dump's notes contain process state (registers, memory maps). They
  // can be megabytes long and carry nothing about linking, so they are skipped.
  const notes = header.type === ET_CORE ? {} : readNotes(context, header, programHeaders);
  const sections = loadable ? readSectionTable(context, header) : undefined;
  const interpreter = readInterpreter(context, programHeaders);

  const segment = loadable ? findDynamicSegment(programHeaders) : undefined;
  const dynamic = segment === undefined ? undefined : readDynamicSection(context, programHeaders, segment, options.symbols === true);

  let go: GoInfo | undefined = loadable ? readGoBuildInfo(context, programHeaders, sections) : undefined;
  if (go === undefined && notes.goBuildId !== undefined) {
    go = {};
  }

  const classification = classify({
    header,
    programHeaders,
    ...(interpreter === undefined ? {} : { interpreter }),
    ...(dynamic === undefined ? {} : { dynamic: dynamic.info }),
    notes,
    ...(go === undefined ? {} : { go }),
    containsGlibcStrings: () => containsGlibcStrings(context, programHeaders),
    containsMuslSymbols: () => containsMuslSymbols(context, sections),
  });

  const info: ElfInfo = { header, programHeaders, notes, classification };
  if (interpreter !== undefined) {
    info.interpreter = interpreter;
  }
  if (dynamic !== undefined) {
    info.dynamic = dynamic.info;
  }
  if (options.symbols === true) {
    readSymbolInfo(context, info, dynamic, sections);
  }
  return info;
}

/** Opens `hostPath`, parses it with parseElf and closes it. Throws ElfError code 'io' when it cannot be read. */
export function readElfFile(hostPath: string, options: Omit<ParseOptions, 'path'> = {}): ElfInfo {
  return withElfFile(hostPath, (source) => parseElf(source, { ...options, path: hostPath }));
}

function readSymbolInfo(
  context: ElfReadContext,
  info: ElfInfo,
  dynamic: DynamicSection | undefined,
  sections: SectionTable | undefined,
): void {
  if (dynamic === undefined) {
    info.imports = [];
    info.versionNeeds = [];
    info.versionDefinitions = [];
    return;
  }

  const needs = readVersionNeeds(context, dynamic.entries, dynamic.addresses, dynamic.strings);
  info.versionNeeds = needs.needs;
  info.versionDefinitions = readVersionDefinitions(context, dynamic.entries, dynamic.addresses, dynamic.strings);

  const location = locateSymbolTable(context, info.header, dynamic, sections);
  info.imports = location === undefined ? [] : readImports(context, info.header, dynamic, location, needs.byIndex);
}

function readInterpreter(context: ElfReadContext, programHeaders: readonly ProgramHeader[]): string | undefined {
  const segment = programHeaders.find((candidate) => candidate.type === PT_INTERP);
  if (segment === undefined) {
    return undefined;
  }
  if (segment.filesz < 2 || segment.filesz > MAX_INTERPRETER_BYTES) {
    throw corrupt(context, `PT_INTERP is ${segment.filesz} bytes; the Linux kernel accepts 2 to ${MAX_INTERPRETER_BYTES}`);
  }
  if (!fitsInFile(context, segment.offset, segment.filesz)) {
    throw corrupt(context, `PT_INTERP (offset ${segment.offset}, ${segment.filesz} bytes) extends past the end of ${describe(context.path)}`);
  }

  const bytes = readRegion(context, segment.offset, segment.filesz, 'PT_INTERP').bytes;
  const nul = bytes.indexOf(0);
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, nul < 0 ? bytes.byteLength : nul).toString('utf8');
  if (text === '') {
    throw corrupt(context, 'PT_INTERP is an empty string');
  }
  return text;
}
