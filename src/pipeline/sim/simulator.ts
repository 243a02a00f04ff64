import { WAKE_CONSUMER, WAKE_PRODUCER, type AxisChannel } from './channel.ts';
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
  /**
   * Let modules that can (the reference NIC's cores) run trains: beats whose cycles
   * are known in advance move without evaluating either end per beat, and modules
   * wake only where something happens at a given cycle (issue 3). Every handshake,
   * delivery and counter stays at the cycle of the plain per-cycle run; only the
   * number of evaluations, `now` after runUntilIdle, and module internals read between
   * runs (state machines, FIFOs: worked out ahead) differ. Default true; off while a
   * CycleObserver (VCD) is attached before the first cycle.
   */
  trains?: boolean;
  /**
   * Evaluate every module in every cycle that is evaluated at all, not only those due
   * (trains off). A module that asks to sleep through a cycle in which it would have
   * changed something (a missed wake-up) then shows up as a difference from the normal
   * run; tests compare the two.
   */
  everyCycle?: boolean;
}

/**
 * The two-phase synchronous kernel (SPEC section 3). It knows nothing of NICs.
 *
 * Only awake modules are evaluated, and when no module is awake time jumps to
 * the earliest timer, so idle time (a 0.5 s heartbeat interval is 1e8 cycles)
 * costs nothing. A module is awake in cycle t+1 when its commit in cycle t asked
 * for it, when one of its channels changed a registered signal or carries a
 * moving beat, or when someone called `wake`.
 *
 * Wake times sit in a binary heap ordered by (cycle, module id), so a step costs
 * a few heap operations for the modules it evaluates, whatever the number of
 * sleeping modules, and modules of one cycle are evaluated in id order (the
 * order they were added) unless shuffled. Only channels whose `next*` values
 * changed, or that carry a moving beat, are committed.
 */
export class Simulator {
  /** The next cycle to be evaluated; everything before it has happened. */
  now = 0;
  readonly modules: ClockedModule[] = [];
  readonly channels: AxisChannel[] = [];
  /** Cycles actually evaluated (not skipped), for the benchmark. */
  evaluatedCycles = 0;
  /** Module evaluations (a module evaluated in a cycle counts one), for the benchmark. */
  evaluations = 0;
  observer: CycleObserver | null = null;

  /** Per module: the cycle of the last step that evaluated (or is evaluating) it. */
  private stepCycles = new Float64Array(0);
  /** Per module: 1 when it is evaluated through a TrainBridge. */
  private bridged = new Uint8Array(0);
  /**
   * Per module: 1 once it has been evaluated and committed. Every module is evaluated in its
   * first cycle, through call sites of their own (evaluateFirst, commitFirst), so that the
   * sites for later steps see only the classes that step again (the bench's line-rate
   * source, timers), where V8 keeps a polymorphic call instead of a megamorphic lookup.
   */
  private seen = new Uint8Array(0);
  /** Per module: the cycle it is due, IDLE when not scheduled. */
  private wakeCycle = new Float64Array(0);
  /** Min-heap of module ids by (wakeCycle, id); heapPos[id] is its index or -1. */
  private heap = new Int32Array(0);
  private heapPos = new Int32Array(0);
  private heapSize = 0;
  private awake: ClockedModule[] = [];
  /** Ids of `awake`, so the step reads no property of a module (they are of many classes). */
  private awakeIds = new Int32Array(0);
  /** Channels to commit at the end of the present cycle (`pendingCommit` set). */
  private touched: AxisChannel[] = [];
  private touchedCount = 0;
  private rng: number;
  private stepping = false;
  /** settledCycle()'s answer, kept with `now` and `stepping` (trains ask it at every post). */
  private settled = -1;
  private readonly shuffle: boolean;
  private readonly trainsAllowed: boolean;
  private readonly everyCycle: boolean;
  /** Modules added since trains were last decided (from this index on). */
  private trainsDecidedUpTo = 0;
  /** Modules running trains, settled at the end of every run. */
  private readonly trained: ClockedModule[] = [];
  /** Channels whose producer takes frames from ports (`declareOutsideInput`). */
  private readonly outsideInputs: AxisChannel[] = [];
  /** The latest `promiseNoInputBefore` cycle; -Infinity: none made. */
  private inputsQuietUntil = Number.NEGATIVE_INFINITY;

  constructor(options: SimulatorOptions = {}) {
    this.shuffle = options.shuffleSeed !== undefined;
    this.rng = (options.shuffleSeed ?? 1) >>> 0 || 1;
    // FATRIOT_TRAINS=0 turns trains off everywhere (to compare a run with the per-cycle model).
    this.everyCycle = options.everyCycle ?? false;
    this.trainsAllowed = !this.everyCycle && (options.trains ?? process.env.FATRIOT_TRAINS !== '0');
  }

  /** The cycle of the last step that evaluated (or is evaluating) `module`; -1 if none. */
  stepCycleOf(module: ClockedModule): number {
    return this.stepCycles[module.id]!;
  }

  /** True once some module runs trains (decided at the first step). */
  get runsTrains(): boolean {
    return this.trained.length > 0;
  }

  /** True while a cycle is being evaluated and committed. */
  get isStepping(): boolean {
    return this.stepping;
  }

  /** The latest cycle whose effects have happened (or are happening, during a step). */
  settledCycle(): number {
    return this.settled;
  }

  add<M extends ClockedModule>(module: M): M {
    if (module.sim !== null) throw new Error(`${module.name} is already in a simulator`);
    module.id = this.modules.length;
    module.sim = this;
    this.modules.push(module);
    const n = this.modules.length;
    const wake = new Float64Array(n).fill(IDLE);
    wake.set(this.wakeCycle);
    this.wakeCycle = wake;
    const heap = new Int32Array(n);
    heap.set(this.heap);
    this.heap = heap;
    const pos = new Int32Array(n).fill(-1);
    pos.set(this.heapPos);
    this.heapPos = pos;
    const steps = new Float64Array(n).fill(-1);
    steps.set(this.stepCycles);
    this.stepCycles = steps;
    const bridged = new Uint8Array(n);
    bridged.set(this.bridged);
    this.bridged = bridged;
    const seen = new Uint8Array(n);
    seen.set(this.seen);
    this.seen = seen;
    for (const ch of module.channels) {
      if (ch.id < 0) {
        ch.id = this.channels.length;
        ch.sim = this;
        this.channels.push(ch);
      }
    }
    this.schedule(module.id, this.now);
    module.reset();
    return module;
  }

  /**
   * A producer that takes frames from ports (a 10G receiver, the DMA engine) declares its
   * output here: `promiseNoInputBefore` then raises the channel's `idleFrom`.
   */
  declareOutsideInput(ch: AxisChannel): void {
    this.outsideInputs.push(ch);
    // idleFromWithPromise written out: storing its result here unconditionally measured 1.7%
    // more instructions a frame afterwards (tools/bench/instructions.sh; V8's field feedback).
    if (this.inputsQuietUntil > ch.idleFrom) ch.idleFrom = this.inputsQuietUntil;
  }

  /**
   * A promise from whoever hands the model its frames from outside (the real-time driver,
   * whose ports stamp frames with the wall clock): no frame reaches any port, attached
   * now or later, before `cycle`. Trains then look past idle inputs up to there instead
   * of waking once a packet to see them stay empty. Promises only grow; a frame that
   * breaks one makes the receiving module throw (`frameTooLate`).
   */
  promiseNoInputBefore(cycle: number): void {
    if (!(cycle > this.inputsQuietUntil)) return;
    this.inputsQuietUntil = cycle;
    const chs = this.outsideInputs;
    for (let i = 0; i < chs.length; i++) if (cycle > chs[i]!.idleFrom) chs[i]!.idleFrom = cycle;
  }

  /** The latest promise of `promiseNoInputBefore` (-Infinity: none). */
  get noInputBefore(): number {
    return this.inputsQuietUntil;
  }

  /** The `idleFrom` of an outside input whose port promises `quietUntil`: the later of that and this simulator's promise. */
  idleFromWithPromise(quietUntil: number): number {
    return quietUntil > this.inputsQuietUntil ? quietUntil : this.inputsQuietUntil;
  }

  /** Schedules `module` to be evaluated at `cycle`, or now if that has passed. */
  wake(module: ClockedModule, cycle: number): void {
    // During a step, the present cycle is being evaluated: the earliest is the next one.
    const earliest = this.stepping ? this.now + 1 : this.now;
    this.schedule(module.id, cycle < earliest ? earliest : cycle);
  }

  /** The earliest cycle at which some module has work; IDLE when none. */
  nextEventCycle(): number {
    return this.heapSize === 0 ? IDLE : this.wakeCycle[this.heap[0]!]!;
  }

  /** Called by a channel whose `next*` values changed: commit it at the end of this cycle. */
  touchChannel(ch: AxisChannel): void {
    this.touched[this.touchedCount++] = ch;
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
      if (steps++ >= maxSteps) {
        this.settleTrains(this.now - 1);
        return false;
      }
      this.step(t);
    }
    if (endCycle > this.now) this.now = endCycle;
    this.settled = this.now - 1;
    this.settleTrains(endCycle - 1);
    return true;
  }

  /** Runs until no module has work, or until `limitCycle`. Returns the cycle reached. */
  runUntilIdle(limitCycle = Number.MAX_SAFE_INTEGER): number {
    for (;;) {
      const t = this.nextEventCycle();
      if (t === IDLE || t >= limitCycle) break;
      this.step(t);
    }
    // What trains worked out ahead happened by now in the per-cycle run.
    const last = this.settleTrains(limitCycle - 1);
    if (last + 1 > this.now) this.now = last + 1;
    this.settled = this.now - 1;
    return this.now;
  }

  /**
   * Applies what modules running trains worked out ahead (counters) for every cycle up
   * to and including `cycle`; returns the latest cycle applied. A register read or
   * write in a commit of cycle c calls it with c first, so it sees every counter as the
   * per-cycle model has it then.
   */
  settleTrains(cycle: number): number {
    let last = Number.NEGATIVE_INFINITY;
    for (const m of this.trained) {
      const c = m.settleTrains(cycle);
      if (c > last) last = c;
    }
    return last;
  }

  /**
   * Switches to trains every module that can run them and whose channels all lead to
   * modules that can too (the others, and everything when a CycleObserver is attached,
   * keep per-cycle registered channels).
   */
  private decideTrains(): void {
    const from = this.trainsDecidedUpTo;
    this.trainsDecidedUpTo = this.modules.length;
    if (!this.trainsAllowed || this.observer !== null) return;
    const candidate = new Uint8Array(this.modules.length);
    for (let i = from; i < this.modules.length; i++) if (this.modules[i]!.canRunTrains()) candidate[i] = 1;
    for (let changed = true; changed; ) {
      changed = false;
      for (let i = from; i < this.modules.length; i++) {
        if (candidate[i] === 0) continue;
        for (const ch of this.modules[i]!.channels) {
          const other = ch.producer === this.modules[i] ? ch.consumer : ch.producer;
          if (other === null || other.sim !== this || candidate[other.id] === 0) {
            candidate[i] = 0;
            changed = true;
            break;
          }
        }
      }
    }
    const started: ClockedModule[] = [];
    for (let i = from; i < this.modules.length; i++) {
      if (candidate[i] === 0) continue;
      const m = this.modules[i]!;
      m.trains = true;
      for (const ch of m.channels) ch.trained = true;
      this.trained.push(m);
      started.push(m);
    }
    for (const m of started) m.startTrains();
    for (const m of started) if (m.bridge !== null) this.bridged[m.id] = 1;
  }

  /** Evaluates and commits cycle `t` (the earliest pending one). */
  private step(t: number): void {
    if (this.trainsDecidedUpTo < this.modules.length) this.decideTrains();
    const w = this.wakeCycle;
    const modules = this.modules;
    const awake = this.awake;
    if (this.awakeIds.length < modules.length) this.awakeIds = new Int32Array(modules.length);
    const awakeIds = this.awakeIds;
    let n = 0;
    while (this.heapSize > 0 && w[this.heap[0]!]! <= t) {
      const id = this.popMin();
      w[id] = IDLE;
      this.stepCycles[id] = t;
      awakeIds[n] = id;
      awake[n++] = modules[id]!;
    }
    if (this.everyCycle) {
      n = 0;
      for (const m of modules) {
        awakeIds[n] = m.id;
        awake[n++] = m;
      }
    }
    if (this.shuffle) this.shuffleFirst(awake, n);
    this.now = t;
    this.stepping = true;
    this.settled = t;
    const bridged = this.bridged;
    const seen = this.seen;
    for (let i = 0; i < n; i++) {
      const m = awake[i]!;
      const id = awakeIds[i]!;
      if (bridged[id] !== 0) m.bridge!.evaluate(t);
      else if (seen[id] !== 0) m.evaluate(t);
      else this.evaluateFirst(m, t);
    }
    const t1 = t + 1;
    for (let i = 0; i < n; i++) {
      const m = awake[i]!;
      const id = awakeIds[i]!;
      let next: number;
      if (seen[id] !== 0) {
        next = m.commit(t);
      } else {
        next = this.commitFirst(m, t);
        seen[id] = 1;
      }
      if (bridged[id] !== 0) next = m.bridge!.nextCycle(t, next);
      if (next < IDLE) this.schedule(id, next <= t ? t1 : next);
    }
    // Channels touched in this cycle, and those whose beat moved in it (kept on the
    // list from the previous commit), latch their next values.
    const touched = this.touched;
    let c = this.touchedCount;
    let keep = 0;
    for (let i = 0; i < c; i++) {
      const ch = touched[i]!;
      ch.committedCycle = t;
      const wake = ch.latch();
      if (wake & WAKE_PRODUCER) this.schedule(ch.producer!.id, t1);
      if (wake & WAKE_CONSUMER) this.schedule(ch.consumer!.id, t1);
      if (ch.valid && ch.ready) {
        // It moves a beat in t+1: commit it then too, to count the beat.
        touched[c + keep++] = ch;
      } else {
        ch.pendingCommit = false;
      }
    }
    this.evaluatedCycles++;
    this.evaluations += n;
    this.stepping = false;
    this.now = t1;
    if (this.observer !== null) this.observer.afterCycle(t, awake, n, touched, c);
    // The kept channels move to the front: they are the start of t+1's list.
    for (let i = 0; i < keep; i++) touched[i] = touched[c + i]!;
    this.touchedCount = keep;
  }

  private evaluateFirst(m: ClockedModule, t: number): void {
    m.evaluate(t);
  }

  private commitFirst(m: ClockedModule, t: number): number {
    return m.commit(t);
  }

  /** Puts module `id` on the heap at `cycle` unless it is due earlier already. */
  private schedule(id: number, cycle: number): void {
    const w = this.wakeCycle;
    if (cycle >= w[id]!) return;
    w[id] = cycle;
    const i = this.heapPos[id]!;
    this.siftUp(i < 0 ? this.heapSize++ : i, id);
  }

  private siftUp(i: number, id: number): void {
    const heap = this.heap;
    const pos = this.heapPos;
    const w = this.wakeCycle;
    const key = w[id]!;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent]!;
      const pk = w[p]!;
      if (pk < key || (pk === key && p < id)) break;
      heap[i] = p;
      pos[p] = i;
      i = parent;
    }
    heap[i] = id;
    pos[id] = i;
  }

  private popMin(): number {
    const heap = this.heap;
    const pos = this.heapPos;
    const w = this.wakeCycle;
    const top = heap[0]!;
    pos[top] = -1;
    const size = --this.heapSize;
    if (size === 0) return top;
    const id = heap[size]!;
    const key = w[id]!;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= size) break;
      let c = heap[child]!;
      let ck = w[c]!;
      const r = child + 1;
      if (r < size) {
        const rc = heap[r]!;
        const rk = w[rc]!;
        if (rk < ck || (rk === ck && rc < c)) {
          child = r;
          c = rc;
          ck = rk;
        }
      }
      if (key < ck || (key === ck && id < c)) break;
      heap[i] = c;
      pos[c] = i;
      i = child;
    }
    heap[i] = id;
    pos[id] = i;
    return top;
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
      const ids = this.awakeIds;
      const tmpId = ids[i]!;
      ids[i] = ids[j]!;
      ids[j] = tmpId;
    }
  }
}
