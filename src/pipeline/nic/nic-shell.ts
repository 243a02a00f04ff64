import { coreClockHz, defaultCoreClockVariant, netfpgaSpec, type CoreClockVariant, type OutputQueuesVariant } from '../../../hw/netfpga-spec/index.ts';
import type { Port } from '../../dataplane/port.ts';
import { AxisChannel } from '../sim/channel.ts';
import type { ClockedModule } from '../sim/module.ts';
import { PacketPool } from '../sim/packet.ts';
import { Simulator } from '../sim/simulator.ts';
import { WireTiming } from '../modules/ethernet-wire.ts';
import { Nf10gRx, Nf10gTx } from '../modules/nf-10g-interface.ts';
import { counterIndex, fatriotRegisterMap } from '../regs/register-map.ts';
import { NfRiffaDma } from '../modules/nf-riffa-dma.ts';

export interface NicOptions {
  /** Simulator to join; a new one by default. */
  sim?: Simulator;
  clock?: CoreClockVariant;
  outputQueuesVariant?: OutputQueuesVariant;
  /** Prefix for module and channel names (several NICs in one simulator). */
  name?: string;
}

export interface NicShellOptions extends NicOptions {
  /** The counter memory to count into (the Fatriot NIC's is on its AXI-Lite bus). */
  counters?: Float64Array;
}

export const NUM_MACS = 4;

/**
 * What both NIC tops share, as in nf_datapath.v: the four 10G interfaces, the DMA
 * engine, the packet pool and the clock. The tops add the core datapath between
 * `toCore` (one channel per arbiter input: nf0..nf3, DMA) and `fromCore` (one per
 * output queue: nf0..nf3, DMA).
 */
export class NicShell {
  readonly sim: Simulator;
  readonly pool: PacketPool;
  readonly coreHz: number;
  readonly clockPeriodNs: number;
  readonly prefix: string;
  readonly nfRx: Nf10gRx[] = [];
  readonly nfTx: Nf10gTx[] = [];
  /**
   * Counter memory, laid out as the register map's counter block (per-port
   * packets/bytes, drops by reason, events), so both tops count the same way.
   */
  readonly counters: Float64Array;
  readonly dma: NfRiffaDma;
  readonly toCore: AxisChannel[];
  readonly fromCore: AxisChannel[];

  constructor(options: NicShellOptions) {
    this.prefix = options.name === undefined ? '' : `${options.name}.`;
    this.sim = options.sim ?? new Simulator();
    this.coreHz = coreClockHz(options.clock ?? defaultCoreClockVariant);
    this.clockPeriodNs = 1e9 / this.coreHz;
    this.pool = new PacketPool(netfpgaSpec.axis.beatBytes.value);
    this.counters = options.counters ?? new Float64Array(fatriotRegisterMap.counters.count);
    const timing = new WireTiming(this.coreHz);
    this.toCore = [...Array.from({ length: NUM_MACS }, (_, i) => this.channel(`nf${i}_rx_to_input_arbiter`)), this.channel('dma_to_input_arbiter')];
    this.fromCore = [...Array.from({ length: NUM_MACS }, (_, i) => this.channel(`output_queues_to_nf${i}_tx`)), this.channel('output_queues_to_dma')];
    const drops = {
      dropFifoFull: counterIndex('drop.inputFifoFull'),
      dropRunt: counterIndex('drop.runtFrame'),
      dropOversize: counterIndex('drop.oversizeFrame'),
    };
    const port = (name: string) => ({
      rxPackets: counterIndex(`${name}.rxPackets`),
      rxBytes: counterIndex(`${name}.rxBytes`),
      txPackets: counterIndex(`${name}.txPackets`),
      txBytes: counterIndex(`${name}.txBytes`),
    });
    for (let i = 0; i < NUM_MACS; i++) {
      const idx = { ...port(`nf${i}`), ...drops };
      this.nfRx.push(new Nf10gRx(`${this.prefix}nf${i}_rx`, this.toCore[i]!, this.pool, timing, 1 << (2 * i), this.counters, idx));
      this.nfTx.push(new Nf10gTx(`${this.prefix}nf${i}_tx`, this.fromCore[i]!, this.pool, timing, this.counters, idx));
    }
    const dmaPorts = [0, 1, 2, 3].map((i) => port(`dma${i}`));
    this.dma = new NfRiffaDma(`${this.prefix}dma`, this.toCore[NUM_MACS]!, this.fromCore[NUM_MACS]!, this.pool, this.coreHz, this.counters, {
      rxPackets: dmaPorts.map((d) => d.rxPackets),
      rxBytes: dmaPorts.map((d) => d.rxBytes),
      txPackets: dmaPorts.map((d) => d.txPackets),
      txBytes: dmaPorts.map((d) => d.txBytes),
      dropNoPort: counterIndex('drop.noHostPort'),
      dropRunt: drops.dropRunt,
      dropOversize: drops.dropOversize,
    });
  }

  /** A counter by its register-map name ('nf0.rxPackets', 'drop.runtFrame', 'event.heartbeatsSent', ...). */
  counter(name: string): number {
    return this.counters[counterIndex(name)]!;
  }

  channel(name: string): AxisChannel {
    return new AxisChannel(this.prefix + name);
  }

  /** Adds the interface modules and `core` to the simulator. */
  addModules(core: ClockedModule[]): void {
    for (const m of [...this.nfRx, this.dma, ...core, ...this.nfTx]) this.sim.add(m);
  }

  /** Connects the wire side nfX and the host side dmaX to ports. */
  attach(ports: { nf?: (Port | null)[]; dma?: (Port | null)[] }): void {
    ports.nf?.forEach((port, i) => {
      if (port === null) return;
      const rx = this.nfRx[i]!;
      port.attach((frame, cycle) => rx.receiveFrame(frame, cycle));
      rx.attachPort(port);
      this.nfTx[i]!.port = port;
    });
    ports.dma?.forEach((port, i) => {
      if (port === null) return;
      const dma = this.dma;
      port.attach((frame, cycle) => dma.fromHostFrame(i, frame, cycle));
      dma.attachPort(i, port);
    });
  }
}
