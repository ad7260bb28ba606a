// `nx-unikernel:run`: boots the image built by the image target in QEMU, with
// the same engine as `nx-unikernel run`. A long-running executor: it yields
// `{ success: true, baseUrl }` once the guest answers on its forwarded ports,
// tells Nx 24 it is ready (readyWhen: { signal: true }), and ends when the
// program exits or Nx stops it with SIGINT or SIGTERM.

import * as fs from 'node:fs';
import * as path from 'node:path';

import * as devkit from '@nx/devkit';
import { logger, type ExecutorContext } from '@nx/devkit';

import { QemuError, startVm, type Vm, type VmExit, type VmReady } from '../../core/qemu';
import { removeFilesOfEndedProcesses } from '../../core/util/process-running';
import { verifyImage } from '../lib/image-check';
import { normalizeOptions } from '../lib/normalize-options';
import { progressLog, reportFailure } from '../lib/report';
import type { RunExecutorOptions } from './schema';

type RunResult = { success: boolean; baseUrl?: string };

const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export default async function* runExecutor(options: RunExecutorOptions, context: ExecutorContext): AsyncGenerator<RunResult, RunResult> {
  const log = progressLog('run');
  let vm: Vm;
  let bindAddress: string;
  let bootCopy: string | undefined;
  try {
    const normalized = normalizeOptions(options as RunExecutorOptions & Record<string, unknown>, context, options.image);
    const imageTarget = context.target?.dependsOn?.find((dependency) => typeof dependency === 'string') ?? 'unikernel';
    await verifyImage(normalized.image, `nx run ${normalized.projectName}:${String(imageTarget)} --skip-nx-cache`);

    // Removes the boot copies that executors killed with SIGKILL left behind.
    await removeFilesOfEndedProcesses(path.dirname(normalized.image), `.${path.basename(normalized.image)}.boot-`, /^(\d+)$/);

    // Nanos writes to its disk while it runs (the klog, file times, /proc/self/exe),
    // so the VM boots a copy and the cached output keeps the hash Nx recorded.
    bootCopy = copyForBoot(normalized.image);

    const { config } = normalized;
    bindAddress = options.bind ?? config.bindAddress;
    const httpPath = options.readyPath ?? config.readiness?.httpPath;
    if (httpPath !== undefined && !config.ports.some((port) => port.protocol === 'tcp')) {
      throw new QemuError('invalid-option', `the readiness path ${httpPath} needs a forwarded TCP port to send its request to: add one to "ports" in ${config.source}`);
    }
    const timeoutSeconds = options.readyTimeout ?? config.readiness?.timeoutSeconds ?? 30;
    vm = startVm({
      image: bootCopy,
      memory: `${Math.ceil(config.memoryBytes / (1024 * 1024))}M`,
      cpus: config.cpus,
      accelerator: config.accelerator,
      ports: config.ports,
      bindAddress,
      // This executor owns the signal handling below, so it can return a result after the stop.
      handleSignals: false,
      readiness: config.ports.some((port) => port.protocol === 'tcp')
        ? { timeoutMs: timeoutSeconds * 1000, ...(httpPath !== undefined ? { http: { path: httpPath } } : {}) }
        : false,
    });
  } catch (error) {
    removeBootCopy(bootCopy);
    return reportFailure(error);
  }

  const guest = (line: string) => logger.info(`[guest] ${line}`);
  vm.on('serial', guest);
  vm.on('note', (message) => log(message));
  const removeSignalHandlers = stopOnSignals(vm, log);
  const stopWatchingParent = stopWhenOrphaned(vm, log);

  try {
    let ready: VmReady;
    try {
      ready = await vm.ready;
    } catch (error) {
      log(`not ready: ${(error as Error).message}`);
      await vm.stop({ reason: 'not ready' });
      return finalResult(await settledExit(vm), log);
    }

    const urls = ready.ports.map((port) => `http://${bindAddress}:${port.hostPort}/`);
    for (const port of ready.ports) log(`guest port ${port.guestPort} → http://${bindAddress}:${port.hostPort}/ (${port.evidence})`);
    log(`ready in ${ready.readyMs} ms under ${ready.accelerator}`);
    const baseUrl = urls[0];
    signalReady(baseUrl);
    yield baseUrl !== undefined ? { success: true, baseUrl } : { success: true };

    return finalResult(await settledExit(vm), log);
  } finally {
    removeSignalHandlers();
    stopWatchingParent();
    // A consumer that stops iterating early (return()) still must not leave QEMU running.
    await vm.stop({ reason: 'the executor ended' }).catch(() => undefined);
    removeBootCopy(bootCopy);
  }
}

/**
 * Stops the VM when the process that started this executor goes away. When
 * nx is killed with SIGKILL, no signal reaches this process: it is adopted by
 * another process (its parent process ID changes) and would keep QEMU and its
 * ports. The IPC channel is not watched, because its state does not prove that
 * the parent ended.
 */
function stopWhenOrphaned(vm: Vm, log: (line: string) => void): () => void {
  const parent = process.ppid;
  const onOrphaned = (): void => {
    log(`the parent process ${parent} ended; stopping the VM`);
    void vm.stop({ reason: 'the parent process ended' });
  };
  const timer = setInterval(() => {
    if (process.ppid !== parent) {
      clearInterval(timer);
      onOrphaned();
    }
  }, PARENT_CHECK_INTERVAL_MS);
  timer.unref();
  return () => clearInterval(timer);
}

const PARENT_CHECK_INTERVAL_MS = 1000;

/** Copies the image beside itself (a clone where the filesystem supports it). */
function copyForBoot(image: string): string {
  const copy = path.join(path.dirname(image), `.${path.basename(image)}.boot-${process.pid}`);
  fs.copyFileSync(image, copy, fs.constants.COPYFILE_FICLONE);
  return copy;
}

function removeBootCopy(copy: string | undefined): void {
  if (copy !== undefined) fs.rmSync(copy, { force: true });
}

/** Calls emitReadySignal where the installed Nx has it (24 and newer); older Nx only waits for the task to start. */
function signalReady(url: string | undefined): void {
  const emit = (devkit as { emitReadySignal?: (server?: string) => boolean }).emitReadySignal;
  if (typeof emit === 'function') emit(url);
}

function stopOnSignals(vm: Vm, log: (line: string) => void): () => void {
  let received = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    received += 1;
    if (received > 1) {
      // A second Ctrl-C while QEMU shuts down ends it at once.
      void vm.stop({ graceMs: 0, reason: `received ${signal} twice` });
      return;
    }
    log(`received ${signal}; stopping the VM`);
    void vm.stop({ reason: `received ${signal}` });
  };
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
  return () => {
    for (const signal of STOP_SIGNALS) process.off(signal, onSignal);
  };
}

async function settledExit(vm: Vm): Promise<VmExit | Error> {
  return vm.exited.catch((error: unknown) => (error instanceof Error ? error : new Error(String(error))));
}

/** Maps how the VM ended to the task result; a program's non-zero exit code fails the task. */
export function finalResult(exit: VmExit | Error, log: (line: string) => void): RunResult {
  if (exit instanceof Error) {
    reportFailure(exit);
    return { success: false };
  }
  switch (exit.kind) {
    case 'program-exit':
      if (exit.exitCode === 0) {
        log('program exited with code 0');
        return { success: true };
      }
      logger.error(`nx-unikernel: the program exited with code ${exit.exitCode}`);
      return { success: false };
    case 'stopped':
      log(`stopped: ${exit.reason}`);
      return { success: true };
    case 'vm-failure':
      logger.error(`nx-unikernel: the VM failed: ${exit.message}`);
      return { success: false };
  }
}
