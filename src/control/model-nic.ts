/**
 * The real NIC behind `fatriot daemon`: a FatriotNic (or, with --reference, the
 * reference NIC) run by the real-time driver, its ports either left unattached
 * (--sim: a NIC on the bench, driven only through its control socket) or opened
 * as TAP devices (--tap: real frames from real kernels). This file is the
 * composition root of the daemon; the control server still sees only the
 * ControlledNic interface (bus, events, ports).
 */
import type { Port } from '../dataplane/port.ts';
import { RealtimeDriver } from '../dataplane/realtime-driver.ts';
import { TapPort } from '../dataplane/tap.ts';
import { FatriotNic } from '../pipeline/nic/fatriot-nic.ts';
import { ReferenceNic } from '../pipeline/nic/reference-nic.ts';
import { AxiLiteBus } from '../pipeline/regs/axi-lite-bus.ts';
import { FatriotRegisters } from '../pipeline/regs/fatriot-registers.ts';
import { NicEventHub, defaultPorts, type ControlledNic, type EventSource, type NicFactoryOptions, type PortInfo } from './nic.ts';

/** Which TAP device each port uses, e.g. { nf0: 'fm-nf0', dma0: 'fm-dma0' }. */
export type TapPortNames = Partial<Record<'nf0' | 'nf1' | 'nf2' | 'nf3' | 'dma0' | 'dma1' | 'dma2' | 'dma3', string>>;

export interface ModelNicOptions extends NicFactoryOptions {
  taps?: TapPortNames;
}

export class ModelNic implements ControlledNic {
  readonly nic: FatriotNic | ReferenceNic;
  readonly sim;
  readonly bus: AxiLiteBus;
  readonly events: EventSource;
  readonly clockHz: number;
  readonly description: string;
  readonly driver: RealtimeDriver;
  private readonly ports_: { name: string; port: Port }[] = [];

  constructor(options: ModelNicOptions) {
    if (options.reference) {
      // The reference NIC has no Fatriot tables; it still gets the register map's
      // blocks so the control plane can read the counters it keeps (tables there
      // have no effect on its datapath).
      const regs = new FatriotRegisters();
      const nic = new ReferenceNic({ counters: regs.counters.values });
      this.bus = nic.sim.add(new AxiLiteBus());
      regs.attach(this.bus);
      this.events = new NicEventHub();
      this.nic = nic;
    } else {
      const nic = new FatriotNic();
      this.bus = nic.bus;
      this.events = { subscribe: (l) => nic.subscribe(l) };
      this.nic = nic;
    }
    this.sim = this.nic.sim;
    this.clockHz = this.nic.coreHz;
    this.driver = new RealtimeDriver(this.sim, this.clockHz);
    if (options.mode === 'tap') this.openTaps(options.taps ?? {});
    const top = options.reference ? 'reference NIC' : 'Fatriot NIC';
    const where = options.mode === 'tap' ? `TAP ports ${this.ports_.map((p) => `${p.name}=${p.port.name}`).join(' ')}` : 'no ports attached (--sim)';
    this.description = `${top}, cycle model at ${this.clockHz / 1e6} MHz, ${where}`;
  }

  private openTaps(names: TapPortNames): void {
    const entries = Object.entries(names).filter(([, v]) => v !== undefined) as [string, string][];
    if (entries.length === 0) throw new Error('fatriot daemon --tap: name at least one port, e.g. --port nf0=fm-nf0 --port dma0=fm-dma0');
    const nf: (Port | null)[] = [null, null, null, null];
    const dma: (Port | null)[] = [null, null, null, null];
    try {
      for (const [portName, tapName] of entries) {
        const tap = new TapPort({ name: tapName, clock: () => this.driver.nowCycle() });
        this.ports_.push({ name: portName, port: tap });
        const kicked = this.kicking(tap);
        const index = Number(portName.slice(-1));
        if (portName.startsWith('nf')) nf[index] = kicked;
        else dma[index] = kicked;
      }
    } catch (e) {
      for (const p of this.ports_) p.port.close();
      throw e;
    }
    this.nic.attach({ nf, dma });
  }

  /** Wraps a port so that every frame it brings in runs the model at once. */
  private kicking(port: Port): Port {
    const driver = this.driver;
    return {
      name: port.name,
      attach: (receiver) =>
        port.attach((frame, cycle) => {
          receiver(frame, cycle);
          driver.kick();
        }),
      receive: (frame, cycle) => port.receive(frame, cycle),
      transmit: (frame, cycle) => port.transmit(frame, cycle),
      close: () => port.close(),
    };
  }

  ports(): PortInfo[] {
    const attached = new Set(this.ports_.map((p) => p.name));
    return defaultPorts().map((p) => ({ ...p, up: this.ports_.length === 0 ? p.up : attached.has(p.name) }));
  }

  start(): void {
    this.driver.start();
  }

  stop(): void {
    this.driver.stop();
    for (const p of this.ports_) p.port.close();
  }
}

/** Parses `--port nf0=fm-nf0` values. */
export function parseTapPortNames(values: string[]): TapPortNames {
  const names: TapPortNames = {};
  for (const v of values) {
    const m = /^(nf[0-3]|dma[0-3])=([A-Za-z0-9_.-]{1,15})$/.exec(v);
    if (m === null) throw new Error(`--port ${v}: expected PORT=TAPNAME, PORT one of nf0..nf3, dma0..dma3, TAPNAME at most 15 characters`);
    names[m[1] as keyof TapPortNames] = m[2]!;
  }
  return names;
}
