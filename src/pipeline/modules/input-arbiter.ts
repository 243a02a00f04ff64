import type { AxisChannel, PostFeed } from '../sim/channel.ts';
import { ClockedModule, IDLE, type TraceSignal } from '../sim/module.ts';
import { DeferredCounts } from '../sim/deferred-counts.ts';
import type { Packet } from '../sim/packet.ts';
import { FallthroughFifoTimeline, FallthroughSmallFifo } from './fallthrough-small-fifo.ts';

const STATE_IDLE = 0;
const STATE_WR_PKT = 1;
const REG_PKT_IN = 0;
const REG_PKT_OUT = 1;

export interface InputArbiterParams {
  /** MAX_DEPTH_BITS of each input fallthrough_small_fifo. */
  inFifoDepthBits: number;
}

/**
 * NetFPGA-SUME input_arbiter (lib/hw/std/cores/input_arbiter_v1_0_0/hdl/input_arbiter.v):
 * one fallthrough_small_fifo per source, tready = !nearly_full, and a two-state
 * round robin. In IDLE the current queue's head is offered; if the queue is empty
 * the pointer moves on one queue per cycle (the cycles spent on empty inputs);
 * after a packet's last beat the pointer moves to the next queue. m_axis_tvalid is
 * !empty of the current queue in both states.
 */
export class InputArbiter extends ClockedModule {
  override readonly wakeOnHandshakeOnly = true;
  readonly fifos: FallthroughSmallFifo[];
  private readonly ins: AxisChannel[];
  private readonly out: AxisChannel;
  state = STATE_IDLE;
  curQueue = 0;
  /** pktin / pktout registers of input_arbiter_cpu_regs. */
  private readonly regs = new Float64Array(2);
  private lastCycle = -1;
  /** IDLE on an empty queue: the pointer moves one queue a cycle by itself. */
  private walking = true;
  /** FIFOs whose registers still move by themselves (bit i for input i). */
  private settlingMask = 0;
  /** FIFOs with a word on dout. */
  private nonEmptyMask = 0;

  constructor(name: string, inputs: AxisChannel[], output: AxisChannel, params: InputArbiterParams) {
    super(name);
    this.ins = inputs.map((ch, i) => {
      ch.consumerInputIndex = i;
      return this.input(ch);
    });
    this.out = this.output(output);
    this.fifos = inputs.map((_, i) => new FallthroughSmallFifo(`${name}.in${i}`, params.inFifoDepthBits));
  }

  get pktIn(): number {
    return this.regs[REG_PKT_IN]!;
  }

  get pktOut(): number {
    return this.regs[REG_PKT_OUT]!;
  }

  override reset(): void {
    for (const ch of this.ins) ch.ready = ch.nextReady = true;
  }

  evaluate(cycle: number): void {
    if (this.trains) {
      this.runPump();
      return;
    }
    const fifos = this.fifos;
    const out = this.out;
    const n = fifos.length;
    // While asleep, the RTL pointer kept walking one queue a cycle over empty queues
    // (commit wakes the module before it reaches a non-empty one); catch it up, since
    // where it stands decides the next packet's latency.
    if (this.walking && cycle > this.lastCycle + 1) {
      this.curQueue = (this.curQueue + (cycle - this.lastCycle - 1)) % n;
    }
    this.lastCycle = cycle;
    // Only settling FIFOs change by themselves; the others already show cycle - 1.
    for (let m = this.settlingMask; m !== 0; m &= m - 1) {
      const fifo = fifos[31 - Math.clz32(m & -m)]!;
      if (fifo.lastClock < cycle - 1) fifo.sync(cycle - 1);
    }
    const cur = this.curQueue;
    const tready = out.ready;
    const curFifo = fifos[cur]!;
    let rdCur = false;
    let nextState = this.state;
    let nextCur = cur;
    if (this.state === STATE_IDLE) {
      if (!curFifo.empty()) {
        if (tready) {
          nextState = STATE_WR_PKT;
          rdCur = true;
        }
      } else {
        nextCur = cur === n - 1 ? 0 : cur + 1;
      }
    } else if (tready && !curFifo.empty()) {
      rdCur = true;
      if (curFifo.doutBeat() === curFifo.doutPacket().beats - 1) {
        nextState = STATE_IDLE;
        nextCur = cur === n - 1 ? 0 : cur + 1;
      }
    }
    if (rdCur && curFifo.doutBeat() === curFifo.doutPacket().beats - 1) this.regs[REG_PKT_OUT]!++;
    // A FIFO with no write, no read, no offer on its input and settled registers
    // would compute exactly what it holds.
    let touch = this.settlingMask | (rdCur ? 1 << cur : 0);
    const ins = this.ins;
    for (let i = 0; i < n; i++) if (ins[i]!.valid) touch |= 1 << i;
    let settling = 0;
    let nonEmpty = this.nonEmptyMask;
    for (let m = touch; m !== 0; m &= m - 1) {
      const i = 31 - Math.clz32(m & -m);
      const ch = ins[i]!;
      const fifo = fifos[i]!;
      const wr = ch.valid && ch.ready;
      const rd = rdCur && i === cur;
      if (wr || rd) {
        if (wr && ch.beat === ch.packet!.beats - 1) this.regs[REG_PKT_IN]!++;
        fifo.clockAt(cycle, wr, ch.packet, ch.beat, rd);
      } else {
        fifo.sync(cycle);
      }
      ch.setReady(!fifo.nearlyFull());
      if (fifo.settling()) settling |= 1 << i;
      nonEmpty = fifo.empty() ? nonEmpty & ~(1 << i) : nonEmpty | (1 << i);
    }
    this.settlingMask = settling;
    this.nonEmptyMask = nonEmpty;
    this.state = nextState;
    this.curQueue = nextCur;
    const head = fifos[nextCur]!;
    this.walking = nextState === STATE_IDLE && head.empty();
    if (head.empty()) out.release();
    else out.drive(head.doutPacket(), head.doutBeat());
  }

  commit(cycle: number): number {
    const fifos = this.fifos;
    const n = fifos.length;
    let wake = IDLE;
    if (this.trains) return wake;
    for (let m = this.settlingMask; m !== 0; m &= m - 1) {
      const c = fifos[31 - Math.clz32(m & -m)]!.nextChangeCycle() - 1;
      if (c < wake) wake = c;
    }
    if (this.walking) {
      // The pointer reaches queue i (cycle+1 is where it stands now) after (i - cur) mod n cycles.
      for (let m = this.nonEmptyMask; m !== 0; m &= m - 1) {
        const i = 31 - Math.clz32(m & -m);
        const c = cycle + ((i - this.curQueue + n) % n);
        if (c < wake) wake = c;
      }
    }
    return wake;
  }

  // --- Trains: the input FIFOs as timelines (beats written at the cycles they
  // moved) and the round robin worked out from them: the pointer walks one queue a
  // cycle from where it stood, stops at the first queue whose head is on dout when it
  // gets there, and holds there until tready. Queues can fill from beats not yet
  // posted only from their producers' horizon plus the FIFO's three cycles, so the
  // pointer is followed no further than that.

  private timelines: FallthroughFifoTimeline[] = [];
  /** First cycle whose round-robin step is not worked out yet (the pointer stands at curQueue then). */
  private decidedUntil = 0;
  /**
   * pktin counts at writes and pktout at reads: two streams, each in cycle order, kept
   * apart because reads trail writes (by a whole burst of frames when inputs run ahead)
   * and one queue of both would move each pktout entry back past the later pktin ones.
   */
  private readonly deferredIn = new DeferredCounts(this.regs);
  private readonly deferredOut = new DeferredCounts(this.regs);
  private inverseN = 1;
  /** n - 1 when the number of inputs n is a power of two (the reference NIC's eight), else -1. */
  private maskN = -1;
  /** Inputs whose producer waits on tready, timelines read or written since they last forgot. */
  private waitingMask = 0;
  private touchedMask = 0;
  /**
   * Inputs that may still bring a word. An input leaves it for good once its FIFO is empty
   * and the horizon it was given from its producer's `idleLookaheadCycles` is Infinity:
   * that producer takes frames only from ports, which promised none ever, and it throws
   * for a frame that comes anyway (`idleHorizonUsed`). The bench's seven idle inputs,
   * asked at every decision, were 6.5% of a 64-byte frame's instructions.
   */
  private liveMask = 0;

  override canRunTrains(): boolean {
    return true;
  }

  override startTrains(): void {
    this.timelines = this.fifos.map((f) => FallthroughFifoTimeline.of(f));
    this.timelines.forEach((tl, i) => this.ins[i]!.setFeed(new InputQueueFeed(tl, this.deferredIn)));
    this.inverseN = 1 / this.fifos.length;
    this.maskN = (this.fifos.length & (this.fifos.length - 1)) === 0 ? this.fifos.length - 1 : -1;
    this.liveMask = this.fifos.length === 32 ? -1 : (1 << this.fifos.length) - 1;
    // The pointer starts on queue 0 at cycle 0 and walks from there (as the per-cycle model's catch-up does).
    this.decidedUntil = 0;
    this.curQueue = 0;
  }

  override trainPosted(ch: AxisChannel): void {
    this.touchedMask |= 1 << ch.consumerInputIndex;
    this.runPump();
  }

  override trainAcceptable(): void {
    this.runPump();
  }

  override trainAccept(ch: AxisChannel, index: number, offerCycle: number): number {
    const i = ch.consumerInputIndex;
    const h = this.timelines[i]!.writeCycle(index, offerCycle);
    if (h < 0) this.waitingMask |= 1 << i;
    return h;
  }

  override trainHorizon(): number {
    let h = Number.POSITIVE_INFINITY;
    for (let m = this.liveMask; m !== 0; m &= m - 1) {
      const q = 31 - Math.clz32(m & -m);
      if (this.state === STATE_WR_PKT && q !== this.curQueue) continue;
      const tl = this.timelines[q]!;
      let c: number;
      if (tl.read < tl.written) {
        c = tl.headDoutCycle();
      } else {
        c = this.emptyQueueHorizon(this.ins[q]!, this.sim!.now);
      }
      if (c < h) h = c;
    }
    if (h < this.decidedUntil) h = this.decidedUntil;
    if (h <= this.out.lastPostedCycle) h = this.out.lastPostedCycle + 1;
    return h;
  }

  /**
   * First cycle a word could be on dout of the empty queue of input `ch`. An input with an
   * empty FIFO has nothing not yet posted unless its producer says it holds some
   * (`producerHolding`: say a full FIFO stopped it, and the pumps have not let it post
   * again yet). When it holds nothing and says how soon a frame can reach it
   * (`idleLookaheadCycles`, from the present or its ports' promise) that is used, and
   * recorded as promised; otherwise the producer is asked. Plus the FIFO's three cycles.
   */
  private emptyQueueHorizon(ch: AxisChannel, now: number): number {
    const idle = ch.idleLookaheadCycles;
    if (idle !== idle || ch.producerHolding) return ch.producerHorizon() + 3;
    let c = (ch.idleFrom > now ? ch.idleFrom : now) + idle;
    if (c <= ch.lastPostedCycle) c = ch.lastPostedCycle + 1;
    if (c > ch.idleHorizonUsed) ch.idleHorizonUsed = c;
    return c + 3;
  }

  override settleTrains(cycle: number): number {
    const a = this.deferredIn.settle(cycle);
    const b = this.deferredOut.settle(cycle);
    return a > b ? a : b;
  }

  /** Per input: the horizon emptyQueueHorizon gave it in the present decision (inputs in its unknownMask). */
  private unknownCycle = new Float64Array(32);

  /**
   * When to come back to a packet offered at `offer` that an empty input's horizon
   * held up. An empty input's horizon grows a cycle a cycle with the present, from
   * its promise (`idleFrom`) on if it has one; the pointer cannot reach an input
   * before its horizon, so once every input whose horizon is not past the offer has
   * grown to it, every queue the pointer passes before the offer is known empty.
   */
  private blockedUntil(offer: number, unknownMask: number, now: number): number {
    let wake = Number.NEGATIVE_INFINITY;
    for (let m = unknownMask; m !== 0; m &= m - 1) {
      const i = 31 - Math.clz32(m & -m);
      const c = this.unknownCycle[i]!;
      if (c > offer) continue;
      const ch = this.ins[i]!;
      // How far the horizon stands ahead of the cycle it grows from (a producer asked for
      // its horizon is taken to grow with the present: an early wake costs only a step).
      const promised = ch.idleLookaheadCycles === ch.idleLookaheadCycles && !ch.producerHolding && ch.idleFrom > now;
      const from = promised ? ch.idleFrom : now;
      const w = offer - (c - from);
      if (w > wake) wake = w;
    }
    return wake;
  }

  protected override pump(): void {
    const n = this.ins.length;
    const tls = this.timelines;
    const out = this.out;
    let wake = IDLE;
    for (;;) {
      // Beats are in the FIFO timelines as soon as they are posted (InputQueueFeed), also
      // those posted while this pump runs (the lookup answering a handshake question pumps
      // the stages after it, which may let a producer post): each decision sees them.
      let q = this.curQueue;
      let tl = tls[q]!;
      let offer: number;
      if (this.state === STATE_WR_PKT) {
        if (tl.read >= tl.written) break;
        offer = tl.headDoutCycle();
      } else {
        // IDLE: where the walking pointer first finds a head on dout. A queue with a
        // word known shows exactly that; an empty one may fill from beats not yet
        // posted from its producer's horizon plus the FIFO latency, and the round
        // robin is followed only up to the pointer's first visit after that.
        offer = Number.POSITIVE_INFINITY;
        let limit = Number.POSITIVE_INFINITY;
        let unknownMask = 0;
        const from0 = this.decidedUntil;
        const now = this.sim!.now;
        const unknownCycle = this.unknownCycle;
        for (let m = this.liveMask; m !== 0; m &= m - 1) {
          const i = 31 - Math.clz32(m & -m);
          const t = tls[i]!;
          const known = t.read < t.written;
          let c: number;
          if (known) {
            c = t.headDoutCycle();
          } else {
            const ch = this.ins[i]!;
            c = this.emptyQueueHorizon(ch, now);
            // Nothing will ever come on it (no port, or a sink at the far end): no limit.
            if (c === Number.POSITIVE_INFINITY) {
              if (ch.idleHorizonUsed === Number.POSITIVE_INFINITY) this.liveMask &= ~(1 << i);
              continue;
            }
            unknownMask |= 1 << i;
            unknownCycle[i] = c;
          }
          const from = c > from0 ? c : from0;
          // The pointer stands at (curQueue + from - from0) mod n in cycle `from`.
          const d = modulo(i - this.curQueue - (from - from0), n, this.inverseN, this.maskN);
          const at = from + d;
          if (known) {
            if (at < offer) {
              offer = at;
              q = i;
            }
          } else if (at < limit) {
            limit = at;
          }
        }
        if (offer >= limit) {
          // Every queue the pointer passes before `limit` is empty then.
          if (limit > from0) {
            this.curQueue = modulo(this.curQueue + (limit - from0), n, this.inverseN, this.maskN);
            this.decidedUntil = limit;
          }
          if (offer < IDLE) wake = this.blockedUntil(offer, unknownMask, now);
          break;
        }
        this.curQueue = q;
        this.decidedUntil = offer;
        tl = tls[q]!;
      }
      const h = out.answered(out.consumer!.trainAccept(out, out.posted, out.offerFrom(offer > this.decidedUntil ? offer : this.decidedUntil), out.afterLast));
      if (h < 0) break;
      const p = tl.headPacket();
      const beat = tl.headBeat();
      out.post(p, beat, h);
      tl.readHead(h);
      this.touchedMask |= 1 << q;
      const last = beat === p.beats - 1;
      if (last) this.deferredOut.add(h, REG_PKT_OUT);
      // IDLE goes to WR_PKT on any beat it takes (even a last one, as the RTL does).
      if (this.state === STATE_IDLE) {
        this.state = STATE_WR_PKT;
      } else if (last) {
        this.state = STATE_IDLE;
        this.curQueue = q === n - 1 ? 0 : q + 1;
      }
      this.decidedUntil = h + 1;
    }
    if (out.takePostsUnseen()) out.consumer!.trainPosted(out);
    // Producers waiting on tready: reads may have freed room (they ask again, and may wait again).
    const waiting = this.waitingMask;
    this.waitingMask = 0;
    for (let m = waiting; m !== 0; m &= m - 1) {
      const ch = this.ins[31 - Math.clz32(m & -m)]!;
      if (ch.takeProducerWaiting()) ch.producer!.trainAcceptable(ch);
    }
    const settled = this.sim!.settledCycle();
    this.deferredIn.settleSome(settled);
    this.deferredOut.settleSome(settled);
    for (let m = this.touchedMask; m !== 0; m &= m - 1) tls[31 - Math.clz32(m & -m)]!.forgetBefore(settled);
    this.touchedMask = 0;
    if (wake < IDLE) this.wakeAt(wake);
  }

  override traceSignals(): TraceSignal[] {
    return [
      { name: 'state', width: 1, read: () => this.state },
      { name: 'cur_queue', width: 3, read: () => this.curQueue },
      ...this.fifos.map((f, i) => ({ name: `in${i}_level`, width: 8, read: () => f.occupancy() })),
    ];
  }
}

/**
 * An input's queue as its channel's feed: each posted beat is written into the queue's
 * FIFO timeline at the cycle it moves, and pktin counts a packet when its last beat is
 * written (input_arbiter_cpu_regs counts at the input).
 */
class InputQueueFeed implements PostFeed {
  constructor(
    private readonly timeline: FallthroughFifoTimeline,
    private readonly deferredIn: DeferredCounts,
  ) {}

  write(cycle: number, packet: Packet, beat: number): void {
    this.timeline.write(cycle, packet, beat);
    if (beat === packet.beats - 1) this.deferredIn.add(cycle, REG_PKT_IN);
  }
}

/**
 * x mod n in [0, n) for any safe integer x and a small n (the number of inputs). A
 * multiply by 1/n and one correction instead of `%`: an integer division for each
 * input at each decision was the costliest line of the pump when n is not a power of
 * two (the Fatriot arbiter has nine inputs). When it is (`maskN` = n - 1, the reference
 * NIC's eight) and x fits 32 bits (it does unless the pointer walked 2^31 cycles
 * undecided), a mask: -1% of the reference NIC's instructions a 64-byte frame.
 */
function modulo(x: number, n: number, inverseN: number, maskN: number): number {
  if (maskN >= 0 && (x | 0) === x) return x & maskN;
  const r = (x - Math.floor(x * inverseN) * n) | 0;
  return r < 0 ? r + n : r >= n ? r - n : r;
}
