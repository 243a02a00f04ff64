const EMPTY = new Uint8Array(0);

/**
 * What every zero-copy header view shares (smoltcp style, STYLE.md): a window at
 * `offset` into a frame's bytes, re-pointable with `reset` so a hardware module
 * keeps one view and reuses it per packet, and big-endian field access.
 */
export abstract class ByteView {
  buf: Uint8Array;
  offset: number;

  constructor(buf: Uint8Array = EMPTY, offset = 0) {
    this.buf = buf;
    this.offset = offset;
  }

  reset(buf: Uint8Array, offset: number): this {
    this.buf = buf;
    this.offset = offset;
    return this;
  }

  protected u16(at: number): number {
    const o = this.offset + at;
    return (this.buf[o]! << 8) | this.buf[o + 1]!;
  }

  protected setU16(at: number, value: number): void {
    const o = this.offset + at;
    this.buf[o] = value >>> 8;
    this.buf[o + 1] = value;
  }

  protected u32(at: number): number {
    const b = this.buf;
    const o = this.offset + at;
    return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
  }

  protected setU32(at: number, value: number): void {
    const o = this.offset + at;
    this.buf[o] = value >>> 24;
    this.buf[o + 1] = value >>> 16;
    this.buf[o + 2] = value >>> 8;
    this.buf[o + 3] = value;
  }
}
