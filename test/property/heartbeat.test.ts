import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { makeBench, type SeenHeartbeat } from '../pipeline/modules/heartbeat-manager-testbench.ts';

/**
 * Fatriot 3.4 as a property: with RTT_avg learnt from the first `learn` replies and
 * T = ceil(RTT_avg x threshold), a fault that starts at cycle F (the target stops answering,
 * or answers later than RTT_avg x threshold) activates fail-safe at some cycle D with
 * F <= D <= F + interval + T; while every RTT stays within RTT_avg x threshold it never activates.
 */
const scenario = fc.record({
  baseRtt: fc.integer({ min: 20, max: 5000 }),
  thresholdMilli: fc.integer({ min: 1100, max: 3000 }),
  intervalExtra: fc.integer({ min: 10, max: 200_000 }),
  learn: fc.integer({ min: 1, max: 5 }),
  /** Learning RTTs: baseRtt x (1 + j / 2000), j in [-1000, 1000]. */
  learnJitter: fc.array(fc.integer({ min: -1000, max: 1000 }), { minLength: 5, maxLength: 5 }),
  /** Monitoring RTTs before the fault: a fraction (per mille) of the largest RTT within the threshold. */
  normalPerMille: fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 1, maxLength: 20 }),
  faultOffsetPerMille: fc.integer({ min: 0, max: 5000 }),
  fault: fc.constantFrom('crash', 'slow', 'none'),
  slowExtra: fc.integer({ min: 1, max: 300_000 }),
});

describe('heartbeat manager properties (Fatriot 3.4)', () => {
  it('activates fail-safe within interval + RTT_avg x threshold of a fault, and never without one', () => {
    fc.assert(
      fc.property(scenario, (c) => {
        const learnRtts = c.learnJitter.slice(0, c.learn).map((j) => Math.max(1, Math.round(c.baseRtt * (1 + j / 2000))));
        const avg = Math.floor(learnRtts.reduce((a, b) => a + b, 0) / c.learn);
        const within = Math.floor((avg * c.thresholdMilli) / 1000);
        const T = Math.ceil((avg * c.thresholdMilli) / 1000);
        // Every learning reply and every timeout fits in half an interval.
        const I = 2 * Math.ceil((1.5 * c.baseRtt * c.thresholdMilli) / 1000) + c.intervalExtra;
        const firstMonitoring = 1 + c.learn * I;
        const F = c.fault === 'none' ? Infinity : firstMonitoring + Math.floor((c.faultOffsetPerMille * I) / 1000);
        let k = 0;
        const delay = (hb: SeenHeartbeat): number | null => {
          if (hb.index < c.learn) return learnRtts[hb.index]!;
          if (hb.cycle < F) return Math.max(1, Math.floor((c.normalPerMille[k++ % c.normalPerMille.length]! * within) / 1000));
          return c.fault === 'crash' ? null : within + c.slowExtra;
        };
        const b = makeBench(delay);
        b.echo.keepCopies = false;
        b.configure(0, { serviceId: 3, kind: 'icmp', targetIp: '10.0.9.3', intervalCycles: I, thresholdMilli: c.thresholdMilli, learnSamples: c.learn });
        const end = c.fault === 'none' ? firstMonitoring + 8 * I : F + I + T + 1;
        b.sim.runUntil(end);

        expect(b.status(0, 'rttAvgCycles')).toBe(avg);
        const on = b.failsafeEvents().filter((e) => e.active);
        if (c.fault === 'none') {
          expect(on).toEqual([]);
          expect(b.failsafe.value[3]).toBe(0);
          return;
        }
        expect(on.length).toBeGreaterThan(0);
        const D = on[0]!.cycle;
        expect(D).toBeGreaterThanOrEqual(F);
        expect(D).toBeLessThanOrEqual(F + I + T);
        // Exactly: the first heartbeat that leaves at or after F times out.
        expect(D).toBe(b.echo.seen.find((h) => h.cycle >= F)!.cycle + T);
        expect(b.failsafe.value[3]).toBe(1);
      }),
      { seed: 42, numRuns: 300 },
    );
  });
});
