import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DeferredCounts, SETTLE_SOME_ENTRIES } from '../../../src/pipeline/sim/deferred-counts.ts';

type Op = { kind: 'add'; cycle: number; index: number; index2: number; amount2: number } | { kind: 'settle'; cycle: number };

describe('DeferredCounts', () => {
  it('applies exactly the increments (a count, and an amount at a second index)  of cycles up to each settle, in or out of cycle order (against a plain list)', () => {
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({
        kind: fc.constant('add' as const),
        cycle: fc.integer({ min: 0, max: 200 }),
        index: fc.integer({ min: 0, max: 3 }),
        // -1: a count only.
        index2: fc.integer({ min: -1, max: 3 }),
        amount2: fc.integer({ min: 1, max: 1000 }),
      }),
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
        const target = new Float64Array(4);
        const deferred = new DeferredCounts(target);
        const expected = new Float64Array(4);
        let pending: { cycle: number; index: number; index2: number; amount2: number }[] = [];
        for (const o of ops) {
          if (o.kind === 'add') {
            if (o.index2 < 0) deferred.add(o.cycle, o.index);
            else deferred.add(o.cycle, o.index, o.index2, o.amount2);
            pending.push(o);
          } else {
            const due = pending.filter((p) => p.cycle <= o.cycle);
            pending = pending.filter((p) => p.cycle > o.cycle);
            for (const p of due) {
              expected[p.index]! += 1;
              if (p.index2 >= 0) expected[p.index2]! += p.amount2;
            }
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

  it('settleSome applies nothing while fewer than SETTLE_SOME_ENTRIES are pending, then everything due', () => {
    const target = new Float64Array(2);
    const deferred = new DeferredCounts(target);
    for (let c = 0; c < SETTLE_SOME_ENTRIES - 1; c++) {
      deferred.add(c, 0, 1, 10);
      deferred.settleSome(c);
    }
    expect(Array.from(target)).toEqual([0, 0]);
    expect(deferred.pending).toBe(SETTLE_SOME_ENTRIES - 1);
    // Two more, one of them not due yet: the due ones are applied, the other waits.
    deferred.add(SETTLE_SOME_ENTRIES - 1, 0);
    deferred.add(1000, 0);
    deferred.settleSome(SETTLE_SOME_ENTRIES - 1);
    expect(Array.from(target)).toEqual([SETTLE_SOME_ENTRIES, 10 * (SETTLE_SOME_ENTRIES - 1)]);
    expect(deferred.pending).toBe(1);
    deferred.settle(1000);
    expect(target[0]).toBe(SETTLE_SOME_ENTRIES + 1);
  });

  it('refuses a counter array too large for its packed indices', () => {
    expect(() => new DeferredCounts(new Float64Array(1 << 15))).not.toThrow();
    expect(() => new DeferredCounts(new Float64Array((1 << 15) + 1))).toThrow(RangeError);
  });
});
