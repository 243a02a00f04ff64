/**
 * A Port on a Linux TAP device (SPEC 4): /dev/net/tun with IFF_TAP | IFF_NO_PI, so
 * every read() is one whole Ethernet frame without FCS and every write() sends one.
 *
 * Direction, as for every Port: frames the kernel end sends (the host's or the
 * wire's stack) arrive here and go to the attached receiver, stamped with the model
 * cycle the clock reports at the wake-up that read them; `transmit` writes a frame
 * to the kernel end.
 *
 * Reads never block the event loop: the fd is non-blocking and the backend
 * (tap-backend.ts) calls back once per wake-up with a burst of up to `maxBatch`
 * frames read until EAGAIN, so a busy port costs one callback per burst, and other
 * ports get their turn between bursts.
 *
 * Writes are batched the same way: `transmit` copies the frame into a slot of a send
 * queue, and the queue is written in one backend call at the end of the present
 * JavaScript task (a microtask), or at once when it holds `txBatch` frames. Frames a
 * model run delivers therefore leave together, as a NIC's DMA engine posts a burst of
 * descriptors with one doorbell: on the 2-core dev VM, one write() at a time, interleaved
 * with the model, woke the receiving namespace's reader for nearly every frame and cost
 * a third of the TAP path's rate (tools/bench/tap.ts). `flush()` writes the queue now.
 *
 * With the addon, a queue of `writerMinFrames` frames or more (a busy port) is handed to a
 * writer thread instead (TapWriter), `WRITER_BATCHES` queues deep, as a driver posts a
 * burst to a DMA ring and goes on: a write() to a TAP runs the receiving namespace's
 * stack in the writer's context, and on the dev VM that was half of what the TAP path
 * cost the thread running the NIC model. Smaller queues, while the writer has nothing
 * pending, are written at once in this thread (no thread wake-up on a ping's path). Jobs
 * and direct writes keep the order of `transmit`; tx counters count a frame handed to the
 * writer once the port learns it was written (at its next write, `flush()` or `close()`).
 *
 * The TAP is not persistent: closing the port deletes the interface. Moving its
 * kernel end into a namespace and configuring it is the caller's business
 * (see tap-netns.ts).
 */
import type { FrameReceiver, Port } from './port.ts';
import {
  EAGAIN,
  EIO,
  loadTapBackend,
  type TapBackend,
  type TapBackendKind,
  type TapWatch,
  type TapWriter,
} from './tap-backend.ts';

/** Source of model time for receive stamps; the real-time driver supplies one. */
export interface CycleClock {
  nowCycle(): number;
}

export interface TapPortOptions {
  /** Interface name, 1..15 bytes (IFNAMSIZ - 1), e.g. "fm-dma0". */
  name: string;
  /** Stamps received frames. Default: a clock that always says 0. */
  clock?: CycleClock | (() => number);
  /** `auto` (default): the addon when built, else koffi; env FATRIOT_TAP_BACKEND overrides auto. */
  backend?: TapBackendKind | 'auto' | TapBackend;
  /** Frames read per wake-up at most. Default 64. */
  maxBatch?: number;
  /** Largest frame accepted from the kernel, bytes. Default 9216 (jumbo MTU 9000 + header, rounded). */
  maxFrameBytes?: number;
  /** Frames queued for writing before the queue is written at once. Default 64. */
  txBatch?: number;
  /**
   * Queues of at least this many frames go to the writer thread where the backend has one
   * (the addon); `Infinity` writes every queue in this thread. Default 8.
   */
  writerMinFrames?: number;
}

/** Send queues the writer thread may hold at once before `transmit` waits for it. */
export const WRITER_BATCHES = 4;

const ZERO_CLOCK: CycleClock = { nowCycle: () => 0 };

export class TapPort implements Port {
  readonly name: string;
  readonly backendKind: TapBackendKind;
  readonly maxBatch: number;
  readonly maxFrameBytes: number;
  readonly txBatch: number;
  readonly writerMinFrames: number;

  /** Frames read from the kernel end and handed to the receiver. */
  rxFrames = 0;
  rxBytes = 0;
  /** Frames written to the kernel end (counted when the send queue is written). */
  txFrames = 0;
  txBytes = 0;
  /** Wake-ups that read at least one frame (rxFrames / rxBursts: frames a burst). */
  rxBursts = 0;
  /** Frames read while no receiver was attached. */
  rxDroppedFrames = 0;
  /** Frames longer than maxFrameBytes (the kernel truncates them to the read buffer): dropped. */
  rxDroppedOversize = 0;
  /** Read errors other than EAGAIN (the watch stops after one). */
  rxErrors = 0;
  /** Frames the kernel refused: its queue was full (EAGAIN). */
  txDroppedFull = 0;
  /** Frames the kernel refused: the interface is down (EIO). */
  txDroppedDown = 0;
  /** Frames the kernel refused for another reason, e.g. shorter than an Ethernet header (EINVAL). */
  txDroppedInvalid = 0;
  /** Frames transmitted after close. */
  txDroppedClosed = 0;
  /** Negative errno of the last failed read or write, 0 if none. */
  lastErrno = 0;

  private readonly backend: TapBackend;
  private clock: CycleClock;
  private readonly fd: number;
  /** One byte more than maxFrameBytes, so a read that fills a slot reveals a truncated frame. */
  private readonly slotBytes: number;
  private readonly slots: Uint8Array;
  private readonly lengths: Int32Array;
  /** Per-slot views reused while the frame length repeats, so steady traffic allocates nothing. */
  private readonly slotViews: Uint8Array[];
  private readonly slotViewLengths: Int32Array;
  private readonly watch: TapWatch;
  private receiver: FrameReceiver | null = null;
  private closed = false;
  /**
   * Send queues (one, or WRITER_BATCHES with a writer): frame i of queue b in
   * txSlots[(b * txBatch + i) * slotBytes, ...) with length txLengths[b * txBatch + i].
   */
  private readonly txSlots: Uint8Array;
  private readonly txLengths: Int32Array;
  private readonly txResults: Int32Array;
  /** Per queue, views from its first slot (for a write in this thread), made once. */
  private readonly txQueueSlots: Uint8Array[] = [];
  private readonly txQueueLengths: Int32Array[] = [];
  private readonly txQueueResults: Int32Array[] = [];
  /** Frames in the queue being filled, and that queue's index. */
  private txCount = 0;
  private txQueue = 0;
  private readonly writer: TapWriter | null = null;
  /** Jobs handed to the writer, and those whose results are counted; frames in each queue's last job. */
  private jobsSubmitted = 0;
  private jobsCounted = 0;
  private readonly jobFrames = new Int32Array(WRITER_BATCHES);
  private txFlushQueued = false;
  /** Made once, so queueing a flush allocates nothing. */
  private readonly flushTask = (): void => {
    this.txFlushQueued = false;
    this.writeQueue();
  };

  constructor(options: TapPortOptions) {
    this.name = options.name;
    this.maxBatch = options.maxBatch ?? 64;
    this.maxFrameBytes = options.maxFrameBytes ?? 9216;
    if (!Number.isInteger(this.maxBatch) || this.maxBatch < 1) throw new RangeError('maxBatch must be >= 1');
    if (!Number.isInteger(this.maxFrameBytes) || this.maxFrameBytes < 64) {
      throw new RangeError('maxFrameBytes must be >= 64');
    }
    this.txBatch = options.txBatch ?? 64;
    if (!Number.isInteger(this.txBatch) || this.txBatch < 1) throw new RangeError('txBatch must be >= 1');
    const clock = options.clock ?? ZERO_CLOCK;
    this.clock = typeof clock === 'function' ? { nowCycle: clock } : clock;
    const backend = options.backend ?? 'auto';
    this.backend = typeof backend === 'object' ? backend : loadTapBackend(backend);
    this.backendKind = this.backend.kind;

    this.slotBytes = this.maxFrameBytes + 1;
    this.slots = new Uint8Array(this.slotBytes * this.maxBatch);
    this.lengths = new Int32Array(this.maxBatch);
    this.slotViews = new Array<Uint8Array>(this.maxBatch);
    this.slotViewLengths = new Int32Array(this.maxBatch);
    this.writerMinFrames = options.writerMinFrames ?? 8;
    if (!(this.writerMinFrames >= 1)) throw new RangeError('writerMinFrames must be >= 1');
    const useWriter = this.backend.startWriter !== undefined && this.writerMinFrames <= this.txBatch;
    const queues = useWriter ? WRITER_BATCHES : 1;
    this.txSlots = new Uint8Array(this.slotBytes * this.txBatch * queues);
    this.txLengths = new Int32Array(this.txBatch * queues);
    this.txResults = new Int32Array(this.txBatch * queues);
    for (let b = 0; b < queues; b++) {
      this.txQueueSlots.push(this.txSlots.subarray(b * this.txBatch * this.slotBytes));
      this.txQueueLengths.push(this.txLengths.subarray(b * this.txBatch));
      this.txQueueResults.push(this.txResults.subarray(b * this.txBatch));
    }
    for (let i = 0; i < this.maxBatch; i++) {
      this.slotViews[i] = this.slots.subarray(i * this.slotBytes, i * this.slotBytes);
    }

    this.fd = this.backend.open(this.name);
    try {
      if (useWriter) {
        this.writer = this.backend.startWriter!(
          this.fd,
          this.txSlots,
          this.slotBytes,
          this.txLengths,
          this.txResults,
          this.txBatch,
          WRITER_BATCHES,
        );
      }
      this.watch = this.backend.watch(
        this.fd,
        this.slots,
        this.slotBytes,
        this.lengths,
        this.maxBatch,
        this.onBurst,
      );
    } catch (error) {
      this.writer?.stop();
      this.backend.close(this.fd);
      throw error;
    }
  }

  /** Whether busy send queues go to a writer thread (the addon's; see the file comment). */
  get hasWriterThread(): boolean {
    return this.writer !== null;
  }

  attach(receiver: FrameReceiver): void {
    this.receiver = receiver;
  }

  /**
   * Stamps later bursts from `clock` (a TAP opened before the model that reads it, as the
   * TAP bench's forwarders are: one clock reading a burst, not one a frame).
   */
  setClock(clock: CycleClock | (() => number)): void {
    this.clock = typeof clock === 'function' ? { nowCycle: clock } : clock;
  }

  receive(frame: Uint8Array, cycle: number): void {
    const receiver = this.receiver;
    if (receiver === null || this.closed) {
      this.rxDroppedFrames++;
      return;
    }
    this.rxFrames++;
    this.rxBytes += frame.length;
    receiver(frame, cycle);
  }

  /**
   * Queues the frame for the kernel end (copied: the caller may reuse its buffer at
   * once); it is written at the end of the present task, or now when the queue is full.
   * Never throws. A refused frame is counted by reason (full queue, interface down,
   * invalid, closed port) and dropped, as a NIC's DMA ring would drop it.
   */
  transmit(frame: Uint8Array, _cycle: number): void {
    if (this.closed) {
      this.txDroppedClosed++;
      return;
    }
    // Longer than a slot (a frame this port could not have read either): write it alone, in order.
    if (frame.length > this.slotBytes) {
      this.flush();
      this.count(this.backend.write(this.fd, frame), frame.length);
      return;
    }
    const i = this.txQueue * this.txBatch + this.txCount++;
    this.txSlots.set(frame, i * this.slotBytes);
    this.txLengths[i] = frame.length;
    if (this.txCount === this.txBatch) {
      this.writeQueue();
    } else if (!this.txFlushQueued) {
      this.txFlushQueued = true;
      queueMicrotask(this.flushTask);
    }
  }

  /**
   * Writes the frames queued by `transmit` now, in order (close does too), and waits for
   * the writer thread to write what it was handed, so that the tx counters are final.
   */
  flush(): void {
    this.writeQueue();
    if (this.jobsCounted < this.jobsSubmitted) this.countJobs(this.jobsSubmitted);
  }

  /** Hands the queue to the writer (a busy port) or writes it in this thread. */
  private writeQueue(): void {
    const n = this.txCount;
    if (n === 0) return;
    this.txCount = 0;
    const b = this.txQueue;
    const writer = this.writer;
    if (writer !== null) {
      if (this.jobsCounted < this.jobsSubmitted) this.countJobs(0);
      // Behind a job not yet written, a direct write would overtake it.
      if (n >= this.writerMinFrames || this.jobsCounted < this.jobsSubmitted) {
        this.jobFrames[b] = n;
        writer.submit(n);
        this.jobsSubmitted++;
        this.txQueue = this.jobsSubmitted % WRITER_BATCHES;
        // The next queue is free once the job that used it last is written.
        if (this.jobsSubmitted - this.jobsCounted >= WRITER_BATCHES) this.countJobs(this.jobsSubmitted - WRITER_BATCHES + 1);
        return;
      }
    }
    this.backend.writeBatch(this.fd, this.txQueueSlots[b]!, this.slotBytes, this.txQueueLengths[b]!, n, this.txQueueResults[b]!);
    this.countQueue(b, n);
  }

  /** Counts the write results of the first `n` frames of queue `b`. */
  private countQueue(b: number, n: number): void {
    const first = b * this.txBatch;
    for (let i = first; i < first + n; i++) this.count(this.txResults[i]!, this.txLengths[i]!);
  }

  /** Counts the results of the jobs the writer completed, waiting until at least `until` have (0: no wait). */
  private countJobs(until: number): void {
    const done = this.writer!.completed(until);
    for (let j = this.jobsCounted; j < done; j++) {
      const b = j % WRITER_BATCHES;
      this.countQueue(b, this.jobFrames[b]!);
    }
    this.jobsCounted = done;
  }

  /** Counts the result of writing one frame of `length` bytes (bytes written or -errno). */
  private count(result: number, length: number): void {
    if (result >= 0) {
      this.txFrames++;
      this.txBytes += length;
      return;
    }
    this.lastErrno = result;
    if (result === -EAGAIN) this.txDroppedFull++;
    else if (result === -EIO) this.txDroppedDown++;
    else this.txDroppedInvalid++;
  }

  /**
   * The kernel end never answers within `transmit` (its replies come back through reads,
   * stamped then), so a NIC model may hand a frame over as soon as it knows the frame's
   * cycle: in real time that is at most the model's pipeline latency early (well under a
   * microsecond), and the frame's cycle, which captures record, is exact.
   */
  readonly takesFramesAhead = true;

  /** Whether an idle port keeps the Node process alive (addon backend only; koffi always does). */
  ref(on: boolean): void {
    if (!this.closed) this.watch.ref(on);
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.writer?.stop();
    this.watch.stop();
    this.backend.close(this.fd);
  }

  private readonly onBurst = (count: number, error: number): void => {
    if (error !== 0) {
      this.rxErrors++;
      this.lastErrno = error;
    }
    if (count === 0 || this.closed) return;
    this.rxBursts++;
    const cycle = this.clock.nowCycle();
    const slotViews = this.slotViews;
    const slotViewLengths = this.slotViewLengths;
    const lengths = this.lengths;
    for (let i = 0; i < count; i++) {
      const length = lengths[i]!;
      if (length > this.maxFrameBytes) {
        this.rxDroppedOversize++;
        continue;
      }
      let view = slotViews[i]!;
      if (slotViewLengths[i] !== length) {
        const start = i * this.slotBytes;
        view = this.slots.subarray(start, start + length);
        slotViews[i] = view;
        slotViewLengths[i] = length;
      }
      this.receive(view, cycle);
      if (this.closed) return;
    }
  };
}
