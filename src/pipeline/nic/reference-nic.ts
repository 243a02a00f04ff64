import { defaultOutputQueuesVariant, netfpgaSpec } from '../../../hw/netfpga-spec/index.ts';
import { InputArbiter } from '../modules/input-arbiter.ts';
import { NicOutputPortLookup } from '../modules/nic-output-port-lookup.ts';
import { OutputQueues } from '../modules/output-queues.ts';
import { counterIndex } from '../regs/register-map.ts';
import { NicShell, type NicShellOptions } from './nic-shell.ts';

export type { NicOptions } from './nic-shell.ts';

/**
 * NetFPGA-SUME Reference NIC (projects/reference_nic, nf_datapath.v): four 10G
 * interfaces and the DMA engine -> input_arbiter -> nic_output_port_lookup ->
 * output_queues -> 10G interfaces and DMA. This file only instantiates and wires.
 */
export class ReferenceNic extends NicShell {
  readonly inputArbiter: InputArbiter;
  readonly outputPortLookup: NicOutputPortLookup;
  readonly outputQueues: OutputQueues;

  constructor(options: NicShellOptions = {}) {
    super(options);
    const arbOut = this.channel('input_arbiter_to_output_port_lookup');
    const lookupOut = this.channel('output_port_lookup_to_output_queues');
    this.inputArbiter = new InputArbiter(`${this.prefix}input_arbiter`, this.toCore, arbOut, referenceArbiterParams());
    this.outputPortLookup = new NicOutputPortLookup(`${this.prefix}output_port_lookup`, arbOut, lookupOut, referenceLookupParams());
    this.outputQueues = new OutputQueues(`${this.prefix}output_queues`, lookupOut, this.fromCore, this.pool, {
      ...referenceOutputQueuesParams(),
      variant: options.outputQueuesVariant ?? defaultOutputQueuesVariant,
      dropCounter: { counters: this.counters, index: counterIndex('drop.outputQueueFull') },
    });
    this.addModules([this.inputArbiter, this.outputPortLookup, this.outputQueues]);
  }
}

/** Parameters of the reference cores, from hw/netfpga-spec; FatriotNic uses the same. */
export function referenceArbiterParams() {
  return { inFifoDepthBits: Math.log2(netfpgaSpec.inputArbiter.inputFifoDepthBeats.value) };
}

export function referenceLookupParams() {
  return { inFifoDepthBits: Math.log2(netfpgaSpec.nicOutputPortLookup.inputFifoDepthBeats.value) };
}

export function referenceOutputQueuesParams() {
  const oq = netfpgaSpec.outputQueues;
  return {
    bufferDepthBits: Math.log2(oq.bufferDepthBeats.value),
    progFullThresholdWords: oq.nearlyFullThresholdBeats.value,
    metadataDepthBits: Math.log2(oq.metadataFifoDepthPackets.value),
  };
}
