/**
 * A min-heap of timed events for the software models (hosts, generator), ordered by
 * (key, insertion order) so equal keys come out first in, first out. Events are plain
 * numbers plus one object reference in parallel arrays; the heap grows by doubling and
 * otherwise allocates nothing per push or pop. After `pop`, the popped event's fields
 * are in `time`, `kind`, `a`, `b`, `c` and `ref`.
 */
export class EventQueue<R extends object> {
  private keys: Float64Array;
  private seqs: Float64Array;
  private times: Float64Array;
  private kinds: Int32Array;
  private as: Int32Array;
  private bs: Int32Array;
  private cs: Int32Array;
  private refs: (R | null)[];
  private nextSeq = 0;
  length = 0;

  time = 0;
  kind = 0;
  a = 0;
  b = 0;
  c = 0;
  ref: R | null = null;

  constructor(capacity = 64) {
    this.keys = new Float64Array(capacity);
    this.seqs = new Float64Array(capacity);
    this.times = new Float64Array(capacity);
    this.kinds = new Int32Array(capacity);
    this.as = new Int32Array(capacity);
    this.bs = new Int32Array(capacity);
    this.cs = new Int32Array(capacity);
    this.refs = new Array<R | null>(capacity).fill(null);
  }

  /** The smallest key, or +Infinity when empty. */
  minKey(): number {
    return this.length === 0 ? Number.POSITIVE_INFINITY : this.keys[0]!;
  }

  push(key: number, time: number, kind: number, a: number, b: number, c: number, ref: R | null): void {
    if (this.length === this.keys.length) this.grow();
    let i = this.length++;
    const seq = this.nextSeq++;
    // Sift up: move parents down until the slot fits.
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(key, seq, parent)) break;
      this.move(parent, i);
      i = parent;
    }
    this.set(i, key, seq, time, kind, a, b, c, ref);
  }

  /** Removes the first event; its fields are then in `time`, `kind`, `a`, `b`, `c`, `ref`. */
  pop(): void {
    this.time = this.times[0]!;
    this.kind = this.kinds[0]!;
    this.a = this.as[0]!;
    this.b = this.bs[0]!;
    this.c = this.cs[0]!;
    this.ref = this.refs[0]!;
    const last = --this.length;
    if (last > 0) {
      const key = this.keys[last]!;
      const seq = this.seqs[last]!;
      const time = this.times[last]!;
      const kind = this.kinds[last]!;
      const a = this.as[last]!;
      const b = this.bs[last]!;
      const c = this.cs[last]!;
      const ref = this.refs[last]!;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= last) break;
        const r = l + 1;
        const child = r < last && this.lessAt(r, l) ? r : l;
        if (!this.lessThan(child, key, seq)) break;
        this.move(child, i);
        i = child;
      }
      this.set(i, key, seq, time, kind, a, b, c, ref);
    }
    this.refs[last] = null;
  }

  /** Empties the queue, handing every event's reference and kind to `onDrop` first. */
  clear(onDrop: (kind: number, ref: R | null) => void): void {
    for (let i = 0; i < this.length; i++) {
      onDrop(this.kinds[i]!, this.refs[i]!);
      this.refs[i] = null;
    }
    this.length = 0;
  }

  /** Is (key, seq) before slot j? */
  private less(key: number, seq: number, j: number): boolean {
    const kj = this.keys[j]!;
    return key < kj || (key === kj && seq < this.seqs[j]!);
  }

  /** Is slot i before slot j? */
  private lessAt(i: number, j: number): boolean {
    return this.less(this.keys[i]!, this.seqs[i]!, j);
  }

  /** Is slot i before (key, seq)? */
  private lessThan(i: number, key: number, seq: number): boolean {
    const ki = this.keys[i]!;
    return ki < key || (ki === key && this.seqs[i]! < seq);
  }

  private move(from: number, to: number): void {
    this.keys[to] = this.keys[from]!;
    this.seqs[to] = this.seqs[from]!;
    this.times[to] = this.times[from]!;
    this.kinds[to] = this.kinds[from]!;
    this.as[to] = this.as[from]!;
    this.bs[to] = this.bs[from]!;
    this.cs[to] = this.cs[from]!;
    this.refs[to] = this.refs[from]!;
  }

  private set(i: number, key: number, seq: number, time: number, kind: number, a: number, b: number, c: number, ref: R | null): void {
    this.keys[i] = key;
    this.seqs[i] = seq;
    this.times[i] = time;
    this.kinds[i] = kind;
    this.as[i] = a;
    this.bs[i] = b;
    this.cs[i] = c;
    this.refs[i] = ref;
  }

  private grow(): void {
    const n = this.keys.length * 2;
    const f64 = (old: Float64Array) => {
      const x = new Float64Array(n);
      x.set(old);
      return x;
    };
    const i32 = (old: Int32Array) => {
      const x = new Int32Array(n);
      x.set(old);
      return x;
    };
    this.keys = f64(this.keys);
    this.seqs = f64(this.seqs);
    this.times = f64(this.times);
    this.kinds = i32(this.kinds);
    this.as = i32(this.as);
    this.bs = i32(this.bs);
    this.cs = i32(this.cs);
    const refs = new Array<R | null>(n).fill(null);
    for (let i = 0; i < this.length; i++) refs[i] = this.refs[i]!;
    this.refs = refs;
  }
}
