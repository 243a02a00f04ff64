import type { AxisChannel } from './channel.ts';
import type { ClockedModule } from './module.ts';

const READY_LOG = 16;

/**
 * Lets a per-cycle module (one without trains of its own) sit among modules that run
 * trains (Simulator option `trains`), so that one such module does not hold a whole
 * NIC back to per-cycle registered channels. The Fatriot heartbeat manager, fail-safe
 * handler and neighbor discovery use it: they see little traffic, and their
 * neighbours (output_queues, the tx mux, the dual queue) are on the main path.
 *
 * The module still evaluates and commits as before; the bridge presents each of its
 * channels as the registered signals of that cycle, worked out from handshakes:
 * - an input shows tvalid && tready with the beat in the cycle a posted beat moves
 *   (the module is woken then), and tvalid low otherwise. tready is answered to the
 *   producer from the values the module set (kept as a short log of changes), for
 *   cycles already decided; a producer asking further ahead waits, and the module is
 *   evaluated every cycle until it can answer. Inputs the module keeps ready for good
 *   (`bridgeInputAlwaysReady`) answer at once;
 * - an output's offer (what evaluate drove for the next cycle) is posted with the
 *   cycle the consumer takes it; the module sees tready high in that cycle only, and
 *   is woken then.
 * So it holds only for modules that keep the AXI4-Stream rules the way the
 * `wakeOnHandshakeOnly` cores do: read an input's tvalid only together with its
 * tready, read an output's tready only while offering, and hold an offer until it
 * moves (a withdrawn offer throws). The equivalence tests of the Fatriot NIC (trains
 * against per-cycle) check that every handshake keeps its cycle.
 */
export class TrainBridge {
  private readonly module: ClockedModule;
  private readonly inputs: AxisChannel[] = [];
  private readonly outputs: AxisChannel[] = [];
  private readonly alwaysReady: boolean[] = [];
  /** Per output: cycle from which the pending offer stands (NaN: none). */
  private readonly offerCycle: Float64Array;
  /** Per output: cycle the pending offer moves; -1 while the consumer cannot say; NaN: none. */
  private readonly acceptAt: Float64Array;
  /** Per input: changes of tready, as (first cycle, value), oldest first, a ring of READY_LOG. */
  private readonly readyCycles: Float64Array[] = [];
  private readonly readyValues: Uint8Array[] = [];
  private readonly readyCount: Int32Array;
  private lastEvaluated = Number.NEGATIVE_INFINITY;
  /** A producer waits on an input's tready: evaluate every cycle until it is answered. */
  private inputWaiting = false;

  constructor(module: ClockedModule) {
    this.module = module;
    for (const ch of module.channels) {
      if (ch.consumer === module) {
        ch.consumerInputIndex = this.inputs.length;
        this.inputs.push(ch);
        this.alwaysReady.push(module.bridgeInputAlwaysReady(ch));
        const cycles = new Float64Array(READY_LOG);
        const values = new Uint8Array(READY_LOG);
        cycles[0] = Number.NEGATIVE_INFINITY;
        values[0] = ch.nextReady ? 1 : 0;
        this.readyCycles.push(cycles);
        this.readyValues.push(values);
      } else {
        ch.producerOutputIndex = this.outputs.length;
        this.outputs.push(ch);
        // Nothing is pending when it has nothing posted: its next offer comes from an
        // evaluation at the present cycle or later, so it moves a cycle after that at the earliest.
        ch.idleLookaheadCycles = 1;
      }
    }
    this.offerCycle = new Float64Array(this.outputs.length).fill(Number.NaN);
    this.acceptAt = new Float64Array(this.outputs.length).fill(Number.NaN);
    this.readyCount = new Int32Array(this.inputs.length).fill(1);
  }

  /** Evaluates the module in cycle `t` with its channels' registered values for `t`. */
  evaluate(t: number): void {
    const inputs = this.inputs;
    const outputs = this.outputs;
    for (let i = 0; i < inputs.length; i++) {
      const ch = inputs[i]!;
      const c = ch.peekCycle();
      if (c < t) throw new Error(`${ch.name}: beat posted for cycle ${c} was not taken by ${this.module.name}`);
      if (c === t) {
        ch.valid = true;
        ch.ready = true;
        ch.packet = ch.peekPacket();
        ch.beat = ch.peekBeat();
      } else {
        ch.valid = false;
        ch.ready = this.readyAt(i, t);
        ch.packet = null;
        ch.beat = 0;
      }
    }
    for (let o = 0; o < outputs.length; o++) {
      const ch = outputs[o]!;
      ch.valid = ch.nextValid;
      ch.packet = ch.nextPacket;
      ch.beat = ch.nextBeat;
      ch.ready = this.acceptAt[o] === t;
    }
    this.module.evaluate(t);
    this.lastEvaluated = t;
    for (let i = 0; i < inputs.length; i++) {
      const ch = inputs[i]!;
      if (ch.valid) ch.shiftPost();
      if (!this.alwaysReady[i]) this.logReady(i, t + 1, ch.nextReady);
    }
    for (let o = 0; o < outputs.length; o++) {
      const ch = outputs[o]!;
      if (this.acceptAt[o] === t) {
        this.acceptAt[o] = Number.NaN;
        this.offerCycle[o] = Number.NaN;
      }
      if (ch.nextValid) {
        if (Number.isNaN(this.offerCycle[o]!)) {
          this.offerCycle[o] = t + 1;
          this.offer(o);
        }
      } else if (!Number.isNaN(this.offerCycle[o]!)) {
        throw new Error(`${this.module.name}: offer on ${ch.name} withdrawn before it moved (AXI4-Stream holds tvalid)`);
      }
    }
    this.inputWaiting = false;
    for (const ch of inputs) if (ch.producerWaiting) ch.wakeProducer();
  }

  /** The module's next cycle (`next`, from its commit) or earlier, for what the bridge must show. */
  nextCycle(t: number, next: number): number {
    if (this.inputWaiting) return t + 1;
    for (const ch of this.inputs) {
      const c = ch.peekCycle();
      if (c < next) next = c;
    }
    const acceptAt = this.acceptAt;
    for (let o = 0; o < acceptAt.length; o++) {
      const h = acceptAt[o]!;
      if (h > t && h < next) next = h;
    }
    return next;
  }

  trainPosted(ch: AxisChannel): void {
    this.module.sim!.wake(this.module, ch.peekCycle());
  }

  trainAcceptable(ch: AxisChannel): void {
    const o = ch.producerOutputIndex;
    if (this.acceptAt[o] === -1) this.offer(o);
  }

  trainAccept(ch: AxisChannel, offerCycle: number): number {
    const i = ch.consumerInputIndex;
    if (this.alwaysReady[i]) return offerCycle;
    const sim = this.module.sim!;
    // tready for cycle t+1 is set by an evaluation in t and holds while the module is
    // not evaluated. Between steps it is known for the present cycle; during the step of
    // cycle s also for s+1, unless the module is still to be evaluated in this step.
    const s = sim.now;
    let known = this.lastEvaluated + 1;
    if (sim.isStepping) {
      const pending = sim.stepCycleOf(this.module) === s && this.lastEvaluated < s;
      if (!pending && s + 1 > known) known = s + 1;
      else if (s > known) known = s;
    } else if (s > known) {
      known = s;
    }
    for (let t = offerCycle; t <= known; ) {
      if (this.readyAt(i, t)) return t;
      const change = this.nextReadyChange(i, t);
      if (change > known) break;
      t = change;
    }
    this.inputWaiting = true;
    sim.wake(this.module, sim.now);
    return -1;
  }

  trainHorizon(ch: AxisChannel): number {
    const o = ch.producerOutputIndex;
    const h = this.acceptAt[o]!;
    let horizon: number;
    if (h >= 0) horizon = h + 1;
    else if (h === -1) horizon = this.offerCycle[o]!;
    else horizon = this.module.sim!.now + 1;
    return horizon > ch.lastPostedCycle ? horizon : ch.lastPostedCycle + 1;
  }

  private offer(o: number): void {
    const ch = this.outputs[o]!;
    const h = ch.acceptCycle(this.offerCycle[o]!);
    if (h < 0) {
      this.acceptAt[o] = -1;
      return;
    }
    this.acceptAt[o] = h;
    ch.post(ch.nextPacket!, ch.nextBeat, h);
    ch.flushPosts();
    this.module.sim!.wake(this.module, h);
  }

  private readyAt(i: number, t: number): boolean {
    const cycles = this.readyCycles[i]!;
    const values = this.readyValues[i]!;
    const n = this.readyCount[i]!;
    for (let k = n - 1; k >= 0 && k >= n - READY_LOG; k--) {
      const j = k % READY_LOG;
      if (cycles[j]! <= t) return values[j] === 1;
    }
    throw new Error(`${this.inputs[i]!.name}: tready asked for cycle ${t}, older than the bridge keeps`);
  }

  /** First cycle after `t` where tready of input `i` changes (Infinity when none is logged). */
  private nextReadyChange(i: number, t: number): number {
    const cycles = this.readyCycles[i]!;
    const n = this.readyCount[i]!;
    let next = Number.POSITIVE_INFINITY;
    for (let k = n - 1; k >= 0 && k >= n - READY_LOG; k--) {
      const c = cycles[k % READY_LOG]!;
      if (c <= t) break;
      next = c;
    }
    return next;
  }

  private logReady(i: number, from: number, ready: boolean): void {
    const n = this.readyCount[i]!;
    const last = (n - 1) % READY_LOG;
    const value = ready ? 1 : 0;
    if (this.readyValues[i]![last] === value) return;
    const j = n % READY_LOG;
    this.readyCycles[i]![j] = from;
    this.readyValues[i]![j] = value;
    this.readyCount[i] = n + 1;
  }
}
