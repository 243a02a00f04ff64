/**
 * Counter increments that a module running trains works out before their cycle
 * (an output-queue decision a few cycles ahead, say). They are applied once the
 * simulation reaches their cycle, so a counter read between runs shows exactly what
 * the per-cycle run shows. The owner settles on every pump and the simulator at the
 * end of every run.
 *
 * One instance serves one counter array (the module's), and an entry carries up to two
 * increments, as the cores count a packet and its bytes in the same cycle: a packet
 * costs one entry per counting point, with no object reference stored per entry.
 * Entries are kept in cycle order, so a settle takes what is due from the head. They
 * mostly come in order; one that does not (a module that decides some packets further
 * ahead than others) is moved back past the later ones, which are few. Pumps call
 * `settleSome`, which settles only once entries pile up: a settle after every pump cost
 * 3.5% of the reference NIC's instructions a frame (tools/bench/instructions.sh).
 */
/** Entries pending before `settleSome` settles (bounds what a long run keeps). */
export const SETTLE_SOME_ENTRIES = 64;

export class DeferredCounts {
  readonly target: Float64Array;
  private cycles = new Float64Array(16);
  /** Entry i adds deltas[2i] to target[indices[2i]], and deltas[2i+1] to target[indices[2i+1]] when that index is >= 0. */
  private indices = new Int32Array(32);
  private deltas = new Float64Array(32);
  /** Queue of entries [head, head + n) in a ring of cycles.length (a power of two). */
  private head = 0;
  private n = 0;
  /** Earliest pending cycle (Infinity when none): most settles have nothing to do. */
  private earliest = Number.POSITIVE_INFINITY;
  /** Cycle of the last entry in the queue (-Infinity when none). */
  private lastCycle = Number.NEGATIVE_INFINITY;

  constructor(target: Float64Array) {
    this.target = target;
  }

  /**
   * Adds `delta` to `target[index]`, and `delta2` to `target[index2]` unless index2 is -1,
   * once cycle `cycle` has happened.
   */
  add(cycle: number, index: number, delta: number, index2 = -1, delta2 = 0): void {
    if (this.n === this.cycles.length) this.grow();
    const mask = this.cycles.length - 1;
    let i = (this.head + this.n++) & mask;
    if (cycle < this.lastCycle) {
      // Out of order: move the later entries one place back (stable: after equal cycles).
      for (let k = this.n - 1; k > 0; k--) {
        const prev = (i - 1) & mask;
        if (this.cycles[prev]! <= cycle) break;
        this.move(prev, i);
        i = prev;
      }
    } else {
      this.lastCycle = cycle;
    }
    this.cycles[i] = cycle;
    const j = 2 * i;
    this.indices[j] = index;
    this.deltas[j] = delta;
    this.indices[j + 1] = index2;
    this.deltas[j + 1] = delta2;
    if (cycle < this.earliest) this.earliest = cycle;
  }

  /** Applies every increment of a cycle <= `cycle`; returns the latest cycle applied (-Infinity if none). */
  settle(cycle: number): number {
    if (this.earliest > cycle) return Number.NEGATIVE_INFINITY;
    const mask = this.cycles.length - 1;
    let last = Number.NEGATIVE_INFINITY;
    while (this.n > 0) {
      const i = this.head;
      const c = this.cycles[i]!;
      if (c > cycle) break;
      this.apply(i);
      last = c;
      this.head = (i + 1) & mask;
      this.n--;
    }
    this.earliest = this.n === 0 ? Number.POSITIVE_INFINITY : this.cycles[this.head]!;
    if (this.n === 0) this.lastCycle = Number.NEGATIVE_INFINITY;
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

  private apply(i: number): void {
    const j = 2 * i;
    const target = this.target;
    target[this.indices[j]!]! += this.deltas[j]!;
    const index2 = this.indices[j + 1]!;
    if (index2 >= 0) target[index2]! += this.deltas[j + 1]!;
  }

  private move(from: number, to: number): void {
    this.cycles[to] = this.cycles[from]!;
    this.indices[2 * to] = this.indices[2 * from]!;
    this.deltas[2 * to] = this.deltas[2 * from]!;
    this.indices[2 * to + 1] = this.indices[2 * from + 1]!;
    this.deltas[2 * to + 1] = this.deltas[2 * from + 1]!;
  }

  private grow(): void {
    const old = this.cycles.length;
    const m = old * 2;
    const cycles = new Float64Array(m);
    const indices = new Int32Array(2 * m);
    const deltas = new Float64Array(2 * m);
    for (let k = 0; k < this.n; k++) {
      const i = (this.head + k) & (old - 1);
      cycles[k] = this.cycles[i]!;
      indices[2 * k] = this.indices[2 * i]!;
      deltas[2 * k] = this.deltas[2 * i]!;
      indices[2 * k + 1] = this.indices[2 * i + 1]!;
      deltas[2 * k + 1] = this.deltas[2 * i + 1]!;
    }
    this.cycles = cycles;
    this.indices = indices;
    this.deltas = deltas;
    this.head = 0;
  }
}
