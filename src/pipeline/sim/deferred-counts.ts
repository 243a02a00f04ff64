/**
 * Counter increments that a module running trains works out before their cycle
 * (an output-queue decision a few cycles ahead, say). They are applied once the
 * simulation reaches their cycle, so a counter read between runs shows exactly what
 * the per-cycle run shows. The owner settles on every pump and the simulator at the
 * end of every run.
 *
 * One instance serves one counter array (the module's), and an entry counts one event at
 * one index and may add an amount at a second, as the cores count a packet and its bytes
 * in the same cycle: a packet costs one entry per counting point, three numbers (its
 * cycle, both indices packed in one integer, the amount), with no object reference.
 * Entries are kept in cycle order, so a settle takes what is due from the head. They
 * mostly come in order; one that does not (a module that decides some packets further
 * ahead than others) is moved back past the later ones, which are few. Pumps call
 * `settleSome`, which settles only once entries pile up: a settle after every pump cost
 * 3.5% of the reference NIC's instructions a frame (tools/bench/instructions.sh). With
 * five numbers an entry (two indices, two deltas) and a settle through fields, a 64-byte
 * frame through the reference NIC cost 2% more (11.46k against 11.19k instructions).
 */
/** Entries pending before `settleSome` settles (bounds what a long run keeps). */
export const SETTLE_SOME_ENTRIES = 64;

/** Indices below this fit a packed key (the NICs' counter memories hold a few hundred). */
const MAX_COUNTERS = 1 << 15;

export class DeferredCounts {
  readonly target: Float64Array;
  private cycles = new Float64Array(16);
  /** Entry i counts one at target[keys[i] & 0xffff], and adds amounts[i] at target[(keys[i] >>> 16) - 1] when that is >= 0. */
  private keys = new Int32Array(16);
  private amounts = new Float64Array(16);
  /** Queue of entries [head, head + n) in a ring of cycles.length (a power of two), in cycle order: the head is the earliest. */
  private head = 0;
  private n = 0;
  /** cycles.length - 1. */
  private mask = 15;
  /** Cycle of the last entry in the queue (-Infinity when none). */
  private lastCycle = Number.NEGATIVE_INFINITY;

  constructor(target: Float64Array) {
    if (target.length > MAX_COUNTERS) throw new RangeError(`DeferredCounts: ${target.length} counters, at most ${MAX_COUNTERS}`);
    this.target = target;
  }

  /**
   * Counts one at `target[index]`, and adds `amount2` to `target[index2]` unless index2 is
   * -1, once cycle `cycle` has happened.
   */
  add(cycle: number, index: number, index2 = -1, amount2 = 0): void {
    if (this.n > this.mask) this.grow();
    const mask = this.mask;
    let i = (this.head + this.n++) & mask;
    if (cycle < this.lastCycle) {
      // Out of order: move the later entries one place back (stable: after equal cycles).
      for (let k = this.n - 1; k > 0; k--) {
        const prev = (i - 1) & mask;
        if (this.cycles[prev]! <= cycle) break;
        this.cycles[i] = this.cycles[prev]!;
        this.keys[i] = this.keys[prev]!;
        this.amounts[i] = this.amounts[prev]!;
        i = prev;
      }
    } else {
      this.lastCycle = cycle;
    }
    this.cycles[i] = cycle;
    this.keys[i] = index | ((index2 + 1) << 16);
    this.amounts[i] = amount2;
  }

  /** Applies every increment of a cycle <= `cycle`; returns the latest cycle applied (-Infinity if none). */
  settle(cycle: number): number {
    const cycles = this.cycles;
    let head = this.head;
    // Most settles have nothing due.
    if (this.n === 0 || cycles[head]! > cycle) return Number.NEGATIVE_INFINITY;
    const keys = this.keys;
    const amounts = this.amounts;
    const target = this.target;
    const mask = this.mask;
    let n = this.n;
    let last = Number.NEGATIVE_INFINITY;
    while (n > 0) {
      const c = cycles[head]!;
      if (c > cycle) break;
      const key = keys[head]!;
      target[key & 0xffff]!++;
      const index2 = (key >>> 16) - 1;
      if (index2 >= 0) target[index2]! += amounts[head]!;
      last = c;
      head = (head + 1) & mask;
      n--;
    }
    this.head = head;
    this.n = n;
    if (n === 0) this.lastCycle = Number.NEGATIVE_INFINITY;
    return last;
  }

  /**
   * What a module's pump calls: settles only once entries pile up (the simulator settles
   * every module at the end of each run and before register accesses, which is when
   * counters are read), so a pump does not pay a settle for the entry or two it added.
   */
  settleSome(cycle: number): void {
    if (this.n >= SETTLE_SOME_ENTRIES) this.settle(cycle);
  }

  /** Entries not yet applied. */
  get pending(): number {
    return this.n;
  }

  private grow(): void {
    const old = this.cycles.length;
    const m = old * 2;
    const cycles = new Float64Array(m);
    const keys = new Int32Array(m);
    const amounts = new Float64Array(m);
    for (let k = 0; k < this.n; k++) {
      const i = (this.head + k) & (old - 1);
      cycles[k] = this.cycles[i]!;
      keys[k] = this.keys[i]!;
      amounts[k] = this.amounts[i]!;
    }
    this.cycles = cycles;
    this.keys = keys;
    this.amounts = amounts;
    this.mask = m - 1;
    this.head = 0;
  }
}
