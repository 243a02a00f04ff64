/**
 * In-memory link: two ports joined by a virtual cable, for the embedded default
 * (SPEC 4, SPEC 7 `npm run demo` without root). A frame transmitted on one end is
 * received on the other end `latencyCycles` model cycles later.
 *
 * Delivery is synchronous: `transmit` calls the peer's `receive` before it returns,
 * with the arrival cycle `cycle + latencyCycles`. The link keeps no queue and no
 * clock; putting the arrival into the model's event order is the caller's job (the
 * receiver, e.g. a MAC model, schedules the frame for its arrival cycle). So a
 * receiver that answers at once re-enters the sender's receiver within the same
 * call stack; receivers that must not see that should defer their work.
 *
 * No copy is made. The Port contract already says a frame is valid only during
 * the call, so a receiver that keeps a frame copies it, and the sender may reuse its
 * buffer as soon as `transmit` returns. Simulated hosts transmit at line rate into
 * this link, and copying here would add an allocation or a memcpy per packet for
 * every receiver, including the ones that never keep the bytes.
 */
import type { FrameReceiver, Port } from './port.ts';

export interface MemoryLinkOptions {
  /** Cycles between transmit on one end and receive on the other. Default 0. */
  latencyCycles?: number;
}

export class MemoryPort implements Port {
  readonly name: string;
  readonly latencyCycles: number;
  private peer: MemoryPort | null = null;
  private receiver: FrameReceiver | null = null;
  private closed = false;

  /** Frames handed to this port's receiver. */
  rxFrames = 0;
  rxBytes = 0;
  /** Frames sent towards the peer (delivered or not). */
  txFrames = 0;
  txBytes = 0;
  /** Frames that arrived while no receiver was attached or after close. */
  rxDroppedFrames = 0;
  /** Frames transmitted while this port or its peer was closed or unconnected (a pulled cable). */
  txDroppedFrames = 0;
  /** Set by `sendsNothing`: this end never transmits (a sink). */
  private sink = false;

  constructor(name: string, latencyCycles = 0) {
    if (!Number.isSafeInteger(latencyCycles) || latencyCycles < 0) {
      throw new RangeError(`latencyCycles must be a non-negative integer, got ${latencyCycles}`);
    }
    this.name = name;
    this.latencyCycles = latencyCycles;
  }

  /** Joins two unconnected ports into a link. */
  static connect(a: MemoryPort, b: MemoryPort): void {
    if (a === b) throw new Error(`cannot connect port ${a.name} to itself`);
    if (a.peer !== null || b.peer !== null) {
      throw new Error(`cannot connect ${a.name} and ${b.name}: one of them is already connected`);
    }
    a.peer = b;
    b.peer = a;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Declares this end a sink: nothing will ever be transmitted on it, so the port at the
   * other end promises its receiver (a NIC model) that no frame will come (`quietUntil`
   * is Infinity there), and takes frames ahead of their cycle (`takesFramesAhead`): this
   * end's receiver must then not depend on the model's clock, only on the cycle it is
   * given. A later `transmit` throws. Benchmarks use it for the host that only counts
   * what the NIC delivers.
   */
  sendsNothing(): void {
    this.sink = true;
  }

  /** A sink at the far end takes frames before their cycle (it never answers). */
  get takesFramesAhead(): boolean {
    return this.peer !== null && this.peer.sink;
  }

  /** No frame comes from the link before this cycle: never if the far end is a sink. */
  quietUntil(): number {
    return this.peer !== null && this.peer.sink ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
  }

  attach(receiver: FrameReceiver): void {
    this.receiver = receiver;
  }

  receive(frame: Uint8Array, cycle: number): void {
    const receiver = this.receiver;
    if (this.closed || receiver === null) {
      this.rxDroppedFrames++;
      return;
    }
    this.rxFrames++;
    this.rxBytes += frame.length;
    receiver(frame, cycle);
  }

  transmit(frame: Uint8Array, cycle: number): void {
    if (this.sink) throw new Error(`${this.name} was declared a sink (sendsNothing) and cannot transmit`);
    const peer = this.peer;
    if (this.closed || peer === null || peer.closed) {
      this.txDroppedFrames++;
      return;
    }
    this.txFrames++;
    this.txBytes += frame.length;
    peer.receive(frame, cycle + this.latencyCycles);
  }

  /** Stops both directions on this end; frames sent to it from the peer are dropped and counted there. */
  close(): void {
    this.closed = true;
    this.receiver = null;
  }
}

/** Two ports joined by an in-memory link. `a` transmits to `b` and `b` to `a`, each with `latencyCycles`. */
export function createMemoryLink(
  nameA: string,
  nameB: string,
  opts: MemoryLinkOptions = {},
): [a: MemoryPort, b: MemoryPort] {
  const latencyCycles = opts.latencyCycles ?? 0;
  const a = new MemoryPort(nameA, latencyCycles);
  const b = new MemoryPort(nameB, latencyCycles);
  MemoryPort.connect(a, b);
  return [a, b];
}
