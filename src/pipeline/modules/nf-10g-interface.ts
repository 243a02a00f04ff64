import { beatBytes, netfpgaSpec } from '../../../hw/netfpga-spec/index.ts';
import { quietUntilOf, type Port } from '../../dataplane/port.ts';
import { frameTooLate, type AxisChannel } from '../sim/channel.ts';
import { BeatFifo } from '../sim/fifo.ts';
import { ClockedModule, IDLE, type TraceSignal } from '../sim/module.ts';
import type { Packet, PacketPool } from '../sim/packet.ts';
import { DeferredCounts } from '../sim/deferred-counts.ts';
import { TimedRing } from '../sim/ring.ts';
import { WireTiming } from './ethernet-wire.ts';

const eth = netfpgaSpec.ethernet;
const rxSpec = netfpgaSpec.nf10gInterface.rx;
const txSpec = netfpgaSpec.nf10gInterface.tx;
const MAC_WORD_BYTES = eth.macWordBytes.value;
/**
 * log2 of MAC_WORD_BYTES: word counts (several a frame) by an add and a shift, not a float
 * division and a rounding.
 */
const MAC_WORD_SHIFT = Math.log2(MAC_WORD_BYTES);
if (!Number.isInteger(MAC_WORD_SHIFT)) throw new Error(`hw/netfpga-spec: macWordBytes ${MAC_WORD_BYTES} is not a power of two`);
/** 64-bit MAC words in one 256-bit core beat. */
const WORDS_PER_BEAT = beatBytes / MAC_WORD_BYTES;

/** 64-bit MAC words holding `bytes` bytes. */
function macWords(bytes: number): number {
  return (bytes + MAC_WORD_BYTES - 1) >> MAC_WORD_SHIFT;
}

/** 64-bit MAC words of core beat `beat` of a frame of `length` bytes. */
function macWordsOfBeat(length: number, beat: number): number {
  const words = macWords(length - beat * beatBytes);
  return words < WORDS_PER_BEAT ? words : WORDS_PER_BEAT;
}
/** Smallest frame without FCS that a sender's MAC puts on the wire (64 with FCS). */
const MIN_FRAME_NO_FCS = eth.minFrameBytesWithFcs.value - eth.fcsBytes.value;
/** Largest frame without FCS the MAC accepts: the reference NIC configures no jumbo frames. */
const MAX_FRAME_NO_FCS = eth.maxFrameBytesWithFcs.value - eth.fcsBytes.value;
/** Shortest thing that can be an Ethernet frame (dst, src, ethertype). */
const ETHERNET_HEADER_BYTES = 14;
const FIRST_BEAT_AFTER_LAST_WORD = netfpgaSpec.latency.rxLastMacWordToCoreFirstBeatCycles.value;
// Read once: `.value` of the spec's fact objects (each of its own shape) is a megamorphic load per beat.
const RX_CYCLES_PER_BEAT = rxSpec.cyclesPerBeat.value;
const TX_CYCLES_PER_BEAT = txSpec.cyclesPerBeat.value;
const TX_LAST_BEAT_TO_MAC_CYCLES = txSpec.converterLatencyCycles.value + txSpec.asyncFifoCrossingLatencyCycles.value;

/**
 * Where a 10G interface counts, as indices into the NIC's counter memory (laid out
 * by the register map: per-port packets/bytes, drops by reason).
 */
export interface MacCounterIndex {
  rxPackets: number;
  rxBytes: number;
  txPackets: number;
  txBytes: number;
  dropFifoFull: number;
  dropRunt: number;
  dropOversize: number;
}

/**
 * Receive half of nf_10g_interface (MAC, rx_queue, 64->256 nf_axis_converter),
 * per hw/netfpga-spec README "10G interface, receive":
 * - frames are paced by the wire at 10 Gb/s (preamble, FCS, IFG included);
 * - at a frame's first word, if the rx buffering is past its almost-full mark the
 *   whole frame is dropped (rx_queue cannot back-pressure the MAC);
 * - the converter is store-and-forward: the first core beat comes
 *   rxLastMacWordToCoreFirstBeatCycles after the MAC has the last word, then one
 *   beat every rx.cyclesPerBeat cycles (it reads one 64-bit word a cycle);
 * - tuser src = the interface's one-hot bit; frames carry no FCS.
 */
export class Nf10gRx extends ClockedModule {
  override readonly wakeOnHandshakeOnly = true;
  private readonly counters: Float64Array;
  private readonly idx: MacCounterIndex;
  private readonly out: AxisChannel;
  private readonly pool: PacketPool;
  private readonly timing: WireTiming;
  private readonly srcPortOneHot: number;
  /** Frames on the wire, keyed by the cycle of their first word. */
  private readonly wire = new TimedRing<Packet>();
  /** Accepted frames waiting for the core, keyed by the cycle their first beat is ready. */
  private readonly rxq = new TimedRing<Packet>();
  private readonly lastWordCycles = new TimedRing<Packet>();
  private wireFreeUnits = 0;
  /** 64-bit words held between the MAC and the core (rx_queue plus converter FIFO). */
  private bufferedWords = 0;
  private readonly dropThresholdWords: number;
  private current: Packet | null = null;
  private beat = 0;
  private beatReadyCycle = 0;
  private firstBeatCycle = 0;

  constructor(name: string, output: AxisChannel, pool: PacketPool, timing: WireTiming, srcPortOneHot: number, counters: Float64Array, idx: MacCounterIndex) {
    super(name);
    this.counters = counters;
    this.deferred = new DeferredCounts(counters);
    this.idx = idx;
    this.out = this.output(output);
    this.pool = pool;
    this.timing = timing;
    this.srcPortOneHot = srcPortOneHot;
    // assumed composite: the almost-full offset of the rx_queue FIFO plus the converter's input FIFO.
    this.dropThresholdWords = rxSpec.macFifoAlmostFullOffsetWords.value + rxSpec.converterInputFifoDepthWords.value;
  }

  /**
   * Attaches the port frames come from (NicShell.attach); its `quietUntil` promise, read
   * now, lets the input arbiter look past this receiver while it is idle. Without a port
   * nothing is promised: one may be attached later (after configuration runs, say).
   */
  attachPort(port: Port): void {
    const q = quietUntilOf(port);
    this.out.idleFrom = this.sim === null ? q : this.sim.idleFromWithPromise(q);
  }

  /** A frame from the link, whose sender started it no earlier than `cycle`. */
  receiveFrame(frame: Uint8Array, cycle: number): void {
    // Trains have worked out every cycle before now: a frame handed for a past cycle
    // (no port here does that) is taken as arriving now. Per cycle it is processed late.
    if (this.trains && cycle < this.sim!.now) cycle = this.sim!.now;
    const len = frame.length;
    const timing = this.timing;
    const arrival = Math.max(timing.unitsAt(cycle), this.wireFreeUnits);
    const wireLen = len < MIN_FRAME_NO_FCS ? MIN_FRAME_NO_FCS : len;
    this.wireFreeUnits = arrival + timing.frameUnits(wireLen);
    if (len < ETHERNET_HEADER_BYTES) {
      this.counters[this.idx.dropRunt]!++;
      return;
    }
    if (len > MAX_FRAME_NO_FCS) {
      this.counters[this.idx.dropOversize]!++;
      return;
    }
    // A sender's MAC pads short frames to the minimum; the receiver sees the padding.
    const p = this.pool.take(wireLen);
    p.data.set(frame, 0);
    if (wireLen > len) p.data.fill(0, len, wireLen);
    p.srcPort = this.srcPortOneHot;
    p.dstPort = 0;
    const firstWordCycle = timing.cycleAt(arrival + timing.firstWordUnits());
    p.ingressCycle = firstWordCycle;
    const lastWordCycle = timing.cycleAt(arrival + timing.lastWordUnits(wireLen));
    // Held until the pump has posted it (a consumer must not take this input for idle).
    this.out.producerHolding = true;
    if (!this.trains) {
      this.wire.push(p, firstWordCycle);
      this.lastWordCycles.push(p, lastWordCycle);
      this.wakeAt(firstWordCycle);
      return;
    }
    // Only a frame that is the first not yet posted could move before what the arbiter was promised.
    const first = this.current === null && this.rxq.length === 0 && this.wire.length === 0;
    if (first && Math.max(lastWordCycle + FIRST_BEAT_AFTER_LAST_WORD, this.out.lastPostedCycle + 1) < Math.max(this.promisedHorizon, this.out.idleHorizonUsed)) {
      frameTooLate(this.name, 'a frame', cycle);
    }
    if (first && !this.pumping) {
      // Nothing before it to wait for: decided now, as the pump would decide it first
      // thing, without passing through the wire and rx_queue rings (nine ring operations:
      // reference NIC 9.95k -> 9.66k instructions a 64-byte frame, tools/bench/instructions.sh).
      if (this.admit(p, firstWordCycle)) {
        this.current = p;
        this.beat = 0;
        this.firstBeatCycle = lastWordCycle + FIRST_BEAT_AFTER_LAST_WORD;
      }
    } else {
      this.wire.push(p, firstWordCycle);
      this.lastWordCycles.push(p, lastWordCycle);
    }
    this.runPump();
  }

  evaluate(cycle: number): void {
    if (this.trains) {
      this.runPump();
      return;
    }
    const out = this.out;
    // Drop decisions at each frame's first word.
    while (this.wire.length > 0 && this.wire.peekTime() <= cycle) {
      const p = this.wire.shift();
      const lastWord = this.lastWordCycles.peekTime();
      this.lastWordCycles.shift();
      if (this.bufferedWords >= this.dropThresholdWords) {
        this.counters[this.idx.dropFifoFull]!++;
        this.pool.release(p);
        continue;
      }
      this.bufferedWords += macWords(p.length);
      this.counters[this.idx.rxPackets]!++;
      this.counters[this.idx.rxBytes]! += p.length;
      this.rxq.push(p, lastWord + FIRST_BEAT_AFTER_LAST_WORD);
    }
    if (out.valid && out.ready) {
      const p = this.current!;
      const words = macWordsOfBeat(p.length, this.beat);
      this.bufferedWords -= words;
      if (++this.beat === p.beats) {
        this.current = null;
      } else {
        this.beatReadyCycle = Math.max(this.beatAvailable(p, this.beat), cycle + 1);
      }
    }
    if (this.current === null && this.rxq.length > 0) {
      this.firstBeatCycle = this.rxq.peekTime();
      this.current = this.rxq.shift();
      this.beat = 0;
      this.beatReadyCycle = this.firstBeatCycle;
    }
    if (this.current !== null && this.beatReadyCycle <= cycle + 1) out.drive(this.current, this.beat);
    else out.release();
  }

  /** Cycle at which beat k of a frame whose first beat is ready at firstBeatCycle is packed. */
  private beatAvailable(p: Packet, k: number): number {
    const per = RX_CYCLES_PER_BEAT;
    if (k < p.beats - 1) return this.firstBeatCycle + per * k;
    const wordsInLast = macWords(p.length - beatBytes * k);
    return this.firstBeatCycle + per * (k - 1) + wordsInLast;
  }

  commit(cycle: number): number {
    let next = this.wire.peekTime();
    if (this.trains) return next <= cycle ? cycle + 1 : next;
    if (this.current !== null) {
      // Not offering the beat yet (what evaluate drove for the next cycle): wake to offer it.
      if (!this.out.nextValid) next = Math.min(next, this.beatReadyCycle - 1);
    } else if (this.rxq.length > 0) {
      next = Math.min(next, this.rxq.peekTime() - 1);
    }
    return next <= cycle ? cycle + 1 : next;
  }

  override traceSignals(): TraceSignal[] {
    return [{ name: 'buffered_words', width: 16, read: () => this.bufferedWords }];
  }

  // --- Trains: a frame is decided (kept or dropped) as soon as every beat before it
  // has a known handshake cycle (so the buffered words at its first word are known),
  // at the latest at its first word, and its beats are posted as the input arbiter
  // says when each moves. Counters still change at the first word's cycle.

  /** Beats posted, keyed by the cycle they move, with the 64-bit words each frees. */
  private readonly movedWords = new TimedRing<number>();
  private readonly deferred: DeferredCounts;
  /** Latest horizon given to the input arbiter: no frame may be offered before it any more. */
  private promisedHorizon = Number.NEGATIVE_INFINITY;
  private shortestLastWordUnits = 0;

  override canRunTrains(): boolean {
    return true;
  }

  override startTrains(): void {
    this.shortestLastWordUnits = this.timing.lastWordUnits(MIN_FRAME_NO_FCS);
    // A frame handed over at cycle c >= now has its first beat no earlier than this after c.
    this.out.idleLookaheadCycles = this.timing.cycleAt(this.shortestLastWordUnits) + FIRST_BEAT_AFTER_LAST_WORD;
    this.sim!.declareOutsideInput(this.out);
  }

  override trainAcceptable(): void {
    this.runPump();
  }

  override settleTrains(cycle: number): number {
    return this.deferred.settle(cycle);
  }

  override trainHorizon(): number {
    const out = this.out;
    let h: number;
    if (this.current !== null) {
      h = this.beat === 0 ? this.firstBeatCycle : this.beatAvailable(this.current, this.beat);
    } else if (this.rxq.length > 0) {
      h = this.rxq.peekTime();
    } else if (this.wire.length > 0) {
      h = this.lastWordCycles.peekTime() + FIRST_BEAT_AFTER_LAST_WORD;
    } else {
      // A frame handed over from now on (or from the port's promise) starts on the wire no earlier than this.
      const t = this.timing;
      const from = Math.max(this.sim!.now, this.out.idleFrom);
      if (from === Number.POSITIVE_INFINITY) return from;
      const arrival = Math.max(t.unitsAt(from), this.wireFreeUnits);
      h = t.cycleAt(arrival + this.shortestLastWordUnits) + FIRST_BEAT_AFTER_LAST_WORD;
    }
    if (h <= out.lastPostedCycle) h = out.lastPostedCycle + 1;
    if (h > this.promisedHorizon) this.promisedHorizon = h;
    return h;
  }

  /**
   * Decides frame `p` at its first word (every beat before it posted): dropped if the rx
   * buffering is past its mark then, else counted and its words buffered. True if kept.
   */
  private admit(p: Packet, firstWord: number): boolean {
    while (this.movedWords.length > 0 && this.movedWords.peekTime() < firstWord) this.bufferedWords -= this.movedWords.shift();
    if (this.bufferedWords >= this.dropThresholdWords) {
      this.deferred.add(firstWord, this.idx.dropFifoFull);
      this.pool.release(p);
      return false;
    }
    this.bufferedWords += macWords(p.length);
    this.deferred.add(firstWord, this.idx.rxPackets, this.idx.rxBytes, p.length);
    return true;
  }

  protected override pump(): void {
    const settled = this.sim!.settledCycle();
    const out = this.out;
    // Frames are decided and posted in turn: once every beat before a frame is posted,
    // the buffered words at its first word are known, and it is decided even ahead of it.
    for (;;) {
      while (this.wire.length > 0) {
        const firstWord = this.wire.peekTime();
        // Beats not yet posted move after `settled`: they cannot count before a first word already reached.
        if (firstWord > settled && (this.current !== null || this.rxq.length > 0)) break;
        const p = this.wire.shift();
        const lastWord = this.lastWordCycles.peekTime();
        this.lastWordCycles.shift();
        if (this.admit(p, firstWord)) this.rxq.push(p, lastWord + FIRST_BEAT_AFTER_LAST_WORD);
      }
      for (;;) {
        if (this.current === null) {
          if (this.rxq.length === 0) break;
          this.firstBeatCycle = this.rxq.peekTime();
          this.current = this.rxq.shift();
          this.beat = 0;
        }
        const p = this.current;
        const h = out.answered(out.consumer!.trainAccept(out, out.posted, out.offerFrom(this.beat === 0 ? this.firstBeatCycle : this.beatAvailable(p, this.beat)), out.afterLast));
        if (h < 0) break;
        out.post(p, this.beat, h);
        this.movedWords.push(macWordsOfBeat(p.length, this.beat), h);
        if (++this.beat === p.beats) this.current = null;
      }
      if (this.current !== null || this.rxq.length > 0 || this.wire.length === 0) break;
    }
    out.producerHolding = this.current !== null || this.rxq.length > 0 || this.wire.length > 0;
    if (out.takePostsUnseen()) out.consumer!.trainPosted(out);
    this.deferred.settleSome(settled);
    if (this.wire.length > 0) this.wakeAt(this.wire.peekTime());
  }
}

/**
 * Transmit half of nf_10g_interface (256->64 converter, tx_queue, MAC), per
 * hw/netfpga-spec README "10G interface, transmit": the converter FIFO accepts
 * beats while it has room, hands one beat every tx.cyclesPerBeat cycles to the
 * store-and-forward tx_queue, and a frame goes on the wire once it is whole
 * there and the wire is free. The port is handed the frame at the cycle of its
 * first bit (the convention of every port here: a port's cycle is when the frame
 * starts on the wire, and the receiver adds the serialization); tx_queue frees
 * its words when the last bit has left. Short frames are padded by the MAC.
 */
export class Nf10gTx extends ClockedModule {
  override readonly wakeOnHandshakeOnly = true;
  private readonly counters: Float64Array;
  private readonly idx: MacCounterIndex;
  private readonly in: AxisChannel;
  private readonly pool: PacketPool;
  private readonly timing: WireTiming;
  private readonly converter: BeatFifo;
  private readonly txQueueCapacityWords: number;
  private txQueueWords = 0;
  private nextDrainCycle = 0;
  /** Frames whole in tx_queue, keyed by the cycle they may start on the wire. */
  private readonly ready = new TimedRing<Packet>();
  /** Frames waiting for the wire, keyed by the cycle their first bit goes out. */
  private readonly starting = new TimedRing<Packet>();
  /** Frames on the wire, keyed by the cycle their last bit leaves. */
  private readonly sending = new TimedRing<Packet>();
  private wireFreeUnits = 0;
  port: Port | null = null;
  private readonly padBuffer = new Uint8Array(MIN_FRAME_NO_FCS);

  constructor(name: string, input: AxisChannel, pool: PacketPool, timing: WireTiming, counters: Float64Array, idx: MacCounterIndex) {
    super(name);
    this.idx = idx;
    this.in = this.input(input);
    this.pool = pool;
    this.timing = timing;
    this.counters = counters;
    this.converter = new BeatFifo(`${name}.converter`, txSpec.converterInputFifoDepthBeats.value);
    this.txQueueCapacityWords = txSpec.macFifoWords.value - txSpec.macFifoAlmostFullOffsetWords.value;
  }

  override reset(): void {
    this.in.ready = this.in.nextReady = true;
  }

  evaluate(cycle: number): void {
    const inCh = this.in;
    if (this.trains) {
      // Beats that moved since the last evaluation (no drain happened in between).
      while (inCh.postCount > 0 && inCh.peekCycle() <= cycle) {
        this.converter.push(inCh.peekPacket(), inCh.peekBeat());
        inCh.shiftPost();
      }
    } else if (inCh.valid && inCh.ready) {
      this.converter.push(inCh.packet!, inCh.beat);
    }
    // Converter: one 256-bit beat every cyclesPerBeat cycles into tx_queue.
    if (!this.converter.isEmpty() && cycle >= this.nextDrainCycle) {
      const p = this.converter.headPacket()!;
      const k = this.converter.headBeat();
      const words = macWordsOfBeat(p.length, k);
      if (this.txQueueWords + words <= this.txQueueCapacityWords) {
        this.converter.pop();
        if (this.trains) this.drainCycles[this.drained++ % this.drainCycles.length] = cycle;
        this.txQueueWords += words;
        this.nextDrainCycle = cycle + TX_CYCLES_PER_BEAT;
        if (k === p.beats - 1) {
          this.ready.push(p, cycle + TX_LAST_BEAT_TO_MAC_CYCLES);
        }
      }
    }
    // MAC: schedule whole frames on the wire in order.
    while (this.ready.length > 0 && this.ready.peekTime() <= cycle) {
      const p = this.ready.shift();
      const start = Math.max(this.timing.unitsAt(cycle + 1), this.wireFreeUnits);
      const wireLen = p.length < MIN_FRAME_NO_FCS ? MIN_FRAME_NO_FCS : p.length;
      this.wireFreeUnits = start + this.timing.frameUnits(wireLen);
      this.starting.push(p, this.timing.cycleAt(start));
      this.sending.push(p, this.timing.cycleAt(start + this.timing.lastWordUnits(wireLen)));
    }
    // Hand each frame to the port one evaluation ahead, stamped with its first-bit cycle.
    while (this.starting.length > 0 && this.starting.peekTime() <= cycle + 1) {
      const startCycle = this.starting.peekTime();
      const p = this.starting.shift();
      this.counters[this.idx.txPackets]!++;
      this.counters[this.idx.txBytes]! += p.length;
      if (this.port !== null) this.port.transmit(this.frameOf(p), startCycle);
    }
    while (this.sending.length > 0 && this.sending.peekTime() <= cycle) {
      const p = this.sending.shift();
      this.txQueueWords -= macWords(p.length);
      this.pool.release(p);
    }
    if (!this.trains) inCh.setReady(this.converter.levelBeats < this.converter.depthBeats);
    else if (inCh.takeProducerWaiting()) inCh.producer!.trainAcceptable(inCh);
  }

  private frameOf(p: Packet): Uint8Array {
    if (p.length >= MIN_FRAME_NO_FCS) return p.frame();
    this.padBuffer.fill(0);
    this.padBuffer.set(p.data.subarray(0, p.length), 0);
    return this.padBuffer;
  }

  commit(cycle: number): number {
    let next = Math.min(this.ready.peekTime(), this.sending.peekTime(), this.starting.peekTime() - 1);
    if (!this.converter.isEmpty()) next = Math.min(next, Math.max(this.nextDrainCycle, cycle + 1));
    else if (this.trains && this.in.postCount > 0) next = Math.min(next, Math.max(this.nextDrainCycle, this.in.peekCycle()));
    return next <= cycle ? cycle + 1 : next;
  }

  // --- Trains: beats posted by the output queues enter the converter at the cycle
  // they moved (applied at the next evaluation; the converter only changes otherwise
  // when it drains, which happens in evaluations), and tready at any cycle follows
  // from the drain cycles: beat k moves once k - drains < depth.

  /** Cycles of the last `depth` drains (drain j at drainCycles[j % depth]). */
  private readonly drainCycles = new Float64Array(txSpec.converterInputFifoDepthBeats.value);
  private drained = 0;

  override canRunTrains(): boolean {
    return true;
  }

  override trainPosted(): void {
    if (this.converter.isEmpty()) this.wakeAt(Math.max(this.nextDrainCycle, this.in.peekCycle()));
  }

  override trainAccept(_ch: AxisChannel, index: number, offerCycle: number): number {
    const depth = this.converter.depthBeats;
    if (index < depth) return offerCycle;
    const j = index - depth;
    if (j >= this.drained) return -1;
    const from = this.drainCycles[j % depth]! + 1;
    return offerCycle > from ? offerCycle : from;
  }

  override traceSignals(): TraceSignal[] {
    return [
      { name: 'converter_level', width: 8, read: () => this.converter.levelBeats },
      { name: 'tx_queue_words', width: 16, read: () => this.txQueueWords },
    ];
  }
}
