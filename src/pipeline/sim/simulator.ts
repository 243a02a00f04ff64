import type { AxisChannel } from './channel.ts';
import { IDLE, type ClockedModule } from './module.ts';

/** Receives what the simulator did in a cycle; used by the VCD writer. */
export interface CycleObserver {
  /** Called after the commit of `cycle` with the modules evaluated and the channels committed. */
  afterCycle(cycle: number, modules: readonly ClockedModule[], moduleCount: number, channels: readonly AxisChannel[], channelCount: number): void;
}

export interface SimulatorOptions {
  /**
   * Evaluate and commit modules in a shuffled order each cycle, from this seed.
   * Results must not change (SPEC section 3); tests use it to prove that.
   */
  shuffleSeed?: number;
}

/**
 * The two-phase synchronous kernel (SPEC section 3). It knows nothing of NICs.
 *
 * Only awake modules are evaluated, and when no module is awake time jumps to
 * the earliest timer, so idle time (a 0.5 s heartbeat interval is 1e8 cycles)
 * costs nothing. A module is awake in cycle t+1 when its commit in cycle t asked
 * for it, when one of its channels changed a registered signal or carries a
 * moving beat, or when someone called `wake`.
 */
export class Simulator {
  /** The next cycle to be evaluated; everything before it has happened. */
  now = 0;
  readonly modules: ClockedModule[] = [];
  readonly channels: AxisChannel[] = [];
  /** Cycles actually evaluated (not skipped), for the benchmark. */
  evaluatedCycles = 0;
  observer: CycleObserver | null = null;

  private wakeCycle = new Float64Array(0);
  private awake: ClockedModule[] = [];
  private touched: AxisChannel[] = [];
  private rng: number;
  private stepping = false;
  private readonly shuffle: boolean;

  constructor(options: SimulatorOptions = {}) {
    this.shuffle = options.shuffleSeed !== undefined;
    this.rng = (options.shuffleSeed ?? 1) >>> 0 || 1;
  }

  add<M extends ClockedModule>(module: M): M {
    if (module.sim !== null) throw new Error(`${module.name} is already in a simulator`);
    module.id = this.modules.length;
    module.sim = this;
    this.modules.push(module);
    const grown = new Float64Array(this.modules.length);
    grown.set(this.wakeCycle);
    grown[module.id] = this.now;
    this.wakeCycle = grown;
    for (const ch of module.channels) {
      if (ch.id < 0) {
        ch.id = this.channels.length;
        this.channels.push(ch);
      }
    }
    module.reset();
    return module;
  }

  /** Schedules `module` to be evaluated at `cycle`, or now if that has passed. */
  wake(module: ClockedModule, cycle: number): void {
    // During a step, the present cycle is being evaluated: the earliest is the next one.
    const earliest = this.stepping ? this.now + 1 : this.now;
    const at = cycle < earliest ? earliest : cycle;
    if (at < this.wakeCycle[module.id]!) this.wakeCycle[module.id] = at;
  }

  /** The earliest cycle at which some module has work; IDLE when none. */
  nextEventCycle(): number {
    const w = this.wakeCycle;
    let min = IDLE;
    for (let i = 0; i < w.length; i++) if (w[i]! < min) min = w[i]!;
    return min;
  }

  /**
   * Runs every cycle before `endCycle` that has work; afterwards `now` is `endCycle`.
   * With `maxSteps`, stops early after that many evaluated cycles (a real-time driver
   * keeps its event loop responsive this way) and returns false.
   */
  runUntil(endCycle: number, maxSteps = Number.POSITIVE_INFINITY): boolean {
    let steps = 0;
    for (;;) {
      const t = this.nextEventCycle();
      if (t >= endCycle) break;
      if (steps++ >= maxSteps) return false;
      this.step(t);
    }
    if (endCycle > this.now) this.now = endCycle;
    return true;
  }

  /** Runs until no module has work, or until `limitCycle`. Returns the cycle reached. */
  runUntilIdle(limitCycle = Number.MAX_SAFE_INTEGER): number {
    for (;;) {
      const t = this.nextEventCycle();
      if (t === IDLE || t >= limitCycle) break;
      this.step(t);
    }
    return this.now;
  }

  /** Evaluates and commits cycle `t` (the earliest pending one). */
  private step(t: number): void {
    const w = this.wakeCycle;
    const modules = this.modules;
    const awake = this.awake;
    let n = 0;
    for (let i = 0; i < w.length; i++) {
      if (w[i]! <= t) {
        w[i] = IDLE;
        awake[n++] = modules[i]!;
      }
    }
    if (this.shuffle) this.shuffleFirst(awake, n);
    this.now = t;
    this.stepping = true;
    for (let i = 0; i < n; i++) awake[i]!.evaluate(t);
    for (let i = 0; i < n; i++) {
      const m = awake[i]!;
      const next = m.commit(t);
      if (next < w[m.id]!) w[m.id] = next <= t ? t + 1 : next;
    }
    const touched = this.touched;
    let c = 0;
    const t1 = t + 1;
    for (let i = 0; i < n; i++) {
      const chs = awake[i]!.channels;
      for (let j = 0; j < chs.length; j++) {
        const ch = chs[j]!;
        if (ch.committedCycle === t) continue;
        ch.committedCycle = t;
        touched[c++] = ch;
        if (ch.commit()) {
          const p = ch.producer!.id;
          const q = ch.consumer!.id;
          if (t1 < w[p]!) w[p] = t1;
          if (t1 < w[q]!) w[q] = t1;
        }
      }
    }
    this.evaluatedCycles++;
    this.stepping = false;
    this.now = t1;
    if (this.observer !== null) this.observer.afterCycle(t, awake, n, touched, c);
  }

  private shuffleFirst(a: ClockedModule[], n: number): void {
    for (let i = n - 1; i > 0; i--) {
      // xorshift32: a fixed, seedable order for the order-independence test.
      let x = this.rng;
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      this.rng = x >>> 0;
      const j = this.rng % (i + 1);
      const tmp = a[i]!;
      a[i] = a[j]!;
      a[j] = tmp;
    }
  }
}
