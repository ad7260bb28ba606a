// Fixture builders and readelf parsers shared by the ELF reader's tests and
// by other modules' tests that need real ELF files.

export * from './patch';
export * from './readelf';
export * from './toolchain';
