import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DeferredCounts } from '../../../src/pipeline/sim/deferred-counts.ts';

type Op = { kind: 'add'; cycle: number; index: number; delta: number } | { kind: 'settle'; cycle: number };

describe('DeferredCounts', () => {
  it('applies exactly the increments of cycles up to each settle, in or out of cycle order (against a plain list)', () => {
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant('add' as const), cycle: fc.integer({ min: 0, max: 200 }), index: fc.integer({ min: 0, max: 3 }), delta: fc.integer({ min: 1, max: 100 }) }),
      fc.record({ kind: fc.constant('settle' as const), cycle: fc.integer({ min: 0, max: 220 }) }),
    );
    // Mostly rising cycles (as trains add them), sometimes one behind.
    const rising = fc.array(op, { minLength: 1, maxLength: 300 }).map((ops) => {
      let base = 0;
      return ops.map((o) => {
        if (o.kind === 'settle') return { ...o, cycle: base + (o.cycle % 40) - 10 };
        base += o.cycle % 3;
        return { ...o, cycle: base + (o.cycle % 7 === 0 ? -(o.cycle % 5) : o.cycle % 4) };
      });
    });
    fc.assert(
      fc.property(fc.oneof(rising, fc.array(op, { minLength: 1, maxLength: 300 })), (ops) => {
        const deferred = new DeferredCounts();
        const target = new Float64Array(4);
        const expected = new Float64Array(4);
        let pending: { cycle: number; index: number; delta: number }[] = [];
        for (const o of ops) {
          if (o.kind === 'add') {
            deferred.add(o.cycle, target, o.index, o.delta);
            pending.push(o);
          } else {
            const due = pending.filter((p) => p.cycle <= o.cycle);
            pending = pending.filter((p) => p.cycle > o.cycle);
            for (const p of due) expected[p.index]! += p.delta;
            const last = deferred.settle(o.cycle);
            expect(last).toBe(due.length === 0 ? Number.NEGATIVE_INFINITY : Math.max(...due.map((p) => p.cycle)));
            expect(Array.from(target)).toEqual(Array.from(expected));
            expect(deferred.pending).toBe(pending.length);
          }
        }
      }),
      { seed: 5, numRuns: 300 },
    );
  });
});
