import type { AxisChannel } from './channel.ts';
import type { Simulator } from './simulator.ts';

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
    this.channels.push(ch);
    return ch;
  }

  /** Declares an output channel (this module drives tvalid and the beat). */
  protected output(ch: AxisChannel): AxisChannel {
    if (ch.producer !== null) throw new Error(`${ch.name} already has producer ${ch.producer.name}`);
    ch.producer = this;
    ch.producerWakeOnHandshakeOnly = this.wakeOnHandshakeOnly;
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
}
