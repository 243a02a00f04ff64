import { BeatFifo } from '../sim/fifo.ts';
import type { PostFeed } from '../sim/channel.ts';
import type { Packet } from '../sim/packet.ts';

/**
 * NetFPGA-SUME's fallthrough_small_fifo (lib/hw/std/cores/fallthrough_small_fifo_v1_0_0),
 * register for register: a small_fifo of 2^MAX_DEPTH_BITS words whose read port
 * feeds three output registers (fifo_dout, middle_dout, dout). A word written in
 * cycle t appears on `dout` (empty low) in cycle t+3; nearly_full and prog_full
 * look only at the small_fifo's occupancy, so up to three more words sit in the
 * output registers.
 *
 * This is a component inside a clocked module (as the Verilog instantiates it),
 * not a module of its own. Its owner need not run every cycle: `clockAt(t, ...)`
 * first replays the idle edges since the last one (at most four matter: with no
 * read or write the registers settle within three edges), and `nextChangeCycle()`
 * says when `empty` or `nearly_full` will next change by themselves, so the owner
 * sleeps until then. With `store` false it keeps only occupancy (for metadata
 * FIFOs whose words the model already carries on the packet).
 */
export class FallthroughSmallFifo {
  readonly name: string;
  readonly maxDepth: number;
  readonly progFullThreshold: number;
  /** Words in the inner small_fifo (its `depth` register). */
  depth = 0;
  fifoValid = false;
  middleValid = false;
  doutValid = false;
  /** Cycle of the last edge applied; the state shown is that of cycle lastClock + 1. */
  lastClock = -1;
  private readonly beats: BeatFifo | null;
  /** nextChangeCycle's answer, valid until the next edge (a settling FIFO always moves at its next sync). */
  private changeCycle = Number.POSITIVE_INFINITY;
  private changeCycleValid = false;

  constructor(name: string, maxDepthBits: number, progFullThreshold = 2 ** maxDepthBits - 1, store = true) {
    this.name = name;
    this.maxDepth = 2 ** maxDepthBits;
    this.progFullThreshold = progFullThreshold;
    // Storage for every word in the FIFO: inner memory plus the three output registers.
    this.beats = store ? new BeatFifo(name, this.maxDepth + 3) : null;
  }

  /** `empty` output: dout holds no valid word. */
  empty(): boolean {
    return !this.doutValid;
  }

  /** `nearly_full` output: depth >= MAX_DEPTH - 1. */
  nearlyFull(): boolean {
    return this.depth >= this.maxDepth - 1;
  }

  /** `prog_full` output: depth >= PROG_FULL_THRESHOLD. */
  progFull(): boolean {
    return this.depth >= this.progFullThreshold;
  }

  full(): boolean {
    return this.depth >= this.maxDepth;
  }

  /** Packet of the word on dout (valid only when !empty()). */
  doutPacket(): Packet {
    return this.beats!.headPacket()!;
  }

  doutBeat(): number {
    return this.beats!.headBeat();
  }

  /** True while the output registers would change with no read or write. */
  settling(): boolean {
    const f = this.fifoValid;
    const m = this.middleValid;
    const d = this.doutValid;
    const updDout = (m || f) && !d;
    return updDout || (f && m === updDout) || (this.depth > 0 && !(m && d && f));
  }

  /** Brings the state to that of cycle t + 1, applying idle edges for cycles lastClock+1 .. t. */
  sync(t: number): void {
    let k = t - this.lastClock;
    if (k <= 0) return;
    this.lastClock = t;
    if (k > 4) k = 4;
    while (k-- > 0 && this.settling()) this.edge(false, null, 0, false);
  }

  /** Applies the edge at the end of cycle t with the given write and read (idle edges before it first). */
  clockAt(t: number, wrEn: boolean, packet: Packet | null, beat: number, rdEn: boolean): Packet | null {
    this.sync(t - 1);
    this.lastClock = t;
    return this.edge(wrEn, packet, beat, rdEn);
  }

  /**
   * The first cycle after lastClock + 1 in which `empty()`, `nearlyFull()` or
   * `progFull()` differ from now if nothing is read or written; Infinity if never.
   */
  nextChangeCycle(): number {
    if (!this.settling()) return Number.POSITIVE_INFINITY;
    // Owners ask after every evaluation; the answer holds until the next edge.
    if (this.changeCycleValid) return this.changeCycle;
    const e0 = this.doutValid;
    const n0 = this.nearlyFull();
    const p0 = this.progFull();
    const f = this.fifoValid;
    const m = this.middleValid;
    const d = this.doutValid;
    const depth = this.depth;
    let c = this.lastClock + 1;
    let found = Number.POSITIVE_INFINITY;
    for (let i = 0; i < 4 && this.settling(); i++) {
      this.edge(false, null, 0, false, true);
      c++;
      if (this.doutValid !== e0 || this.nearlyFull() !== n0 || this.progFull() !== p0) {
        found = c;
        break;
      }
    }
    this.fifoValid = f;
    this.middleValid = m;
    this.doutValid = d;
    this.depth = depth;
    this.changeCycle = found;
    this.changeCycleValid = true;
    return found;
  }

  /**
   * One rising edge (the owner tracks cycles; prefer clockAt). `wrEn` writes (packet, beat) into the inner FIFO; `rdEn`
   * consumes dout. Returns the packet whose last beat was read, else null.
   */
  clock(wrEn: boolean, packet: Packet | null, beat: number, rdEn: boolean): Packet | null {
    this.lastClock++;
    return this.edge(wrEn, packet, beat, rdEn);
  }

  private edge(wrEn: boolean, packet: Packet | null, beat: number, rdEn: boolean, dryRun = false): Packet | null {
    if (!dryRun) this.changeCycleValid = false;
    const f = this.fifoValid;
    const m = this.middleValid;
    const d = this.doutValid;
    const updDout = (m || f) && (rdEn || !d);
    const updMiddle = f && m === updDout;
    const fifoRdEn = this.depth > 0 && !(m && d && f);
    this.fifoValid = fifoRdEn ? true : updMiddle || updDout ? false : f;
    this.middleValid = updMiddle ? true : updDout ? false : m;
    this.doutValid = updDout ? true : rdEn ? false : d;
    if (wrEn) {
      if (this.depth >= this.maxDepth) throw new Error(`${this.name}: write to a full small_fifo`);
      this.depth++;
    }
    if (fifoRdEn) this.depth--;
    if (dryRun) return null;
    let done: Packet | null = null;
    if (this.beats !== null) {
      if (rdEn) done = this.beats.pop();
      if (wrEn) this.beats.push(packet!, beat);
    }
    return done;
  }

  /** Words held in total (inner memory and output registers). */
  occupancy(): number {
    return this.depth + (this.fifoValid ? 1 : 0) + (this.middleValid ? 1 : 0) + (this.doutValid ? 1 : 0);
  }
}

/**
 * The same fallthrough_small_fifo as a timeline instead of registers, for modules
 * running trains (Simulator option `trains`): each word keeps the cycle it was
 * written (w), left the inner memory for the output registers (e) and was read (r),
 * and everything the RTL shows follows in closed form from the edge equations of
 * FallthroughSmallFifo:
 *
 *   e_k = max(w_k + 1, e_{k-1} + 1, r_{k-3} + 1)   the memory read port moves one word an
 *                                                  edge, only while the three output
 *                                                  registers are not all full
 *   d_k = max(e_k + 2, r_{k-1} + 1)                 first cycle word k is on dout
 *   depth(t) = #{w <= t-1} - #{e <= t-1}            inner occupancy seen in cycle t
 *
 * So words may be written and read at future cycles (a producer that knows when its
 * beats move posts them ahead), and a module asks what the FIFO shows at any cycle
 * without clocking it. test/property/fallthrough-fifo.test.ts checks it against the
 * register model on random traffic.
 */
export class FallthroughFifoTimeline implements PostFeed {
  readonly name: string;
  readonly maxDepth: number;
  readonly progFullThreshold: number;
  /** Words written (absolute count); word k is the k-th write. */
  written = 0;
  /** Words read (absolute count); word `read` is the one on dout next. */
  read = 0;
  /** Words whose e is known (a prefix): e_k waits for r_{k-3}. */
  private exitsKnown = 0;
  /** Oldest word still kept (older ones have left for good). */
  private base = 0;
  /** w of the last word written (writes come in cycle order). */
  private lastWriteCycle = Number.NEGATIVE_INFINITY;
  /** headDoutCycle()'s answer, worked out when the head or its exit becomes known (pumps ask it twice a word). */
  private headDout = Number.POSITIVE_INFINITY;
  /** r of word read - 1 and e of word exitsKnown - 1 (-Infinity before the first): the recurrences' last terms without a ring load. */
  private lastReadCycle = Number.NEGATIVE_INFINITY;
  private lastExitCycle = Number.NEGATIVE_INFINITY;
  private cap = 0;
  /** cap - 1 (cap is a power of two): `k & mask` is k mod cap for any safe integer k. */
  private mask = 0;
  private wCycle = new Float64Array(0);
  private eCycle = new Float64Array(0);
  private rCycle = new Float64Array(0);
  private packets: (Packet | null)[] = [];
  private beatOf = new Int32Array(0);

  constructor(name: string, maxDepthBits: number, progFullThreshold = 2 ** maxDepthBits - 1) {
    this.name = name;
    this.maxDepth = 2 ** maxDepthBits;
    this.progFullThreshold = progFullThreshold;
    let cap = 16;
    while (cap < 2 * (this.maxDepth + 8)) cap *= 2;
    this.grow(cap);
  }

  /** The timeline of `fifo`: its name, depth and prog_full threshold. */
  static of(fifo: FallthroughSmallFifo): FallthroughFifoTimeline {
    return new FallthroughFifoTimeline(fifo.name, Math.log2(fifo.maxDepth), fifo.progFullThreshold);
  }

  /** Records the write of (packet, beat) at the edge of cycle `cycle` (after every earlier write). */
  write(cycle: number, packet: Packet | null, beat: number): void {
    if (cycle <= this.lastWriteCycle) this.fail('writes out of order');
    if (this.written - this.base >= this.cap) this.grow(this.cap * 2);
    this.lastWriteCycle = cycle;
    const i = this.written & this.mask;
    this.wCycle[i] = cycle;
    this.packets[i] = packet;
    this.beatOf[i] = beat;
    this.written++;
    const headExitKnown = this.read < this.exitsKnown;
    this.computeExits();
    if (!headExitKnown) this.findHeadDout();
  }

  /** First cycle the next unread word is on dout; Infinity when none is written or it waits on a read. */
  headDoutCycle(): number {
    return this.headDout;
  }

  /** Works out headDout: d_k = max(e_k + 2, r_{k-1} + 1) for the unread word k. */
  private findHeadDout(): void {
    const k = this.read;
    if (k >= this.exitsKnown) {
      this.headDout = Number.POSITIVE_INFINITY;
      return;
    }
    const e = this.eCycle[k & this.mask]! + 2;
    const r1 = this.lastReadCycle + 1;
    this.headDout = e > r1 ? e : r1;
  }

  headPacket(): Packet {
    return this.packets[this.read & this.mask]!;
  }

  headBeat(): number {
    return this.beatOf[this.read & this.mask]!;
  }

  /** Records that the word on dout is read at the edge of `cycle` (>= headDoutCycle()). Returns its packet. */
  readHead(cycle: number): Packet | null {
    if (!(cycle >= this.headDoutCycle())) this.fail(`read at ${cycle} before the word is on dout (${this.headDoutCycle()})`);
    const i = this.read & this.mask;
    this.rCycle[i] = cycle;
    this.lastReadCycle = cycle;
    const p = this.packets[i]!;
    this.read++;
    this.computeExits();
    this.findHeadDout();
    return p;
  }

  /**
   * The cycle word number `index` (absolute) can be written if offered from `offerCycle`,
   * with tready = !nearly_full as the NetFPGA cores drive it: once word
   * index - (2^MAX_DEPTH_BITS - 1) has left the inner memory. -1 while that is not known
   * (it waits on a read not yet decided).
   */
  writeCycle(index: number, offerCycle: number): number {
    const j = index - (this.maxDepth - 1);
    if (j < 0) return offerCycle;
    const e = this.exitCycle(j);
    if (Number.isNaN(e)) return -1;
    return offerCycle > e + 1 ? offerCycle : e + 1;
  }

  /** Cycle word `k` (absolute) left the inner memory, or NaN while it waits on a read. */
  exitCycle(k: number): number {
    if (k < this.base) return Number.NEGATIVE_INFINITY;
    return k < this.exitsKnown ? this.eCycle[k & this.mask]! : Number.NaN;
  }

  /**
   * Inner occupancy seen in cycle t, given that every read not yet recorded happens
   * after cycle `readsKnownUntil`: -1 when a word written before t might or might not
   * have left the memory yet (it waits on such a read).
   */
  depthAt(t: number, readsKnownUntil = Number.NEGATIVE_INFINITY): number {
    const lastEdge = t - 1;
    const wCount = this.countUpTo(this.wCycle, this.written, lastEdge);
    const eCount = this.countUpTo(this.eCycle, this.exitsKnown, lastEdge);
    const u = this.exitsKnown;
    if (u < this.base + wCount) {
      // e_u >= r_{u-3} + 1, and r_{u-3} is after readsKnownUntil and no earlier than the
      // head's dout cycle plus one a word after it.
      let lower = this.headDoutCycle() + (u - 3 - this.read) + 1;
      if (readsKnownUntil + 2 > lower) lower = readsKnownUntil + 2;
      if (!(lower > lastEdge)) return -1;
    }
    return wCount - eCount;
  }

  /**
   * An upper bound of the inner occupancy seen in cycle t (of depthAt(t) and of what any
   * reads not yet recorded would make it), without depthAt's searches: the words not yet
   * read when every recorded read happened before t (those have left the memory), else
   * every word kept. The output queues decide most packets on it alone (a queue far from
   * its threshold); depthAt's two searches were 4% of the reference NIC's instructions.
   */
  depthBoundAt(t: number): number {
    const k = this.read;
    if (k > this.base && this.rCycle[(k - 1) & this.mask]! <= t - 1) return this.written - k;
    return this.written - this.base;
  }

  /** Forgets words read and gone before `cycle` (they no longer change what any later cycle shows). */
  forgetBefore(cycle: number): void {
    // e_k needs e_{k-1} and r_{k-3}, and the head's dout cycle needs r of the word before it.
    const limit = Math.min(this.read - 1, this.exitsKnown - 3);
    let lo = this.base;
    // In batches: the words kept only cost memory.
    if (lo + 8 > limit) return;
    // Reads come in cycle order: the first word read at or after `cycle` by bisection. Slots
    // left behind keep their packet until overwritten (pooled packets: nothing to free).
    let hi = limit;
    while (lo < hi) {
      const mid = lo + ((hi - lo) >> 1);
      if (this.rCycle[mid & this.mask]! < cycle) lo = mid + 1;
      else hi = mid;
    }
    this.base = lo;
  }

  /** Throws; kept out of write and readHead so that their bodies stay small enough to inline. */
  private fail(what: string): never {
    throw new Error(`${this.name}: ${what}`);
  }

  /** Number of kept words with cycle <= c among the first `n` (cycles increase with the index). */
  private countUpTo(cycles: Float64Array, n: number, c: number): number {
    let lo = this.base;
    let hi = n;
    while (lo < hi) {
      const mid = lo + ((hi - lo) >> 1);
      if (cycles[mid & this.mask]! <= c) lo = mid + 1;
      else hi = mid;
    }
    return lo - this.base;
  }

  private computeExits(): void {
    const mask = this.mask;
    let k = this.exitsKnown;
    // e_{k-1} (-Infinity before the first word).
    let prev = this.lastExitCycle;
    while (k < this.written) {
      let e = this.wCycle[k & mask]! + 1;
      if (prev + 1 > e) e = prev + 1;
      if (k >= 3) {
        if (k - 3 >= this.read) break;
        const r3 = this.rCycle[(k - 3) & mask]! + 1;
        if (r3 > e) e = r3;
      }
      this.eCycle[k & mask] = e;
      prev = e;
      k++;
    }
    this.exitsKnown = k;
    this.lastExitCycle = prev;
  }

  private grow(cap: number): void {
    const w = new Float64Array(cap);
    const e = new Float64Array(cap);
    const r = new Float64Array(cap);
    const b = new Int32Array(cap);
    const p = new Array<Packet | null>(cap).fill(null);
    const newMask = cap - 1;
    for (let k = this.base; k < this.written; k++) {
      const o = k & this.mask;
      const n = k & newMask;
      w[n] = this.wCycle[o]!;
      e[n] = this.eCycle[o]!;
      r[n] = this.rCycle[o]!;
      b[n] = this.beatOf[o]!;
      p[n] = this.packets[o]!;
    }
    this.wCycle = w;
    this.eCycle = e;
    this.rCycle = r;
    this.beatOf = b;
    this.packets = p;
    this.cap = cap;
    this.mask = newMask;
  }
}
