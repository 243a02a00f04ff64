/**
 * What the control plane needs of a NIC, and nothing more: its simulator (for
 * the present cycle), its AXI-Lite bus, its clock, its events and its ports.
 * The daemon builds one through a swappable factory: `fatriot daemon` installs
 * the real NIC (model-nic.ts); the default, a register-map-only stand-in, serves
 * the control plane's own tests.
 */
import { coreClockHz, defaultCoreClockVariant } from '../../hw/netfpga-spec/index.ts';
import { AxiLiteBus } from '../pipeline/regs/axi-lite-bus.ts';
import { FatriotRegisters } from '../pipeline/regs/fatriot-registers.ts';
import { fatriotRegisterMap } from '../pipeline/regs/register-map.ts';
import { Simulator } from '../pipeline/sim/simulator.ts';
import { RealtimeDriver } from '../dataplane/realtime-driver.ts';
import type { NicEvent } from '../pipeline/modules/fatriot-tuser.ts';

/** Events a NIC reports to the control plane (forwarded on the "events" multicast group); defined by the datapath. */
export type { NicEvent };

export type NicEventListener = (event: NicEvent) => void;

export interface EventSource {
  /** Returns a function that unsubscribes. */
  subscribe(listener: NicEventListener): () => void;
}

/** A plain EventSource a NIC can own and `emit` into. */
export class NicEventHub implements EventSource {
  private readonly listeners = new Set<NicEventListener>();

  subscribe(listener: NicEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event: NicEvent): void {
    for (const l of this.listeners) l(event);
  }

  get listenerCount(): number {
    return this.listeners.size;
  }
}

export interface PortInfo {
  /** nf0..nf3 (wire side), dma0..dma3 (host side); also the counter name prefix. */
  readonly name: string;
  readonly kind: 'mac' | 'dma';
  readonly up: boolean;
}

export interface ControlledNic {
  readonly sim: Simulator;
  readonly bus: AxiLiteBus;
  readonly events: EventSource;
  /** Core clock of the model, for ns <-> cycle conversions. */
  readonly clockHz: number;
  /** One line for logs: which top and which ports. */
  readonly description: string;
  ports(): PortInfo[];
  /** Starts model time (the real-time driver). */
  start(): void;
  stop(): void | Promise<void>;
}

export interface NicFactoryOptions {
  mode: 'sim' | 'tap';
  /** Build the reference NIC top (no Fatriot modules). */
  reference: boolean;
  /** --tap: which TAP device each port opens (port name -> interface name). */
  taps?: Record<string, string>;
}

export type NicFactory = (options: NicFactoryOptions) => ControlledNic | Promise<ControlledNic>;

/** Port names of the NetFPGA-SUME NIC, in counter order of the register map. */
export function defaultPorts(): PortInfo[] {
  return fatriotRegisterMap.counters.ports.map((name) => ({ name, kind: name.startsWith('dma') ? 'dma' : 'mac', up: true }));
}

/**
 * The register map alone: real register blocks on a real bus, no datapath, driven
 * by the real-time driver. The control server's tests use it; `fatriot daemon`
 * runs the real NIC (model-nic.ts).
 */
export class StandInNic implements ControlledNic {
  readonly sim = new Simulator();
  readonly bus: AxiLiteBus;
  readonly regs = new FatriotRegisters();
  readonly events = new NicEventHub();
  readonly clockHz = coreClockHz(defaultCoreClockVariant);
  readonly description: string;
  private readonly driver: RealtimeDriver;

  constructor(options: Partial<NicFactoryOptions> = {}) {
    this.bus = this.sim.add(new AxiLiteBus());
    this.regs.attach(this.bus);
    this.driver = new RealtimeDriver(this.sim, this.clockHz);
    this.description = `stand-in ${options.reference === true ? 'reference' : 'Fatriot'} NIC (register map only, no datapath), ${this.clockHz / 1e6} MHz`;
  }

  ports(): PortInfo[] {
    return defaultPorts();
  }

  start(): void {
    this.driver.start();
  }

  stop(): void {
    this.driver.stop();
  }
}

let factory: NicFactory = (options) => {
  if (options.mode === 'tap') throw new Error('fatriot daemon --tap: TAP ports are not yet available in the daemon; use --sim');
  return new StandInNic(options);
};

/** Replaces the NIC factory (the FatriotNic top registers itself here). */
export function setNicFactory(next: NicFactory): void {
  factory = next;
}

export function createNic(options: NicFactoryOptions): Promise<ControlledNic> {
  return Promise.resolve(factory(options));
}
