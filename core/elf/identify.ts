// Recognition of inputs that cannot run as a Linux program on the target, with
// messages that state what the input is and what to do instead. Magic numbers:
// Mach-O from Apple's <mach-o/loader.h> and <mach-o/fat.h>, PE/COFF from the
// Microsoft PE format, MBR from the IBM PC boot sector layout, the Nanos boot
// sector's region record from its stage-1 loader.

import { describe } from './binary';
import {
  ELFOSABI_FREEBSD,
  ELFOSABI_NETBSD,
  ELFOSABI_OPENBSD,
  ELFOSABI_SOLARIS,
  EM_X86_64,
  ET_CORE,
  ET_DYN,
  ET_EXEC,
  ET_REL,
  elfTypeName,
  machineName,
  osAbiName,
} from './constants';
import { ElfError } from './errors';
import { hasElfMagic, isElfMagicPrefix } from './header';
import type { ElfInfo, TargetArch } from './types';

/** Number of leading bytes identifyNonElf looks at; callers should pass at least this many when the file has them. */
export const IDENTIFY_HEAD_SIZE = 4096;

/** The target Nanos runs on: 64-bit little-endian x86_64. */
export const TARGET_X86_64: TargetArch = { class: 64, byteOrder: 'little', machine: EM_X86_64, name: 'x86_64' };

const LINUX_BUILD_HINT = 'build it for Linux, e.g. GOOS=linux GOARCH=amd64 go build, or with a Linux C toolchain';

/**
 * Returns the ElfError that describes a non-ELF input from its first bytes
 * (see IDENTIFY_HEAD_SIZE), or undefined when the bytes start with the ELF
 * magic. `path` names the file in the message.
 */
export function identifyNonElf(head: Uint8Array, path?: string): ElfError | undefined {
  const name = describe(path);
  if (hasElfMagic(head)) {
    return undefined;
  }
  if (head.length === 0) {
    return new ElfError('empty', `${name} is empty (0 bytes), not a program: rebuild it or check the path`, path);
  }
  if (isElfMagicPrefix(head)) {
    return new ElfError('truncated', `${name} is truncated: it has ${head.length} bytes, fewer than the ELF magic and header`, path);
  }

  return (
    identifyMachO(head, name, path) ??
    identifyScript(head, name, path) ??
    identifyWindows(head, name, path) ??
    identifyArchive(head, name, path) ??
    identifyDiskImage(head, name, path) ??
    identifyOther(head, name, path)
  );
}

/**
 * Throws ElfError unless `info` describes a program that can run on `target`:
 * ET_EXEC or ET_DYN, no EI_OSABI of FreeBSD, NetBSD, OpenBSD or Solaris, the
 * target's class, byte order and e_machine, and not a shared library (unless
 * `allowSharedLibrary`, for listing a library's own dependencies). glibc's libc.so.6 and the
 * dynamic loader can be executed on Linux, but only to print their version
 * or run another program, so they are rejected like every other library.
 */
export function assertRunnableProgram(info: ElfInfo, target: TargetArch, path?: string, options: { allowSharedLibrary?: boolean } = {}): void {
  const name = describe(path);
  const header = info.header;

  if (header.type === ET_REL) {
    throw new ElfError('object-file', `${name} is an object file (ET_REL), not a program: link it into a program, e.g. gcc -o app ${path ?? 'file.o'}`, path);
  }
  if (header.type === ET_CORE) {
    throw new ElfError('core-dump', `${name} is a core dump (ET_CORE), not a program: give the program that produced it`, path);
  }
  if (header.type !== ET_EXEC && header.type !== ET_DYN) {
    throw new ElfError('not-a-program', `${name} has ${elfTypeName(header.type)}, which no loader runs: expected an executable (ET_EXEC or ET_DYN)`, path);
  }

  const osAbi = header.ident.osAbi;
  if (osAbi === ELFOSABI_FREEBSD || osAbi === ELFOSABI_NETBSD || osAbi === ELFOSABI_OPENBSD || osAbi === ELFOSABI_SOLARIS) {
    throw new ElfError('wrong-os', `${name} is a ${osAbiName(osAbi)} program (EI_OSABI ${osAbi}); Nanos runs Linux ELF programs: ${LINUX_BUILD_HINT}`, path);
  }

  checkArchitecture(info, target, name, path);

  if (info.classification.kind === 'shared-library' && !options.allowSharedLibrary) {
    const soname = info.dynamic?.soname === undefined ? '' : ` (soname ${info.dynamic.soname})`;
    throw new ElfError(
      'not-a-program',
      `${name} is a shared library${soname}, not a program: give the program that uses it, and its libraries are collected from its DT_NEEDED entries`,
      path,
    );
  }
}

function checkArchitecture(info: ElfInfo, target: TargetArch, name: string, path: string | undefined): void {
  const { ident, machine } = info.header;
  const x32 = ident.class === 32 && machine === EM_X86_64;
  const found = `ELF${ident.class} ${machineName(machine)}${x32 ? ' x32 ABI' : ''} (e_machine ${machine}${ident.byteOrder === 'big' ? ', big-endian' : ''})`;
  const expected = `${target.name} (ELF${target.class}, e_machine ${target.machine}${target.byteOrder === 'big' ? ', big-endian' : ''})`;

  if (ident.class !== target.class) {
    let hint = `rebuild it as an ELF${target.class} ${target.name} program`;
    if (x32) {
      hint = 'the x32 ABI is not supported: rebuild it without -mx32';
    } else if (ident.class === 32) {
      hint += ' (e.g. without -m32)';
    }
    throw new ElfError('wrong-class', `${name} is ${found}, but the target is ${expected}: ${hint}`, path);
  }
  if (machine !== target.machine) {
    throw new ElfError('wrong-machine', `${name} is ${found}, but the target is ${expected}: build it for ${target.name}${buildExample(target)}`, path);
  }
  if (ident.byteOrder !== target.byteOrder) {
    throw new ElfError('wrong-byte-order', `${name} is ${found}, but the target is ${expected}: build it for ${target.byteOrder}-endian ${target.name}`, path);
  }
}

function buildExample(target: TargetArch): string {
  if (target.machine === EM_X86_64) {
    return ', e.g. GOARCH=amd64 for Go, or gcc on an x86_64 Linux host';
  }
  return '';
}

// Mach-O: thin files start with MH_MAGIC/MH_MAGIC_64 in the file's byte
// order; universal ("fat") files start with FAT_MAGIC 0xcafebabe in
// big-endian. Java class files share 0xcafebabe, but where a fat file has
// its architecture count (small) they have the class file version, whose
// major part is 45 or more.
const MACHO_CPU_NAMES: Record<number, string> = {
  7: 'i386',
  0x01000007: 'x86_64',
  12: 'arm',
  0x0100000c: 'arm64',
  0x0200000c: 'arm64_32',
  18: 'ppc',
  0x01000012: 'ppc64',
};

function identifyMachO(head: Uint8Array, name: string, path: string | undefined): ElfError | undefined {
  if (head.length < 8) {
    return undefined;
  }
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const magic = view.getUint32(0, false);

  const thin: Record<number, { bits: number; little: boolean }> = {
    0xfeedface: { bits: 32, little: false },
    0xcefaedfe: { bits: 32, little: true },
    0xfeedfacf: { bits: 64, little: false },
    0xcffaedfe: { bits: 64, little: true },
  };
  const layout = thin[magic];
  if (layout !== undefined) {
    const cpu = cpuName(view.getUint32(4, layout.little));
    return machOError(`Mach-O ${layout.bits}-bit, ${cpu}`, name, path);
  }

  if (magic === 0xcafebabe || magic === 0xcafebabf) {
    const count = view.getUint32(4, false);
    if (magic === 0xcafebabe && count >= 45) {
      return new ElfError(
        'not-elf',
        `${name} is a Java class file, not a Linux ELF program: make the Java runtime (e.g. /usr/bin/java) the program and pass the class or JAR as an argument`,
        path,
      );
    }
    const entrySize = magic === 0xcafebabe ? 20 : 32;
    const cpus: string[] = [];
    for (let index = 0; index < count && 8 + (index + 1) * entrySize <= head.length && index < 16; index++) {
      cpus.push(cpuName(view.getUint32(8 + index * entrySize, false)));
    }
    const list = cpus.length === 0 ? `${count} architectures` : cpus.join(' + ');
    return machOError(`universal Mach-O, ${list}`, name, path);
  }
  return undefined;
}

function cpuName(cpuType: number): string {
  return MACHO_CPU_NAMES[cpuType] ?? `cputype 0x${cpuType.toString(16)}`;
}

function machOError(kind: string, name: string, path: string | undefined): ElfError {
  return new ElfError('mach-o', `${name} is a macOS program (${kind}); Nanos runs Linux ELF programs: ${LINUX_BUILD_HINT}`, path);
}

function identifyWindows(head: Uint8Array, name: string, path: string | undefined): ElfError | undefined {
  if (head[0] !== 0x4d || head[1] !== 0x5a) {
    return undefined;
  }
  // e_lfanew at 0x3c points at the "PE\0\0" signature of a Windows program;
  // without one the file is a plain MS-DOS program.
  let kind = 'an MS-DOS program (MZ)';
  if (head.length >= 0x40) {
    const peOffset = new DataView(head.buffer, head.byteOffset, head.byteLength).getUint32(0x3c, true);
    if (peOffset + 4 <= head.length && head[peOffset] === 0x50 && head[peOffset + 1] === 0x45 && head[peOffset + 2] === 0 && head[peOffset + 3] === 0) {
      kind = 'a Windows program (PE/COFF)';
    } else if (peOffset + 4 > head.length) {
      kind = 'a Windows or MS-DOS program (MZ)';
    }
  }
  const hint = 'build it for Linux, e.g. GOOS=linux (not windows) GOARCH=amd64 go build, or with a Linux C toolchain';
  return new ElfError('pe', `${name} is ${kind}; Nanos runs Linux ELF programs: ${hint}`, path);
}

/**
 * Builds the error for a "#!" script. The line names the interpreter the
 * kernel would run with the script as its argument. Nanos starts one ELF
 * program, so the interpreter must be the program and the script one of its
 * arguments.
 */
function identifyScript(head: Uint8Array, name: string, path: string | undefined): ElfError | undefined {
  if (head[0] !== 0x23 || head[1] !== 0x21) {
    return undefined;
  }
  const lineEnd = head.indexOf(0x0a);
  const line = Buffer.from(head.buffer, head.byteOffset, lineEnd < 0 ? Math.min(head.length, 256) : lineEnd).toString('utf8');
  const words = line.slice(2).trim().split(/\s+/).filter((word) => word !== '');
  const interpreter = words[0] ?? '';
  const scriptArgument = path === undefined ? 'the script' : path.slice(path.lastIndexOf('/') + 1);

  if (interpreter === '') {
    return new ElfError('script', `${name} is a script with an empty #! line, not an ELF program: make its interpreter the program and pass the script as an argument`, path);
  }

  // "#!/usr/bin/env NAME" finds NAME on PATH at run time; the image needs the real binary.
  const viaEnv = interpreter.endsWith('/env') && words[1] !== undefined;
  const program = viaEnv ? `the path of ${words[1]} (e.g. /usr/bin/${words[1]})` : interpreter;
  const description = viaEnv ? `${words[1]} via ${interpreter}` : interpreter;
  return new ElfError(
    'script',
    `${name} is a script for ${description} (${line.trim()}), not an ELF program. Nanos starts an ELF program, so make the interpreter the program and the script its argument: program ${program} with args [${scriptArgument}], and add the script to the image's files`,
    path,
  );
}

function identifyArchive(head: Uint8Array, name: string, path: string | undefined): ElfError | undefined {
  const text = Buffer.from(head.buffer, head.byteOffset, Math.min(head.length, 512)).toString('latin1');

  if (text.startsWith('!<arch>\n')) {
    const kind = text.includes('debian-binary') ? 'a Debian package (.deb, an ar archive)' : 'an ar archive (a static library such as libfoo.a)';
    return new ElfError('archive', `${name} is ${kind}, not a program: link a static library into a program, or extract the program from the package`, path);
  }

  const compressed: [string, string][] = [
    ['\x1f\x8b', 'gzip-compressed'],
    ['\xfd7zXZ\x00', 'xz-compressed'],
    ['BZh', 'bzip2-compressed'],
    ['\x28\xb5\x2f\xfd', 'zstd-compressed'],
  ];
  for (const [magic, kind] of compressed) {
    if (text.startsWith(magic)) {
      return new ElfError('archive', `${name} is ${kind}, not a program: unpack it and give the program inside`, path);
    }
  }
  if (text.startsWith('PK\x03\x04')) {
    return new ElfError('archive', `${name} is a zip archive (or a JAR), not a program: unpack it and give the program inside, or for a JAR make the Java runtime the program`, path);
  }
  if (text.length >= 262 && text.slice(257, 262) === 'ustar') {
    return new ElfError('archive', `${name} is a tar archive, not a program: unpack it and give the program inside`, path);
  }
  return undefined;
}

function identifyDiskImage(head: Uint8Array, name: string, path: string | undefined): ElfError | undefined {
  const text = Buffer.from(head.buffer, head.byteOffset, Math.min(head.length, 8)).toString('latin1');
  const advice = 'give the Linux program to put in an image instead';
  if (text.startsWith('QFI\xfb')) {
    return new ElfError('disk-image', `${name} is a QEMU qcow2 disk image, not a program: ${advice}`, path);
  }
  if (text.startsWith('KDMV')) {
    return new ElfError('disk-image', `${name} is a VMDK disk image, not a program: ${advice}`, path);
  }
  if (text === 'vhdxfile') {
    return new ElfError('disk-image', `${name} is a VHDX disk image, not a program: ${advice}`, path);
  }

  if (head.length < 512 || head[510] !== 0x55 || head[511] !== 0xaa) {
    return undefined;
  }
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);

  // The Nanos stage-1 boot sector keeps a region record before the
  // partition table: base 0x8000 (where stage 2 loads) and type 12.
  if (view.getUint32(0x1ba, true) === 12 && view.getBigUint64(0x1aa, true) === 0x8000n) {
    return new ElfError('disk-image', `${name} is a Nanos disk image (the output of an earlier build), not a program: ${advice}`, path);
  }

  if (head.length >= 520 && Buffer.from(head.buffer, head.byteOffset + 512, 8).toString('latin1') === 'EFI PART') {
    return new ElfError('disk-image', `${name} is a disk image with a GPT partition table, not a program: ${advice}`, path);
  }
  for (let entry = 0; entry < 4; entry++) {
    const at = 0x1be + entry * 16;
    const status = head[at] ?? 0;
    const type = head[at + 4] ?? 0;
    if ((status === 0x00 || status === 0x80) && type !== 0) {
      return new ElfError('disk-image', `${name} is a disk image with an MBR partition table, not a program: ${advice}`, path);
    }
  }
  return undefined;
}

function identifyOther(head: Uint8Array, name: string, path: string | undefined): ElfError {
  if (head[0] === 0x00 && head[1] === 0x61 && head[2] === 0x73 && head[3] === 0x6d) {
    return new ElfError('not-elf', `${name} is a WebAssembly module, not a Linux ELF program: make a WebAssembly runtime the program and pass the module as an argument`, path);
  }
  if (looksLikeText(head)) {
    return new ElfError('not-elf', `${name} is a text file, not an ELF program: give the path of the compiled Linux program`, path);
  }
  const first = Array.from(head.subarray(0, 4), (byte) => byte.toString(16).padStart(2, '0')).join(' ');
  return new ElfError('not-elf', `${name} is not an ELF file (it starts with bytes ${first}, not 7f 45 4c 46): give the path of a compiled Linux program`, path);
}

function looksLikeText(head: Uint8Array): boolean {
  const sample = head.subarray(0, 512);
  for (const byte of sample) {
    const printable = byte >= 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d || byte === 0x0c;
    if (!printable || byte === 0x7f) {
      return false;
    }
  }
  return sample.length > 0;
}
