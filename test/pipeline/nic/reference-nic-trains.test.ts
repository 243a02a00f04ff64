import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createMemoryLink, type MemoryPort } from '../../../src/dataplane/memory-link.ts';
import type { Port } from '../../../src/dataplane/port.ts';
import { ReferenceNic } from '../../../src/pipeline/nic/reference-nic.ts';
import { ScheduledSender } from '../../../src/host/sim/scheduled-sender.ts';
import { Simulator } from '../../../src/pipeline/sim/simulator.ts';
import { VcdWriter } from '../../../src/pipeline/sim/vcd.ts';

interface Offer {
  port: number;
  fromHost: boolean;
  length: number;
  gap: number;
}

type Link = [MemoryPort, MemoryPort];

/** Logs every frame the NIC hands to the far ends of its links: port, tag, cycle, length. */
function logDeliveries(wire: Link[], host: Link[]): string[] {
  const delivered: string[] = [];
  const tagOf = (f: Uint8Array) => (f.length >= 16 ? f[14]! | (f[15]! << 8) : -1);
  host.forEach((l, i) => l[1].attach((f, c) => delivered.push(`dma${i} #${tagOf(f)} @${c} ${f.length}B`)));
  wire.forEach((l, i) => l[1].attach((f, c) => delivered.push(`nf${i} #${tagOf(f)} @${c} ${f.length}B`)));
  return delivered;
}

/** Schedules each offer on its sender at the running sum of the gaps, tagged with its index. */
function scheduleOffers(offers: Offer[], senderOf: (o: Offer) => ScheduledSender): void {
  let at = 0;
  offers.forEach((o, tag) => {
    at += o.gap;
    const f = new Uint8Array(o.length);
    f[12] = 0x08;
    if (o.length >= 16) {
      f[14] = tag & 0xff;
      f[15] = tag >>> 8;
    }
    senderOf(o).send(f, at);
  });
}

/** Runs the offers through a reference NIC in chunks; returns what each chunk boundary showed. */
function run(trains: boolean, offers: Offer[], chunks: number[], sim = new Simulator({ trains })) {
  const nic = new ReferenceNic({ sim });
  const wire = [0, 1, 2, 3].map((i) => createMemoryLink(`nf${i}`, `peer${i}`));
  const host = [0, 1, 2, 3].map((i) => createMemoryLink(`dma${i}`, `host${i}`));
  nic.attach({ nf: wire.map((l) => l[0]), dma: host.map((l) => l[0]) });
  const senders = wire.map((l, i) => nic.sim.add(new ScheduledSender(`sender${i}`, l[1])));
  const hostSenders = host.map((l, i) => nic.sim.add(new ScheduledSender(`hostsender${i}`, l[1])));
  const delivered = logDeliveries(wire, host);
  scheduleOffers(offers, (o) => (o.fromHost ? hostSenders : senders)[o.port]!);
  const seen: string[] = [];
  for (const c of chunks) {
    nic.sim.runUntil(nic.sim.now + c);
    seen.push(`${nic.sim.now}: ${delivered.length} delivered; counters ${nic.counters.join(',')}; queues ${nic.outputQueues.counters.join(',')}; arbiter ${nic.inputArbiter.pktIn}/${nic.inputArbiter.pktOut}`);
  }
  nic.sim.runUntilIdle();
  return { delivered, seen, counters: Array.from(nic.counters), queues: Array.from(nic.outputQueues.counters), inUse: nic.pool.inUse, evaluations: nic.sim.evaluations };
}

const offer: fc.Arbitrary<Offer> = fc.record({
  port: fc.integer({ min: 0, max: 3 }),
  fromHost: fc.boolean(),
  length: fc.oneof(
    fc.constantFrom(60, 64, 65, 96, 97, 1514),
    fc.integer({ min: 14, max: 1514 }),
    fc.constantFrom(10, 13, 20, 33, 1515, 1600),
  ),
  // Bursts (many frames at once) congest the output queues and the 10G transmitters
  // (tready low, tail drops), and the arbiter and lookup FIFOs behind them.
  gap: fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 400 })),
});

/** Most frames from the host to one 10G port, back to back: its output queue fills (prog_full, tail drops). */
const hotSpot: fc.Arbitrary<Offer[]> = fc
  .record({
    port: fc.integer({ min: 0, max: 3 }),
    offers: fc.array(
      fc.record({ hot: fc.integer({ min: 0, max: 9 }), other: offer, length: fc.integer({ min: 600, max: 1514 }) }),
      { minLength: 20, maxLength: 150 },
    ),
  })
  .map(({ port, offers }) => offers.map((o) => (o.hot < 8 ? { port, fromHost: true, length: o.length, gap: 0 } : o.other)));

/** Small frames on all four 10G ports at once: more than the datapath takes, so the arbiter and lookup FIFOs fill. */
const smallFlood: fc.Arbitrary<Offer[]> = fc.array(
  fc.record({ port: fc.integer({ min: 0, max: 3 }), fromHost: fc.constant(false), length: fc.constantFrom(60, 64, 65, 96), gap: fc.constantFrom(0, 0, 0, 1) }),
  { minLength: 50, maxLength: 300 },
);

describe('ReferenceNic with trains', () => {
  it('delivers every frame at the same cycle, with the same counters at every run boundary, as the per-cycle run', () => {
    fc.assert(
      fc.property(fc.array(offer, { minLength: 1, maxLength: 120 }), fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1, maxLength: 8 }), (offers, chunks) => {
        const plain = run(false, offers, chunks);
        const trains = run(true, offers, chunks);
        // Every module evaluated in every evaluated cycle: a missed wake-up would differ.
        const every = run(false, offers, chunks, new Simulator({ everyCycle: true }));
        expect(plain.delivered).toEqual(every.delivered);
        expect(plain.seen).toEqual(every.seen);
        expect(trains.delivered).toEqual(plain.delivered);
        expect(trains.seen).toEqual(plain.seen);
        expect(trains.counters).toEqual(plain.counters);
        expect(trains.queues).toEqual(plain.queues);
        expect(trains.inUse).toBe(0);
        expect(plain.inUse).toBe(0);
      }),
      { seed: 42, numRuns: 100 },
    );
  });

  it('is exact through tail drops at a full output queue and through full arbiter and lookup FIFOs', () => {
    fc.assert(
      fc.property(fc.oneof(hotSpot, smallFlood), fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1, maxLength: 8 }), (offers, chunks) => {
        const plain = run(false, offers, chunks);
        const trains = run(true, offers, chunks);
        expect(trains.delivered).toEqual(plain.delivered);
        expect(trains.seen).toEqual(plain.seen);
        expect(trains.queues).toEqual(plain.queues);
      }),
      { seed: 43, numRuns: 60 },
    );
  });

  it('is exact when four ports of minimum frames overrun the output queue decisions until the receive side drops', () => {
    // 4 x 14.88 Mpps of 2-beat packets is more than one decision cycle plus two beats
    // a packet lets output_queues take: the lookup and arbiter FIFOs fill, tready falls
    // towards the 10G receivers, and they drop whole frames once their buffers fill.
    const offers: Offer[] = Array.from({ length: 6000 }, (_, i) => ({ port: i % 4, fromHost: false, length: 60, gap: 0 }));
    const plain = run(false, offers, [20_000, 40_000]);
    const trains = run(true, offers, [20_000, 40_000]);
    expect(trains.delivered).toEqual(plain.delivered);
    expect(trains.seen).toEqual(plain.seen);
    expect(trains.counters).toEqual(plain.counters);
    expect(plain.delivered.length).toBeLessThan(6000);
  });

  it('keeps one port at 10G line rate exact while evaluating each module a few times per frame instead of every cycle', () => {
    const offers: Offer[] = Array.from({ length: 400 }, (_, i) => ({ port: i % 2 === 0 ? 0 : 2, fromHost: false, length: i % 3 === 0 ? 1514 : 60, gap: 0 }));
    const plain = run(false, offers, [50_000]);
    const trains = run(true, offers, [50_000]);
    expect(trains.delivered).toEqual(plain.delivered);
    expect(trains.seen).toEqual(plain.seen);
    expect(trains.evaluations * 10).toBeLessThan(plain.evaluations);
  });

  it('runs per cycle, registers and all, while a VCD is traced', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fatriot-trains-'));
    try {
      const offers: Offer[] = [{ port: 0, fromHost: false, length: 60, gap: 0 }];
      const sim = new Simulator();
      const nic = new ReferenceNic({ sim });
      const vcd = new VcdWriter(join(dir, 'trace.vcd'), sim, nic.clockPeriodNs);
      sim.runUntil(1);
      vcd.close();
      expect(sim.modules.some((m) => m.trains)).toBe(false);
      // Without the trace the same simulator kind switches the datapath to trains.
      const plain = run(false, offers, [1000]);
      const withTrains = run(true, offers, [1000]);
      expect(withTrains.delivered).toEqual(plain.delivered);
      // test/pipeline/nic/reference-nic.test.ts derives cycle 42 from the hardware spec.
      expect(withTrains.delivered).toEqual(['dma0 #0 @42 60B']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * Ports whose far end is a sink (`sendsNothing`): they promise that no frame will come
 * (the arbiter looks past them) and take frames ahead of their cycle (the DMA hands them
 * over as soon as it knows when). The senders' ports stay ordinary.
 */
function runWithSinks(trains: boolean, offers: Offer[], chunks: number[], senderPorts: number, hostPorts = 4) {
  const nic = new ReferenceNic({ sim: new Simulator({ trains }) });
  const wire = [0, 1, 2, 3].map((i) => createMemoryLink(`nf${i}`, `peer${i}`));
  const host = [0, 1, 2, 3].map((i) => createMemoryLink(`dma${i}`, `host${i}`));
  // Ports below senderPorts carry senders on the wire; all host ends are sinks, and so are the other wire ends.
  for (const [, far] of host) far.sendsNothing();
  wire.forEach(([, far], i) => {
    if (i >= senderPorts) far.sendsNothing();
  });
  // Host ports from hostPorts on stay unattached: frames for them are counted as dropped (drop.noHostPort).
  nic.attach({ nf: wire.map((l) => l[0]), dma: host.slice(0, hostPorts).map((l) => l[0]) });
  const senders = wire.slice(0, senderPorts).map((l, i) => nic.sim.add(new ScheduledSender(`sender${i}`, l[1])));
  const delivered = logDeliveries(wire, host);
  scheduleOffers(offers, (o) => senders[o.port % senderPorts]!);
  const seen: string[] = [];
  for (const c of chunks) {
    nic.sim.runUntil(nic.sim.now + c);
    seen.push(`${nic.sim.now}: counters ${nic.counters.join(',')}; queues ${nic.outputQueues.counters.join(',')}; arbiter ${nic.inputArbiter.pktIn}/${nic.inputArbiter.pktOut}`);
  }
  nic.sim.runUntilIdle();
  // Frames handed ahead reach a sink earlier in the run, with the same cycle: compare them sorted.
  const cycleOf = (s: string) => Number(/@(\d+)/.exec(s)![1]);
  delivered.sort((a, b) => cycleOf(a) - cycleOf(b) || (a < b ? -1 : a > b ? 1 : 0));
  return { delivered, seen, counters: Array.from(nic.counters), inUse: nic.pool.inUse, evaluations: nic.sim.evaluations };
}

describe('ReferenceNic with trains and ports that promise quiet (sinks at the far end)', () => {
  it('delivers the same frames at the same cycles, with the same counters at every run boundary, as the per-cycle run', () => {
    fc.assert(
      fc.property(
        fc.array(offer, { minLength: 1, maxLength: 120 }),
        fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 4 }),
        (offers, chunks, senderPorts, hostPorts) => {
          const wireOnly = offers.map((o) => ({ ...o, fromHost: false }));
          const plain = runWithSinks(false, wireOnly, chunks, senderPorts, hostPorts);
          const trains = runWithSinks(true, wireOnly, chunks, senderPorts, hostPorts);
          expect(trains.delivered).toEqual(plain.delivered);
          expect(trains.seen).toEqual(plain.seen);
          expect(trains.counters).toEqual(plain.counters);
          expect(trains.inUse).toBe(0);
        },
      ),
      { seed: 44, numRuns: 100 },
    );
  });

  it('decides a frame from one port without waking the arbiter for it, and delivers it without a DMA step', () => {
    const offers: Offer[] = Array.from({ length: 200 }, () => ({ port: 0, fromHost: false, length: 60, gap: 11 }));
    const plain = runWithSinks(false, offers, [5_000], 1);
    const trains = runWithSinks(true, offers, [5_000], 1);
    expect(trains.delivered).toEqual(plain.delivered);
    // The sender's step for each frame is all that is evaluated (no arbiter or DMA steps).
    expect(trains.evaluations).toBeLessThanOrEqual(200 + 20);
  });

  it('throws for a frame from a port that promised none ever, once the arbiter has left that input out', () => {
    // The input arbiter stops asking an empty input whose producer's Infinity horizon it has
    // used (InputArbiter liveMask); that is exact only because the receiver then refuses
    // every frame instead of posting one the arbiter would never look at.
    const nic = new ReferenceNic({ sim: new Simulator({ trains: true }) });
    const [nf0, peer0] = createMemoryLink('nf0', 'peer0');
    const [nf1, peer1] = createMemoryLink('nf1', 'peer1');
    const [dma0] = createMemoryLink('dma0', 'host0');
    const liar: Port = { name: 'nf1', attach: (r) => nf1.attach(r), receive: (f, c) => nf1.receive(f, c), transmit: (f, c) => nf1.transmit(f, c), close: () => nf1.close(), quietUntil: () => Number.POSITIVE_INFINITY };
    nic.attach({ nf: [nf0, liar], dma: [dma0] });
    const frame = new Uint8Array(60);
    frame[12] = 0x08;
    peer0.transmit(frame, 0);
    nic.sim.runUntil(200);
    expect(nic.counter('nf0.rxPackets')).toBe(1);
    expect(() => peer1.transmit(frame, nic.sim.now)).toThrow(/arrives after the model passed/);
  });

  it('refuses a frame from a port that promised none (a sink cannot transmit)', () => {
    const [, far] = createMemoryLink('dma0', 'host0');
    far.sendsNothing();
    expect(() => far.transmit(new Uint8Array(60), 0)).toThrow(/sink/);
  });
});

interface Slice {
  /** Cycles the model runs after the frames are handed over (the driver's next target). */
  cycles: number;
  /** Frames handed over at the slice's start, each stamped that many cycles after it (0: all at once, as a TAP burst). */
  frames: { port: number; fromHost: boolean; length: number; after: number }[];
}

/**
 * Runs as the real-time driver does (src/dataplane/realtime-driver.ts): at each slice's
 * start, frames from outside are handed over stamped at or after the present cycle,
 * then the model is promised that nothing comes before the slice's end
 * (`promiseNoInputBefore`, with `promise`) and run to it.
 */
function runSlices(trains: boolean, slices: Slice[], promise: boolean, attached = 1) {
  const nic = new ReferenceNic({ sim: new Simulator({ trains }) });
  const wire = [0, 1, 2, 3].map((i) => createMemoryLink(`nf${i}`, `peer${i}`));
  const host = [0, 1, 2, 3].map((i) => createMemoryLink(`dma${i}`, `host${i}`));
  // Ports from `attached` on stay unattached (on the TAP testbed only port 0 is): they promise
  // nothing of their own. Host ports take frames ahead, as a TapPort does (the logging far
  // end never answers).
  const hostPort = (i: number): Port => {
    const dma = host[i]![0];
    return {
      name: dma.name,
      attach: (r) => dma.attach(r),
      receive: (f, c) => dma.receive(f, c),
      transmit: (f, c) => dma.transmit(f, c),
      close: () => dma.close(),
      takesFramesAhead: true,
    };
  };
  nic.attach({ nf: wire.slice(0, attached).map((l) => l[0]), dma: host.slice(0, attached).map((_, i) => hostPort(i)) });
  const delivered = logDeliveries(wire, host);
  const seen: string[] = [];
  let tag = 0;
  for (const s of slices) {
    const start = nic.sim.now;
    for (const f of s.frames) {
      const frame = new Uint8Array(f.length);
      frame[12] = 0x08;
      if (f.length >= 16) {
        frame[14] = tag & 0xff;
        frame[15] = tag >>> 8;
      }
      tag++;
      (f.fromHost ? host : wire)[f.port % attached]![1].transmit(frame, start + Math.min(f.after, s.cycles - 1));
    }
    if (promise) nic.sim.promiseNoInputBefore(start + s.cycles);
    nic.sim.runUntil(start + s.cycles);
    seen.push(`${nic.sim.now}: counters ${nic.counters.join(',')}; queues ${nic.outputQueues.counters.join(',')}; arbiter ${nic.inputArbiter.pktIn}/${nic.inputArbiter.pktOut}`);
  }
  nic.sim.runUntilIdle();
  // Frames handed ahead reach the far ends earlier in the run, with the same cycle: compare them sorted.
  const cycleOf = (s: string) => Number(/@(\d+)/.exec(s)![1]);
  delivered.sort((a, b) => cycleOf(a) - cycleOf(b) || (a < b ? -1 : a > b ? 1 : 0));
  return { delivered, seen, counters: Array.from(nic.counters), inUse: nic.pool.inUse, evaluations: nic.sim.evaluations, evaluatedCycles: nic.sim.evaluatedCycles };
}

const slice: fc.Arbitrary<Slice> = fc.record({
  cycles: fc.oneof(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1, max: 5000 })),
  frames: fc.array(
    fc.record({
      port: fc.integer({ min: 0, max: 3 }),
      fromHost: fc.boolean(),
      length: fc.oneof(fc.constantFrom(60, 64, 65, 96, 1514), fc.integer({ min: 14, max: 1514 })),
      after: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 3000 })),
    }),
    { maxLength: 40 },
  ),
});

describe('ReferenceNic with trains and a driver that promises no input before its next target', () => {
  it('delivers the same frames at the same cycles, with the same counters at every slice end, as the per-cycle run', () => {
    fc.assert(
      fc.property(fc.array(slice, { minLength: 1, maxLength: 12 }), fc.integer({ min: 1, max: 4 }), (slices, attached) => {
        const plain = runSlices(false, slices, true, attached);
        const promised = runSlices(true, slices, true, attached);
        const unpromised = runSlices(true, slices, false, attached);
        expect(promised.delivered).toEqual(plain.delivered);
        expect(promised.seen).toEqual(plain.seen);
        expect(promised.counters).toEqual(plain.counters);
        expect(unpromised.delivered).toEqual(plain.delivered);
        expect(promised.inUse).toBe(0);
      }),
      { seed: Number(process.env.SEED ?? 45), numRuns: Number(process.env.RUNS ?? 100) },
    );
  });

  it('takes a TAP-like burst of 64 minimum frames in a step or so instead of a step a frame', () => {
    const burst: Slice = { cycles: 20_000, frames: Array.from({ length: 64 }, () => ({ port: 0, fromHost: false, length: 60, after: 0 })) };
    const slices = [burst, burst, burst, burst];
    const plain = runSlices(false, slices, true);
    const promised = runSlices(true, slices, true);
    const unpromised = runSlices(true, slices, false);
    expect(promised.delivered).toEqual(plain.delivered);
    expect(unpromised.delivered).toEqual(plain.delivered);
    expect(plain.delivered.length).toBe(256);
    // Without the promise the arbiter wakes for each frame to see the other inputs stay idle.
    expect(unpromised.evaluatedCycles).toBeGreaterThanOrEqual(250);
    expect(promised.evaluatedCycles).toBeLessThanOrEqual(12);
  });

  it('throws for a frame that breaks a promise the model relied on', () => {
    const setup = () => {
      const nic = new ReferenceNic();
      const [nf, wire] = createMemoryLink('nf0', 'peer0');
      const [dma, host] = createMemoryLink('dma0', 'host0');
      nic.attach({ nf: [nf], dma: [dma] });
      nic.sim.runUntil(100);
      nic.sim.promiseNoInputBefore(10_000);
      // A host frame at the promised cycle: the arbiter decides it counting on nf0 staying idle until then.
      host.transmit(new Uint8Array(60), 10_000);
      return wire;
    };
    expect(() => setup().transmit(new Uint8Array(60), 10_000)).not.toThrow();
    expect(() => setup().transmit(new Uint8Array(60), 150)).toThrow(/nf0_rx: a frame for cycle 150/);
  });
});
