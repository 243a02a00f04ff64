/**
 * Pcap capture on any port (SPEC 4): a Port that wraps another one and records
 * every frame in both directions, like `tcpdump -i` on the interface, before passing
 * it on. Timestamps are model time: cycle x clock period, rounded to the nearest
 * nanosecond (the 6.25 ns period of the 160 MHz core clock is not a whole number
 * of ns), counted from time 0 of the model.
 */
import type { PcapWriter } from './pcap.ts';
import { quietUntilOf, type FrameReceiver, type Port } from './port.ts';

export interface CapturePortOptions {
  /**
   * Close the writer when this port closes. Default true; pass false when several
   * ports share one writer and its owner closes it.
   */
  closeWriter?: boolean;
}

export class CapturePort implements Port {
  readonly name: string;
  readonly inner: Port;
  readonly writer: PcapWriter;
  readonly clockPeriodNs: number;
  private readonly closeWriter: boolean;
  private receiver: FrameReceiver | null = null;
  private closed = false;

  /**
   * @param inner the port to capture; this wrapper attaches itself as its receiver,
   *   so attach your receiver to the CapturePort, not to `inner`.
   * @param clockPeriodNs length of one model cycle in ns (hw spec `clockPeriodNs`).
   */
  constructor(inner: Port, writer: PcapWriter, clockPeriodNs: number, opts: CapturePortOptions = {}) {
    if (!(clockPeriodNs > 0) || !Number.isFinite(clockPeriodNs)) {
      throw new RangeError(`clockPeriodNs must be a positive number, got ${clockPeriodNs}`);
    }
    this.name = inner.name;
    this.inner = inner;
    this.writer = writer;
    this.clockPeriodNs = clockPeriodNs;
    this.closeWriter = opts.closeWriter ?? true;
    // Bound once here so the per-frame path creates no closure.
    inner.attach(this.onInnerReceive);
  }

  attach(receiver: FrameReceiver): void {
    this.receiver = receiver;
  }

  /** The inner port's promise (the capture records frames in the order they are handed over). */
  get takesFramesAhead(): boolean {
    return this.inner.takesFramesAhead === true;
  }

  /** The inner port's promise (a capture adds no frames). */
  quietUntil(): number {
    return quietUntilOf(this.inner);
  }

  /** Hands a frame from the link to the inner port; it comes back through `onInnerReceive` and is recorded there. */
  receive(frame: Uint8Array, cycle: number): void {
    this.inner.receive(frame, cycle);
  }

  /** Records, then sends: a reply the link triggers synchronously then lands after it in the file. */
  transmit(frame: Uint8Array, cycle: number): void {
    if (!this.closed) this.writer.write(frame, frame.length, Math.round(cycle * this.clockPeriodNs));
    this.inner.transmit(frame, cycle);
  }

  /** Closes the inner port, then the writer unless it is shared. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.receiver = null;
    this.inner.close();
    if (this.closeWriter) this.writer.close();
  }

  private readonly onInnerReceive = (frame: Uint8Array, cycle: number): void => {
    if (this.closed) return;
    this.writer.write(frame, frame.length, Math.round(cycle * this.clockPeriodNs));
    const receiver = this.receiver;
    if (receiver !== null) receiver(frame, cycle);
  };
}
