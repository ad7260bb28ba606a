// Framework-free QEMU runner for Nanos images: accelerator choice, port
// forwards, the QEMU command line, exit-code mapping, readiness and the VM
// process itself.

export {
  chooseAccelerator,
  detectAccelerator,
  normalizeArch,
  probeHvf,
  probeKvm,
  type Accelerator,
  type AcceleratorChoice,
  type AcceleratorInput,
  type AcceleratorRequest,
  type GuestArch,
  type KvmProbe,
} from './accelerator';
export {
  DEFAULT_BIND_ADDRESS,
  assertHostPortsFree,
  checkBindAddress,
  findFreePort,
  formatPortForward,
  mergePortForwards,
  parsePortSpec,
  userNetdevValue,
  type PortForward,
  type PortInput,
  type PortProtocol,
} from './ports';
export { DEFAULT_MEMORY, DEFAULT_QEMU_BINARY, MIN_MEMORY_MIB, buildQemuCommand, type QemuCommand, type QemuCommandOptions } from './command';
export { applyKernelFatal, applyKlogExitCode, findQemuErrorLine, hasKvmInternalError, mapQemuExit, type QemuTermination, type VmExit } from './exit-status';
export { KernelFatalWatcher } from './kernel-fatal';
export { KLOG_DUMP_BYTES, clearKlogDump, findKlogArea, parseKlogDump, readKlogDump, type KlogDump } from './klog-dump';
export { LOOPBACK_BIND_HINT, waitForPorts, type HttpCheck, type PortReadiness, type ReadinessOptions, type ReadinessResult, type ReadinessTarget } from './readiness';
export { probePort, type ProbeOptions, type ProbeOutcome } from './port-probe';
export { Vm, startVm, type StartVmOptions, type StopOptions, type VmReadinessOptions, type VmReady } from './vm';
export { runVm, type RunVmOptions } from './run-vm';
export { QemuError, type QemuErrorCode } from './errors';
