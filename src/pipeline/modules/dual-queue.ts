import type { AxisChannel } from '../sim/channel.ts';
import { ClockedModule, type TraceSignal } from '../sim/module.ts';
import type { Packet, PacketPool } from '../sim/packet.ts';
import { TimedRing } from '../sim/ring.ts';
import { counterIndex } from '../regs/register-map.ts';
import type { CounterBank } from '../regs/table-memory.ts';
import { FallthroughSmallFifo } from './fallthrough-small-fifo.ts';

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
  /** Runs among train-running cores through a TrainBridge (it keeps the AXI4-Stream rules). */
  override readonly bridgesTrains = true;
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
      if (++this.mirrorBeat === this.mirrorPacket!.beats) this.mirrorPacket = null;
    }
    if (this.mirrorPacket === null && this.mirrorQueue.length > 0) {
      this.mirrorPacket = this.mirrorQueue.shift();
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
    if (this.mirrorPacket === null && this.mirrorQueue.length > 0) return cycle + 1;
    return Math.min(this.main.nextChangeCycle(), this.sub.nextChangeCycle()) - 1;
  }

  override traceSignals(): TraceSignal[] {
    return [
      { name: 'main_level', width: 8, read: () => this.main.occupancy() },
      { name: 'sub_level', width: 8, read: () => this.sub.occupancy() },
      { name: 'mirror_backlog', width: 8, read: () => this.mirrorQueue.length },
    ];
  }
}
