// Whether a process exists, for removing what a killed process left behind.

/** Tells whether a process with this ID exists (kill(2) with signal 0). EPERM means it exists but belongs to another user. */
export function isProcessRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
