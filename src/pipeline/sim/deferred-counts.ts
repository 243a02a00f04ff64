/**
 * Counter increments that a module running trains works out before their cycle
 * (an output-queue decision a few cycles ahead, say). They are applied once the
 * simulation reaches their cycle, so a counter read between runs shows exactly what
 * the per-cycle run shows. Few are pending at a time: the owner settles on every
 * pump and the simulator at the end of every run.
 */
export class DeferredCounts {
  private cycles = new Float64Array(16);
  private targets: (Float64Array | null)[] = new Array<Float64Array | null>(16).fill(null);
  private indices = new Int32Array(16);
  private deltas = new Float64Array(16);
  private n = 0;
  /** Earliest pending cycle (Infinity when none): most settles have nothing to do. */
  private earliest = Number.POSITIVE_INFINITY;

  /** Adds `delta` to `target[index]` once cycle `cycle` has happened. */
  add(cycle: number, target: Float64Array, index: number, delta: number): void {
    if (this.n === this.cycles.length) this.grow();
    const i = this.n++;
    this.cycles[i] = cycle;
    this.targets[i] = target;
    this.indices[i] = index;
    this.deltas[i] = delta;
    if (cycle < this.earliest) this.earliest = cycle;
  }

  /** Applies every increment of a cycle <= `cycle`; returns the latest cycle applied (-Infinity if none). */
  settle(cycle: number): number {
    let last = Number.NEGATIVE_INFINITY;
    if (this.earliest > cycle) return last;
    let kept = 0;
    let earliest = Number.POSITIVE_INFINITY;
    for (let i = 0; i < this.n; i++) {
      const c = this.cycles[i]!;
      if (c <= cycle) {
        this.targets[i]![this.indices[i]!]! += this.deltas[i]!;
        if (c > last) last = c;
        this.targets[i] = null;
      } else {
        if (kept !== i) {
          this.cycles[kept] = c;
          this.targets[kept] = this.targets[i]!;
          this.indices[kept] = this.indices[i]!;
          this.deltas[kept] = this.deltas[i]!;
          this.targets[i] = null;
        }
        if (c < earliest) earliest = c;
        kept++;
      }
    }
    this.n = kept;
    this.earliest = earliest;
    return last;
  }

  get pending(): number {
    return this.n;
  }

  private grow(): void {
    const m = this.cycles.length * 2;
    const cycles = new Float64Array(m);
    cycles.set(this.cycles);
    const indices = new Int32Array(m);
    indices.set(this.indices);
    const deltas = new Float64Array(m);
    deltas.set(this.deltas);
    const targets = new Array<Float64Array | null>(m).fill(null);
    for (let i = 0; i < this.n; i++) targets[i] = this.targets[i]!;
    this.cycles = cycles;
    this.indices = indices;
    this.deltas = deltas;
    this.targets = targets;
  }
}
