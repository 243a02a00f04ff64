import type { AxisChannel } from '../sim/channel.ts';
import { ClockedModule, IDLE, type TraceSignal } from '../sim/module.ts';
import type { Packet, PacketPool } from '../sim/packet.ts';
import { TimedRing } from '../sim/ring.ts';
import { counterIndex } from '../regs/register-map.ts';
import type { CounterBank } from '../regs/table-memory.ts';
import { FallthroughFifoTimeline, FallthroughSmallFifo } from './fallthrough-small-fifo.ts';

export interface DualQueueParams {
  /** MAX_DEPTH_BITS of the main packet queue (beats). */
  mainDepthBits: number;
  /** MAX_DEPTH_BITS of the sub-queue (one entry per packet). */
  subDepthBits: number;
  /** Mirror copies waiting for the fail-safe handler's input before the mirror is dropped (assumed). */
  mirrorBacklogPackets: number;
}

/**
 * Fatriot's dual queue (papers/fatriot.txt 3.3, Fig. 4): the main packet queue and a
 * 1:1 sub-queue holding {mission-critical flag, service ID}, enqueued and dequeued
 * together. It sits on the host-bound output of output_queues. When a packet's
 * first beat leaves towards the DMA, its sub-queue entry leaves with it, and if the
 * entry says critical the packet is mirrored (a copy) to the fail-safe handler, so
 * it is ready to go to a backup whatever the host then does with it.
 *
 * The sub-queue keeps packets, not beats: it is written with the first beat and
 * read with the first beat, and tready also requires a free sub-queue entry, so the
 * two can never disagree (SPEC: "enqueued and dequeued together").
 */
export class DualQueue extends ClockedModule {
  /** An AXI4-Stream core: only handshakes and new offers wake it (ClockedModule). */
  override readonly wakeOnHandshakeOnly = true;
  readonly main: FallthroughSmallFifo;
  readonly sub: FallthroughSmallFifo;
  private readonly in: AxisChannel;
  private readonly out: AxisChannel;
  private readonly mirror: AxisChannel;
  private readonly pool: PacketPool;
  private readonly counters: CounterBank;
  private readonly params: DualQueueParams;
  private readonly mirrorQueue = new TimedRing<Packet>();
  private mirrorPacket: Packet | null = null;
  private mirrorBeat = 0;
  /**
   * Beats of the mirror copy on the port, kept here: the fail-safe handler may free the
   * copy in the cycle its last beat moves, before this module sees that handshake, and
   * the pool may hand the same object out again in that cycle.
   */
  private mirrorBeats = 0;
  private readonly cMirrored = counterIndex('event.mirroredToFailsafe');
  private readonly cMirrorDropped = counterIndex('drop.mirrorBacklogFull');

  constructor(name: string, input: AxisChannel, toHost: AxisChannel, toFailsafe: AxisChannel, pool: PacketPool, counters: CounterBank, params: DualQueueParams) {
    super(name);
    this.in = this.input(input);
    this.out = this.output(toHost);
    this.mirror = this.output(toFailsafe);
    this.pool = pool;
    this.counters = counters;
    this.params = params;
    this.main = new FallthroughSmallFifo(`${name}.main_packet_queue`, params.mainDepthBits);
    // The sub-queue's words are the packet's own `critical`/`serviceId` sideband.
    this.sub = new FallthroughSmallFifo(`${name}.sub_queue`, params.subDepthBits);
  }

  override reset(): void {
    this.in.ready = this.in.nextReady = true;
  }

  evaluate(cycle: number): void {
    if (this.trains) {
      this.runPump();
      this.mirrorStep(cycle);
      return;
    }
    const inCh = this.in;
    const out = this.out;
    const main = this.main;
    const sub = this.sub;
    main.sync(cycle - 1);
    sub.sync(cycle - 1);
    const rd = out.valid && out.ready;
    const wr = inCh.valid && inCh.ready;
    let subRd = false;
    if (rd && out.beat === 0) {
      subRd = true;
      const p = sub.doutPacket();
      if (p.critical !== 0) this.mirrorOut(p);
    }
    const subWr = wr && inCh.beat === 0;
    if (wr || rd) main.clockAt(cycle, wr, inCh.packet, inCh.beat, rd);
    else main.sync(cycle);
    if (subWr || subRd) sub.clockAt(cycle, subWr, inCh.packet, 0, subRd);
    else sub.sync(cycle);
    inCh.setReady(!main.nearlyFull() && !sub.nearlyFull());
    if (main.empty()) out.release();
    else out.drive(main.doutPacket(), main.doutBeat());

    // Mirror port towards the fail-safe handler.
    const m = this.mirror;
    if (m.valid && m.ready) {
      if (++this.mirrorBeat === this.mirrorBeats) this.mirrorPacket = null;
    }
    if (this.mirrorPacket === null && this.mirrorQueue.length > 0) {
      this.mirrorPacket = this.mirrorQueue.shift();
      this.mirrorBeats = this.mirrorPacket.beats;
      this.mirrorBeat = 0;
    }
    if (this.mirrorPacket === null) m.release();
    else m.drive(this.mirrorPacket, this.mirrorBeat);
  }

  private mirrorOut(p: Packet): void {
    if (this.mirrorQueue.length >= this.params.mirrorBacklogPackets) {
      this.counters.add(this.cMirrorDropped, 1);
      return;
    }
    this.counters.add(this.cMirrored, 1);
    this.mirrorQueue.push(this.pool.clone(p), 0);
  }

  commit(cycle: number): number {
    if (this.trains) {
      // The heap keeps one wake-up a module: ask again for the next copy or mirror handshake.
      const due = this.mirrorDue.peekTime();
      const h = this.mirrorAcceptAt;
      return h > cycle && h < due ? h : due;
    }
    if (this.mirrorPacket === null && this.mirrorQueue.length > 0) return cycle + 1;
    return Math.min(this.main.nextChangeCycle(), this.sub.nextChangeCycle()) - 1;
  }

  // --- Trains: main queue and sub-queue as timelines. tready is !nearly_full of both:
  // beat k moves once main word k - (2^mainDepthBits - 1) and sub word S - (2^subDepthBits - 1)
  // have left their memories, S being the packets started before beat k. Words go to the
  // DMA from the cycle they reach dout. A critical packet is mirrored in the cycle its
  // first beat leaves, as the per-cycle model does: the module wakes then (keeping a
  // reference to the packet until it is copied), and drives the mirror port from there
  // beat by beat with the cycles the fail-safe handler takes them.

  private mainTimeline: FallthroughFifoTimeline | null = null;
  private subTimeline: FallthroughFifoTimeline | null = null;
  /** Critical packets whose first beat leaves towards the host, keyed by that cycle (held by a reference). */
  private readonly mirrorDue = new TimedRing<Packet>();
  /** Cycle the mirror beat on offer moves; -1 while the fail-safe handler cannot say; NaN: none on offer. */
  private mirrorAcceptAt = Number.NaN;
  private mirrorOfferCycle = 0;

  override canRunTrains(): boolean {
    return true;
  }

  override startTrains(): void {
    this.mainTimeline = FallthroughFifoTimeline.of(this.main);
    this.subTimeline = FallthroughFifoTimeline.of(this.sub);
  }

  override trainPosted(): void {
    this.runPump();
  }

  override trainAcceptable(ch: AxisChannel): void {
    if (ch === this.mirror) {
      if (this.mirrorAcceptAt === -1) this.offerMirror();
    } else {
      this.runPump();
    }
  }

  override trainAccept(ch: AxisChannel, index: number, offerCycle: number, afterLast: boolean): number {
    // Both memories' nearly_full hold tready low; the sub-queue counts packets started
    // before this beat (those completed, and the one it continues).
    const h = this.mainTimeline!.writeCycle(index, offerCycle);
    if (h < 0) return h;
    return this.subTimeline!.writeCycle(ch.packetsMoved + (afterLast ? 0 : 1), h);
  }

  override trainHorizon(ch: AxisChannel): number {
    const main = this.mainTimeline!;
    const toHost = main.read < main.written ? main.headDoutCycle() : this.in.producer!.trainHorizon(this.in) + 3;
    let h: number;
    if (ch === this.out) {
      h = toHost;
    } else if (this.mirrorAcceptAt >= 0) {
      h = this.mirrorAcceptAt + 1;
    } else if (this.mirrorAcceptAt === -1) {
      h = this.mirrorOfferCycle;
    } else {
      // The next mirror copy is made when a first beat leaves towards the host, and offered a cycle later.
      h = (this.mirrorDue.length > 0 ? this.mirrorDue.peekTime() : toHost) + 1;
    }
    return h > ch.lastPostedCycle ? h : ch.lastPostedCycle + 1;
  }

  protected override pump(): void {
    const main = this.mainTimeline!;
    const sub = this.subTimeline!;
    const inCh = this.in;
    const out = this.out;
    while (inCh.postCount > 0) {
      const p = inCh.peekPacket();
      const beat = inCh.peekBeat();
      const h = inCh.peekCycle();
      main.write(h, p, beat);
      if (beat === 0) sub.write(h, p, 0);
      inCh.shiftPost();
    }
    while (main.read < main.written) {
      const h = out.answered(out.consumer!.trainAccept(out, out.posted, out.offerFrom(main.headDoutCycle()), out.afterLast));
      if (h < 0) break;
      const p = main.headPacket();
      const beat = main.headBeat();
      out.post(p, beat, h);
      main.readHead(h);
      if (beat === 0) {
        const entry = sub.readHead(h)!;
        if (entry.critical !== 0) {
          // Copied in cycle h; until then the packet must outlive its delivery.
          entry.refs++;
          this.mirrorDue.push(entry, h);
          this.wakeAt(h);
        }
      }
    }
    if (out.takePostsUnseen()) out.consumer!.trainPosted(out);
    const settled = this.sim!.settledCycle();
    main.forgetBefore(settled);
    sub.forgetBefore(settled);
    if (inCh.takeProducerWaiting()) inCh.producer!.trainAcceptable(inCh);
  }

  /** Cycle `t` of the mirror port (an evaluation): copies due, the handshake, the next offer. */
  private mirrorStep(t: number): void {
    while (this.mirrorDue.length > 0 && this.mirrorDue.peekTime() <= t) {
      const p = this.mirrorDue.shift();
      this.mirrorOut(p);
      this.pool.release(p);
    }
    if (this.mirrorAcceptAt === t) {
      this.mirrorAcceptAt = Number.NaN;
      if (++this.mirrorBeat === this.mirrorBeats) this.mirrorPacket = null;
    }
    if (this.mirrorPacket === null && this.mirrorQueue.length > 0) {
      this.mirrorPacket = this.mirrorQueue.shift();
      this.mirrorBeats = this.mirrorPacket.beats;
      this.mirrorBeat = 0;
    }
    if (this.mirrorPacket !== null && Number.isNaN(this.mirrorAcceptAt)) {
      this.mirrorOfferCycle = t + 1;
      this.offerMirror();
    }
  }

  private offerMirror(): void {
    const h = this.mirror.acceptCycle(this.mirrorOfferCycle);
    if (h < 0) {
      this.mirrorAcceptAt = -1;
      return;
    }
    this.mirrorAcceptAt = h;
    this.mirror.post(this.mirrorPacket!, this.mirrorBeat, h);
    this.mirror.flushPosts();
    this.wakeAt(h);
  }

  override traceSignals(): TraceSignal[] {
    return [
      { name: 'main_level', width: 8, read: () => this.main.occupancy() },
      { name: 'sub_level', width: 8, read: () => this.sub.occupancy() },
      { name: 'mirror_backlog', width: 8, read: () => this.mirrorQueue.length },
    ];
  }
}
