import { describe, expect, it } from 'vitest';
import { createMemoryLink } from '../../src/dataplane/memory-link.ts';
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

/** Evaluates at the cycles it is armed for and records when (model cycle and wall ms). */
class Recorder extends ClockedModule {
  readonly seen: { cycle: number; wallMs: number }[] = [];
  private armed: number[] = [];
  arm(cycle: number): void {
    this.armed.push(cycle);
    this.wakeAt(cycle);
  }
  evaluate(cycle: number): void {
    if (this.armed.some((c) => c <= cycle)) this.seen.push({ cycle, wallMs: performance.now() });
  }
  commit(cycle: number): number {
    this.armed = this.armed.filter((c) => c > cycle);
    return this.armed.length === 0 ? IDLE : Math.min(...this.armed);
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

  it('drivenPort stamps a frame from outside with the present cycle (or keeps the port stamp, held to the driver promise) and runs the model at once', async () => {
    const sim = new Simulator();
    const recorder = sim.add(new Recorder('recorder'));
    // A timer far away: an idle driver sleeps its longest (maxSleepMs) between checks.
    sim.add(new Timer(CORE_HZ * 10));
    const driver = new RealtimeDriver(sim, CORE_HZ, { maxSleepMs: 200 });
    const [stamped, farA] = createMemoryLink('stamped', 'far_a');
    const [selfStamped, farB] = createMemoryLink('self_stamped', 'far_b');
    const got: { port: string; cycle: number }[] = [];
    for (const port of [driver.drivenPort(stamped, { stamp: true }), driver.drivenPort(selfStamped)]) {
      port.attach((_frame, cycle) => {
        got.push({ port: port.name, cycle });
        recorder.arm(cycle);
      });
    }
    driver.start();
    await new Promise((r) => setTimeout(r, 30));
    const before = sim.now;
    const promised = sim.noInputBefore;
    // The driver promised the model no frame before the cycle it last ran to.
    expect(promised).toBeGreaterThan(0);
    expect(promised).toBeLessThanOrEqual(before);
    const sentMs = performance.now();
    farA.transmit(new Uint8Array(60), 0);
    // A port stamp behind the promise (another clock) is held to it; one ahead is kept.
    farB.transmit(new Uint8Array(60), 123);
    farB.transmit(new Uint8Array(60), before + 1_000_000_000);
    await new Promise((r) => setTimeout(r, 20));
    driver.stop();
    expect(got[0]!.port).toBe('stamped');
    expect(got[0]!.cycle).toBeGreaterThanOrEqual(before);
    expect(got[1]!.port).toBe('self_stamped');
    expect(got[1]!.cycle).toBeGreaterThanOrEqual(promised);
    expect(got[1]!.cycle).toBeLessThanOrEqual(got[0]!.cycle);
    expect(got[2]).toEqual({ port: 'self_stamped', cycle: before + 1_000_000_000 });
    // They ran within milliseconds, not at the end of the idle driver's sleep (up to 200 ms).
    expect(recorder.seen.length).toBe(2);
    for (const s of recorder.seen) expect(s.wallMs - sentMs).toBeLessThan(15);
    // The stamped frame's cycle ran as that cycle; the past one (123) at the model's present.
    expect(recorder.seen.map((r) => r.cycle)).toContain(got[0]!.cycle);
  });
});
