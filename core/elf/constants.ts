// ELF constants with their gABI names. Values come from the System V ABI
// (gABI) and the GNU extensions listed in glibc's elf/elf.h.

/** e_ident indexes and values. */
export const EI_CLASS = 4;
export const EI_DATA = 5;
export const EI_VERSION = 6;
export const EI_OSABI = 7;
export const EI_ABIVERSION = 8;
export const EI_PAD = 9;
export const EI_NIDENT = 16;

export const ELFCLASS32 = 1;
export const ELFCLASS64 = 2;
export const ELFDATA2LSB = 1;
export const ELFDATA2MSB = 2;
export const EV_CURRENT = 1;

export const ELFOSABI_SYSV = 0;
export const ELFOSABI_NETBSD = 2;
export const ELFOSABI_GNU = 3;
export const ELFOSABI_SOLARIS = 6;
export const ELFOSABI_FREEBSD = 9;
export const ELFOSABI_OPENBSD = 12;
export const ELFOSABI_ARM_AEABI = 64;

/** Sizes of the file header, program header and section header per class. */
export const EHDR_SIZE = { 32: 52, 64: 64 } as const;
export const PHDR_SIZE = { 32: 32, 64: 56 } as const;
export const SHDR_SIZE = { 32: 40, 64: 64 } as const;
export const SYM_SIZE = { 32: 16, 64: 24 } as const;

/** e_type values. */
export const ET_NONE = 0;
export const ET_REL = 1;
export const ET_EXEC = 2;
export const ET_DYN = 3;
export const ET_CORE = 4;

const ELF_TYPE_NAMES: Record<number, string> = {
  [ET_NONE]: 'ET_NONE',
  [ET_REL]: 'ET_REL',
  [ET_EXEC]: 'ET_EXEC',
  [ET_DYN]: 'ET_DYN',
  [ET_CORE]: 'ET_CORE',
};

/** Returns the gABI name of an e_type value, e.g. "ET_DYN", or "e_type 0xfe00" when unknown. */
export function elfTypeName(type: number): string {
  return ELF_TYPE_NAMES[type] ?? `e_type 0x${type.toString(16)}`;
}

/** Program header count escape: the real count is in sh_info of section header 0. */
export const PN_XNUM = 0xffff;

/** p_type values. */
export const PT_NULL = 0;
export const PT_LOAD = 1;
export const PT_DYNAMIC = 2;
export const PT_INTERP = 3;
export const PT_NOTE = 4;
export const PT_SHLIB = 5;
export const PT_PHDR = 6;
export const PT_TLS = 7;
export const PT_GNU_EH_FRAME = 0x6474e550;
export const PT_GNU_STACK = 0x6474e551;
export const PT_GNU_RELRO = 0x6474e552;
export const PT_GNU_PROPERTY = 0x6474e553;

/** p_flags bits. */
export const PF_X = 1;
export const PF_W = 2;
export const PF_R = 4;

/** d_tag values used by the reader. */
export const DT_NULL = 0;
export const DT_NEEDED = 1;
export const DT_PLTRELSZ = 2;
export const DT_PLTGOT = 3;
export const DT_HASH = 4;
export const DT_STRTAB = 5;
export const DT_SYMTAB = 6;
export const DT_RELA = 7;
export const DT_RELASZ = 8;
export const DT_RELAENT = 9;
export const DT_STRSZ = 10;
export const DT_SYMENT = 11;
export const DT_INIT = 12;
export const DT_FINI = 13;
export const DT_SONAME = 14;
export const DT_RPATH = 15;
export const DT_SYMBOLIC = 16;
export const DT_REL = 17;
export const DT_RELSZ = 18;
export const DT_RELENT = 19;
export const DT_PLTREL = 20;
export const DT_DEBUG = 21;
export const DT_TEXTREL = 22;
export const DT_JMPREL = 23;
export const DT_BIND_NOW = 24;
export const DT_INIT_ARRAY = 25;
export const DT_FINI_ARRAY = 26;
export const DT_INIT_ARRAYSZ = 27;
export const DT_FINI_ARRAYSZ = 28;
export const DT_RUNPATH = 29;
export const DT_FLAGS = 30;
export const DT_PREINIT_ARRAY = 32;
export const DT_SYMTAB_SHNDX = 34;
export const DT_RELR = 36;
export const DT_GNU_HASH = 0x6ffffef5;
export const DT_DEPAUDIT = 0x6ffffefb;
export const DT_AUDIT = 0x6ffffefc;
export const DT_VERSYM = 0x6ffffff0;
export const DT_FLAGS_1 = 0x6ffffffb;
export const DT_VERDEF = 0x6ffffffc;
export const DT_VERDEFNUM = 0x6ffffffd;
export const DT_VERNEED = 0x6ffffffe;
export const DT_VERNEEDNUM = 0x6fffffff;
export const DT_AUXILIARY = 0x7ffffffd;
export const DT_FILTER = 0x7fffffff;

/**
 * Tags whose d_val is a virtual address of a table inside the object (d_ptr).
 * The reader uses them to find where the dynamic symbol table ends when no
 * section headers give its size.
 */
export const ADDRESS_TAGS: readonly number[] = [
  DT_PLTGOT,
  DT_HASH,
  DT_STRTAB,
  DT_SYMTAB,
  DT_RELA,
  DT_INIT,
  DT_FINI,
  DT_REL,
  DT_JMPREL,
  DT_INIT_ARRAY,
  DT_FINI_ARRAY,
  DT_PREINIT_ARRAY,
  DT_SYMTAB_SHNDX,
  DT_RELR,
  DT_GNU_HASH,
  DT_VERSYM,
  DT_VERDEF,
  DT_VERNEED,
];

/** DT_FLAGS bits. */
export const DF_ORIGIN = 0x1;
export const DF_SYMBOLIC = 0x2;
export const DF_TEXTREL = 0x4;
export const DF_BIND_NOW = 0x8;
export const DF_STATIC_TLS = 0x10;

/** DT_FLAGS_1 bits. */
export const DF_1_NOW = 0x1;
export const DF_1_GLOBAL = 0x2;
export const DF_1_NODELETE = 0x8;
export const DF_1_INITFIRST = 0x20;
export const DF_1_NOOPEN = 0x40;
export const DF_1_ORIGIN = 0x80;
export const DF_1_NODEFLIB = 0x800;
export const DF_1_PIE = 0x08000000;

/** sh_type values. */
export const SHT_NULL = 0;
export const SHT_PROGBITS = 1;
export const SHT_SYMTAB = 2;
export const SHT_STRTAB = 3;
export const SHT_RELA = 4;
export const SHT_HASH = 5;
export const SHT_DYNAMIC = 6;
export const SHT_NOTE = 7;
export const SHT_NOBITS = 8;
export const SHT_REL = 9;
export const SHT_DYNSYM = 11;
export const SHT_GNU_HASH = 0x6ffffff6;
export const SHT_GNU_VERDEF = 0x6ffffffd;
export const SHT_GNU_VERNEED = 0x6ffffffe;
export const SHT_GNU_VERSYM = 0x6fffffff;

/** Special section indexes. */
export const SHN_UNDEF = 0;
export const SHN_XINDEX = 0xffff;

/** st_info binding values (st_info >> 4). */
export const STB_LOCAL = 0;
export const STB_GLOBAL = 1;
export const STB_WEAK = 2;
export const STB_GNU_UNIQUE = 10;

/** Symbol versioning (GNU extension, see glibc elf/dl-version.c). */
export const VER_FLG_BASE = 0x1;
export const VER_FLG_WEAK = 0x2;
export const VERSYM_HIDDEN = 0x8000;
export const VERSYM_VERSION = 0x7fff;

/** Note types. */
export const NT_GNU_ABI_TAG = 1;
export const NT_GNU_BUILD_ID = 3;
export const NT_GNU_PROPERTY_TYPE_0 = 5;
export const NT_GO_BUILD_ID = 4;
export const GNU_PROPERTY_X86_ISA_1_NEEDED = 0xc0008002;

/** e_machine values. */
export const EM_NONE = 0;
export const EM_SPARC = 2;
export const EM_386 = 3;
export const EM_68K = 4;
export const EM_MIPS = 8;
export const EM_PARISC = 15;
export const EM_SPARC32PLUS = 18;
export const EM_PPC = 20;
export const EM_PPC64 = 21;
export const EM_S390 = 22;
export const EM_ARM = 40;
export const EM_SH = 42;
export const EM_SPARCV9 = 43;
export const EM_IA_64 = 50;
export const EM_X86_64 = 62;
export const EM_AARCH64 = 183;
export const EM_RISCV = 243;
export const EM_BPF = 247;
export const EM_LOONGARCH = 258;
export const EM_ALPHA = 0x9026;

const MACHINE_NAMES: Record<number, string> = {
  [EM_NONE]: 'no machine',
  [EM_SPARC]: 'SPARC',
  [EM_386]: 'i386',
  [EM_68K]: 'm68k',
  [EM_MIPS]: 'MIPS',
  [EM_PARISC]: 'PA-RISC',
  [EM_SPARC32PLUS]: 'SPARC32+',
  [EM_PPC]: 'PowerPC',
  [EM_PPC64]: 'PowerPC64',
  [EM_S390]: 'S/390',
  [EM_ARM]: 'ARM',
  [EM_SH]: 'SuperH',
  [EM_SPARCV9]: 'SPARC V9',
  [EM_IA_64]: 'IA-64',
  [EM_X86_64]: 'x86_64',
  [EM_AARCH64]: 'AArch64',
  [EM_RISCV]: 'RISC-V',
  [EM_BPF]: 'BPF',
  [EM_LOONGARCH]: 'LoongArch',
  [EM_ALPHA]: 'Alpha',
};

/**
 * Returns the architecture name users know for an e_machine value, e.g.
 * "x86_64" for 62 and "AArch64" for 183, or "e_machine N" when unknown.
 */
export function machineName(machine: number): string {
  return MACHINE_NAMES[machine] ?? `e_machine ${machine}`;
}

const OSABI_NAMES: Record<number, string> = {
  [ELFOSABI_SYSV]: 'System V',
  [ELFOSABI_NETBSD]: 'NetBSD',
  [ELFOSABI_GNU]: 'GNU/Linux',
  [ELFOSABI_SOLARIS]: 'Solaris',
  [ELFOSABI_FREEBSD]: 'FreeBSD',
  [ELFOSABI_OPENBSD]: 'OpenBSD',
  [ELFOSABI_ARM_AEABI]: 'ARM EABI',
};

/** Returns the name of an EI_OSABI value, e.g. "FreeBSD" for 9. */
export function osAbiName(osAbi: number): string {
  return OSABI_NAMES[osAbi] ?? `EI_OSABI ${osAbi}`;
}
