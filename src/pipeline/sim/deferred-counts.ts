/**
 * Counter increments that a module running trains works out before their cycle
 * (an output-queue decision a few cycles ahead, say). They are applied once the
 * simulation reaches their cycle, so a counter read between runs shows exactly what
 * the per-cycle run shows. The owner settles on every pump and the simulator at the
 * end of every run.
 *
 * Increments mostly come in cycle order: they are kept as a queue, and a settle takes
 * what is due from its head; only while an increment is queued behind a later one
 * does a settle look at every entry.
 */
export class DeferredCounts {
  private cycles = new Float64Array(16);
  private targets: (Float64Array | null)[] = new Array<Float64Array | null>(16).fill(null);
  private indices = new Int32Array(16);
  private deltas = new Float64Array(16);
  /** Queue of entries [head, head + n) in a ring of cycles.length (a power of two). */
  private head = 0;
  private n = 0;
  /** Earliest pending cycle (Infinity when none): most settles have nothing to do. */
  private earliest = Number.POSITIVE_INFINITY;
  /** Cycle of the last entry queued; an entry earlier than it leaves the queue out of order. */
  private lastCycle = Number.NEGATIVE_INFINITY;
  private inOrder = true;

  /** Adds `delta` to `target[index]` once cycle `cycle` has happened. */
  add(cycle: number, target: Float64Array, index: number, delta: number): void {
    if (this.n === this.cycles.length) this.grow();
    const i = (this.head + this.n++) & (this.cycles.length - 1);
    this.cycles[i] = cycle;
    this.targets[i] = target;
    this.indices[i] = index;
    this.deltas[i] = delta;
    if (cycle < this.earliest) this.earliest = cycle;
    if (cycle < this.lastCycle) this.inOrder = false;
    else this.lastCycle = cycle;
  }

  /** Applies every increment of a cycle <= `cycle`; returns the latest cycle applied (-Infinity if none). */
  settle(cycle: number): number {
    if (this.earliest > cycle) return Number.NEGATIVE_INFINITY;
    return this.inOrder ? this.settleHead(cycle) : this.settleAll(cycle);
  }

  get pending(): number {
    return this.n;
  }

  /** In order: the due entries are a prefix. */
  private settleHead(cycle: number): number {
    const mask = this.cycles.length - 1;
    let last = Number.NEGATIVE_INFINITY;
    while (this.n > 0) {
      const i = this.head;
      const c = this.cycles[i]!;
      if (c > cycle) break;
      this.targets[i]![this.indices[i]!]! += this.deltas[i]!;
      this.targets[i] = null;
      last = c;
      this.head = (i + 1) & mask;
      this.n--;
    }
    this.earliest = this.n === 0 ? Number.POSITIVE_INFINITY : this.cycles[this.head]!;
    if (this.n === 0) this.lastCycle = Number.NEGATIVE_INFINITY;
    return last;
  }

  /** Out of order: apply what is due anywhere, keep the rest in their order, and see whether they are in order again. */
  private settleAll(cycle: number): number {
    const mask = this.cycles.length - 1;
    let last = Number.NEGATIVE_INFINITY;
    let kept = 0;
    let earliest = Number.POSITIVE_INFINITY;
    let prev = Number.NEGATIVE_INFINITY;
    let inOrder = true;
    for (let k = 0; k < this.n; k++) {
      const i = (this.head + k) & mask;
      const c = this.cycles[i]!;
      if (c <= cycle) {
        this.targets[i]![this.indices[i]!]! += this.deltas[i]!;
        if (c > last) last = c;
        this.targets[i] = null;
        continue;
      }
      const j = (this.head + kept) & mask;
      if (j !== i) {
        this.cycles[j] = c;
        this.targets[j] = this.targets[i]!;
        this.indices[j] = this.indices[i]!;
        this.deltas[j] = this.deltas[i]!;
        this.targets[i] = null;
      }
      if (c < earliest) earliest = c;
      if (c < prev) inOrder = false;
      else prev = c;
      kept++;
    }
    this.n = kept;
    this.earliest = earliest;
    this.inOrder = inOrder;
    this.lastCycle = kept === 0 ? Number.NEGATIVE_INFINITY : prev;
    return last;
  }

  private grow(): void {
    const old = this.cycles.length;
    const m = old * 2;
    const cycles = new Float64Array(m);
    const indices = new Int32Array(m);
    const deltas = new Float64Array(m);
    const targets = new Array<Float64Array | null>(m).fill(null);
    for (let k = 0; k < this.n; k++) {
      const i = (this.head + k) & (old - 1);
      cycles[k] = this.cycles[i]!;
      indices[k] = this.indices[i]!;
      deltas[k] = this.deltas[i]!;
      targets[k] = this.targets[i]!;
    }
    this.cycles = cycles;
    this.indices = indices;
    this.deltas = deltas;
    this.targets = targets;
    this.head = 0;
  }
}
