import {
  coreClockHz,
  netfpgaSpec,
  type CoreClockVariant,
  type OutputQueuesVariant,
  defaultOutputQueuesVariant,
  defaultCoreClockVariant,
} from '../../../hw/netfpga-spec/index.ts';
import type { Port } from '../../dataplane/port.ts';
import { AxisChannel } from '../sim/channel.ts';
import { PacketPool } from '../sim/packet.ts';
import { Simulator } from '../sim/simulator.ts';
import { WireTiming } from '../modules/ethernet-wire.ts';
import { InputArbiter } from '../modules/input-arbiter.ts';
import { MAC_COUNTERS, Nf10gRx, Nf10gTx } from '../modules/nf-10g-interface.ts';
import { NfRiffaDma } from '../modules/nf-riffa-dma.ts';
import { NicOutputPortLookup } from '../modules/nic-output-port-lookup.ts';
import { OutputQueues } from '../modules/output-queues.ts';

export interface NicOptions {
  /** Simulator to join; a new one by default. */
  sim?: Simulator;
  clock?: CoreClockVariant;
  outputQueuesVariant?: OutputQueuesVariant;
  /** Prefix for module and channel names (several NICs in one simulator). */
  name?: string;
}

/** The parts every NIC top shares: 10G interfaces, DMA and the packet pool. */
export interface NicPorts {
  readonly nfRx: Nf10gRx[];
  readonly nfTx: Nf10gTx[];
  readonly dma: NfRiffaDma;
}

const NUM_MACS = 4;

/**
 * NetFPGA-SUME Reference NIC (projects/reference_nic, nf_datapath.v): four 10G
 * interfaces and the DMA engine -> input_arbiter -> nic_output_port_lookup ->
 * output_queues -> 10G interfaces and DMA. This file only instantiates and wires.
 */
export class ReferenceNic {
  readonly sim: Simulator;
  readonly pool: PacketPool;
  readonly coreHz: number;
  readonly clockPeriodNs: number;
  readonly nfRx: Nf10gRx[] = [];
  readonly nfTx: Nf10gTx[] = [];
  readonly macCounters: Float64Array[] = [];
  readonly dma: NfRiffaDma;
  readonly inputArbiter: InputArbiter;
  readonly outputPortLookup: NicOutputPortLookup;
  readonly outputQueues: OutputQueues;

  constructor(options: NicOptions = {}) {
    const prefix = options.name === undefined ? '' : `${options.name}.`;
    this.sim = options.sim ?? new Simulator();
    this.coreHz = coreClockHz(options.clock ?? defaultCoreClockVariant);
    this.clockPeriodNs = 1e9 / this.coreHz;
    this.pool = new PacketPool(netfpgaSpec.axis.beatBytes.value);
    const timing = new WireTiming(this.coreHz);
    const ch = (n: string) => new AxisChannel(prefix + n);

    const arbIn = [...Array.from({ length: NUM_MACS }, (_, i) => ch(`nf${i}_rx_to_input_arbiter`)), ch('dma_to_input_arbiter')];
    const arbOut = ch('input_arbiter_to_output_port_lookup');
    const lookupOut = ch('output_port_lookup_to_output_queues');
    const oqOut = [...Array.from({ length: NUM_MACS }, (_, i) => ch(`output_queues_to_nf${i}_tx`)), ch('output_queues_to_dma')];

    for (let i = 0; i < NUM_MACS; i++) {
      const counters = new Float64Array(MAC_COUNTERS.length);
      // The rx and tx halves of one interface share its counter block.
      this.nfRx.push(new Nf10gRx(`${prefix}nf${i}_rx`, arbIn[i]!, this.pool, timing, 1 << (2 * i), counters));
      this.nfTx.push(new Nf10gTx(`${prefix}nf${i}_tx`, oqOut[i]!, this.pool, timing, counters));
      this.macCounters.push(counters);
    }
    this.dma = new NfRiffaDma(`${prefix}dma`, arbIn[NUM_MACS]!, oqOut[NUM_MACS]!, this.pool, this.coreHz);
    const ia = netfpgaSpec.inputArbiter;
    this.inputArbiter = new InputArbiter(`${prefix}input_arbiter`, arbIn, arbOut, {
      inFifoDepthBits: Math.log2(ia.inputFifoDepthBeats.value),
    });
    this.outputPortLookup = new NicOutputPortLookup(`${prefix}output_port_lookup`, arbOut, lookupOut, {
      inFifoDepthBits: Math.log2(netfpgaSpec.nicOutputPortLookup.inputFifoDepthBeats.value),
    });
    const oq = netfpgaSpec.outputQueues;
    this.outputQueues = new OutputQueues(`${prefix}output_queues`, lookupOut, oqOut, this.pool, {
      bufferDepthBits: Math.log2(oq.bufferDepthBeats.value),
      progFullThresholdWords: oq.nearlyFullThresholdBeats.value,
      metadataDepthBits: Math.log2(oq.metadataFifoDepthPackets.value),
      variant: options.outputQueuesVariant ?? defaultOutputQueuesVariant,
    });
    for (const m of [...this.nfRx, this.dma, this.inputArbiter, this.outputPortLookup, this.outputQueues, ...this.nfTx]) this.sim.add(m);
  }

  /** Connects the wire side nfX and the host side dmaX to ports. */
  attach(ports: { nf?: (Port | null)[]; dma?: (Port | null)[] }): void {
    ports.nf?.forEach((port, i) => {
      if (port === null) return;
      const rx = this.nfRx[i]!;
      port.attach((frame, cycle) => rx.receiveFrame(frame, cycle));
      this.nfTx[i]!.port = port;
    });
    ports.dma?.forEach((port, i) => {
      if (port === null) return;
      const dma = this.dma;
      port.attach((frame, cycle) => dma.fromHostFrame(i, frame, cycle));
      dma.ports[i] = port;
    });
  }
}
