// Shapes of what the ELF reader returns. Field names follow the ELF gABI and
// Go's debug/elf, so a reader who knows either can map them one to one.

export type ElfClass = 32 | 64;
export type ByteOrder = 'little' | 'big';

/** The first 16 bytes of the file (e_ident), which do not depend on byte order. */
export interface ElfIdent {
  class: ElfClass;
  byteOrder: ByteOrder;
  /** EI_VERSION; 1 (EV_CURRENT) in every valid file. */
  version: number;
  /** EI_OSABI: 0 SYSV, 3 GNU/Linux, 9 FreeBSD, ... */
  osAbi: number;
  abiVersion: number;
  /** True when bytes 9 to 15 (EI_PAD) are all zero; glibc rejects a library otherwise. */
  paddingZero: boolean;
}

export interface ElfHeader {
  ident: ElfIdent;
  /** e_type: 1 ET_REL, 2 ET_EXEC, 3 ET_DYN, 4 ET_CORE. */
  type: number;
  /** e_machine, e.g. 62 EM_X86_64, 183 EM_AARCH64. */
  machine: number;
  version: number;
  entry: bigint;
  phoff: number;
  shoff: number;
  flags: number;
  ehsize: number;
  phentsize: number;
  /** Program header count, with PN_XNUM already replaced by sh_info of section 0. */
  phnum: number;
  shentsize: number;
  /** Section header count, with 0 replaced by sh_size of section 0 when the count does not fit in e_shnum. */
  shnum: number;
  /** Section name table index, with SHN_XINDEX replaced by sh_link of section 0. */
  shstrndx: number;
}

export interface ProgramHeader {
  type: number;
  flags: number;
  offset: number;
  vaddr: number;
  paddr: number;
  filesz: number;
  memsz: number;
  align: number;
}

/** What the dynamic section (found through PT_DYNAMIC) says about loading. */
export interface DynamicInfo {
  /** DT_NEEDED strings, in file order, duplicates kept. */
  needed: string[];
  soname?: string;
  /** DT_RPATH as written (colon list, tokens not expanded). */
  rpath?: string;
  /** DT_RUNPATH as written. */
  runpath?: string;
  /** DT_FLAGS value, 0 when absent. */
  flags: number;
  /** DT_FLAGS_1 value, 0 when absent (DF_1_NODEFLIB 0x800, DF_1_PIE 0x08000000). */
  flags1: number;
  /** DT_FILTER names (a failure to load one is fatal in glibc). */
  filters: string[];
  /** DT_AUXILIARY names (a failure to load one is ignored). */
  auxiliaries: string[];
  /** True when DT_DEBUG is present: executables have it, libraries do not. */
  hasDebug: boolean;
  /** Number of entries read before DT_NULL. */
  entryCount: number;
}

export type SymbolBinding = 'local' | 'global' | 'weak' | 'unique' | 'other';

/** An undefined (SHN_UNDEF) dynamic symbol with a name: something the object imports. */
export interface ImportedSymbol {
  name: string;
  binding: SymbolBinding;
  /** Required version from DT_VERSYM and DT_VERNEED, e.g. "GLIBC_2.34". */
  version?: string;
  /** The DT_NEEDED-style file name that must provide the version, e.g. "libc.so.6". */
  versionFile?: string;
}

/** One DT_VERNEED record: the versions this object needs from one file. */
export interface VersionNeed {
  file: string;
  versions: { name: string; weak: boolean }[];
}

export interface ElfNotes {
  /** NT_GNU_ABI_TAG: the minimum kernel the glibc program was built for. */
  abiTag?: { os: number; major: number; minor: number; patch: number };
  /** NT_GNU_BUILD_ID as lower-case hex. */
  buildId?: string;
  /** The Go linker's build id note (owner "Go", type 4). */
  goBuildId?: string;
  /** x86 ISA level needed (GNU_PROPERTY_X86_ISA_1_NEEDED bits: 1 baseline, 2 v2, 4 v3, 8 v4). */
  x86IsaNeeded?: number;
}

/**
 * Link kind of the file. 'not-loadable' covers every e_type other than
 * ET_EXEC and ET_DYN (object files, core dumps), which no loader runs.
 */
export type LinkKind = 'dynamic' | 'static' | 'static-pie' | 'shared-library' | 'not-loadable';
export type LibcFlavour = 'glibc' | 'musl' | 'bionic' | 'uclibc' | 'none' | 'unknown';

export interface GoInfo {
  /** The Go version from the build info blob, e.g. "go1.19.8", when it could be read. */
  version?: string;
  /** CGO_ENABLED from the build settings; undefined when the blob has no settings. */
  cgo?: boolean;
}

export interface Classification {
  kind: LinkKind;
  libc: LibcFlavour;
  /** True for position-independent executables (DF_1_PIE, or an ET_DYN program). */
  pie: boolean;
  /** Present when the file is a Go program. */
  go?: GoInfo;
}

/** Everything the resolver and the image builder need from one ELF file. */
export interface ElfInfo {
  header: ElfHeader;
  programHeaders: ProgramHeader[];
  /** PT_INTERP string without its NUL. */
  interpreter?: string;
  /** Absent when the file has no PT_DYNAMIC. */
  dynamic?: DynamicInfo;
  notes: ElfNotes;
  classification: Classification;
  /** Present only when requested (readElf option `symbols`). */
  imports?: ImportedSymbol[];
  versionNeeds?: VersionNeed[];
  /** Version names this object defines (DT_VERDEF), without the BASE entry. */
  versionDefinitions?: string[];
}

/** The architecture a program must match to run on the target kernel. */
export interface TargetArch {
  class: ElfClass;
  byteOrder: ByteOrder;
  machine: number;
  /** Human name used in messages, e.g. "x86_64". */
  name: string;
}
