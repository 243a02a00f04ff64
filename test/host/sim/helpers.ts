import type { FrameReceiver, Port } from '../../../src/dataplane/port.ts';
import { ClockedModule, IDLE } from '../../../src/pipeline/sim/module.ts';

export interface Seen {
  frame: Uint8Array;
  cycle: number;
}

/**
 * A scripted station on a port: sends given frames at exact cycles (first bit on the
 * port at that cycle) and records every frame that reaches it, with its cycle.
 */
export class Peer extends ClockedModule {
  readonly received: Seen[] = [];
  private readonly frames: Uint8Array[] = [];
  private readonly cycles: number[] = [];
  private next = 0;

  constructor(
    name: string,
    private readonly port: Port,
  ) {
    super(name);
    port.attach((frame, cycle) => this.received.push({ frame: frame.slice(), cycle }));
  }

  /** Sends `frame` with cycle `cycle` (>= 1, in send order). */
  send(frame: Uint8Array, cycle: number): void {
    this.frames.push(frame);
    this.cycles.push(cycle);
    this.wakeAt(cycle - 1);
  }

  evaluate(cycle: number): void {
    while (this.next < this.frames.length && this.cycles[this.next]! <= cycle + 1) {
      this.port.transmit(this.frames[this.next]!, Math.max(this.cycles[this.next]!, cycle + 1));
      this.next++;
    }
  }

  commit(): number {
    return this.next < this.frames.length ? this.cycles[this.next]! - 1 : IDLE;
  }
}

/** A port wrapper that records what crosses it, both ways, with cycles (a tcpdump on a NIC port). */
export class TapPort implements Port {
  readonly name: string;
  /** Frames the link delivered to the wrapped side. */
  readonly rx: Seen[] = [];
  /** Frames the wrapped side sent. */
  readonly tx: Seen[] = [];
  private receiver: FrameReceiver | null = null;

  constructor(readonly inner: Port) {
    this.name = inner.name;
    inner.attach((frame, cycle) => {
      this.rx.push({ frame: frame.slice(), cycle });
      this.receiver?.(frame, cycle);
    });
  }

  attach(receiver: FrameReceiver): void {
    this.receiver = receiver;
  }

  receive(frame: Uint8Array, cycle: number): void {
    this.inner.receive(frame, cycle);
  }

  transmit(frame: Uint8Array, cycle: number): void {
    this.tx.push({ frame: frame.slice(), cycle });
    this.inner.transmit(frame, cycle);
  }

  close(): void {
    this.inner.close();
  }
}
