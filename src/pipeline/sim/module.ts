import type { AxisChannel } from './channel.ts';
import type { Simulator } from './simulator.ts';
import { TrainBridge } from './train-bridge.ts';

/** What a module shows in a VCD trace: a name, a width in bits and how to read it. */
export interface TraceSignal {
  readonly name: string;
  readonly width: number;
  read(): number;
}

/** Returned by `commit` when the module has nothing to do until something wakes it. */
export const IDLE = Number.POSITIVE_INFINITY;

/**
 * A clocked hardware module in the manner of an HDL process (STYLE.md: Amaranth,
 * cocotb). The constructor declares its channels; each cycle the simulator calls
 * `evaluate` on every awake module (which may read only registered channel values
 * and its own state, and writes only channel `next*` fields and its own pending
 * state), then `commit` on each (which latches the module's own state).
 *
 * `commit` returns the next cycle at which the module needs to run by itself
 * (cycle + 1 while it is busy, a timer's cycle, or IDLE). Channel activity wakes
 * both ends automatically, so an idle or stalled module costs nothing.
 */
export abstract class ClockedModule {
  readonly name: string;
  /** Index in the simulator, set by Simulator.add. */
  id = -1;
  sim: Simulator | null = null;
  readonly channels: AxisChannel[] = [];
  /**
   * True for a module that reacts to its channels only through handshakes and offers,
   * as an AXI4-Stream core does: it reads tready of an output only while it offers a
   * beat there, and tvalid of an input only to take or to see an offered beat. Channel
   * activity then wakes it only when a beat moves on one of its channels, or when an
   * input offers a new beat while its tready is low; not for its own signal changes,
   * for tready of an output it offers nothing on, or for tvalid falling on an input.
   * Set it (as a field initializer, before declaring channels) where that holds.
   */
  readonly wakeOnHandshakeOnly: boolean = false;

  constructor(name: string) {
    this.name = name;
  }

  /** Declares an input channel (this module drives tready). */
  protected input(ch: AxisChannel): AxisChannel {
    if (ch.consumer !== null) throw new Error(`${ch.name} already has consumer ${ch.consumer.name}`);
    ch.consumer = this;
    ch.consumerWakeOnHandshakeOnly = this.wakeOnHandshakeOnly;
    ch.consumerTrainAccept = this.trainAccept;
    ch.consumerTrainPosted = this.trainPosted;
    this.channels.push(ch);
    return ch;
  }

  /** Declares an output channel (this module drives tvalid and the beat). */
  protected output(ch: AxisChannel): AxisChannel {
    if (ch.producer !== null) throw new Error(`${ch.name} already has producer ${ch.producer.name}`);
    ch.producer = this;
    ch.producerWakeOnHandshakeOnly = this.wakeOnHandshakeOnly;
    ch.producerTrainAcceptable = this.trainAcceptable;
    ch.producerTrainHorizon = this.trainHorizon;
    this.channels.push(ch);
    return ch;
  }

  /** Asks to be evaluated at `cycle` (clamped to the present). For timers and external events. */
  protected wakeAt(cycle: number): void {
    this.sim?.wake(this, cycle);
  }

  abstract evaluate(cycle: number): void;
  abstract commit(cycle: number): number;

  /** Called once when the module joins a simulator; set initial tready etc. here. */
  reset(): void {}

  /** Signals for the VCD trace (FIFO levels, state machines). */
  traceSignals(): TraceSignal[] {
    return [];
  }

  // --- Trains (Simulator option `trains`, issue 3) ---------------------------------
  // A module that can run trains on every channel it has says so; when all modules on
  // both sides of its channels can too, the simulator switches them before the first
  // cycle. Such a module no longer reads registered tvalid/tready: a producer posts
  // each beat with the cycle it moves (asking the consumer when that is), a consumer
  // takes posted beats in order, and both work out what the RTL does cycle by cycle
  // from those cycles, waking only where something must happen at a given cycle.
  // What such a module shows between runs: counters exact at `now` (settleTrains);
  // state machines and FIFOs as far as worked out, which may be ahead of `now`.

  /** Set by the simulator when this module runs trains. */
  trains = false;

  /**
   * A per-cycle module that keeps the AXI4-Stream rules (see TrainBridge) and can
   * therefore run among train-running neighbours through a TrainBridge. Set it as a
   * field initializer; a module with trains of its own overrides the train methods instead.
   */
  readonly bridgesTrains: boolean = false;
  /** Set in startTrains for a module that `bridgesTrains`; the simulator evaluates it through the bridge. */
  bridge: TrainBridge | null = null;

  /** Bridge: tready of input `ch` is high in every cycle (the module never lowers it). */
  bridgeInputAlwaysReady(ch: AxisChannel): boolean {
    void ch;
    return false;
  }

  /** True when the module implements the train protocol on all its channels (or bridges them). */
  canRunTrains(): boolean {
    return this.bridgesTrains;
  }

  /**
   * Called once, before the first cycle it runs in, when the module runs trains; it
   * sets up only (its neighbours may not be set up yet). Every module is evaluated in
   * its first cycle, where it can start posting.
   */
  startTrains(): void {
    if (this.bridgesTrains) this.bridge = new TrainBridge(this);
  }

  // A module running trains overrides trainPosted and trainAcceptable with its own
  // `this.runPump()` even where that is all they do: one shared method here would see
  // receivers of every module class, and runPump's loads and stores inlined into it
  // would go megamorphic (measured with valgrind: +12% instructions a Fatriot packet).

  /** Consumer: beats were posted on input `ch`. Called synchronously by the producer. */
  trainPosted(ch: AxisChannel): void {
    this.bridge?.trainPosted(ch);
  }

  /** Producer: the consumer of `ch` can now answer `trainAccept` for more beats. */
  trainAcceptable(ch: AxisChannel): void {
    this.bridge?.trainAcceptable(ch);
  }

  /**
   * Consumer: the cycle in which beat number `index` (counted from the start) moves
   * on `ch` if offered from `offerCycle`, as its tready would have it; `afterLast`
   * when it starts a packet. -1 while not yet known.
   */
  trainAccept(ch: AxisChannel, index: number, offerCycle: number, afterLast: boolean): number {
    void index;
    void afterLast;
    return this.bridge === null ? offerCycle : this.bridge.trainAccept(ch, offerCycle);
  }

  /** Producer: no beat not yet posted on `ch` moves before this cycle. */
  trainHorizon(ch: AxisChannel): number {
    if (this.bridge !== null) return this.bridge.trainHorizon(ch);
    return this.sim === null ? 0 : this.sim.now + 1;
  }

  /**
   * Applies what trains computed ahead (counters) for cycles up to and including
   * `cycle`; returns the latest cycle of what it applied (-Infinity if nothing).
   */
  settleTrains(cycle: number): number {
    void cycle;
    return Number.NEGATIVE_INFINITY;
  }

  /** `pump` is running (read by modules that take a shortcut only outside it). */
  protected pumping = false;
  private pumpAgain = false;

  /**
   * Runs `pump` unless it is already running (a callback from a neighbour during
   * our own pump), in which case it runs again when the current one returns.
   */
  protected runPump(): void {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    do {
      this.pumpAgain = false;
      this.pump();
    } while (this.pumpAgain);
    this.pumping = false;
  }

  /** Trains: takes posted input, posts output, as far as what is known allows. */
  protected pump(): void {}
}
