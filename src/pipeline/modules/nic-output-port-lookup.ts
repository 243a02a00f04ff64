import type { AxisChannel } from '../sim/channel.ts';
import { ClockedModule, IDLE, type TraceSignal } from '../sim/module.ts';
import { FallthroughFifoTimeline, FallthroughSmallFifo } from './fallthrough-small-fifo.ts';

const MODULE_HEADER = 0;
const IN_PACKET = 1;

export interface NicOutputPortLookupParams {
  /** MAX_DEPTH_BITS of the input fallthrough_small_fifo. */
  inFifoDepthBits: number;
}

/**
 * The MAC-port/DMA-queue pairing of the two tuser bits: a packet from nfX (even
 * bit) goes to dmaX (the next, odd bit), one from dmaX (odd) to nfX (the bit
 * below); a packet with no source bit goes to nf0 (mask 0x01).
 * Follows lib/hw/std/cores/nic_output_port_lookup_v1_0_0/hdl/nic_output_port_lookup.v.
 */
export function nicDestination(srcPortOneHot: number): number {
  const src = srcPortOneHot & 0xff;
  if (src === 0) return 0x01;
  if ((src & 0xaa) !== 0) return (src >>> 1) & 0x7f;
  return (src << 1) & 0xfe;
}

/**
 * nic_output_port_lookup: an input fallthrough_small_fifo and a two-state machine
 * that rewrites the destination on the header beat. Quirk kept from the RTL: the
 * state goes to IN_PACKET when the header beat leaves, even if it is also the last
 * beat, so after a one-beat packet the next packet leaves with its destination
 * unset (and the output queues then store it nowhere).
 */
export class NicOutputPortLookup extends ClockedModule {
  override readonly wakeOnHandshakeOnly = true;
  readonly fifo: FallthroughSmallFifo;
  private readonly in: AxisChannel;
  private readonly out: AxisChannel;
  state = MODULE_HEADER;

  constructor(name: string, input: AxisChannel, output: AxisChannel, params: NicOutputPortLookupParams) {
    super(name);
    this.in = this.input(input);
    this.out = this.output(output);
    this.fifo = new FallthroughSmallFifo(`${name}.input_fifo`, params.inFifoDepthBits);
  }

  override reset(): void {
    this.in.ready = this.in.nextReady = true;
  }

  evaluate(cycle: number): void {
    if (this.trains) {
      this.runPump();
      return;
    }
    const fifo = this.fifo;
    const out = this.out;
    fifo.sync(cycle - 1);
    const rd = out.valid && out.ready;
    if (rd) {
      if (this.state === MODULE_HEADER) this.state = IN_PACKET;
      else if (out.beat === out.packet!.beats - 1) this.state = MODULE_HEADER;
    }
    const wr = this.in.valid && this.in.ready;
    if (wr || rd) fifo.clockAt(cycle, wr, this.in.packet, this.in.beat, rd);
    else fifo.sync(cycle);
    this.in.setReady(!fifo.nearlyFull());
    if (fifo.empty()) {
      out.release();
    } else {
      const p = fifo.doutPacket();
      // tuser is rewritten combinationally while in MODULE_HEADER (tuser[31:24]).
      if (this.state === MODULE_HEADER) p.dstPort = nicDestination(p.srcPort);
      out.drive(p, fifo.doutBeat());
    }
  }

  commit(cycle: number): number {
    void cycle;
    if (this.trains) return IDLE;
    return this.fifo.nextChangeCycle() - 1;
  }

  // --- Trains: the input FIFO as a timeline. A beat posted by the input arbiter is
  // written at the cycle it moved; each word is offered from the cycle it reaches dout
  // and posted to the output queues with the cycle they take it. tready towards the
  // arbiter is !nearly_full: beat k moves once the word k - (2^MAX_DEPTH_BITS - 1)
  // has left the inner memory.

  private timeline: FallthroughFifoTimeline | null = null;

  override canRunTrains(): boolean {
    return true;
  }

  override startTrains(): void {
    this.timeline = FallthroughFifoTimeline.of(this.fifo);
    // Posted beats are written into the FIFO timeline as they are posted (PostFeed).
    this.in.setFeed(this.timeline);
  }

  /** Words written when the last pump started: more since then are beats not yet passed on. */
  private pumpedWritten = 0;

  override trainPosted(): void {
    // Beats posted since the last pump started, unless a pump that trainAccept ran saw them.
    if (this.timeline!.written > this.pumpedWritten) this.runPump();
  }

  override trainAcceptable(): void {
    this.runPump();
  }

  override trainAccept(_ch: AxisChannel, index: number, offerCycle: number): number {
    const tl = this.timeline!;
    let h = tl.writeCycle(index, offerCycle);
    if (h < 0 && tl.written > this.pumpedWritten) {
      // tready falls at three words, so beat k waits on the read of beat k - 6, which the
      // output queues (always ready in WR_PKT) take as soon as it is on dout: pass the beats
      // posted so far on now, rather than have the arbiter stop and come back
      // three beats at a time (16 pumps of every stage a 1514-byte frame; -5% instructions).
      // Beats posted meanwhile are in the arbiter's queues at its next decision (InputQueueFeed).
      this.runPump();
      h = tl.writeCycle(index, offerCycle);
    }
    return h;
  }

  override trainHorizon(): number {
    const tl = this.timeline!;
    let h = tl.read < tl.written ? tl.headDoutCycle() : this.in.producer!.trainHorizon(this.in) + 3;
    if (h <= this.out.lastPostedCycle) h = this.out.lastPostedCycle + 1;
    return h;
  }

  protected override pump(): void {
    const tl = this.timeline!;
    const inCh = this.in;
    const out = this.out;
    this.pumpedWritten = tl.written;
    while (tl.read < tl.written) {
      const d = tl.headDoutCycle();
      const p = tl.headPacket();
      // tuser is rewritten while the word sits on dout in MODULE_HEADER.
      if (this.state === MODULE_HEADER) p.dstPort = nicDestination(p.srcPort);
      const h = out.answered(out.consumer!.trainAccept(out, out.posted, out.offerFrom(d), out.afterLast));
      if (h < 0) break;
      const beat = tl.headBeat();
      out.post(p, beat, h);
      tl.readHead(h);
      if (this.state === MODULE_HEADER) this.state = IN_PACKET;
      else if (beat === p.beats - 1) this.state = MODULE_HEADER;
    }
    if (out.takePostsUnseen()) out.consumer!.trainPosted(out);
    tl.forgetBefore(this.sim!.settledCycle());
    if (inCh.takeProducerWaiting()) inCh.producer!.trainAcceptable(inCh);
  }

  override traceSignals(): TraceSignal[] {
    return [
      { name: 'state', width: 1, read: () => this.state },
      { name: 'fifo_level', width: 4, read: () => this.fifo.occupancy() },
    ];
  }
}
