import { describe, expect, it } from 'vitest';
import { RealtimeDriver } from '../../src/dataplane/realtime-driver.ts';
import { ClockedModule, IDLE } from '../../src/pipeline/sim/module.ts';
import { Simulator } from '../../src/pipeline/sim/simulator.ts';

const CORE_HZ = 160e6;

class Timer extends ClockedModule {
  firedAtCycle = -1;
  firedAtWallMs = -1;
  constructor(private readonly atCycle: number) {
    super('timer');
  }
  override reset(): void {
    this.wakeAt(this.atCycle);
  }
  evaluate(cycle: number): void {
    if (cycle >= this.atCycle && this.firedAtCycle < 0) {
      this.firedAtCycle = cycle;
      this.firedAtWallMs = performance.now();
    }
  }
  commit(cycle: number): number {
    return this.firedAtCycle < 0 ? Math.max(cycle + 1, this.atCycle) : IDLE;
  }
}

/** Stays busy every cycle, so the model cannot keep up with the wall clock. */
class Busy extends ClockedModule {
  x = 0;
  evaluate(cycle: number): void {
    for (let i = 0; i < 50; i++) this.x = (this.x + cycle * i) | 0;
  }
  commit(cycle: number): number {
    return cycle + 1;
  }
}

describe('RealtimeDriver', () => {
  it('follows the wall clock while idle: a timer 60 ms of model time away fires about 60 ms later', async () => {
    const sim = new Simulator();
    const timer = sim.add(new Timer(0.06 * CORE_HZ));
    const driver = new RealtimeDriver(sim, CORE_HZ);
    const start = performance.now();
    driver.start();
    await new Promise((r) => setTimeout(r, 250));
    driver.stop();
    expect(timer.firedAtCycle).toBe(0.06 * CORE_HZ);
    const wallMs = timer.firedAtWallMs - start;
    // Never early (model time must not run ahead of real time); late only by scheduling slack.
    expect(wallMs).toBeGreaterThanOrEqual(59);
    expect(wallMs).toBeLessThan(200);
    // Idle: at most a handful of cycles were evaluated for 250 ms of model time.
    expect(sim.evaluatedCycles).toBeLessThan(10);
  });

  it('catches an idle model up to the wall clock before an injection, so it is not dated in the past', async () => {
    const sim = new Simulator();
    sim.add(new Timer(10 * CORE_HZ));
    const driver = new RealtimeDriver(sim, CORE_HZ, { maxSleepMs: 200 });
    driver.start();
    await new Promise((r) => setTimeout(r, 40));
    const before = sim.now;
    driver.catchUp();
    driver.stop();
    // Asleep until the 10 s timer, the model had not moved; after catchUp it stands at >= 40 ms.
    expect(before).toBeLessThan(0.01 * CORE_HZ);
    expect(sim.now).toBeGreaterThanOrEqual(0.039 * CORE_HZ);
  });

  it('reports lag when the model is busy, and never stamps a frame before the model', async () => {
    const sim = new Simulator();
    sim.add(new Busy('busy'));
    const driver = new RealtimeDriver(sim, CORE_HZ, { stepsPerSlice: 2000 });
    driver.start();
    await new Promise((r) => setTimeout(r, 100));
    const stamp = driver.nowCycle();
    const lag = driver.lag();
    driver.stop();
    expect(stamp).toBeGreaterThanOrEqual(sim.now);
    // 100 ms of wall time is 16 M cycles; a model evaluating every cycle cannot do that.
    expect(lag.lagUs).toBeGreaterThan(10_000);
    expect(lag.maxLagUs).toBeGreaterThanOrEqual(lag.lagUs * 0.5);
  });
});
