/**
 * The real NIC behind `fatriot daemon`: a FatriotNic (or, with --reference, the
 * reference NIC) run by the real-time driver, its ports either left unattached
 * (--sim: a NIC on the bench, driven only through its control socket) or opened
 * as TAP devices (--tap: real frames from real kernels). This file is the
 * composition root of the daemon; the control server still sees only the
 * ControlledNic interface (bus, events, ports).
 */
import { join } from 'node:path';
import { CapturePort } from '../dataplane/capture.ts';
import { LinkType, PcapWriter } from '../dataplane/pcap.ts';
import type { Port } from '../dataplane/port.ts';
import { RealtimeDriver } from '../dataplane/realtime-driver.ts';
import { TapPort } from '../dataplane/tap.ts';
import { FatriotNic } from '../pipeline/nic/fatriot-nic.ts';
import { ReferenceNic } from '../pipeline/nic/reference-nic.ts';
import { AxiLiteBus } from '../pipeline/regs/axi-lite-bus.ts';
import type { Simulator } from '../pipeline/sim/simulator.ts';
import { FatriotRegisters } from '../pipeline/regs/fatriot-registers.ts';
import { NicEventHub, defaultPorts, type ControlledNic, type EventSource, type NicFactoryOptions, type PortInfo } from './nic.ts';

/** Which TAP device each port uses, e.g. { nf0: 'fm-nf0', dma0: 'fm-dma0' }. */
export type TapPortNames = Partial<Record<'nf0' | 'nf1' | 'nf2' | 'nf3' | 'dma0' | 'dma1' | 'dma2' | 'dma3', string>>;

export interface ModelNicOptions extends NicFactoryOptions {
  taps?: TapPortNames;
  /**
   * --tap: capture every port to `<pcapDir>/<port>.pcap` (nf0.pcap, dma0.pcap, ...):
   * nanosecond pcap, LINKTYPE_ETHERNET, timestamps cycle x clock period (model time),
   * both directions, as `tcpdump -i` on the port would see them.
   */
  pcapDir?: string;
}


/** How often open captures are flushed to disk, so a running daemon's files can be read. */
const PCAP_FLUSH_MS = 1000;

export class ModelNic implements ControlledNic {
  readonly nic: FatriotNic | ReferenceNic;
  readonly sim: Simulator;
  readonly bus: AxiLiteBus;
  readonly events: EventSource;
  readonly clockHz: number;
  readonly description: string;
  readonly driver: RealtimeDriver;
  private readonly ports_: { name: string; port: Port }[] = [];
  private readonly pcapWriters: PcapWriter[] = [];
  private pcapFlushTimer: NodeJS.Timeout | null = null;

  constructor(options: ModelNicOptions) {
    let bus: AxiLiteBus;
    if (options.reference) {
      // The reference NIC has no Fatriot tables; it still gets the register map's
      // blocks so the control plane can read the counters it keeps (tables there
      // have no effect on its datapath).
      const regs = new FatriotRegisters();
      const nic = new ReferenceNic({ counters: regs.counters.values });
      bus = nic.sim.add(new AxiLiteBus());
      regs.attach(bus);
      this.events = new NicEventHub();
      this.nic = nic;
    } else {
      const nic = new FatriotNic();
      bus = nic.bus;
      this.events = { subscribe: (l) => nic.subscribe(l) };
      this.nic = nic;
    }
    this.sim = this.nic.sim;
    this.clockHz = this.nic.coreHz;
    this.driver = new RealtimeDriver(this.sim, this.clockHz);
    this.bus = this.presentTimeBus(bus);
    if (options.mode === 'tap') this.openTaps(options.taps ?? {}, options.pcapDir);
    const top = options.reference ? 'reference NIC' : 'Fatriot NIC';
    const where = options.mode === 'tap' ? `TAP ports ${this.ports_.map((p) => `${p.name}=${p.port.name}`).join(' ')}` : 'no ports attached (--sim)';
    const pcap = this.pcapWriters.length > 0 ? `, capturing to ${options.pcapDir}` : '';
    this.description = `${top}, cycle model at ${this.clockHz / 1e6} MHz, ${where}${pcap}`;
  }

  private openTaps(names: TapPortNames, pcapDir: string | undefined): void {
    const entries = Object.entries(names).filter(([, v]) => v !== undefined) as [string, string][];
    if (entries.length === 0) throw new Error('fatriot daemon --tap: name at least one port, e.g. --port nf0=fm-nf0 --port dma0=fm-dma0');
    const nf: (Port | null)[] = [null, null, null, null];
    const dma: (Port | null)[] = [null, null, null, null];
    try {
      for (const [portName, tapName] of entries) {
        const tap = new TapPort({ name: tapName, clock: () => this.driver.nowCycle() });
        let port: Port = tap;
        if (pcapDir !== undefined) {
          const writer = PcapWriter.open(join(pcapDir, `${portName}.pcap`), LinkType.Ethernet);
          this.pcapWriters.push(writer);
          port = new CapturePort(tap, writer, 1e9 / this.clockHz);
        }
        this.ports_.push({ name: portName, port });
        const kicked = this.driver.drivenPort(port);
        const index = Number(portName.slice(-1));
        if (portName.startsWith('nf')) nf[index] = kicked;
        else dma[index] = kicked;
      }
    } catch (e) {
      for (const p of this.ports_) p.port.close();
      for (const w of this.pcapWriters) w.close();
      throw e;
    }
    this.nic.attach({ nf, dma });
  }

  /**
   * The bus as the control server sees it: an access is dated at the present cycle
   * and runs at once, as a frame from a port does. Without this, an access made while
   * the real-time driver sleeps (up to its maxSleepMs, 50 ms) is queued at a model
   * time that trails the wall clock and applied only at the next wake-up: a new
   * heartbeat entry then sends its first heartbeat "in the past" and learns an RTT up
   * to 50 ms too long (found on the netns testbed).
   */
  private presentTimeBus(bus: AxiLiteBus): AxiLiteBus {
    const driver = this.driver;
    const access = (fn: (address: number, value: number) => Promise<unknown>) => (address: number, value: number) => {
      // Bounded: a busy model stays behind (the driver reports its lag); an idle one jumps.
      driver.catchUp();
      const done = fn.call(bus, address, value);
      driver.kick();
      return done;
    };
    const read = access(bus.read as (address: number) => Promise<number>);
    const write = access(bus.write);
    return new Proxy(bus, {
      get(target, prop) {
        if (prop === 'read') return read;
        if (prop === 'write') return write;
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  }

  ports(): PortInfo[] {
    const attached = new Set(this.ports_.map((p) => p.name));
    return defaultPorts().map((p) => ({ ...p, up: this.ports_.length === 0 ? p.up : attached.has(p.name) }));
  }

  start(): void {
    this.driver.start();
    if (this.pcapWriters.length > 0 && this.pcapFlushTimer === null) {
      this.pcapFlushTimer = setInterval(() => {
        for (const w of this.pcapWriters) if (w.isOpen) w.flush();
      }, PCAP_FLUSH_MS);
      this.pcapFlushTimer.unref();
    }
  }

  stop(): void {
    this.driver.stop();
    if (this.pcapFlushTimer !== null) clearInterval(this.pcapFlushTimer);
    this.pcapFlushTimer = null;
    // CapturePort.close closes its writer after the port.
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
