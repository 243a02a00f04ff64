import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FallthroughFifoTimeline, FallthroughSmallFifo } from '../../src/pipeline/modules/fallthrough-small-fifo.ts';
import { PacketPool } from '../../src/pipeline/sim/packet.ts';

/**
 * The timeline form of fallthrough_small_fifo (used by modules running trains) must
 * show, at every cycle, what the register model shows when clocked every cycle.
 */
interface Scenario {
  depthBits: number;
  progFull: number;
  pWrite: number;
  pRead: number;
  steps: { wr: number; rd: number }[];
}

describe('FallthroughFifoTimeline', () => {
  const step = fc.record({ wr: fc.integer({ min: 0, max: 99 }), rd: fc.integer({ min: 0, max: 99 }) });
  const scenario: fc.Arbitrary<Scenario> = fc.record({
    depthBits: fc.integer({ min: 1, max: 4 }),
    progFull: fc.integer({ min: 1, max: 16 }),
    pWrite: fc.integer({ min: 5, max: 100 }),
    pRead: fc.integer({ min: 5, max: 100 }),
    steps: fc.array(step, { minLength: 1, maxLength: 160 }),
  });

  /** Clocks the register model every cycle with random writes and reads; returns what it showed. */
  function runRegisters(s: Scenario) {
    const pool = new PacketPool(32);
    const regs = new FallthroughSmallFifo('regs', s.depthBits, Math.min(s.progFull, 2 ** s.depthBits));
    const writes: number[] = [];
    const reads: number[] = [];
    const shown: { empty: boolean; nearlyFull: boolean; progFull: boolean; depth: number }[] = [];
    const packets = Array.from({ length: s.steps.length }, () => pool.take(32));
    for (let t = 0; t < s.steps.length; t++) {
      regs.sync(t - 1);
      shown.push({ empty: regs.empty(), nearlyFull: regs.nearlyFull(), progFull: regs.progFull(), depth: regs.depth });
      const rd = !regs.empty() && s.steps[t]!.rd < s.pRead;
      const wr = !regs.full() && s.steps[t]!.wr < s.pWrite;
      if (rd) reads.push(t);
      if (wr) writes.push(t);
      regs.clockAt(t, wr, wr ? packets[writes.length - 1]! : null, 0, rd);
    }
    return { shown, writes, reads, packets };
  }

  it('shows the same dout, depth, nearly_full and prog_full at every cycle as the register model', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const { shown, writes, reads, packets } = runRegisters(s);
        const tl = new FallthroughFifoTimeline('tl', s.depthBits, Math.min(s.progFull, 2 ** s.depthBits));
        // Feed the history in causal order: a read is known once its word is written.
        let w = 0;
        for (let k = 0; k < reads.length; k++) {
          while (w < writes.length && w <= k) { tl.write(writes[w]!, packets[w]!, 0); w++; }
          // The register model first showed word k on dout at this cycle:
          let firstShown = reads[k]!;
          while (firstShown - 1 >= 0 && !shown[firstShown - 1]!.empty && (k === 0 || firstShown - 1 > reads[k - 1]!)) firstShown--;
          expect(tl.headDoutCycle()).toBe(firstShown);
          expect(tl.readHead(reads[k]!)).toBe(packets[k]);
        }
        while (w < writes.length) { tl.write(writes[w]!, packets[w]!, 0); w++; }
        for (let t = 0; t < shown.length; t++) {
          // The bound holds whether or not depthAt can tell yet.
          expect(tl.depthBoundAt(t)).toBeGreaterThanOrEqual(shown[t]!.depth);
          const depth = tl.depthAt(t);
          if (depth < 0) {
            // Only unknowable where a word waits on a read after the recorded history.
            expect(t).toBeGreaterThan(reads.length > 0 ? reads[reads.length - 1]! : -1);
            continue;
          }
          expect(depth).toBe(shown[t]!.depth);
          expect(depth >= tl.maxDepth - 1).toBe(shown[t]!.nearlyFull);
          expect(depth >= tl.progFullThreshold).toBe(shown[t]!.progFull);
        }
      }),
      { seed: 42, numRuns: 400 },
    );
  });

  it('answers for past cycles after forgetting the words read before them', () => {
    fc.assert(
      fc.property(scenario, fc.integer({ min: 0, max: 160 }), (s, forgetAt) => {
        const { shown, writes, reads, packets } = runRegisters(s);
        const tl = new FallthroughFifoTimeline('tl', s.depthBits, Math.min(s.progFull, 2 ** s.depthBits));
        for (let k = 0; k < writes.length; k++) tl.write(writes[k]!, packets[k]!, 0);
        for (let k = 0; k < reads.length; k++) tl.readHead(reads[k]!);
        tl.forgetBefore(forgetAt);
        for (let t = forgetAt; t < shown.length; t++) {
          expect(tl.depthBoundAt(t)).toBeGreaterThanOrEqual(shown[t]!.depth);
          const depth = tl.depthAt(t);
          if (depth >= 0) expect(depth).toBe(shown[t]!.depth);
        }
      }),
      { seed: 7, numRuns: 300 },
    );
  });
});
