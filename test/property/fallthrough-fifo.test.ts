import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FallthroughSmallFifo } from '../../src/pipeline/modules/fallthrough-small-fifo.ts';
import { PacketPool } from '../../src/pipeline/sim/packet.ts';

/**
 * The lazy fallthrough_small_fifo (idle edges replayed on the next access, wake-ups
 * from nextChangeCycle) must match the same FIFO clocked every cycle, as the RTL is.
 */
describe('FallthroughSmallFifo', () => {
  it('makes a word written in cycle t readable in cycle t+3 (fallthrough_small_fifo.v)', () => {
    const pool = new PacketPool(32);
    const f = new FallthroughSmallFifo('f', 2);
    const p = pool.take(32);
    f.clockAt(10, true, p, 0, false);
    const seen: number[] = [];
    for (let t = 11; t < 16; t++) {
      f.sync(t - 1);
      if (!f.empty()) seen.push(t);
    }
    expect(seen[0]).toBe(13);
  });

  it('behaves identically whether clocked every cycle or only when something happens', () => {
    const step = fc.record({ gap: fc.integer({ min: 0, max: 6 }), wr: fc.boolean(), rd: fc.boolean() });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.array(step, { minLength: 1, maxLength: 120 }), (depthBits, steps) => {
        const pool = new PacketPool(32);
        const eager = new FallthroughSmallFifo('eager', depthBits);
        const lazy = new FallthroughSmallFifo('lazy', depthBits);
        let t = 0;
        let eagerT = 0;
        let written = 0;
        const packets = Array.from({ length: 200 }, () => pool.take(32));
        let predicted = lazy.nextChangeCycle();
        for (const s of steps) {
          const target = t + s.gap;
          // Eager: idle edges every cycle up to target-1.
          while (eagerT < target) {
            eager.clockAt(eagerT, false, null, 0, false);
            eagerT++;
          }
          lazy.sync(target - 1);
          expect(lazy.empty()).toBe(eager.empty());
          expect(lazy.nearlyFull()).toBe(eager.nearlyFull());
          const wr = s.wr && !eager.full() && written < packets.length;
          const rd = s.rd && !eager.empty();
          if (rd) expect(lazy.doutPacket()).toBe(eager.doutPacket());
          const p = wr ? packets[written++]! : null;
          eager.clockAt(target, wr, p, 0, rd);
          lazy.clockAt(target, wr, p, 0, rd);
          eagerT = target + 1;
          t = target + 1;
          predicted = lazy.nextChangeCycle();
          // Check the prediction: clock the eager copy forward idle and find its first change.
          const probe = new FallthroughSmallFifo('probe', depthBits, undefined, false);
          Object.assign(probe, { depth: eager.depth, fifoValid: eager.fifoValid, middleValid: eager.middleValid, doutValid: eager.doutValid, lastClock: eager.lastClock });
          let firstChange = Number.POSITIVE_INFINITY;
          const e0 = probe.empty();
          const n0 = probe.nearlyFull();
          const pf0 = probe.progFull();
          for (let c = t; c < t + 6; c++) {
            probe.sync(c);
            if (probe.empty() !== e0 || probe.nearlyFull() !== n0 || probe.progFull() !== pf0) {
              firstChange = c + 1;
              break;
            }
          }
          expect(predicted).toBe(firstChange);
        }
      }),
      { seed: 42, numRuns: 300 },
    );
  });
});
