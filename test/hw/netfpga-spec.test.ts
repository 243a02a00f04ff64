import { describe, expect, it } from 'vitest';
import rawSpec from '../../hw/netfpga-spec/reference-nic.json' with { type: 'json' };
import {
  beatBytes,
  beatsPerFrame,
  clockPeriodNs,
  coreClockHz,
  defaultCoreClockVariant,
  defaultOutputQueuesVariant,
  lineRateCyclesPerFrame,
  lineRateCyclesPerFrameFloat,
  lineRateFramesPerSecond,
  listFacts,
  netfpgaSpec,
  outputQueuesCounterAddress,
  outputQueuesLatencyCycles,
  portNameOfOneHot,
  portNames,
  portOneHot,
  validateSpec,
  wireBytesPerFrame,
} from '../../hw/netfpga-spec/index.ts';
import { nicDestination as nicOutputPortLookupDst } from '../../src/pipeline/modules/nic-output-port-lookup.ts';
import { outputQueueMask } from '../../src/pipeline/modules/output-queues.ts';

describe('reference-nic.json facts', () => {
  const facts = listFacts(netfpgaSpec);

  it('has a non-empty source or assumed reason on every leaf, never both', () => {
    expect(facts.length).toBeGreaterThan(150);
    for (const [path, fact] of facts) {
      const hasSource = typeof fact.source === 'string' && fact.source.trim().length > 0;
      const hasAssumed = typeof fact.assumed === 'string' && fact.assumed.trim().length > 0;
      expect(hasSource !== hasAssumed, path).toBe(true);
      expect(fact.unit.length, path).toBeGreaterThan(0);
    }
  });

  it('uses camelCase keys (variant ids excepted)', () => {
    const variantIds = new Set(['nf_datapath_200', 'block_design_160', 'tail_drop', 'global_backpressure']);
    for (const [path] of facts) {
      for (const key of path.split('.')) {
        if (!variantIds.has(key)) expect(key, path).toMatch(/^[a-z][A-Za-z0-9]*$/);
      }
    }
  });

  it('rejects a fact without source or assumed, and one with both', () => {
    const missing = structuredClone(rawSpec) as Record<string, any>;
    delete missing.axis.beatBytes.source;
    expect(() => validateSpec(missing)).toThrow(/axis\.beatBytes/);
    const both = structuredClone(rawSpec) as Record<string, any>;
    both.axis.beatBytes.assumed = 'guess';
    expect(() => validateSpec(both)).toThrow(/exactly one of source or assumed/);
  });

  it('is frozen', () => {
    expect(Object.isFrozen(netfpgaSpec.axis.beatBytes)).toBe(true);
    expect(() => {
      (netfpgaSpec.axis.beatBytes as { value: number }).value = 64;
    }).toThrow(TypeError);
  });

  it('records the bus and tuser layout of SPEC.md section 2', () => {
    const axis = netfpgaSpec.axis;
    expect(axis.dataWidthBits.value).toBe(256);
    expect(axis.beatBytes.value).toBe(32);
    expect(axis.tkeepWidthBits.value).toBe(32);
    expect(axis.tuserWidthBits.value).toBe(128);
    expect([axis.tuserLenLsb.value, axis.tuserLenWidthBits.value]).toEqual([0, 16]);
    expect([axis.tuserSrcPortLsb.value, axis.tuserDstPortLsb.value, axis.tuserPortWidthBits.value]).toEqual([16, 24, 8]);
  });

  it('records the FIFO depths the RTL parameters give', () => {
    expect(netfpgaSpec.inputArbiter.inputFifoDepthBeats.value).toBe(64);
    expect(netfpgaSpec.inputArbiter.inputFifoCapacityBeats.value).toBe(66);
    expect(netfpgaSpec.nicOutputPortLookup.inputFifoDepthBeats.value).toBe(4);
    expect(netfpgaSpec.outputQueues.bufferDepthBeats.value * beatBytes).toBe(netfpgaSpec.outputQueues.bufferSizeBytes.value);
    expect(netfpgaSpec.outputQueues.nearlyFullThresholdBeats.value).toBe((4096 - 1600) / 32);
    expect(netfpgaSpec.outputQueues.metadataFifoDepthPackets.value).toBe(4);
  });

  it('sums the core chain latency from its modules', () => {
    const l = netfpgaSpec.latency;
    expect(l.inputArbiterCycles.value + l.nicOutputPortLookupCycles.value + l.outputQueuesCycles.value).toBe(
      l.coreChainFirstBeatCycles.value,
    );
    expect(l.coreChainFirstBeatCycles.value).toBe(10);
  });
});

describe('clock helpers', () => {
  it('defaults to the 160 MHz block design (6.25 ns, the paper precision)', () => {
    expect(defaultCoreClockVariant).toBe('block_design_160');
    expect(coreClockHz()).toBe(160_000_000);
    expect(clockPeriodNs()).toBe(6.25);
    expect(clockPeriodNs()).toBe(netfpgaSpec.meta.paperTimestampPrecisionNs.value);
  });

  it('gives 200 MHz / 5 ns for the nf_datapath releases', () => {
    expect(coreClockHz('nf_datapath_200')).toBe(200_000_000);
    expect(clockPeriodNs('nf_datapath_200')).toBe(5);
  });
});

describe('ports', () => {
  it('maps nf ports to even and dma ports to odd one-hot bits', () => {
    expect(portNames).toEqual(['nf0', 'dma0', 'nf1', 'dma1', 'nf2', 'dma2', 'nf3', 'dma3']);
    expect(portNames.map(portOneHot)).toEqual([0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80]);
    expect(portNameOfOneHot(0x40)).toBe('nf3');
    expect(portNameOfOneHot(0x03)).toBeUndefined();
  });

  it('nic_output_port_lookup sends nfN to dmaN, dmaN to nfN, and no source to nf0', () => {
    for (let n = 0; n < 4; n++) {
      const nf = portOneHot(`nf${n}` as 'nf0');
      const dma = portOneHot(`dma${n}` as 'dma0');
      expect(nicOutputPortLookupDst(nf)).toBe(dma);
      expect(nicOutputPortLookupDst(dma)).toBe(nf);
    }
    expect(nicOutputPortLookupDst(0)).toBe(portOneHot('nf0'));
  });

  it('output_queues uses queue 0..3 for nf0..nf3 and one shared queue 4 for every dma port', () => {
    expect(outputQueueMask(portOneHot('nf0'))).toBe(0b00001);
    expect(outputQueueMask(portOneHot('nf3'))).toBe(0b01000);
    expect(outputQueueMask(portOneHot('dma0'))).toBe(0b10000);
    expect(outputQueueMask(portOneHot('dma3'))).toBe(0b10000);
    expect(outputQueueMask(portOneHot('nf1') | portOneHot('dma2'))).toBe(0b10010);
    expect(outputQueueMask(0)).toBe(0);
  });
});

describe('line-rate helpers', () => {
  it('64-byte frames (60 without FCS) take 84 wire bytes: 14.88 Mpps', () => {
    expect(wireBytesPerFrame(60)).toBe(84);
    expect(lineRateFramesPerSecond(60)).toBeCloseTo(14_880_952.38, 1);
  });

  it('pads runts to the 64-byte minimum on the wire', () => {
    expect(wireBytesPerFrame(14)).toBe(84);
    expect(wireBytesPerFrame(61)).toBe(85);
  });

  it('1500-byte frames take 1524 wire bytes, 1514-byte frames 1538', () => {
    expect(wireBytesPerFrame(1500)).toBe(1524);
    expect(wireBytesPerFrame(1514)).toBe(1538);
    expect(lineRateFramesPerSecond(1514)).toBeCloseTo(812_743.82, 1);
  });

  it('gives exact rational cycles per frame', () => {
    expect(lineRateCyclesPerFrame(60, 160_000_000)).toEqual({ numerator: 1344, denominator: 125 });
    expect(lineRateCyclesPerFrameFloat(60, 160_000_000)).toBe(10.752);
    expect(lineRateCyclesPerFrame(60, 200_000_000)).toEqual({ numerator: 336, denominator: 25 });
    expect(lineRateCyclesPerFrame(1514, 200_000_000)).toEqual({ numerator: 6152, denominator: 25 });
    expect(lineRateCyclesPerFrameFloat(1514)).toBe(196.864);
  });

  it('counts 256-bit beats per frame', () => {
    expect(beatsPerFrame(60)).toBe(2);
    expect(beatsPerFrame(64)).toBe(2);
    expect(beatsPerFrame(65)).toBe(3);
    expect(beatsPerFrame(1514)).toBe(48);
  });
});

describe('output queues and register helpers', () => {
  it('tail drop is the default variant, one IDLE cycle more than the back-pressure variant', () => {
    expect(defaultOutputQueuesVariant).toBe('tail_drop');
    expect(outputQueuesLatencyCycles()).toBe(4);
    expect(outputQueuesLatencyCycles('global_backpressure')).toBe(3);
  });

  it('places per-port counters at the addresses of output_queues_cpu_regs_defines.v', () => {
    expect(outputQueuesCounterAddress(0, 'pktStored')).toBe(0x4403001c);
    expect(outputQueuesCounterAddress(1, 'pktStored')).toBe(0x44030038);
    expect(outputQueuesCounterAddress(4, 'pktInQueue')).toBe(0x440300a4);
    expect(outputQueuesCounterAddress(2, 'bytesDropped')).toBe(0x44030068);
  });
});
