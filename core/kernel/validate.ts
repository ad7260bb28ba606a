// Checks that a folder holds a usable x86-64 Nanos release: kernel.img is an
// ELF64 x86-64 file and boot.img is a BIOS boot record (whole 512-byte
// sectors, 0x55 0xAA at offset 510).

import type { Stats } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import * as path from 'node:path';

import { BOOT_IMAGE, KERNEL_IMAGE, KLIB_FOLDER, OLD_KERNEL_IMAGE, UEFI_LOADER } from './release-layout';

/** The files of a valid release folder, as absolute paths. */
export interface ReleaseFiles {
  readonly dir: string;
  readonly kernelImg: string;
  readonly bootImg: string;
  /** Undefined when the folder has no klibs/ folder; then no klib can be loaded. */
  readonly klibDir: string | undefined;
  /** Undefined when the release has no UEFI loader. */
  readonly uefiLoader: string | undefined;
}

export type ReleaseInspection = { ok: true; files: ReleaseFiles } | { ok: false; problems: string[] };

const SECTOR_BYTES = 512;
const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);
const ELF_CLASS_64 = 2;
const ELF_LITTLE_ENDIAN = 1;
const EM_X86_64 = 62;
const EM_AARCH64 = 183;

/** Inspects `dir` and returns its files, or every problem found. */
export async function inspectReleaseFolder(dir: string): Promise<ReleaseInspection> {
  const folder = path.resolve(dir);
  const folderStats = await statOrUndefined(folder);
  if (!folderStats) {
    return { ok: false, problems: [`the folder ${folder} does not exist`] };
  }
  if (!folderStats.isDirectory()) {
    return { ok: false, problems: [`${folder} is not a folder`] };
  }

  const kernelImg = path.join(folder, KERNEL_IMAGE);
  const bootImg = path.join(folder, BOOT_IMAGE);
  const problems = [...(await checkKernelImage(kernelImg)), ...(await checkBootImage(bootImg))];

  const klibStats = await statOrUndefined(path.join(folder, KLIB_FOLDER));
  if (klibStats && !klibStats.isDirectory()) {
    problems.push(`${KLIB_FOLDER} is not a folder`);
  }
  if (problems.length > 0) {
    return { ok: false, problems };
  }

  const uefiStats = await statOrUndefined(path.join(folder, UEFI_LOADER));
  return {
    ok: true,
    files: {
      dir: folder,
      kernelImg,
      bootImg,
      klibDir: klibStats ? path.join(folder, KLIB_FOLDER) : undefined,
      uefiLoader: uefiStats?.isFile() ? path.join(folder, UEFI_LOADER) : undefined,
    },
  };
}

async function checkKernelImage(file: string): Promise<string[]> {
  const stats = await statOrUndefined(file);
  if (!stats) {
    const oldKernel = await statOrUndefined(path.join(path.dirname(file), OLD_KERNEL_IMAGE));
    const hint = oldKernel ? ` (the folder has ${OLD_KERNEL_IMAGE}, the name in old releases; rename it to ${KERNEL_IMAGE})` : '';
    return [`${KERNEL_IMAGE} is missing${hint}`];
  }
  if (!stats.isFile()) {
    return [`${KERNEL_IMAGE} is not a regular file`];
  }

  const header = await readStart(file, 20);
  if (header.length < 20 || !header.subarray(0, 4).equals(ELF_MAGIC)) {
    return [`${KERNEL_IMAGE} is not an ELF file`];
  }
  if (header[4] !== ELF_CLASS_64) {
    return [`${KERNEL_IMAGE} is a 32-bit ELF file; the Nanos kernel is ELF64`];
  }
  if (header[5] !== ELF_LITTLE_ENDIAN) {
    return [`${KERNEL_IMAGE} is a big-endian ELF file; the x86-64 Nanos kernel is little-endian`];
  }

  const machine = header.readUInt16LE(18);
  if (machine === EM_AARCH64) {
    return [`${KERNEL_IMAGE} is an arm64 kernel (the -virt release); nx-unikernel boots x86-64 guests`];
  }
  if (machine !== EM_X86_64) {
    return [`${KERNEL_IMAGE} is an ELF file for machine ${machine}, not x86-64 (${EM_X86_64})`];
  }
  return [];
}

async function checkBootImage(file: string): Promise<string[]> {
  const stats = await statOrUndefined(file);
  if (!stats) {
    return [`${BOOT_IMAGE} is missing`];
  }
  if (!stats.isFile()) {
    return [`${BOOT_IMAGE} is not a regular file`];
  }
  if (stats.size < SECTOR_BYTES || stats.size % SECTOR_BYTES !== 0) {
    return [`${BOOT_IMAGE} is ${stats.size} bytes, not a whole number of 512-byte sectors`];
  }

  const sector = await readStart(file, SECTOR_BYTES);
  if (sector[510] !== 0x55 || sector[511] !== 0xaa) {
    return [`${BOOT_IMAGE} has no boot signature 0x55 0xAA at offset 510`];
  }
  return [];
}

async function statOrUndefined(file: string): Promise<Stats | undefined> {
  try {
    return await stat(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return undefined;
    }
    throw error;
  }
}

async function readStart(file: string, length: number): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}
