/**
 * What the runtime needs from a virtual machine monitor. QEMU (qemu.ts) is the first backend;
 * a VMM of kapsel's own over /dev/kvm can implement the same interface later.
 *
 * Every backend runs under kapsel-vmm (native/vmm.c), the container's pid: it joins the
 * container's cgroups before the VMM starts, holds the control channel to the guest init
 * (start, stdin, signals, stdout/stderr, exit status) and ends like the guest's process.
 */
import type { AcceleratorInfo } from './accelerator.js';

export interface VmDisk {
  readonly path: string;
  /** raw, qcow2, ... */
  readonly format: string;
  readonly readOnly: boolean;
}

export interface VmDefinition {
  readonly kernel: string;
  readonly initrd: string;
  readonly cmdline: string;
  readonly vcpus: number;
  readonly memoryMiB: number;
  readonly accelerator: AcceleratorInfo;
  readonly disks: readonly VmDisk[];
  /** The guest's serial console and the VMM's own messages go here. */
  readonly log: string;
  /** Name of the virtio-serial port of the control channel (the guest init looks for it). */
  readonly controlPort: string;
  readonly extraArgs?: readonly string[];
}

export interface PreparedVm {
  /** The VMM's command line; it finds the control channel's socket at fd 3. */
  readonly argv: readonly string[];
  readonly definition: VmDefinition;
}

export interface BootOptions {
  /** `start` opens this fifo; then the guest runs the process. */
  readonly fifo: string;
  /** Where kapsel-vmm writes the supervisor's pid. */
  readonly pidFile: string;
  /** cgroup.procs files the supervisor joins before the VMM starts. */
  readonly cgroupProcs: readonly string[];
  /**
   * Runs kapsel-vmm's command line (argv[0] absolute) to completion and returns its wait
   * status; by default a child of this process with stdio inherited (the kapsel engine has its
   * monitor's stage run it instead, so the supervisor becomes the monitor's child).
   */
  readonly run?: (argv: readonly string[]) => number;
}

export interface Hypervisor {
  readonly name: string;
  /** Checks the VMM binary and the definition; throws a KapselError when this cannot boot. */
  prepare(def: VmDefinition): PreparedVm;
  /** Starts kapsel-vmm with the VMM (stdio inherited); returns the supervisor's pid. */
  boot(vm: PreparedVm, opts: BootOptions): number;
  /** Signals the VM container (the supervisor relays it to the guest process). */
  kill(pid: number, signal: number): void;
  /** Resolves when the supervisor has exited. */
  wait(pid: number, pollMs?: number): Promise<void>;
}
