// Stops running VMs when this process receives SIGINT, SIGTERM or SIGHUP, so
// no QEMU process outlives it. The handlers exist only while a VM runs.
//
// A process that listens for a signal no longer dies of it, so once the VMs
// have stopped the handler sends the signal again, unless another listener
// (such as the host application's own) has taken over that decision. A second
// signal while VMs are stopping kills them at once.

export interface StoppableVm {
  /** Stops the VM gracefully and resolves when QEMU has exited. */
  stopForSignal(signal: NodeJS.Signals): Promise<unknown>;
  /** Sends SIGKILL to QEMU. */
  kill(): void;
}

const HANDLED_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

const running = new Set<StoppableVm>();
let installed = false;
let stopping = false;

/** Tracks a VM until the returned function is called. */
export function trackVm(vm: StoppableVm): () => void {
  running.add(vm);
  install();
  return () => {
    running.delete(vm);
    if (running.size === 0 && !stopping) uninstall();
  };
}

function install(): void {
  if (installed) return;
  installed = true;
  for (const signal of HANDLED_SIGNALS) process.on(signal, onSignal);
}

function uninstall(): void {
  if (!installed) return;
  installed = false;
  for (const signal of HANDLED_SIGNALS) process.off(signal, onSignal);
}

function onSignal(signal: NodeJS.Signals): void {
  if (stopping) {
    for (const vm of running) vm.kill();
    return;
  }

  stopping = true;
  void Promise.allSettled([...running].map((vm) => vm.stopForSignal(signal))).then(() => {
    stopping = false;
    uninstall();
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  });
}
