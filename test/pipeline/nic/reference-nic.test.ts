import { describe, expect, it } from 'vitest';
import { netfpgaSpec, wireBytesPerFrame } from '../../../hw/netfpga-spec/index.ts';
import { createMemoryLink } from '../../../src/dataplane/memory-link.ts';
import { ReferenceNic } from '../../../src/pipeline/nic/reference-nic.ts';
import { OQ_BYTES_DROPPED, OQ_PKT_DROPPED, OQ_PKT_STORED } from '../../../src/pipeline/modules/output-queues.ts';
import { ScheduledSender } from '../../../src/host/sim/scheduled-sender.ts';

function frameOf(length: number, tag: number): Uint8Array {
  const f = new Uint8Array(length);
  f.fill(0xff, 0, 6);
  f[12] = 0x08;
  f[14] = tag & 0xff;
  f[15] = (tag >>> 8) & 0xff;
  f[16] = (tag >>> 16) & 0xff;
  return f;
}
const tagOf = (f: Uint8Array) => f[14]! | (f[15]! << 8) | (f[16]! << 16);

function setup(options: ConstructorParameters<typeof ReferenceNic>[0] = {}) {
  const nic = new ReferenceNic(options);
  const wire = [0, 1, 2, 3].map((i) => createMemoryLink(`nf${i}`, `peer${i}`));
  const host = [0, 1, 2, 3].map((i) => createMemoryLink(`dma${i}`, `host${i}`));
  nic.attach({ nf: wire.map((l) => l[0]), dma: host.map((l) => l[0]) });
  const senders = wire.map((l, i) => nic.sim.add(new ScheduledSender(`sender${i}`, l[1])));
  const hostSenders = host.map((l, i) => nic.sim.add(new ScheduledSender(`hostsender${i}`, l[1])));
  const atHost: { port: number; tag: number; cycle: number; length: number }[] = [];
  const atWire: { port: number; tag: number; cycle: number; length: number }[] = [];
  host.forEach((l, i) => l[1].attach((f, c) => atHost.push({ port: i, tag: tagOf(f), cycle: c, length: f.length })));
  wire.forEach((l, i) => l[1].attach((f, c) => atWire.push({ port: i, tag: tagOf(f), cycle: c, length: f.length })));
  return { nic, senders, hostSenders, atHost, atWire };
}

describe('ReferenceNic', () => {
  it('delivers a 60-byte frame from nf0 to dma0 after exactly the latency the hw spec gives', () => {
    const { nic, senders, atHost } = setup();
    senders[0]!.send(frameOf(60, 1), 0);
    nic.sim.runUntilIdle();
    // Derivation at 160 MHz (125 wire units a cycle, 16 a byte):
    //  MAC has the last word after preamble + 64 bytes: ceil((8 + 64) * 16 / 125) = 10
    //  first core beat: + rxLastMacWordToCoreFirstBeatCycles (10) = 20; second (last) beat 4 words later = 24
    //  input_arbiter FIFO fall-through 3: beat 0 readable at 23; the round-robin pointer stands at
    //  23 mod 5 = 3 and walks 3 -> 4 -> 0: beat 0 leaves at 25, beat 1 (written 24) at 27
    //  nic_output_port_lookup fall-through 3: beat 0 offered at 28
    //  output_queues (tail_drop): decision cycle 28, beat 0 taken 29, beat 1 taken 30; fall-through 3: 32, 33
    //  DMA: last beat taken at 33, + coreToHostLatencyCycles (8) = 41; the host sees it from cycle 42.
    const s = netfpgaSpec;
    const lastWord = Math.ceil(((s.ethernet.preambleSfdBytes.value + 64) * 16) / 125);
    const firstBeat = lastWord + s.latency.rxLastMacWordToCoreFirstBeatCycles.value;
    const lastBeatIntoArbiter = firstBeat + s.nf10gInterface.rx.cyclesPerBeat.value;
    const ff = s.fallthroughFifo.writeToFirstReadLatencyCycles.value;
    const arbBeat0 = firstBeat + ff + 2; // pointer walk 3 -> 4 -> 0
    const arbBeat1 = lastBeatIntoArbiter + ff;
    const oqTaken1 = arbBeat1 + ff; // lookup fall-through; the decision cycle overlaps beat 1's wait
    expect(arbBeat0).toBe(25);
    const expected = oqTaken1 + ff + s.dma.coreToHostLatencyCycles.value + 1;
    expect(atHost).toEqual([{ port: 0, tag: 1, cycle: expected, length: 60 }]);
    expect(expected).toBe(42);
  });

  it('sends host frames from dmaX out of nfX and frames from nfX to dmaX', () => {
    const { nic, senders, hostSenders, atHost, atWire } = setup();
    for (let i = 0; i < 4; i++) {
      senders[i]!.send(frameOf(100, 10 + i), 0);
      hostSenders[i]!.send(frameOf(100, 20 + i), 0);
    }
    nic.sim.runUntilIdle();
    expect(atHost.map((r) => [r.port, r.tag]).sort()).toEqual([[0, 10], [1, 11], [2, 12], [3, 13]]);
    expect(atWire.map((r) => [r.port, r.tag]).sort()).toEqual([[0, 20], [1, 21], [2, 22], [3, 23]]);
  });

  for (const length of [60, 1514]) {
    it(`reaches and never exceeds line rate with ${length}-byte frames`, () => {
      const { nic, senders, atHost } = setup();
      const n = length === 60 ? 2000 : 300;
      for (let i = 0; i < n; i++) senders[0]!.send(frameOf(length, i), 0);
      nic.sim.runUntilIdle();
      expect(atHost).toHaveLength(n);
      expect(atHost.map((r) => r.tag)).toEqual(Array.from({ length: n }, (_, i) => i));
      // Steady state: frames reach the host exactly one wire time apart on average,
      // and no two closer than the wire allows (rounded to whole cycles).
      const cyclesPerFrame = (wireBytesPerFrame(length) * 8) / 10e9 * nic.coreHz;
      const span = atHost[n - 1]!.cycle - atHost[0]!.cycle;
      expect(span / (n - 1)).toBeCloseTo(cyclesPerFrame, 2);
      const mpps = (n - 1) / (span / nic.coreHz) / 1e6;
      const lineMpps = 10e9 / (wireBytesPerFrame(length) * 8) / 1e6;
      expect(mpps).toBeLessThanOrEqual(lineMpps * 1.0001);
      expect(mpps).toBeGreaterThan(lineMpps * 0.999);
      if (length === 60) expect(lineMpps).toBeCloseTo(14.88, 2);
      // The core may bunch frames by a few cycles (arbiter pointer, FIFO fall-through),
      // but over any 50 frames it can deliver no faster than the wire brought them.
      for (let i = 0; i + 50 < n; i++) {
        expect(atHost[i + 50]!.cycle - atHost[i]!.cycle).toBeGreaterThanOrEqual(50 * cyclesPerFrame - 8);
      }
      expect(nic.pool.inUse).toBe(0);
    });
  }

  it('shares the datapath fairly among four ports at line rate, in order per port', () => {
    const { nic, senders, atHost } = setup();
    const n = 500;
    for (let p = 0; p < 4; p++) for (let i = 0; i < n; i++) senders[p]!.send(frameOf(60, p * 100000 + i), 0);
    nic.sim.runUntilIdle();
    for (let p = 0; p < 4; p++) {
      const tags = atHost.filter((r) => r.port === p).map((r) => r.tag - p * 100000);
      expect(tags).toEqual(Array.from({ length: n }, (_, i) => i));
    }
    // Round robin: over any window, each input gets within one packet of the others.
    const order = atHost.slice().sort((a, b) => a.cycle - b.cycle || a.port - b.port);
    const counts = [0, 0, 0, 0];
    for (const r of order.slice(0, 400)) counts[r.port]++;
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(2);
  });

  it('counts drops by reason: runt, oversize, and rx FIFO overflow when the core is congested', () => {
    const { nic, senders, hostSenders } = setup();
    senders[0]!.send(new Uint8Array(10), 0);
    senders[0]!.send(frameOf(1600, 1), 0);
    nic.sim.runUntilIdle();
    expect(nic.counter('drop.runtFrame')).toBe(1);
    expect(nic.counter('drop.oversizeFrame')).toBe(1);
    expect(nic.counter('nf0.rxPackets')).toBe(0);
    expect(nic.pool.inUse).toBe(0);
  });

  it('tail-drops whole packets at a full output queue, counts them, and reorders nothing', () => {
    const { nic, hostSenders, atWire } = setup();
    // PCIe (Gen2 x8, 32 Gb/s) fills nf0's 10G output queue faster than the wire drains it.
    const n = 400;
    for (let i = 0; i < n; i++) hostSenders[0]!.send(frameOf(1514, i), 0);
    nic.sim.runUntilIdle();
    const dropped = nic.outputQueues.counter(0, OQ_PKT_DROPPED);
    const stored = nic.outputQueues.counter(0, OQ_PKT_STORED);
    expect(dropped).toBeGreaterThan(0);
    expect(stored + dropped).toBe(n);
    expect(atWire).toHaveLength(stored);
    const tags = atWire.map((r) => r.tag);
    expect(tags).toEqual(tags.slice().sort((a, b) => a - b));
    expect(atWire.every((r) => r.length === 1514)).toBe(true);
    expect(nic.outputQueues.counter(0, OQ_BYTES_DROPPED)).toBe(dropped * 1514);
    expect(nic.counter('drop.outputQueueFull')).toBe(dropped);
    expect(nic.counter('dma0.rxPackets')).toBe(n);
    expect(nic.counter('nf0.txPackets')).toBe(stored);
    expect(nic.pool.inUse).toBe(0);
  });

  it('drops whole frames at rx when the rx buffering overflows behind a stalled core', () => {
    // global_backpressure: one full output queue stalls the whole input, so the
    // 10G receive side must drop (rx_queue cannot back-pressure the MAC).
    const { nic, senders, hostSenders, atHost } = setup({ outputQueuesVariant: 'global_backpressure' });
    for (let i = 0; i < 400; i++) hostSenders[0]!.send(frameOf(1514, i), 0);
    // Round robin gives nf1 one packet per round, and a round lasts one 1514-byte wire
    // time of nf0; small frames arrive ~18 times faster than that.
    for (let i = 0; i < 400; i++) senders[1]!.send(frameOf(60, 1000 + i), 0);
    nic.sim.runUntilIdle();
    const rxDrops = nic.counter('drop.inputFifoFull');
    expect(rxDrops).toBeGreaterThan(0);
    expect(nic.counter('nf1.rxPackets') + rxDrops).toBe(400);
    const tags = atHost.filter((r) => r.port === 1).map((r) => r.tag);
    expect(tags.length).toBe(nic.counter('nf1.rxPackets'));
    expect(tags).toEqual(tags.slice().sort((a, b) => a - b));
    expect(nic.outputQueues.counter(0, OQ_PKT_DROPPED)).toBe(0);
    expect(nic.pool.inUse).toBe(0);
  });
});
