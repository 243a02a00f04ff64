/**
 * A growable FIFO of objects with a parallel Float64Array of times, for event
 * queues inside modules (frames waiting on a wire, deliveries to a host). It grows
 * by doubling and otherwise allocates nothing per push or shift.
 */
export class TimedRing<T> {
  private items: (T | null)[];
  private times: Float64Array;
  private head = 0;
  length = 0;

  constructor(capacity = 64) {
    // A power of two, so indices wrap with a mask instead of an integer division.
    let n = 1;
    while (n < capacity) n *= 2;
    this.items = new Array<T | null>(n).fill(null);
    this.times = new Float64Array(n);
  }

  push(item: T, time: number): void {
    if (this.length === this.items.length) this.grow();
    const i = (this.head + this.length) & (this.items.length - 1);
    this.items[i] = item;
    this.times[i] = time;
    this.length++;
  }

  peek(): T {
    return this.items[this.head]!;
  }

  peekTime(): number {
    return this.length === 0 ? Number.POSITIVE_INFINITY : this.times[this.head]!;
  }

  setPeekTime(time: number): void {
    this.times[this.head] = time;
  }

  shift(): T {
    const item = this.items[this.head]!;
    this.items[this.head] = null;
    this.head = (this.head + 1) & (this.items.length - 1);
    this.length--;
    return item;
  }

  private grow(): void {
    const n = this.items.length;
    const items = new Array<T | null>(n * 2).fill(null);
    const times = new Float64Array(n * 2);
    for (let k = 0; k < this.length; k++) {
      const i = (this.head + k) & (n - 1);
      items[k] = this.items[i]!;
      times[k] = this.times[i]!;
    }
    this.items = items;
    this.times = times;
    this.head = 0;
  }
}
