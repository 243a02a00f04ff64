/**
 * A bus of registered bits or small integers driven by one module and read by
 * others (in RTL: a register vector wired between cores, like the fail-safe
 * state per service that the heartbeat manager drives and the classifier and
 * fail-safe handler read). Readers see `value` (the registered output); the
 * driver writes `next` during evaluate and calls `commit()` from its own commit,
 * so the order of evaluation does not matter. Readers are not woken by changes:
 * they sample it when they process a packet.
 */
export class RegisteredVector {
  readonly name: string;
  readonly value: Uint8Array;
  readonly next: Uint8Array;
  private dirty = false;

  constructor(name: string, length: number) {
    this.name = name;
    this.value = new Uint8Array(length);
    this.next = new Uint8Array(length);
  }

  set(index: number, v: number): void {
    if (this.next[index] !== v) {
      this.next[index] = v;
      this.dirty = true;
    }
  }

  /** Latches next into value. Returns true if anything changed. */
  commit(): boolean {
    if (!this.dirty) return false;
    this.value.set(this.next);
    this.dirty = false;
    return true;
  }
}
