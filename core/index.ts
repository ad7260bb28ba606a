export * from './elf/types';
export { ElfError, type ElfErrorCode } from './elf/errors';
export * from './qemu';
export * from './nanos';
