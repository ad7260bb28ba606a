// The TFS metadata log: a chain of log extensions holding framed log entries,
// as Nanos's src/fs/tlog.c writes (`log_extension_init`, `log_write_internal`,
// `log_extend`) and reads (`log_hdr_parse`, `log_read_complete`) them.
//
// An extension starts with "NVMTFS", a varint version and a varint size in
// sectors. The initial extension (filesystem sector 0, one sector) adds the
// 16-byte UUID and the NUL-terminated label. Records follow, each a type byte
// and its fields.

import { ByteWriter } from './byte-writer';
import { NanosImageError } from './errors';
import { MAX_VARINT_SIZE, pushVarint, readSmallVarint } from './varint';

export const SECTOR_SIZE = 512;
export const TFS_MAGIC = Uint8Array.from([0x4e, 0x56, 0x4d, 0x54, 0x46, 0x53]); // "NVMTFS"
// NOTE: kernels up to 0.1.46 read only version 4 logs. This module writes
// version 5, which Nanos reads since 0.1.47 ("bump TFS version to 5").
export const TFS_VERSION = 5;
export const TFS_OLD_VERSION = 4;
export const UUID_LENGTH = 16;
/** Label bytes plus the terminating NUL (`VOLUME_LABEL_MAX_LEN` in Nanos). */
export const VOLUME_LABEL_MAX_LENGTH = 32;

/** Every extension after the initial one is 512 KiB (`TFS_LOG_DEFAULT_EXTENSION_SIZE` in src/config.h). */
export const LOG_EXTENSION_SECTORS = 1024;
export const LOG_EXTENSION_BYTES = LOG_EXTENSION_SECTORS * SECTOR_SIZE;

export const RECORD_END_OF_LOG = 0x01;
export const RECORD_TUPLE_AVAILABLE = 0x02;
export const RECORD_TUPLE_EXTENDED = 0x03;
export const RECORD_END_OF_SEGMENT = 0x04;
export const RECORD_EXTENSION_LINK = 0x05;

// Space kept free in an extension, from src/fs/tlog.c: a link record and a
// TUPLE_AVAILABLE header each reserve a type byte and two maximal varints, and
// a record starts only while 32 more bytes fit.
const LINK_RECORD_RESERVE = 1 + 2 * MAX_VARINT_SIZE;
const TUPLE_HEADER_RESERVE = 1 + 2 * MAX_VARINT_SIZE;
const MIN_RECORD_SPACE = LINK_RECORD_RESERVE + TUPLE_HEADER_RESERVE + 32;

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8');

function pushExtensionHeader(out: ByteWriter, sizeInSectors: number): void {
  out.pushBytes(TFS_MAGIC);
  pushVarint(out, TFS_VERSION);
  pushVarint(out, sizeInSectors);
}

function padToSector(bytes: Uint8Array): Uint8Array {
  const padded = new Uint8Array(Math.ceil(bytes.length / SECTOR_SIZE) * SECTOR_SIZE);
  padded.set(bytes);
  return padded;
}

/** Returns the UTF-8 bytes of a label after checking that it fits the initial extension. */
export function encodeLabel(label: string): Uint8Array {
  const bytes = utf8Encoder.encode(label);
  if (bytes.length >= VOLUME_LABEL_MAX_LENGTH) {
    throw new NanosImageError(
      'invalid-option',
      `Label "${label}" is ${bytes.length} bytes of UTF-8, but a TFS label holds at most ${VOLUME_LABEL_MAX_LENGTH - 1}; shorten it.`,
    );
  }
  if (bytes.includes(0)) {
    throw new NanosImageError('invalid-option', `Label ${JSON.stringify(label)} contains a NUL character, which ends the label on disk; remove it.`);
  }
  return bytes;
}

/**
 * Returns filesystem sector 0: the initial extension with UUID and label, a
 * link to the first 1024-sector extension and END_OF_LOG, zero-padded to 512
 * bytes. Nanos mkfs writes the same bytes (`log_create` with initialize).
 */
export function encodeInitialExtension(uuid: Uint8Array, label: string, firstExtensionSector: number): Uint8Array {
  if (uuid.length !== UUID_LENGTH) {
    throw new NanosImageError('invalid-option', `A TFS UUID is ${UUID_LENGTH} bytes, but ${uuid.length} were given; pass 16 bytes.`);
  }

  const out = new ByteWriter(SECTOR_SIZE);
  pushExtensionHeader(out, 1);
  out.pushBytes(uuid);
  out.pushBytes(encodeLabel(label));
  out.pushByte(0);
  out.pushByte(RECORD_EXTENSION_LINK);
  pushVarint(out, firstExtensionSector);
  pushVarint(out, LOG_EXTENSION_SECTORS);
  out.pushByte(RECORD_END_OF_LOG);
  return padToSector(out.view());
}

/** A written log extension: where it sits and its bytes up to the last written sector. */
export interface LogExtensionImage {
  /** First sector, relative to the filesystem start. */
  sector: number;
  /** Size reserved for the extension, in sectors. */
  sectors: number;
  /** Bytes to write at `sector`, a multiple of 512 and at most `sectors` * 512. */
  bytes: Uint8Array;
}

/**
 * Frames log entries into 1024-sector extensions the way Nanos mkfs does.
 *
 * Entries are staged and written out when the staged bytes reach the size of
 * an extension (mkfs's `log_set_dirty`) and at `finish`. Writing out an entry
 * that does not fit splits it into a TUPLE_AVAILABLE chunk and TUPLE_EXTENDED
 * chunks in new extensions. `allocateExtension` returns the sector of each new
 * extension. It is called at the moment mkfs reserves one, so a caller that
 * emulates mkfs's allocator gets the same placement.
 */
export class LogWriter {
  private readonly done: LogExtensionImage[] = [];
  private currentSector: number;
  private current = new ByteWriter(4096);
  // Encoded entries waiting to be framed, back to back, like `tuple_staging` and `encoding_lengths` in src/fs/tlog.c.
  private readonly staging = new ByteWriter(64 * 1024);
  private stagedLengths: number[] = [];

  constructor(
    firstExtensionSector: number,
    private readonly allocateExtension: () => number,
  ) {
    this.currentSector = firstExtensionSector;
    pushExtensionHeader(this.current, LOG_EXTENSION_SECTORS);
  }

  /** Stages one log entry that `encode` appends to the staging buffer it is given. */
  appendEntry(encode: (out: ByteWriter) => void): void {
    const start = this.staging.length;
    encode(this.staging);
    const length = this.staging.length - start;
    if (length === 0) throw new RangeError('a log entry cannot be empty');

    this.stagedLengths.push(length);
    if (this.staging.length >= LOG_EXTENSION_BYTES) this.writeStaged();
  }

  /** Stages one encoded log entry. */
  append(entry: Uint8Array): void {
    this.appendEntry((out) => out.pushBytes(entry));
  }

  /** Writes all staged entries and END_OF_LOG, and returns every extension in chain order. */
  finish(): LogExtensionImage[] {
    this.writeStaged();
    this.current.pushByte(RECORD_END_OF_LOG);
    this.done.push(this.closeCurrent());
    return this.done;
  }

  private closeCurrent(): LogExtensionImage {
    return { sector: this.currentSector, sectors: LOG_EXTENSION_SECTORS, bytes: padToSector(this.current.view()) };
  }

  private writeStaged(): void {
    const staged = this.staging.view();
    let offset = 0;
    for (const length of this.stagedLengths) {
      this.writeEntry(staged.subarray(offset, offset + length));
      offset += length;
    }
    this.staging.clear();
    this.stagedLengths = [];
  }

  private writeEntry(entry: Uint8Array): void {
    let written = 0;
    do {
      if (this.current.length + MIN_RECORD_SPACE >= LOG_EXTENSION_BYTES) this.extend();

      const available = LOG_EXTENSION_BYTES - (this.current.length + LINK_RECORD_RESERVE + TUPLE_HEADER_RESERVE);
      const remaining = entry.length - written;
      const chunk = Math.min(available, remaining);
      if (written === 0) {
        this.current.pushByte(RECORD_TUPLE_AVAILABLE);
        pushVarint(this.current, entry.length);
      } else {
        this.current.pushByte(RECORD_TUPLE_EXTENDED);
      }
      pushVarint(this.current, chunk);
      this.current.pushBytes(entry.subarray(written, written + chunk));
      written += chunk;
    } while (written < entry.length);
  }

  // mkfs ends a full extension with the link and an END_OF_LOG after it.
  private extend(): void {
    const nextSector = this.allocateExtension();
    this.current.pushByte(RECORD_EXTENSION_LINK);
    pushVarint(this.current, nextSector);
    pushVarint(this.current, LOG_EXTENSION_SECTORS);
    this.current.pushByte(RECORD_END_OF_LOG);
    this.done.push(this.closeCurrent());

    this.currentSector = nextSector;
    this.current = new ByteWriter(LOG_EXTENSION_BYTES);
    pushExtensionHeader(this.current, LOG_EXTENSION_SECTORS);
  }
}

/** One log entry reassembled from its TUPLE_AVAILABLE and TUPLE_EXTENDED chunks. */
export interface LogEntry {
  bytes: Uint8Array;
  /** True when the extension that completed the entry is version 4, whose value encoding differs. */
  oldEncoding: boolean;
  /** Sector of the extension holding the TUPLE_AVAILABLE record. */
  extensionSector: number;
  /** Byte offset of that record inside its extension. */
  recordOffset: number;
}

export interface LogExtensionInfo {
  sector: number;
  sectors: number;
  version: number;
  /** The size field of the extension's header, which Nanos does not check. */
  declaredSectors: number;
}

export interface LogContents {
  uuid: Uint8Array;
  label: string;
  /** Version of the initial extension: 5, or 4 for logs written by old tools. */
  version: number;
  /** Every extension in chain order, the initial one first. */
  extensions: LogExtensionInfo[];
  entries: LogEntry[];
  /** Offset of END_OF_LOG inside the last extension, where the kernel appends. */
  endOffset: number;
  /** Oddities that Nanos accepts but a writer should not produce. */
  warnings: string[];
}

/** Reads `count` sectors at `sector`, relative to the filesystem start. */
export type SectorReader = (sector: number, count: number) => Promise<Uint8Array>;

interface ParsedHeader {
  version: number;
  declaredSectors: number;
  uuid?: Uint8Array;
  label?: string;
  next: number;
}

function parseExtensionHeader(bytes: Uint8Array, initial: boolean, context: string): ParsedHeader {
  for (let i = 0; i < TFS_MAGIC.length; i++) {
    if (bytes[i] !== TFS_MAGIC[i]) {
      throw new NanosImageError('corrupt-image', `${context}: the log extension does not start with the TFS magic "NVMTFS".`);
    }
  }

  const version = readSmallVarint(bytes, TFS_MAGIC.length, context);
  if (version.value !== TFS_VERSION && version.value !== TFS_OLD_VERSION) {
    throw new NanosImageError(
      'corrupt-image',
      `${context}: TFS version ${version.value} is not supported; Nanos reads versions ${TFS_OLD_VERSION} and ${TFS_VERSION}.`,
    );
  }
  const size = readSmallVarint(bytes, version.next, context);
  if (!initial) return { version: version.value, declaredSectors: size.value, next: size.next };

  const uuidEnd = size.next + UUID_LENGTH;
  const uuid = bytes.slice(size.next, uuidEnd);
  const labelWindow = bytes.subarray(uuidEnd, uuidEnd + VOLUME_LABEL_MAX_LENGTH);
  const nul = labelWindow.indexOf(0);
  if (uuid.length !== UUID_LENGTH || nul < 0) {
    throw new NanosImageError('corrupt-image', `${context}: the label has no NUL within ${VOLUME_LABEL_MAX_LENGTH} bytes, so Nanos cannot mount it.`);
  }
  const label = utf8Decoder.decode(labelWindow.subarray(0, nul));
  return { version: version.value, declaredSectors: size.value, uuid, label, next: uuidEnd + nul + 1 };
}

/**
 * Reads a whole log: the initial extension at sector 0 and every linked
 * extension, and reassembles the entries. `totalSectors` bounds link targets.
 * Throws a `corrupt-image` error, naming `context`, on anything Nanos would
 * reject, and also on extensions that overlap or leave the filesystem, because
 * Nanos would only log those and then corrupt data on its next write.
 */
export async function readLog(readSectors: SectorReader, totalSectors: number, context: string): Promise<LogContents> {
  const warnings: string[] = [];
  const extensions: LogExtensionInfo[] = [];
  const entries: LogEntry[] = [];

  let sector = 0;
  let sectors = 1;
  let bytes = await readSectors(0, 1);
  const initial = parseExtensionHeader(bytes, true, `${context}, sector 0`);
  if (initial.declaredSectors !== 1) warnings.push(`the initial log extension declares ${initial.declaredSectors} sectors instead of 1`);
  extensions.push({ sector: 0, sectors: 1, version: initial.version, declaredSectors: initial.declaredSectors });

  let version = initial.version;
  let position = initial.next;
  let pending: { chunks: Uint8Array[]; total: number; remaining: number; extensionSector: number; recordOffset: number } | undefined;

  for (;;) {
    const where = `${context}, log extension at sector ${sector}, byte ${position}`;
    const type = bytes[position];
    if (type === undefined) throw new NanosImageError('corrupt-image', `${where}: the extension ends without END_OF_LOG or a link.`);
    const recordOffset = position;
    position += 1;

    if (type === RECORD_END_OF_LOG) break;
    if (type === RECORD_END_OF_SEGMENT) continue;

    if (type === RECORD_EXTENSION_LINK) {
      const target = readSmallVarint(bytes, position, where);
      const length = readSmallVarint(bytes, target.next, where);
      if (length.value === 0) throw new NanosImageError('corrupt-image', `${where}: a link points at a zero-length extension.`);
      if (target.value + length.value > totalSectors) {
        throw new NanosImageError(
          'corrupt-image',
          `${where}: a link points at sectors ${target.value}..${target.value + length.value - 1}, past the filesystem's ${totalSectors} sectors.`,
        );
      }
      for (const seen of extensions) {
        if (target.value < seen.sector + seen.sectors && seen.sector < target.value + length.value) {
          throw new NanosImageError(
            'corrupt-image',
            `${where}: a link points at sectors ${target.value}..${target.value + length.value - 1}, which overlap the extension at sector ${seen.sector}.`,
          );
        }
      }
      if (length.value !== 1024) warnings.push(`the log extension at sector ${target.value} is ${length.value} sectors; writers use 1024`);

      sector = target.value;
      sectors = length.value;
      bytes = await readSectors(sector, sectors);
      const header = parseExtensionHeader(bytes, false, `${context}, log extension at sector ${sector}`);
      if (header.declaredSectors !== sectors) {
        warnings.push(`the log extension at sector ${sector} declares ${header.declaredSectors} sectors but the link gives ${sectors}`);
      }
      extensions.push({ sector, sectors, version: header.version, declaredSectors: header.declaredSectors });
      version = header.version;
      position = header.next;
      continue;
    }

    if (type === RECORD_TUPLE_AVAILABLE) {
      if (pending) {
        throw new NanosImageError('corrupt-image', `${where}: TUPLE_AVAILABLE while ${pending.remaining} bytes of the previous entry are still missing.`);
      }
      const total = readSmallVarint(bytes, position, where);
      const chunk = readSmallVarint(bytes, total.next, where);
      position = chunk.next;
      if (chunk.value > total.value || chunk.value + 1 > bytes.length - position) {
        throw new NanosImageError(
          'corrupt-image',
          `${where}: TUPLE_AVAILABLE has chunk length ${chunk.value} for an entry of ${total.value} bytes with ${bytes.length - position} bytes left in the extension.`,
        );
      }
      if (total.value === 0) throw new NanosImageError('corrupt-image', `${where}: TUPLE_AVAILABLE announces an empty entry.`);

      const data = bytes.slice(position, position + chunk.value);
      position += chunk.value;
      if (chunk.value === total.value) {
        entries.push({ bytes: data, oldEncoding: version === TFS_OLD_VERSION, extensionSector: sector, recordOffset });
      } else {
        pending = { chunks: [data], total: total.value, remaining: total.value - chunk.value, extensionSector: sector, recordOffset };
      }
      continue;
    }

    if (type === RECORD_TUPLE_EXTENDED) {
      const chunk = readSmallVarint(bytes, position, where);
      position = chunk.next;
      if (!pending || chunk.value > pending.remaining || chunk.value > bytes.length - position) {
        throw new NanosImageError(
          'corrupt-image',
          `${where}: TUPLE_EXTENDED of ${chunk.value} bytes exceeds the ${pending?.remaining ?? 0} bytes the pending entry still needs.`,
        );
      }

      pending.chunks.push(bytes.slice(position, position + chunk.value));
      pending.remaining -= chunk.value;
      position += chunk.value;
      if (pending.remaining === 0) {
        entries.push({
          bytes: Buffer.concat(pending.chunks),
          oldEncoding: version === TFS_OLD_VERSION,
          extensionSector: pending.extensionSector,
          recordOffset: pending.recordOffset,
        });
        pending = undefined;
      }
      continue;
    }

    throw new NanosImageError('corrupt-image', `${where}: record type 0x${type.toString(16)} is unknown.`);
  }

  if (pending) warnings.push(`the log ends with ${pending.remaining} bytes of an entry missing; Nanos ignores that entry`);

  return {
    uuid: initial.uuid!,
    label: initial.label!,
    version: initial.version,
    extensions,
    entries,
    endOffset: position - 1,
    warnings,
  };
}
