import type { Port } from '../../dataplane/port.ts';
import { ClockedModule, IDLE } from '../../pipeline/sim/module.ts';

/**
 * Sends given frames on a port at given cycles: a scripted traffic source or peer for
 * tests and benchmarks that need exact offer cycles (the traffic generator and the
 * hosts in this folder model behaviour instead). Frames leave in cycle order, those of
 * one cycle in the order they were given, each handed to the port with the cycle of the
 * evaluation that sends it (the given cycle, or the present one if that has passed).
 */
export class ScheduledSender extends ClockedModule {
  private readonly frames: Uint8Array[] = [];
  private readonly cycles: number[] = [];
  private next = 0;
  private readonly port: Port;

  constructor(name: string, port: Port) {
    super(name);
    this.port = port;
  }

  /** Schedules `frame` for `cycle`; calls need not come in cycle order. */
  send(frame: Uint8Array, cycle: number): void {
    // Usually appended; otherwise inserted after every pending frame of a cycle <= `cycle`.
    let at = this.cycles.length;
    while (at > this.next && this.cycles[at - 1]! > cycle) at--;
    this.frames.splice(at, 0, frame);
    this.cycles.splice(at, 0, cycle);
    this.wakeAt(cycle);
  }

  /** Frames scheduled and not sent yet. */
  get pending(): number {
    return this.frames.length - this.next;
  }

  evaluate(cycle: number): void {
    while (this.next < this.frames.length && this.cycles[this.next]! <= cycle) {
      this.port.transmit(this.frames[this.next]!, cycle);
      this.next++;
    }
  }

  commit(): number {
    return this.next < this.frames.length ? this.cycles[this.next]! : IDLE;
  }
}
