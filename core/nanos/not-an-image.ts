// The error for a file that is not a Nanos image at all, as opposed to a
// damaged one. It names what the file starts with, so the user sees that the
// file is the wrong one, and how to make an image.

import { NanosImageError } from './errors';

const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);
/** "QFI\xfb", the first bytes of a qcow2 file as qemu-img 7.2 writes it. */
const QCOW2_MAGIC = Buffer.from([0x51, 0x46, 0x49, 0xfb]);

const MAKE_ONE = 'Give the .img file that nx-unikernel build wrote, or make one with nx-unikernel build PROGRAM.';

/** Builds the `not-an-image` error for `path`, whose first bytes are `head` and whose size is `size` bytes. */
export function notAnImageError(path: string, head: Uint8Array, size: number, sectorSize: number): NanosImageError {
  const start = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  let message: string;

  if (start.subarray(0, 4).equals(ELF_MAGIC)) {
    message = `${path} is not a Nanos image: it is an ELF file, such as a program. Build an image of it with nx-unikernel build ${path}.`;
  } else if (start.subarray(0, 4).equals(QCOW2_MAGIC)) {
    message = `${path} is not a raw Nanos image: it is a qcow2 file, and nx-unikernel reads raw images only. Convert it with qemu-img convert -O raw ${path} IMAGE.img, then inspect IMAGE.img.`;
  } else if (size < sectorSize) {
    message = `${path} is not a Nanos image: it is ${size} bytes, smaller than one ${sectorSize}-byte sector. ${MAKE_ONE}`;
  } else {
    message = `${path} is not a Nanos image: it has neither an MBR boot signature (55 AA at byte 510) nor a TFS log at byte 0. ${MAKE_ONE}`;
  }
  return new NanosImageError('not-an-image', message, path);
}
