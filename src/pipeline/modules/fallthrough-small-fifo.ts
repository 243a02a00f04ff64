import { BeatFifo } from '../sim/fifo.ts';
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
