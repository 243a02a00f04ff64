import { describe, expect, it } from 'vitest';
import { FULL_SPEED_SLACK, fullSpeedMedian, probedRun, probeMs, type ProbedRun } from '../../tools/bench/machine-speed.ts';

const run = (wallSeconds: number, probe: number): ProbedRun<{ wallSeconds: number }> => ({ result: { wallSeconds }, wallSeconds, probeMs: probe });

describe('fullSpeedMedian (which model bench runs had the whole core)', () => {
  it('takes the median of the runs whose probe was near the fastest, and the median of all beside it', () => {
    // Three slow-spell runs (probe 1.6x the fastest, the model 1/0.6 slower) among five fast ones.
    const runs = [run(0.09, 5.8), run(0.15, 9.3), run(0.088, 5.9), run(0.16, 9.4), run(0.091, 6.1), run(0.155, 9.2), run(0.087, 5.85), run(0.092, 6.0)];
    const s = fullSpeedMedian(runs);
    expect(s.kept).toBe(5);
    expect(s.of).toBe(8);
    // Fast walls sorted: 0.087 0.088 0.09 0.091 0.092 -> 0.09.
    expect(s.fullSpeed.wallSeconds).toBe(0.09);
    // All walls sorted: ... 0.091 0.092 0.15 ... -> the faster middle one, 0.091.
    expect(s.all.wallSeconds).toBe(0.091);
  });

  it('keeps a run at exactly the slack and leaves out one just beyond it', () => {
    const s = fullSpeedMedian([run(1, 10), run(2, 10 * FULL_SPEED_SLACK), run(3, 10 * FULL_SPEED_SLACK * 1.001)]);
    expect(s.kept).toBe(2);
    expect(s.fullSpeed.wallSeconds).toBe(1);
  });

  it("measures against the process's fastest probe, and falls back to all runs when none was at full speed", () => {
    const runs = [run(0.15, 9.3), run(0.16, 9.4), run(0.14, 9.2)];
    // On their own the three are alike, all kept.
    expect(fullSpeedMedian(runs).kept).toBe(3);
    // Against a 5.8 ms probe taken elsewhere in the process, none is.
    const s = fullSpeedMedian(runs, 5.8);
    expect(s.kept).toBe(0);
    expect(s.fullSpeed.wallSeconds).toBe(0.15);
    expect(s.all.wallSeconds).toBe(0.15);
    expect(() => fullSpeedMedian([])).toThrow(RangeError);
  });

  it('probes around a run and reports the slower probe', () => {
    const r = probedRun(() => ({ wallSeconds: 0.5 }));
    expect(r.wallSeconds).toBe(0.5);
    expect(r.probeMs).toBeGreaterThan(0);
    expect(Number.isFinite(probeMs())).toBe(true);
  });
});
