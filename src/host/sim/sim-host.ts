/**
 * A simulated MEC host (Fatriot section 5, Fig. 8): the host OS's network stack on one
 * interface (the NIC's dma0 as the driver shows it), plus VMs behind the host's virtual
 * switch, each with its own address and MAC (the paper's KVM guests behind Open vSwitch).
 *
 * The host OS answers ARP and ICMP echo for its address after its kernel delay (the
 * `host` heartbeat target, SPEC 3.3); a guest does the same for its own address after
 * the vswitch path and its own kernel delay. Services (udp-echo-service.ts) bind UDP
 * ports on either. `crash()` takes the whole machine down: nothing is received or
 * answered, everything in flight is lost, and the neighbour tables are flushed as an
 * interface going down flushes them; `recover()` brings it back as after a reboot.
 */
import { coreClockHz } from '../../../hw/netfpga-spec/index.ts';
import type { Port } from '../../dataplane/port.ts';
import { toIpv4, toMac, type Ipv4Like, type MacLike } from '../../pipeline/wire/build.ts';
import { readMac48 } from '../../pipeline/wire/address.ts';
import { NetStack } from './net-stack.ts';
import { EV_USER, StackNode } from './stack-node.ts';
import { cyclesFromUs, linuxNeighborParams, simDefaults, type NeighborParams } from './timing.ts';

const EV_SERVICE_DONE = EV_USER;
const EV_SERVICE_RESUME = EV_USER + 1;

/** What a service hosted on a SimHost implements so the host can run its timers. */
export interface HostedService {
  /** A request started at worker `worker` under `epoch` has been processed; reply at logical cycle `t`. */
  onDone(worker: number, epoch: number, t: number): void;
  /** The service continues after a hang, at logical cycle `t`. */
  onResume(epoch: number, t: number): void;
  /** The host crashed: drop all requests held. */
  onHostCrash(): void;
}

export interface SimHostOptions {
  port: Port;
  ip: Ipv4Like;
  mac: MacLike;
  /** On-link prefix length; default 24. */
  prefixLength?: number;
  coreHz?: number;
  /** Host kernel delay (ARP, ICMP echo, UDP into a socket), cycles >= 1; default simDefaults.hostKernelDelayUs. */
  kernelDelayCycles?: number;
  /** Overrides of the Linux neighbour parameters (cycles). */
  neighbor?: Partial<NeighborParams>;
}

export interface GuestOptions {
  ip: Ipv4Like;
  mac: MacLike;
  name?: string;
  /** One-way vswitch path between the NIC driver and the guest; default simDefaults.vmPathDelayUs. */
  pathDelayCycles?: number;
  /** Guest kernel delay, cycles >= 1; default simDefaults.guestKernelDelayUs. */
  kernelDelayCycles?: number;
}

export class SimHost extends StackNode {
  /** The host OS stack. */
  readonly os: NetStack;
  readonly neighborParams: NeighborParams;
  private readonly prefixLength: number;
  private readonly services: HostedService[] = [];

  constructor(name: string, options: SimHostOptions) {
    const coreHz = options.coreHz ?? coreClockHz();
    super(name, options.port, coreHz);
    this.prefixLength = options.prefixLength ?? 24;
    this.neighborParams = { ...linuxNeighborParams(coreHz), ...options.neighbor };
    this.os = this.addStack(
      new NetStack({
        name: `${name}.os`,
        ip: options.ip,
        mac: options.mac,
        prefixLength: this.prefixLength,
        kernelDelayCycles: options.kernelDelayCycles ?? cyclesFromUs(simDefaults.hostKernelDelayUs, coreHz),
        neighbor: this.neighborParams,
      }),
    );
  }

  get crashed(): boolean {
    return !this.alive;
  }

  /** Adds a VM with its own address behind the host's virtual switch; returns its stack. */
  addGuest(options: GuestOptions): NetStack {
    const ip = toIpv4(options.ip);
    const mac48 = readMac48(toMac(options.mac), 0);
    for (const s of this.stacks) {
      if (s.ip === ip || s.mac48 === mac48) throw new Error(`${this.name}: address ${options.ip} / ${options.mac} is already in use by ${s.name}`);
    }
    return this.addStack(
      new NetStack({
        name: options.name ?? `${this.name}.vm${this.stacks.length}`,
        ip,
        mac: options.mac,
        prefixLength: this.prefixLength,
        kernelDelayCycles: options.kernelDelayCycles ?? cyclesFromUs(simDefaults.guestKernelDelayUs, this.coreHz),
        pathDelayCycles: options.pathDelayCycles ?? cyclesFromUs(simDefaults.vmPathDelayUs, this.coreHz),
        neighbor: this.neighborParams,
      }),
    );
  }

  /** The stack (host OS or guest) that owns `ip`, if any. */
  stackOf(ip: Ipv4Like): NetStack | undefined {
    const address = toIpv4(ip);
    return this.stacks.find((s) => s.ip === address);
  }

  /** Host down (OS or hypervisor crash, Fatriot 5.2 "host down failure"): answers nothing at all. */
  crash(): void {
    if (!this.alive) return;
    this.alive = false;
    this.dropEverything();
    for (const s of this.services) s.onHostCrash();
  }

  /** Host back up, with empty neighbour tables; services that were not crashed by themselves serve again. */
  recover(): void {
    this.alive = true;
  }

  /** Called by a service's constructor; returns its index for events. */
  registerService(service: HostedService): number {
    this.services.push(service);
    return this.services.length - 1;
  }

  /** Schedules `onDone(worker, epoch, time)` of service `index`. */
  scheduleServiceDone(time: number, index: number, worker: number, epoch: number): void {
    this.schedule(time, EV_SERVICE_DONE, index, worker, epoch, null);
  }

  /** Schedules `onResume(epoch, time)` of service `index`. */
  scheduleServiceResume(time: number, index: number, epoch: number): void {
    this.schedule(time, EV_SERVICE_RESUME, index, 0, epoch, null);
  }

  protected override onEvent(kind: number, a: number, b: number, c: number, ref: object | null, t: number): void {
    if (kind === EV_SERVICE_DONE) this.services[a]!.onDone(b, c, t);
    else if (kind === EV_SERVICE_RESUME) this.services[a]!.onResume(c, t);
    else super.onEvent(kind, a, b, c, ref, t);
  }
}
