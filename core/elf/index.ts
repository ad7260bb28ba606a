// Public API of the ELF reader.

export * from './types';
export { ElfError, type ElfErrorCode } from './errors';
export { type ByteSource, BufferByteSource, FileByteSource, withElfFile } from './byte-source';
export { type ParseOptions, parseElf, readElfFile } from './read-elf';
export { type ClassifyInput, classify, libcFromInterpreter, linkKindOf } from './classify';
export { IDENTIFY_HEAD_SIZE, TARGET_X86_64, assertRunnableProgram, identifyNonElf } from './identify';
export {
  type CandidateFile,
  type CandidateVerdict,
  type GlibcVerifyOptions,
  type RequesterArch,
  readCandidate,
  requesterOf,
  verifyCandidateFile,
  verifyGlibcCandidate,
  verifyMuslCandidate,
} from './verify-candidate';
export * as elfConstants from './constants';
export { machineName, elfTypeName, osAbiName } from './constants';
