import type { Simulator } from '../pipeline/sim/simulator.ts';
import type { Port } from './port.ts';

export interface RealtimeDriverOptions {
  /** Evaluated cycles per slice before the driver yields to the event loop (TAP reads, control socket). */
  stepsPerSlice?: number;
  /** Longest sleep when nothing is scheduled, in ms (so lag reports stay fresh). */
  maxSleepMs?: number;
  /**
   * Timers are late by the OS's timer slack and by load; for an event closer than
   * this (ms) the driver polls the clock from the event loop instead of sleeping,
   * so model events (heartbeats) leave on time. Default 2 ms.
   */
  spinMs?: number;
}

export interface LagReport {
  /** Model cycles the model is behind the wall clock (0 when it keeps up). */
  lagCycles: number;
  lagUs: number;
  /** Largest lag seen since start, in microseconds. */
  maxLagUs: number;
  /** Model cycles per wall second over the last report interval. */
  modelCyclesPerSecond: number;
}

/**
 * Runs a Simulator against the wall clock (SPEC section 4): while idle, model time
 * follows real time, so heartbeat intervals and RTTs on TAP links are real; while
 * busy, the model runs as fast as it can in slices and reports how far it lags.
 * Frames arriving from TAP ports are stamped with `nowCycle()` and `kick()` makes
 * the driver run them at once instead of at the next timer.
 */
export class RealtimeDriver {
  readonly sim: Simulator;
  readonly coreHz: number;
  private readonly stepsPerSlice: number;
  private readonly maxSleepMs: number;
  private readonly spinMs: number;
  private startNs = 0n;
  private startCycle = 0;
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private running = false;
  private maxLagCycles = 0;
  private lastReportNs = 0n;
  private lastReportCycle = 0;

  constructor(sim: Simulator, coreHz: number, options: RealtimeDriverOptions = {}) {
    this.sim = sim;
    this.coreHz = coreHz;
    this.stepsPerSlice = options.stepsPerSlice ?? 20_000;
    this.maxSleepMs = options.maxSleepMs ?? 50;
    this.spinMs = options.spinMs ?? 2;
  }

  /** The model cycle that corresponds to now on the wall clock (never behind the model). */
  nowCycle(): number {
    if (!this.running) return this.sim.now;
    const wall = this.wallCycle();
    return wall > this.sim.now ? wall : this.sim.now;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.startNs = process.hrtime.bigint();
    this.startCycle = this.sim.now;
    this.lastReportNs = this.startNs;
    this.lastReportCycle = this.sim.now;
    this.schedule(0);
  }

  stop(): void {
    this.running = false;
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.immediate !== null) clearImmediate(this.immediate);
    this.timer = null;
    this.immediate = null;
  }

  /**
   * Brings an idle model up to the wall clock before something is injected at
   * `sim.now` (a register access from the control plane is dated at the model's
   * present; without this it would be dated up to maxSleepMs in the past). Bounded
   * by stepsPerSlice: a busy model stays behind and the lag report says so.
   */
  catchUp(): void {
    if (this.running) this.runToWall();
  }

  /** Something was injected (a frame, a register access): run it now. */
  kick(): void {
    if (!this.running || this.immediate !== null) return;
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.immediate = setImmediate(() => {
      this.immediate = null;
      this.tick();
    });
  }

  /**
   * Wraps a port whose frames come from outside the model (a TAP) so that each frame
   * runs the model at once (`kick`). With `stamp`, frames are stamped with `nowCycle()`
   * here; without, the port stamps them itself (a TapPort with this driver as its clock,
   * once per burst).
   */
  drivenPort(port: Port, options: { stamp?: boolean } = {}): Port {
    const stamp = options.stamp === true;
    return {
      name: port.name,
      attach: (receiver) =>
        port.attach((frame, cycle) => {
          const c = stamp ? this.nowCycle() : cycle;
          // A port stamping from another clock could break the driver's promise; it cannot be earlier than this.
          const promised = this.sim.noInputBefore;
          receiver(frame, c < promised ? promised : c);
          this.kick();
        }),
      receive: (frame, cycle) => port.receive(frame, cycle),
      transmit: (frame, cycle) => port.transmit(frame, cycle),
      close: () => port.close(),
      takesFramesAhead: port.takesFramesAhead === true,
    };
  }

  lag(): LagReport {
    const wall = this.running ? this.wallCycle() : this.sim.now;
    const lagCycles = Math.max(0, wall - this.sim.now);
    const nowNs = process.hrtime.bigint();
    const dtS = Number(nowNs - this.lastReportNs) / 1e9;
    const rate = dtS > 0 ? (this.sim.now - this.lastReportCycle) / dtS : 0;
    this.lastReportNs = nowNs;
    this.lastReportCycle = this.sim.now;
    return {
      lagCycles,
      lagUs: (lagCycles / this.coreHz) * 1e6,
      maxLagUs: (this.maxLagCycles / this.coreHz) * 1e6,
      modelCyclesPerSecond: rate,
    };
  }

  private wallCycle(): number {
    const ns = Number(process.hrtime.bigint() - this.startNs);
    return this.startCycle + Math.floor((ns * this.coreHz) / 1e9);
  }

  private tick(): void {
    if (!this.running) return;
    const target = this.wallCycle();
    const caughtUp = this.runToWall(target);
    const lag = target - this.sim.now;
    if (lag > this.maxLagCycles) this.maxLagCycles = lag;
    if (!caughtUp) {
      // Busy: yield to the event loop, then go on at once.
      this.schedule(0);
      return;
    }
    const next = this.sim.nextEventCycle();
    const waitCycles = next - this.wallCycle();
    const waitMs = Number.isFinite(waitCycles) ? (waitCycles / this.coreHz) * 1e3 : this.maxSleepMs;
    // Sleep until shortly before the event, then poll, so it is not late by the timer slack.
    if (waitMs <= this.spinMs) this.schedule(0);
    else this.schedule(Math.min(this.maxSleepMs, waitMs - this.spinMs));
  }

  /**
   * Runs the model towards the wall clock's present cycle (at most stepsPerSlice steps),
   * first promising it that no frame comes from outside before that cycle: frames reach
   * it only through ports stamped with `nowCycle()` (which is never behind the wall
   * clock) or through `drivenPort`, which holds them to the promise. The model then
   * decides what its idle inputs allow up to there at once instead of stepping to each
   * packet to see them stay idle.
   */
  private runToWall(target = this.wallCycle()): boolean {
    this.sim.promiseNoInputBefore(target);
    return this.sim.runUntil(target, this.stepsPerSlice);
  }

  private schedule(ms: number): void {
    if (!this.running) return;
    if (ms <= 0) {
      if (this.immediate === null) {
        this.immediate = setImmediate(() => {
          this.immediate = null;
          this.tick();
        });
      }
      return;
    }
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.tick();
    }, ms);
  }
}
