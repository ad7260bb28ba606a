// Runs one Nanos image in QEMU and owns the QEMU process: serial console lines,
// readiness, the mapped exit (with the klog exit code and kernel fatal errors),
// stop(), the KVM-to-TCG retry and cleanup when this process is interrupted.

import { EventEmitter } from 'node:events';
import { createInterface } from 'node:readline';

import { detectAccelerator, type Accelerator, type AcceleratorChoice, type AcceleratorRequest } from './accelerator';
import { buildQemuCommand, type QemuCommand, type QemuCommandOptions } from './command';
import { spawnQemu, type QemuChild, type QemuProcessEnd } from './qemu-process';
import { QemuError } from './errors';
import { applyKernelFatal, applyKlogExitCode, applyProgramSignal, findQemuErrorLine, hasKvmInternalError, mapQemuExit, type VmExit } from './exit-status';
import { KernelFatalWatcher } from './kernel-fatal';
import { isSignalReport, ProgramSignalWatcher } from './program-signal';
import { clearKlogDump, findKlogArea, readKlogDump } from './klog-dump';
import { LineQueue } from './line-queue';
import { DEFAULT_BIND_ADDRESS, assertHostPortsFree, mergePortForwards, type PortForward, type PortInput } from './ports';
import { classifySetprivStart, isSetprivLine, markSetprivUnusable, shouldUseParentDeathSignal, withParentDeathSignal, type SetprivOutcome } from './parent-death';
import { checkReadinessDelays, waitForPorts, type PortReadiness, type ReadinessOptions } from './readiness';
import { trackVm, type StoppableVm } from './signals';
import { checkTimerDelay } from './timer-limit';

export interface VmReadinessOptions extends Omit<ReadinessOptions, 'host' | 'signal' | 'guestNetworkUp' | 'onHint'> {
  /** Guest TCP ports to wait for. Default: every forwarded TCP port. */
  guestPorts?: readonly number[];
}

export interface StartVmOptions extends Omit<QemuCommandOptions, 'accelerator' | 'forwards'> {
  /** Default `auto`: KVM or HVF when the host supports them, otherwise TCG. */
  accelerator?: AcceleratorRequest;
  /** Port forwards; merge the config and command-line lists with `mergePortForwards` first to keep their order. */
  ports?: readonly PortInput[];
  /** How to decide that the guest serves its ports, or false to skip the check. */
  readiness?: VmReadinessOptions | false;
  /** Time between SIGTERM and SIGKILL when stopping, in ms. Default 5000. */
  stopGraceMs?: number;
  /** In auto mode, a failure under KVM within this time after start triggers a retry under TCG, in ms. Default 5000. */
  kvmRetryWindowMs?: number;
  /** Whether to bind the forwarded host ports before starting QEMU, to report a taken port clearly. Default true. */
  checkHostPorts?: boolean;
  /** Whether SIGINT, SIGTERM and SIGHUP of this process stop the VM. Default true. */
  handleSignals?: boolean;
  /**
   * After the guest kernel prints a fatal error, the time QEMU gets to exit by
   * itself before it is stopped, in ms. Default 3000.
   */
  kernelFatalGraceMs?: number;
}

export interface VmReady {
  /** Time from `startVm` until every port served, or until the first program output, in ms. */
  readyMs: number;
  /** The ports that served; empty when readiness came from the program's console output. */
  ports: PortReadiness[];
  /** The program's first console line, when there was no TCP port to check. */
  firstOutput?: string;
  accelerator: Accelerator;
}

export interface StopOptions {
  /** Time between SIGTERM and SIGKILL, in ms. Default: the VM's `stopGraceMs`. */
  graceMs?: number;
  /** Reason recorded in the exit, such as "timed out". */
  reason?: string;
}

const STDERR_LIMIT = 64 * 1024;
const SERIAL_TAIL_LINES = 50;
const NETWORK_UP_LINE = /: assigned \d+\.\d+\.\d+\.\d+/;
// Nanos prefixes its own console messages with the uptime in seconds, as in
// "[0.390867] en1: assigned 10.0.2.15" (log_printf in src/kernel/log.c). It
// prints no banner, so the first other line is the program's output.
const KERNEL_MESSAGE_LINE = /^\[\d+\.\d+\] /;

interface VmEvents {
  /** A line of the guest serial console, without its line break. */
  serial: [line: string];
  /** A line QEMU wrote to standard error. */
  stderr: [line: string];
  /** A one-line message for the user, such as the accelerator choice or a retry. */
  note: [message: string];
  ready: [ready: VmReady];
  /** QEMU exited for the last time. Not emitted when QEMU could not be started. */
  exit: [exit: VmExit];
}

/**
 * Starts QEMU for `options.image` and returns at once. Throws QemuError for
 * invalid options or a forced accelerator the host lacks. When QEMU cannot be
 * started (a taken host port, QEMU not installed), `exited` and `ready` reject
 * with QemuError.
 */
export function startVm(options: StartVmOptions): Vm {
  return new Vm(options);
}

export class Vm extends EventEmitter<VmEvents> {
  readonly image: string;
  readonly forwards: readonly PortForward[];
  /** Settles when every readiness check passed; rejects when the VM exits first or the check times out. */
  readonly ready: Promise<VmReady>;
  /** Resolves with the mapped exit once QEMU has exited for the last time. */
  readonly exited: Promise<VmExit>;
  readonly notes: string[] = [];

  private choice: AcceleratorChoice;
  private currentCommand: QemuCommand;
  private subprocess: QemuChild | undefined;
  private stopReason: string | undefined;
  /** The grace period of the first stop request, used when that request came before QEMU started. */
  private stopGraceMs: number | undefined;
  private killTimer: NodeJS.Timeout | undefined;
  private networkUp = false;
  private serialLineCount = 0;
  private finished = false;
  /** Whether readiness is the program's first console line, because there is no TCP port to check. */
  private readyOnOutput = false;
  private readyReported = false;
  /** Counts QEMU processes; readiness evidence from an earlier one is discarded. */
  private attempt = 0;
  /** The attempt whose readiness check has started. */
  private readinessAttempt = -1;
  private attemptStartedAt = Date.now();
  private readyTimer: NodeJS.Timeout | undefined;
  private portWaitAbort: AbortController | undefined;
  private kernelFatal = new KernelFatalWatcher();
  private programSignal = new ProgramSignalWatcher();
  private kernelFatalTimer: NodeJS.Timeout | undefined;
  private stoppedForKernelFatal = false;
  private klogOffset: number | undefined;
  private readonly endListeners: (() => void)[] = [];
  private stderrText = '';
  private readonly serialTailLines: string[] = [];
  private readonly startedAt = Date.now();
  private resolveReady!: (ready: VmReady) => void;
  private rejectReady!: (error: unknown) => void;
  private resolveExited!: (exit: VmExit) => void;
  private rejectExited!: (error: unknown) => void;

  constructor(private readonly options: StartVmOptions) {
    super();
    this.image = options.image;
    this.forwards = mergePortForwards(options.ports);
    this.choice = detectAccelerator(options.accelerator ?? 'auto');
    this.currentCommand = this.command(this.choice);
    checkVmDelays(options);

    this.ready = new Promise((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    this.exited = new Promise((resolve, reject) => {
      this.resolveExited = resolve;
      this.rejectExited = reject;
    });
    // Callers often await only one of the two; the other must not surface as an unhandled rejection.
    this.ready.catch(() => {});
    this.exited.catch(() => {});

    void this.run();
  }

  get accelerator(): Accelerator {
    return this.choice.accelerator;
  }

  /** The command of the current (or last) QEMU process. */
  get qemuCommand(): QemuCommand {
    return this.currentCommand;
  }

  get pid(): number | undefined {
    return this.subprocess?.pid;
  }

  /** The standard error output of the current (or last) QEMU process, at most its first 64 KiB. */
  get stderr(): string {
    return this.stderrText;
  }

  /** The last serial console lines, for error reports. */
  get serialTail(): readonly string[] {
    return this.serialTailLines;
  }

  /**
   * Returns the serial console lines from now until QEMU exits. Call it right
   * after `startVm` to see every line; unread lines are buffered.
   */
  serialLines(): AsyncIterableIterator<string> {
    const queue = new LineQueue();
    if (this.finished) {
      queue.end();
      return queue;
    }
    const push = (line: string): void => queue.push(line);
    this.on('serial', push);
    this.endListeners.push(() => {
      this.off('serial', push);
      queue.end();
    });
    return queue;
  }

  /**
   * Stops QEMU: SIGTERM, which QEMU handles by shutting down, then SIGKILL if
   * it is still running after the grace period. Resolves with the exit.
   * Throws QemuError `invalid-option` for a `graceMs` that a timer cannot hold.
   */
  stop(options: StopOptions = {}): Promise<VmExit> {
    if (this.finished) return this.exited;
    if (options.graceMs !== undefined) checkTimerDelay('stop graceMs', options.graceMs, { allowZero: true });
    this.stopReason ??= options.reason ?? 'stop() was called';
    this.stopGraceMs ??= options.graceMs;
    // Before QEMU starts there is no process to signal. runQemu then either
    // skips the start or sends the stop right after it.
    if (this.subprocess !== undefined) this.sendStop(this.subprocess);
    return this.exited;
  }

  /** Sends SIGTERM once, and SIGKILL after the grace period. */
  private sendStop(subprocess: QemuChild): void {
    if (this.killTimer !== undefined) return;
    subprocess.kill('SIGTERM');
    this.killTimer = setTimeout(() => subprocess.kill('SIGKILL'), this.stopGraceMs ?? this.options.stopGraceMs ?? 5000);
  }

  private command(choice: AcceleratorChoice): QemuCommand {
    return buildQemuCommand({ ...this.options, accelerator: choice, forwards: this.forwards });
  }

  private note(message: string): void {
    this.notes.push(message);
    this.emit('note', message);
  }

  private async run(): Promise<void> {
    // Let the caller attach listeners before the first event.
    await Promise.resolve();
    const untrack = this.options.handleSignals === false ? () => {} : trackVm(this.signalHandle());

    try {
      if (this.choice.note !== undefined) this.note(this.choice.note);
      if (this.options.checkHostPorts !== false) await assertHostPortsFree(this.forwards, this.options.bindAddress ?? DEFAULT_BIND_ADDRESS);

      const startedAt = Date.now();
      let exit = await this.runQemu(this.currentCommand);

      if (this.shouldRetryUnderTcg(exit, Date.now() - startedAt)) {
        this.note(`KVM could not run the guest (${retryReason(exit, this.stderrText, Date.now() - startedAt)}), so the VM restarts once under TCG (slower).`);
        this.choice = { accelerator: 'tcg', args: ['-accel', 'tcg'] };
        this.currentCommand = this.command(this.choice);
        this.networkUp = false;
        this.serialLineCount = 0;
        this.stderrText = '';
        this.kernelFatal = new KernelFatalWatcher();
        this.programSignal = new ProgramSignalWatcher();
        this.attempt += 1;
        exit = await this.runQemu(this.currentCommand);
      }

      this.finish(exit);
    } catch (error) {
      this.fail(error);
    } finally {
      untrack();
    }
  }

  private signalHandle(): StoppableVm {
    return {
      stopForSignal: (signal: NodeJS.Signals) => this.stop({ reason: `this process received ${signal}` }),
      kill: () => this.subprocess?.kill('SIGKILL'),
    };
  }

  private shouldRetryUnderTcg(exit: VmExit, elapsedMs: number): boolean {
    if ((this.options.accelerator ?? 'auto') !== 'auto' || this.choice.accelerator !== 'kvm') return false;
    if (this.stopReason !== undefined || exit.kind !== 'vm-failure') return false;
    return exit.kvmInternalError || elapsedMs < (this.options.kvmRetryWindowMs ?? 5000);
  }

  /** Runs QEMU once and resolves with its mapped exit after the last output line. */
  private async runQemu(command: QemuCommand): Promise<VmExit> {
    if (this.stopReason !== undefined) return stoppedBeforeStart(this.stopReason);
    this.prepareKlogArea();
    let started = await this.startQemu(command, shouldUseParentDeathSignal());
    if (started.setpriv?.kind === 'unusable') {
      markSetprivUnusable();
      // NOTE: without setpriv (macOS, or a setpriv without --pdeathsig), QEMU
      // outlives this process when it is killed with SIGKILL. Every other
      // ending of this process stops QEMU (signals.ts and qemu-process.ts).
      this.note(`${started.setpriv.reason}, so QEMU starts without it and outlives this process if it is killed with SIGKILL`);
      if (this.stopReason !== undefined) return stoppedBeforeStart(this.stopReason);
      this.stderrText = '';
      started = await this.startQemu(command, false);
    }
    const { result, setpriv } = started;

    if (result.spawnError !== undefined) throw spawnError(command, result.spawnError);
    if (setpriv?.kind === 'exec-failed') {
      throw spawnError(command, Object.assign(new Error(setpriv.message), { code: setpriv.notFound ? 'ENOENT' : 'EACCES' }));
    }
    const exit = mapQemuExit({
      status: result.status,
      signal: result.signal,
      stderr: this.stderrText,
      stopReason: this.stopReason,
      guestOutput: this.serialLineCount > 0,
      image: this.image,
    });
    const withKlog = applyKlogExitCode(exit, this.readKlogExitCode(exit));
    const withSignal = applyProgramSignal(withKlog, this.programSignal.signal);
    return applyKernelFatal(withSignal, this.kernelFatal.message, this.stoppedForKernelFatal);
  }

  /**
   * Runs one QEMU process, through setpriv when `throughSetpriv`, and resolves
   * after it exited and its last output line was read. `setpriv`, set for a
   * start through setpriv, records whether setpriv started QEMU at all.
   */
  private async startQemu(command: QemuCommand, throughSetpriv: boolean): Promise<{ result: QemuProcessEnd; setpriv?: SetprivOutcome }> {
    this.attemptStartedAt = Date.now();
    const launch = throughSetpriv ? withParentDeathSignal(command) : command;
    const { child: subprocess, ended } = spawnQemu(launch);
    this.subprocess = subprocess;
    // Started after the spawn, so that the probes' first connection attempts
    // do not delay QEMU; they could not succeed before it runs anyway.
    if (this.readinessAttempt !== this.attempt) {
      this.readinessAttempt = this.attempt;
      this.startReadiness();
    }
    // A stop requested while the klog area was prepared found no process to
    // signal, so it is sent now.
    if (this.stopReason !== undefined) this.sendStop(subprocess);
    const accelerator = this.choice.accelerator;

    const serial = createInterface({ input: subprocess.stdout, crlfDelay: Infinity });
    serial.on('line', (line) => this.onSerialLine(line));
    const stderr = createInterface({ input: subprocess.stderr, crlfDelay: Infinity });
    stderr.on('line', (line) => {
      if (this.stderrText.length < STDERR_LIMIT) this.stderrText += `${line}\n`;
      if (throughSetpriv && isSetprivLine(line)) return;
      this.emit('stderr', line);
      // QEMU pauses the guest after a KVM internal error but keeps running, so
      // it must be ended here for the retry (or the failure) to happen.
      if (accelerator === 'kvm' && hasKvmInternalError(line)) subprocess.kill('SIGKILL');
    });

    const linesDone = Promise.all([new Promise((resolve) => serial.once('close', resolve)), new Promise((resolve) => stderr.once('close', resolve))]);
    const result = await ended;
    await linesDone;
    clearTimeout(this.killTimer);
    this.killTimer = undefined;
    clearTimeout(this.kernelFatalTimer);
    this.kernelFatalTimer = undefined;
    this.subprocess = undefined;
    if (!throughSetpriv) return { result };

    return { result, setpriv: classifySetprivStart(result.status, this.stderrText, result.spawnError?.code) };
  }

  /**
   * Finds the klog dump area and clears a dump an earlier boot left there. A
   * qcow2 image or one without an MBR gets no klog check.
   */
  private prepareKlogArea(): void {
    this.klogOffset = undefined;
    // NOTE: in a qcow2 image the area is not at a fixed file offset, so exit codes of 128 and more read mod 128 there.
    if (this.currentCommand.args.some((arg) => arg.includes('format=qcow2'))) return;
    try {
      const offset = findKlogArea(this.image);
      if (offset === undefined) return;
      // NOTE: when another QEMU runs this image, this boot fails on QEMU's
      // write lock, but the clearing may already have erased a dump the other
      // boot wrote at that moment.
      clearKlogDump(this.image, offset);
      this.klogOffset = offset;
    } catch (error) {
      // QEMU reports a missing or unreadable image itself, with its own message.
      this.note(`the klog dump area of ${this.image} could not be prepared (${(error as Error).message}), so exit codes of 128 and more read mod 128`);
    }
  }

  private readKlogExitCode(exit: VmExit): number | undefined {
    if (exit.kind !== 'program-exit' || this.klogOffset === undefined) return undefined;
    try {
      return readKlogDump(this.image, this.klogOffset)?.exitCode;
    } catch (error) {
      this.note(`the klog dump of ${this.image} could not be read (${(error as Error).message}), so the exit code is mod 128`);
      return undefined;
    }
  }

  private onSerialLine(line: string): void {
    this.serialLineCount += 1;
    if (NETWORK_UP_LINE.test(line)) this.networkUp = true;
    this.serialTailLines.push(line);
    if (this.serialTailLines.length > SERIAL_TAIL_LINES) this.serialTailLines.shift();
    this.emit('serial', line);

    if (this.kernelFatal.feed(line)) {
      this.onKernelFatal();
      return;
    }
    this.programSignal.feed(line);
    if (this.readyOnOutput && !this.kernelFatal.detected && line.trim() !== '' && !KERNEL_MESSAGE_LINE.test(line) && !isSignalReport(line)) {
      this.readyOnOutput = false;
      this.markReady(this.attempt, [], line);
    }
  }

  /**
   * Gives QEMU `kernelFatalGraceMs` to exit after a kernel fatal-error report,
   * because after some errors (an assertion inside a fault handler) the guest
   * stops making progress and QEMU never exits by itself.
   */
  private onKernelFatal(): void {
    const graceMs = this.options.kernelFatalGraceMs ?? 3000;
    // NOTE: the kernel and the program share the serial console, so a program
    // that prints a line in one of these formats looks the same. Such a
    // program is stopped once it keeps running past the grace time, and its
    // exit reads as a kernel error when its exit code is 126 or 127, the
    // codes of a kernel halt or fault.
    this.kernelFatalTimer = setTimeout(() => {
      if (this.subprocess === undefined) return;
      this.stoppedForKernelFatal = true;
      void this.stop({ reason: `the Nanos kernel printed a fatal error: "${this.kernelFatal.message}"` });
    }, graceMs);
  }

  /**
   * Starts the readiness check of the current QEMU process: the forwarded TCP
   * ports, or without any, the program's first console line. After a retry
   * under TCG it starts again, because evidence from the failed process is void.
   */
  private startReadiness(): void {
    this.portWaitAbort?.abort(new Error('the VM restarted under TCG'));
    this.portWaitAbort = undefined;
    const attempt = this.attempt;
    const readiness = this.options.readiness;
    const wanted = readiness === false ? [] : readiness?.guestPorts;
    const targets = this.forwards
      .filter((forward) => forward.protocol === 'tcp' && (wanted === undefined || wanted.includes(forward.guestPort)))
      // A forward with a host address of its own listens there, not at the bind address.
      .map((forward) => ({
        guestPort: forward.guestPort,
        hostPort: forward.hostPort,
        ...(forward.hostAddress !== undefined && forward.hostAddress !== '0.0.0.0' ? { host: forward.hostAddress } : {}),
      }));

    if (readiness === false || targets.length === 0) {
      // Without a TCP port there is no timeout: a program may run silently and still be fine.
      this.readyOnOutput = true;
      return;
    }

    const abort = new AbortController();
    this.portWaitAbort = abort;
    const bindAddress = this.options.bindAddress ?? DEFAULT_BIND_ADDRESS;
    waitForPorts(targets, {
      ...readiness,
      host: bindAddress === '0.0.0.0' ? '127.0.0.1' : bindAddress,
      guestNetworkUp: () => this.networkUp,
      onHint: (hint) => this.note(hint),
      signal: abort.signal,
    }).then(
      (result) => this.markReady(attempt, result.ports),
      (error: unknown) => {
        if (attempt !== this.attempt) return;
        const withStderr = error instanceof QemuError && error.code === 'not-ready' ? new QemuError(error.code, error.message, { stderr: this.stderrText }) : error;
        this.rejectReady(withStderr);
      },
    );
  }

  /**
   * Reports readiness, but in auto mode under KVM not before the retry window
   * has passed: a KVM failure within it restarts QEMU under TCG, and a guest
   * that is about to be restarted is not ready.
   */
  private markReady(attempt: number, ports: PortReadiness[], firstOutput?: string): void {
    if (attempt !== this.attempt || this.finished || this.readyReported) return;

    const retryPossible = (this.options.accelerator ?? 'auto') === 'auto' && this.choice.accelerator === 'kvm';
    const windowLeftMs = this.attemptStartedAt + (this.options.kvmRetryWindowMs ?? 5000) - Date.now();
    if (retryPossible && windowLeftMs > 0) {
      clearTimeout(this.readyTimer);
      this.readyTimer = setTimeout(() => this.markReady(attempt, ports, firstOutput), windowLeftMs);
      return;
    }

    this.readyReported = true;
    const ready: VmReady = { readyMs: Date.now() - this.startedAt, ports, ...(firstOutput !== undefined ? { firstOutput } : {}), accelerator: this.accelerator };
    this.resolveReady(ready);
    this.emit('ready', ready);
  }

  private finish(exit: VmExit): void {
    this.finished = true;
    clearTimeout(this.readyTimer);
    const notReady = new QemuError('exited-before-ready', `the VM exited before it was ready: ${exit.message}`, { exit, stderr: this.stderrText });
    this.portWaitAbort?.abort(notReady);
    this.rejectReady(notReady);
    this.resolveExited(exit);
    this.emit('exit', exit);
    this.endIteration();
  }

  private fail(error: unknown): void {
    this.finished = true;
    clearTimeout(this.readyTimer);
    clearTimeout(this.kernelFatalTimer);
    this.portWaitAbort?.abort(error);
    this.rejectReady(error);
    this.rejectExited(error);
    this.endIteration();
  }

  private endIteration(): void {
    for (const listener of this.endListeners.splice(0)) listener();
  }
}

/** Throws QemuError `invalid-option` for a delay of `options` that is negative or does not fit a Node.js timer. */
function checkVmDelays(options: StartVmOptions): void {
  if (options.readiness !== undefined && options.readiness !== false) checkReadinessDelays(options.readiness);
  const delays = { stopGraceMs: options.stopGraceMs, kvmRetryWindowMs: options.kvmRetryWindowMs, kernelFatalGraceMs: options.kernelFatalGraceMs };
  for (const [name, value] of Object.entries(delays)) {
    if (value !== undefined) checkTimerDelay(name, value, { allowZero: true });
  }
}

function stoppedBeforeStart(reason: string): VmExit {
  return { kind: 'stopped', reason, qemuStatus: null, signal: null, message: `VM stopped before QEMU started (${reason})` };
}

function spawnError(command: QemuCommand, cause: unknown): QemuError {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') {
    return new QemuError(
      'qemu-not-found',
      `${command.file} was not found on PATH: install QEMU (Debian and Ubuntu: apt-get install qemu-system-x86, macOS: brew install qemu) or add the folder that contains it to PATH`,
      { cause },
    );
  }
  return new QemuError('qemu-start-failed', `${command.file} could not be started: ${(cause as Error | undefined)?.message ?? String(cause)}`, { cause });
}

function retryReason(exit: VmExit, stderr: string, elapsedMs: number): string {
  if (exit.kind === 'vm-failure' && exit.kvmInternalError) return 'QEMU reported "KVM internal error"';
  const ended = exit.kind === 'vm-failure' && exit.signal !== null ? `QEMU was killed by ${exit.signal}` : `QEMU exited with status ${exit.qemuStatus}`;
  const error = findQemuErrorLine(stderr);
  return `${ended} after ${(elapsedMs / 1000).toFixed(1)} s${error === undefined ? '' : `: ${error}`}`;
}
