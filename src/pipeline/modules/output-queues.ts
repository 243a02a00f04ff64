import type { AxisChannel } from '../sim/channel.ts';
import type { PacketPool } from '../sim/packet.ts';
import { ClockedModule, IDLE, type TraceSignal } from '../sim/module.ts';
import { DeferredCounts } from '../sim/deferred-counts.ts';
import { FallthroughFifoTimeline, FallthroughSmallFifo } from './fallthrough-small-fifo.ts';

const STATE_IDLE = 0;
const STATE_WR_PKT = 1;
const STATE_DROP = 2;
const WAIT_HEADER = 0;
const WAIT_EOP = 1;

export interface OutputQueuesParams {
  /** MAX_DEPTH_BITS of each data FIFO (BUFFER_SIZE / 32 bytes a word). */
  bufferDepthBits: number;
  /** prog_full threshold in words: (BUFFER_SIZE - MAX_PACKET_SIZE) / 32. */
  progFullThresholdWords: number;
  /** MAX_DEPTH_BITS of each metadata (tuser) FIFO. */
  metadataDepthBits: number;
  /** Which RTL release to follow (hw/netfpga-spec outputQueues.variant). */
  variant: 'tail_drop' | 'global_backpressure';
  /** Also count each dropped packet at this index of the NIC's counter memory (drop.outputQueueFull). */
  dropCounter?: { counters: Float64Array; index: number };
}

/** Per-queue counters of output_queues_cpu_regs (pktstoredportN, bytesremovedportN, ...). */
export const OQ_COUNTERS = ['pktStored', 'bytesStored', 'pktRemoved', 'bytesRemoved', 'pktDropped', 'bytesDropped'] as const;
export const OQ_PKT_STORED = 0;
export const OQ_BYTES_STORED = 1;
export const OQ_PKT_REMOVED = 2;
export const OQ_BYTES_REMOVED = 3;
export const OQ_PKT_DROPPED = 4;
export const OQ_BYTES_DROPPED = 5;

/**
 * Maps a tuser destination one-hot to the output-queue mask: nf0..nf3 (even bits)
 * to queues 0..3, any DMA bit (odd) to queue 4, as output_queues.v builds `oq`.
 * Fatriot's internal destinations (bits 8 and up, fatriot-tuser.ts) map to
 * queues 5 and up; the reference NIC has no such queues and masks them off.
 */
export function outputQueueMask(dstPortOneHot: number): number {
  const d = dstPortOneHot;
  return (d & 1) | ((d >>> 1) & 2) | ((d >>> 2) & 4) | ((d >>> 3) & 8) | ((d & 0xaa) !== 0 ? 16 : 0) | ((d >>> 3) & ~31);
}

/**
 * NetFPGA-SUME output_queues (lib/hw/std/cores/output_queues_v1_0_0/hdl/output_queues.v):
 * one data fallthrough_small_fifo and one metadata FIFO per port; the header beat
 * picks the queues (`oq`); nearly-full flags are registered (one cycle old).
 * Two releases of the RTL differ (hw/netfpga-spec README "output_queues"):
 * - tail_drop (default): IDLE holds tready low for one decision cycle on the head
 *   beat; if any chosen queue is nearly full the whole packet is dropped and
 *   counted, else written; tready is high in WR_PKT and DROP.
 * - global_backpressure: the header beat is taken in IDLE, and tready is low while
 *   ANY queue is nearly full, so one slow port stalls every port (head-of-line
 *   blocking). Its DROP branch is unreachable; the drop counters stay 0.
 */
export class OutputQueues extends ClockedModule {
  override readonly wakeOnHandshakeOnly = true;
  readonly data: FallthroughSmallFifo[];
  readonly metadata: FallthroughSmallFifo[];
  /** counters[q * OQ_COUNTERS.length + k] */
  readonly counters: Float64Array;
  private readonly in: AxisChannel;
  private readonly outs: AxisChannel[];
  private readonly metadataState: Uint8Array;
  private readonly nearlyFull: Uint8Array;
  private readonly metadataNearlyFull: Uint8Array;
  state = STATE_IDLE;
  curQueue = 0;

  private readonly tailDrop: boolean;
  private readonly dropCounter: { counters: Float64Array; index: number } | null;
  private readonly pool: PacketPool;
  /** tail_drop: the next beat written in WR_PKT is a header (its tuser goes to the metadata FIFOs). */
  private headerPending = false;
  /** Queues whose FIFOs or flags may change, or that offer a beat (bit q for queue q). */
  private busyMask = 0;
  /** Queues whose registered nearly_full (data or metadata) is set. */
  private flagMask = 0;

  constructor(name: string, input: AxisChannel, outputs: AxisChannel[], pool: PacketPool, params: OutputQueuesParams) {
    super(name);
    this.tailDrop = params.variant === 'tail_drop';
    this.pool = pool;
    this.dropCounter = params.dropCounter ?? null;
    this.in = this.input(input);
    this.outs = outputs.map((ch, i) => {
      ch.producerOutputIndex = i;
      return this.output(ch);
    });
    const n = outputs.length;
    this.data = outputs.map((_, i) => new FallthroughSmallFifo(`${name}.output_fifo${i}`, params.bufferDepthBits, params.progFullThresholdWords));
    this.metadata = outputs.map((_, i) => new FallthroughSmallFifo(`${name}.metadata_fifo${i}`, params.metadataDepthBits, undefined, false));
    this.counters = new Float64Array(n * OQ_COUNTERS.length);
    this.deferred = new DeferredCounts(this.counters);
    this.deferredRemoved = new DeferredCounts(this.counters);
    this.deferredDrops = this.dropCounter === null ? null : new DeferredCounts(this.dropCounter.counters);
    this.metadataState = new Uint8Array(n);
    this.nearlyFull = new Uint8Array(n);
    this.metadataNearlyFull = new Uint8Array(n);
  }

  override reset(): void {
    this.in.ready = this.in.nextReady = !this.tailDrop;
  }

  evaluate(cycle: number): void {
    if (this.trains) {
      this.runPump();
      return;
    }
    const n = this.outs.length;
    const data = this.data;
    const metadata = this.metadata;
    // Queues not in busyMask hold settled registers and flags and offer nothing, so
    // replaying their idle edges would change nothing.
    for (let m = this.busyMask; m !== 0; m &= m - 1) {
      const q = 31 - Math.clz32(m & -m);
      if (data[q]!.lastClock < cycle - 1) data[q]!.sync(cycle - 1);
      if (metadata[q]!.lastClock < cycle - 1) metadata[q]!.sync(cycle - 1);
    }
    const inCh = this.in;
    const inFire = inCh.valid && inCh.ready;
    const p = inCh.packet;
    const counters = this.counters;
    const K = OQ_COUNTERS.length;
    let wrMask = 0;
    let metaWrMask = 0;
    let nextState = this.state;
    let nextCur = this.curQueue;
    if (this.state === STATE_IDLE) {
      const oq = p === null ? 0 : outputQueueMask(p.dstPort) & ((1 << n) - 1);
      nextCur = oq;
      // tail_drop decides on the offered head beat without taking it; the other
      // release decides on the beat it takes.
      const decide = this.tailDrop ? inCh.valid : inFire;
      if (decide) {
        const drop = (this.flagMask & oq) !== 0;
        if (drop && this.dropCounter !== null) this.dropCounter.counters[this.dropCounter.index]!++;
        nextState = drop ? STATE_DROP : STATE_WR_PKT;
        const base = drop ? OQ_PKT_DROPPED : OQ_PKT_STORED;
        let copies = 0;
        for (let m = oq; m !== 0; m &= m - 1) {
          const q = 31 - Math.clz32(m & -m);
          counters[q * K + base]!++;
          counters[q * K + base + 1]! += p!.length;
          copies++;
        }
        // Each queue that stores the packet releases it once when it leaves; a packet
        // stored nowhere is released here when its last beat has passed.
        if (!drop && copies > 1) p!.refs += copies - 1;
        if (this.tailDrop) {
          this.headerPending = true;
        } else {
          wrMask = drop ? 0 : oq;
          metaWrMask = wrMask;
          if (p!.beats === 1) nextState = STATE_IDLE;
          if (p!.beats === 1 && (drop || copies === 0)) this.pool.release(p!);
        }
      }
    } else if (inFire) {
      const last = inCh.beat === p!.beats - 1;
      if (this.state === STATE_WR_PKT) {
        wrMask = this.curQueue;
        if (this.headerPending) {
          metaWrMask = this.curQueue;
          this.headerPending = false;
        }
        if (last && this.curQueue === 0) this.pool.release(p!);
      } else {
        this.headerPending = false;
        if (last) this.pool.release(p!);
      }
      if (last) nextState = STATE_IDLE;
    }
    let busy = 0;
    let flags = this.flagMask;
    for (let m = this.busyMask | wrMask | metaWrMask; m !== 0; m &= m - 1) {
      const q = 31 - Math.clz32(m & -m);
      const bit = 1 << q;
      const out = this.outs[q]!;
      const dataFifo = data[q]!;
      const meta = metadata[q]!;
      const rd = out.valid && out.ready;
      let metaRd = false;
      if (rd) {
        const op = out.packet!;
        if (this.metadataState[q] === WAIT_HEADER) {
          this.metadataState[q] = WAIT_EOP;
          metaRd = true;
          counters[q * K + OQ_PKT_REMOVED]!++;
          counters[q * K + OQ_BYTES_REMOVED]! += op.length;
        } else if (out.beat === op.beats - 1) {
          this.metadataState[q] = WAIT_HEADER;
        }
      }
      // nearly_full <= prog_full is sampled before this edge's update.
      const nearlyFull = dataFifo.progFull();
      const metaNearlyFull = meta.nearlyFull();
      this.nearlyFull[q] = nearlyFull ? 1 : 0;
      this.metadataNearlyFull[q] = metaNearlyFull ? 1 : 0;
      flags = nearlyFull || metaNearlyFull ? flags | bit : flags & ~bit;
      const wr = (wrMask & bit) !== 0;
      if (wr || rd) dataFifo.clockAt(cycle, wr, p, inCh.beat, rd);
      else dataFifo.sync(cycle);
      const mwr = (metaWrMask & bit) !== 0;
      if (mwr || metaRd) meta.clockAt(cycle, mwr, null, 0, metaRd);
      else meta.sync(cycle);
      if (dataFifo.empty()) out.release();
      else out.drive(dataFifo.doutPacket(), dataFifo.doutBeat());
      // A queue that offers nothing next cycle, with settled registers and flags that
      // already show its FIFOs, would compute exactly what it holds: leave it out.
      if (!dataFifo.empty() || dataFifo.settling() || meta.settling() || nearlyFull !== dataFifo.progFull() || metaNearlyFull !== meta.nearlyFull()) {
        busy |= bit;
      }
    }
    this.busyMask = busy;
    this.flagMask = flags;
    this.state = nextState;
    this.curQueue = nextCur;
    if (this.tailDrop) inCh.setReady(nextState !== STATE_IDLE);
    else inCh.setReady(flags === 0 || nextState === STATE_DROP);
  }

  commit(cycle: number): number {
    let wake = IDLE;
    if (this.trains) return wake;
    for (let m = this.busyMask; m !== 0; m &= m - 1) {
      const q = 31 - Math.clz32(m & -m);
      const dataFifo = this.data[q]!;
      const meta = this.metadata[q]!;
      // The registered nearly_full flags lag their FIFOs by one edge.
      if ((this.nearlyFull[q] !== 0) !== dataFifo.progFull()) return cycle + 1;
      if ((this.metadataNearlyFull[q] !== 0) !== meta.nearlyFull()) return cycle + 1;
      const c = Math.min(dataFifo.nextChangeCycle(), meta.nextChangeCycle()) - 1;
      if (c < wake) wake = c;
    }
    return wake;
  }

  counter(queue: number, which: number): number {
    return this.counters[queue * OQ_COUNTERS.length + which]!;
  }

  // --- Trains (tail_drop only): data and metadata FIFOs as timelines. A packet's
  // header is offered in the cycle before it moves (the IDLE decision cycle, tready
  // low), so the decision happens at its cycle minus one, on the nearly_full flags
  // registered from the FIFOs' depths one cycle earlier; its beats are written at the
  // cycles they moved, and each queue's words are posted to its port from the cycle
  // they reach dout. Counters change at the decision and header-read cycles.

  private dataTimeline: FallthroughFifoTimeline[] = [];
  private metadataTimeline: FallthroughFifoTimeline[] = [];
  /** Queues with words written and not yet posted. */
  private unreadMask = 0;
  private readonly deferred: DeferredCounts;
  /**
   * Removals count at reads, which trail the decisions (by a queue's depth): kept apart
   * from `deferred` so that each stays in cycle order (DeferredCounts moves an entry
   * that comes out of order back past the later ones).
   */
  private readonly deferredRemoved: DeferredCounts;
  /** For the NIC's drop.outputQueueFull counter, in another array. */
  private readonly deferredDrops: DeferredCounts | null;

  override canRunTrains(): boolean {
    return this.tailDrop;
  }

  override startTrains(): void {
    this.dataTimeline = this.data.map((f) => FallthroughFifoTimeline.of(f));
    this.metadataTimeline = this.metadata.map((f) => FallthroughFifoTimeline.of(f));
  }

  override trainPosted(): void {
    this.runPump();
  }

  override trainAcceptable(): void {
    this.runPump();
  }

  /** tail_drop: tready is low in IDLE, so a packet's first beat moves the cycle after it is offered. */
  override trainAccept(_ch: AxisChannel, _index: number, offerCycle: number, afterLast: boolean): number {
    return afterLast ? offerCycle + 1 : offerCycle;
  }

  override trainHorizon(ch: AxisChannel): number {
    const q = ch.producerOutputIndex;
    const tl = this.dataTimeline[q]!;
    let h = tl.read < tl.written ? tl.headDoutCycle() : this.in.producer!.trainHorizon(this.in) + 3;
    if (h <= ch.lastPostedCycle) h = ch.lastPostedCycle + 1;
    return h;
  }

  override settleTrains(cycle: number): number {
    const decided = this.deferred.settle(cycle);
    const removed = this.deferredRemoved.settle(cycle);
    const last = decided > removed ? decided : removed;
    const lastDrop = this.deferredDrops === null ? Number.NEGATIVE_INFINITY : this.deferredDrops.settle(cycle);
    return last > lastDrop ? last : lastDrop;
  }

  protected override pump(): void {
    const n = this.outs.length;
    const K = OQ_COUNTERS.length;
    const counters = this.counters;
    const inCh = this.in;
    const dataTl = this.dataTimeline;
    const metaTl = this.metadataTimeline;
    // Every handshake up to the present cycle is posted already (producers post as soon
    // as they know), so reads not yet posted happen after it.
    const settled = this.sim!.settledCycle();
    let waitUntil = IDLE;
    /** Queues posted to in this pump. */
    let posted = 0;
    for (let progress = true; progress; ) {
      progress = false;
      for (let m = this.unreadMask; m !== 0; m &= m - 1) {
        const q = 31 - Math.clz32(m & -m);
        const data = dataTl[q]!;
        const out = this.outs[q]!;
        while (data.read < data.written) {
          const h = out.answered(out.consumer!.trainAccept(out, out.posted, out.offerFrom(data.headDoutCycle()), out.afterLast));
          if (h < 0) break;
          const p = data.headPacket();
          const beat = data.headBeat();
          if (this.metadataState[q] === WAIT_HEADER) {
            this.metadataState[q] = WAIT_EOP;
            metaTl[q]!.readHead(h);
            this.deferredRemoved.add(h, q * K + OQ_PKT_REMOVED, q * K + OQ_BYTES_REMOVED, p.length);
          } else if (beat === p.beats - 1) {
            this.metadataState[q] = WAIT_HEADER;
          }
          out.post(p, beat, h);
          data.readHead(h);
          posted |= 1 << q;
          progress = true;
        }
        if (data.read === data.written) this.unreadMask &= ~(1 << q);
      }
      while (inCh.postCount > 0) {
        const p = inCh.peekPacket();
        const beat = inCh.peekBeat();
        const h = inCh.peekCycle();
        if (this.state === STATE_IDLE) {
          const decision = h - 1;
          const oq = outputQueueMask(p.dstPort) & ((1 << n) - 1);
          let drop = false;
          let known = true;
          for (let m = oq; m !== 0; m &= m - 1) {
            const q = 31 - Math.clz32(m & -m);
            const data = dataTl[q]!;
            const meta = metaTl[q]!;
            // Far from both thresholds whatever the reads not yet known: no need for the exact depths.
            if (data.depthBoundAt(decision - 1) < data.progFullThreshold && meta.depthBoundAt(decision - 1) < meta.maxDepth - 1) continue;
            const dataDepth = data.depthAt(decision - 1, settled);
            const metaDepth = meta.depthAt(decision - 1, settled);
            if (dataDepth < 0 || metaDepth < 0) {
              known = false;
              // By then every read that could count has happened.
              waitUntil = decision - 3;
              break;
            }
            if (dataDepth >= data.progFullThreshold || metaDepth >= meta.maxDepth - 1) drop = true;
          }
          // A queue's depth before the decision waits on reads not yet known.
          if (!known) break;
          if (drop && this.deferredDrops !== null) this.deferredDrops.add(decision, this.dropCounter!.index);
          const base = drop ? OQ_PKT_DROPPED : OQ_PKT_STORED;
          let copies = 0;
          for (let m = oq; m !== 0; m &= m - 1) {
            const q = 31 - Math.clz32(m & -m);
            this.deferred.add(decision, q * K + base, q * K + base + 1, p.length);
            copies++;
          }
          if (!drop && copies > 1) p.refs += copies - 1;
          this.state = drop ? STATE_DROP : STATE_WR_PKT;
          this.curQueue = oq;
          this.headerPending = true;
        }
        const last = beat === p.beats - 1;
        if (this.state === STATE_WR_PKT) {
          for (let m = this.curQueue; m !== 0; m &= m - 1) {
            const q = 31 - Math.clz32(m & -m);
            dataTl[q]!.write(h, p, beat);
            if (this.headerPending) metaTl[q]!.write(h, null, 0);
          }
          this.unreadMask |= this.curQueue;
          if (last && this.curQueue === 0) this.pool.release(p);
        } else if (last) {
          this.pool.release(p);
        }
        this.headerPending = false;
        if (last) this.state = STATE_IDLE;
        inCh.shiftPost();
        progress = true;
      }
    }
    for (let m = posted; m !== 0; m &= m - 1) {
      const q = 31 - Math.clz32(m & -m);
      const out = this.outs[q]!;
      if (out.takePostsUnseen()) out.consumer!.trainPosted(out);
      dataTl[q]!.forgetBefore(settled);
      metaTl[q]!.forgetBefore(settled);
    }
    this.deferred.settleSome(settled);
    this.deferredRemoved.settleSome(settled);
    this.deferredDrops?.settleSome(settled);
    if (waitUntil < IDLE) this.wakeAt(waitUntil);
  }

  override traceSignals(): TraceSignal[] {
    return [
      { name: 'state', width: 2, read: () => this.state },
      ...this.data.map((f, i) => ({ name: `q${i}_level`, width: 8, read: () => f.occupancy() })),
    ];
  }
}
