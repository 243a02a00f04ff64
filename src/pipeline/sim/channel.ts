import type { Packet } from './packet.ts';
import type { ClockedModule } from './module.ts';

/**
 * An AXI4-Stream channel between two clocked modules (SPEC section 3).
 *
 * Both `tvalid` (with the beat: packet + beat index, from which tdata, tkeep,
 * tlast and tuser follow) and `tready` are registered outputs: in cycle t each
 * side sees the values its partner committed at the end of cycle t-1, and the
 * beat moves in cycle t exactly when both are high (`fires()`). Because both
 * sides read the same registered values, each knows whether the beat moved
 * without combinational paths, which is what makes evaluation order irrelevant.
 *
 * Writers touch only the `next*` fields during evaluate; the simulator commits
 * them after every module has evaluated.
 */
export class AxisChannel {
  readonly name: string;
  /** Index in the simulator's channel list (VCD identifier). */
  id = -1;
  producer: ClockedModule | null = null;
  consumer: ClockedModule | null = null;
  /** Copies of the ends' `wakeOnHandshakeOnly`, read once a commit. */
  producerWakeOnHandshakeOnly = false;
  consumerWakeOnHandshakeOnly = false;

  valid = false;
  ready = false;
  packet: Packet | null = null;
  beat = 0;

  nextValid = false;
  nextReady = false;
  nextPacket: Packet | null = null;
  nextBeat = 0;

  /** Cycle in which it was last committed, so a channel is committed once a cycle. */
  committedCycle = -1;
  /** Packets whose last beat has moved (per cycle: latched; trains: posted). */
  packetsMoved = 0;
  /**
   * The simulator that commits it (set by Simulator.add). A channel is committed
   * only in cycles where a `next*` value changed or a beat moves, so writers tell
   * the simulator through `touch` instead of it scanning every channel.
   */
  sim: { touchChannel(ch: AxisChannel): void; settledCycle(): number } | null = null;
  /** On the simulator's list of channels to commit at the end of this cycle. */
  pendingCommit = false;

  /**
   * Trains (Simulator option `trains`): when both ends run trains, the channel
   * carries handshakes known in advance instead of registered signals. The
   * producer asks the consumer when its next beat, offered from some cycle, moves
   * (`acceptCycle`, the cycle the RTL's tvalid && tready would be high), and posts
   * it with that cycle; the consumer takes posted beats in order. The registered
   * fields above are then unused.
   */
  trained = false;
  /** Beats posted so far (the next beat's index for `acceptCycle`). */
  posted = 0;
  /** Handshake cycle of the last posted beat. */
  lastPostedCycle = Number.NEGATIVE_INFINITY;
  /** The last posted beat was a packet's last (the next one starts a packet). */
  afterLast = true;
  /** The producer stopped because `acceptCycle` was not yet known; the consumer calls its trainAcceptable. */
  producerWaiting = false;
  /**
   * Set by a producer whose horizon, whenever it has nothing not yet posted, is at
   * least `now + idleLookaheadCycles` (frames from a port: a 10G receiver, the DMA
   * engine). Lets a consumer skip asking `trainHorizon` for an input it knows is idle.
   */
  idleLookaheadCycles = Number.NaN;
  /**
   * Index of this channel among its consumer's inputs / its producer's outputs, for
   * modules with several (set by them, or by a TrainBridge), so train callbacks find
   * the channel's state without a search. -1 when unset.
   */
  consumerInputIndex = -1;
  producerOutputIndex = -1;
  /**
   * With `idleLookaheadCycles`: no frame is handed to the producer from outside before
   * this cycle (its ports' promises; Infinity: never, e.g. no port attached). An idle
   * input's horizon is then max(now, idleFrom) + idleLookaheadCycles.
   */
  idleFrom = Number.NEGATIVE_INFINITY;
  /**
   * With `idleLookaheadCycles`: the producer holds frames not yet (wholly) posted, so it
   * is not idle and a consumer must ask `trainHorizon`. Set when a frame is handed over,
   * cleared by the producer's pump once everything is posted. It covers a producer
   * stopped on a full FIFO whose consumer has read since and not yet let it post again
   * (the pumps are re-entered then), and frames handed ahead of a promise's cycle.
   */
  producerHolding = false;
  /**
   * The latest horizon a consumer derived from `idleLookaheadCycles` (the producer must honour
   * it: it throws for a frame that would move before it). Infinity is a promise of no frame
   * ever, on which the input arbiter leaves the input out for good (InputArbiter liveMask).
   */
  idleHorizonUsed = Number.NEGATIVE_INFINITY;
  /**
   * The ends' train callbacks, taken from them once when the channel is declared: the
   * calls below are made from one place for every channel, whose ends are of many
   * classes, and looking each method up on the module there was a megamorphic property
   * load per call (6% of the Fatriot NIC's instructions a packet).
   */
  consumerTrainAccept: TrainAccept = notDeclared;
  consumerTrainPosted: TrainCallback = notDeclared;
  producerTrainAcceptable: TrainCallback = notDeclared;
  producerTrainHorizon: TrainHorizon = notDeclared;
  /**
   * Where posted beats go instead of the post ring, when the consumer takes every beat
   * into a FIFO as it is posted (`setFeed`).
   */
  feed: PostFeed | null = null;
  private postPackets: (Packet | null)[] = [];
  private postBeats = new Int32Array(0);
  private postCycles = new Float64Array(0);
  private postHead = 0;
  /** Posted beats the consumer has not taken yet. */
  postCount = 0;
  private postsUnseen = false;

  constructor(name: string) {
    this.name = name;
  }

  // Two ways to reach the other end, with the same steps. A module's pump calls its
  // neighbour at a call site of its own:
  //   out.answered(out.consumer!.trainAccept(out, out.posted, out.offerFrom(c), out.afterLast))
  //   if (out.takePostsUnseen()) out.consumer!.trainPosted(out);
  //   if (ch.takeProducerWaiting()) ch.producer!.trainAcceptable(ch);
  //   ch.producer!.trainHorizon(ch)
  // V8 keeps type feedback per call site, so such a site sees one or two classes of
  // neighbour, and TurboFan inlines the neighbour's handshake answer into the pump. The
  // methods below make the same calls from one site in this file, through the callbacks
  // cached at declaration; they serve code whose channels lead to modules of many classes
  // (TrainBridge, the Fatriot dual queue's mirror port, the input arbiter asking its
  // producers' horizons, testbenches). The pumps moved to sites of their own: reference
  // NIC 12.35k -> 11.3k instructions a 64-byte frame, Fatriot NIC 21.8k -> 20.0k
  // (tools/bench/instructions.sh, with jit-tuning.ts's raised budget).

  /**
   * Producer (trains): the cycle the next beat moves if offered from `offerCycle`
   * (no earlier than the cycle after the last posted beat), or -1 while the
   * consumer cannot say yet (then `producerWaiting` is set and the consumer calls
   * back `trainAcceptable`).
   */
  acceptCycle(offerCycle: number): number {
    return this.answered(this.consumerTrainAccept.call(this.consumer!, this, this.posted, this.offerFrom(offerCycle), this.afterLast));
  }

  /** Producer (trains): the cycle the consumer is asked about for an offer from `offerCycle` (after the last posted beat). */
  offerFrom(offerCycle: number): number {
    return offerCycle > this.lastPostedCycle ? offerCycle : this.lastPostedCycle + 1;
  }

  /** Producer (trains): the consumer's answer `h` to trainAccept; -1 leaves the producer waiting for trainAcceptable. */
  answered(h: number): number {
    if (h < 0) this.producerWaiting = true;
    return h;
  }

  /** Producer (trains): whether beats were posted since the consumer was last told (and now it is taken as told). */
  takePostsUnseen(): boolean {
    if (!this.postsUnseen) return false;
    this.postsUnseen = false;
    return true;
  }

  /** Consumer (trains): whether the producer waits on an answer (and now it is taken as woken). */
  takeProducerWaiting(): boolean {
    if (!this.producerWaiting) return false;
    this.producerWaiting = false;
    return true;
  }

  /** Producer (trains): `beat` of `packet` moves in `cycle` (as acceptCycle said). */
  post(packet: Packet, beat: number, cycle: number): void {
    // Trains post every handshake before its cycle; one that comes late could no longer be exact.
    if (cycle <= this.sim!.settledCycle()) this.latePost(beat, cycle);
    if (this.feed !== null) {
      this.feed.write(cycle, packet, beat);
    } else {
      if (this.postCount === this.postCycles.length) this.growPosts();
      const i = (this.postHead + this.postCount) & (this.postCycles.length - 1);
      this.postPackets[i] = packet;
      this.postBeats[i] = beat;
      this.postCycles[i] = cycle;
      this.postCount++;
    }
    this.posted++;
    this.lastPostedCycle = cycle;
    this.afterLast = beat === packet.beats - 1;
    if (this.afterLast) this.packetsMoved++;
    this.postsUnseen = true;
  }

  /** Throws; kept out of `post` so that it stays small enough to inline. */
  private latePost(beat: number, cycle: number): never {
    throw new Error(`${this.name}: beat ${beat} posted for cycle ${cycle}, which has passed`);
  }

  /** Producer (trains): tells the consumer about the beats posted since the last call. */
  flushPosts(): void {
    if (this.takePostsUnseen()) this.consumerTrainPosted.call(this.consumer!, this);
  }

  /** Consumer (trains): tells a waiting producer that more handshakes can be known now. */
  wakeProducer(): void {
    if (this.takeProducerWaiting()) this.producerTrainAcceptable.call(this.producer!, this);
  }

  /** Consumer (trains): no beat the producer has not posted yet moves before this cycle (its `trainHorizon`). */
  producerHorizon(): number {
    return this.producerTrainHorizon.call(this.producer!, this);
  }

  /** Consumer (trains, from startTrains): posts go to `feed` from now on, with any not yet taken first. */
  setFeed(feed: PostFeed): void {
    while (this.postCount > 0) {
      feed.write(this.peekCycle(), this.peekPacket(), this.peekBeat());
      this.shiftPost();
    }
    this.feed = feed;
  }

  /** Consumer (trains): the oldest posted beat not yet taken. */
  peekPacket(): Packet {
    return this.postPackets[this.postHead]!;
  }

  peekBeat(): number {
    return this.postBeats[this.postHead]!;
  }

  peekCycle(): number {
    return this.postCount === 0 ? Number.POSITIVE_INFINITY : this.postCycles[this.postHead]!;
  }

  /** Consumer (trains): takes the oldest posted beat. */
  shiftPost(): void {
    this.postPackets[this.postHead] = null;
    this.postHead = (this.postHead + 1) & (this.postCycles.length - 1);
    this.postCount--;
  }

  /** The ring's length is a power of two: indices wrap with a mask, not a division. */
  private growPosts(): void {
    const n = Math.max(16, this.postCycles.length * 2);
    const packets = new Array<Packet | null>(n).fill(null);
    const beats = new Int32Array(n);
    const cycles = new Float64Array(n);
    for (let k = 0; k < this.postCount; k++) {
      const i = (this.postHead + k) & (this.postCycles.length - 1);
      packets[k] = this.postPackets[i]!;
      beats[k] = this.postBeats[i]!;
      cycles[k] = this.postCycles[i]!;
    }
    this.postPackets = packets;
    this.postBeats = beats;
    this.postCycles = cycles;
    this.postHead = 0;
  }

  /** True when a beat moves in the current cycle (tvalid && tready, both registered). */
  fires(): boolean {
    return this.valid && this.ready;
  }

  /** tlast of the beat on the channel. */
  isLast(): boolean {
    return this.packet !== null && this.beat === this.packet.beats - 1;
  }

  /** Producer: offer `beat` of `packet` from the next cycle on. */
  drive(packet: Packet, beat: number): void {
    if (this.nextValid && this.nextPacket === packet && this.nextBeat === beat) return;
    this.nextValid = true;
    this.nextPacket = packet;
    this.nextBeat = beat;
    if (!this.pendingCommit) this.touch();
  }

  /** Producer: deassert tvalid from the next cycle on. */
  release(): void {
    if (!this.nextValid && this.nextPacket === null && this.nextBeat === 0) return;
    this.nextValid = false;
    this.nextPacket = null;
    this.nextBeat = 0;
    if (!this.pendingCommit) this.touch();
  }

  /** Consumer: tready for the next cycle. */
  setReady(ready: boolean): void {
    if (this.nextReady === ready) return;
    this.nextReady = ready;
    if (!this.pendingCommit) this.touch();
  }

  /** Puts the channel on its simulator's commit list (a `next*` value changed). */
  private touch(): void {
    // Trained channels carry posted handshakes; their registered values are not latched.
    if (this.sim !== null && !this.trained) {
      this.pendingCommit = true;
      this.sim.touchChannel(this);
    }
  }

  /**
   * Latches next values and says which ends must be evaluated next cycle
   * (WAKE_PRODUCER | WAKE_CONSUMER): both when a beat will move; otherwise, when a
   * registered signal changed, each end unless it wakes on handshakes only (a
   * consumer of that kind still sees a new offer it cannot take yet).
   */
  latch(): number {
    const valid = this.valid;
    const ready = this.ready;
    const packet = this.packet;
    const beat = this.beat;
    if (valid && ready && packet !== null && beat === packet.beats - 1) this.packetsMoved++;
    this.valid = this.nextValid;
    this.ready = this.nextReady;
    this.packet = this.nextPacket;
    this.beat = this.nextBeat;
    if (this.valid && this.ready) return WAKE_PRODUCER | WAKE_CONSUMER;
    const offerChanged = this.valid !== valid || this.packet !== packet || this.beat !== beat;
    if (!offerChanged && this.ready === ready) return 0;
    let wake = 0;
    if (!this.producerWakeOnHandshakeOnly) wake |= WAKE_PRODUCER;
    if (!this.consumerWakeOnHandshakeOnly || (this.valid && offerChanged)) wake |= WAKE_CONSUMER;
    return wake;
  }
}

/**
 * Throws for a frame handed to a producer too late to keep the model exact: for a cycle
 * the model has passed, or before the horizon its consumer was promised (`idleHorizonUsed`).
 * Kept out of the receive paths so that they stay small.
 */
export function frameTooLate(producer: string, what: string, cycle: number): never {
  throw new Error(
    `${producer}: ${what} for cycle ${cycle} arrives after the model passed that cycle (trains need frames handed at or after the current cycle, and ports that keep their quietUntil promise)`,
  );
}

/**
 * A consumer's input FIFO that takes a channel's posts directly (the input arbiter's
 * queues, the output-port lookup's FIFO: their fallthrough_small_fifo writes each beat at
 * the cycle it moves, which is what a post says). `post` writes the beat into it, so the
 * consumer's pump need not take it from the post ring: a 64-byte frame through the
 * reference NIC cost 6% more instructions through the ring (11.23k against 10.55k, runs
 * of 60k and 180k frames; the Fatriot NIC the same within 0.3%).
 * `post` calls `write` at one site for every fed channel: keep to a class or two.
 */
export interface PostFeed {
  write(cycle: number, packet: Packet, beat: number): void;
}

type TrainAccept = (this: ClockedModule, ch: AxisChannel, index: number, offerCycle: number, afterLast: boolean) => number;
type TrainCallback = (this: ClockedModule, ch: AxisChannel) => void;
type TrainHorizon = (this: ClockedModule, ch: AxisChannel) => number;

function notDeclared(this: ClockedModule): never {
  throw new Error('train callback on a channel end that was not declared');
}

export const WAKE_PRODUCER = 1;
export const WAKE_CONSUMER = 2;
