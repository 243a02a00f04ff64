/** UDP datagrams (RFC 768). */
import { udpChecksum, verifyUdpChecksum } from './checksum.ts';
import { WireError, type ParseOutcome, type WireErrorCode } from './error.ts';
import { ByteView } from './view.ts';

export const UDP_HEADER_LEN = 8;

export class UdpView extends ByteView {
  /**
   * `length` is the IP payload length. Truncated under 8 bytes; BadUdpLength when the
   * length field is under 8 or larger than the IP payload (RFC 768).
   */
  check(length: number): WireErrorCode {
    if (length < UDP_HEADER_LEN) return WireError.Truncated;
    const udpLength = this.length;
    if (udpLength < UDP_HEADER_LEN || udpLength > length) return WireError.BadUdpLength;
    return WireError.Ok;
  }

  get srcPort(): number {
    return this.u16(0);
  }
  set srcPort(value: number) {
    this.setU16(0, value);
  }
  get dstPort(): number {
    return this.u16(2);
  }
  set dstPort(value: number) {
    this.setU16(2, value);
  }
  /** Header plus data, in bytes. */
  get length(): number {
    return this.u16(4);
  }
  set length(value: number) {
    this.setU16(4, value);
  }
  /** 0 means the sender computed no checksum (RFC 768). */
  get checksum(): number {
    return this.u16(6);
  }
  set checksum(value: number) {
    this.setU16(6, value);
  }
  get payloadOffset(): number {
    return this.offset + UDP_HEADER_LEN;
  }
  get payloadLength(): number {
    return this.length - UDP_HEADER_LEN;
  }

  /** Computes the checksum over the pseudo-header and `length` bytes and stores it (never 0). */
  fillChecksum(srcAddr: number, dstAddr: number): void {
    this.checksum = udpChecksum(this.buf, this.offset, this.length, srcAddr, dstAddr);
  }
  /** True when the checksum verifies or is 0 (none). */
  verifyChecksum(srcAddr: number, dstAddr: number): boolean {
    return verifyUdpChecksum(this.buf, this.offset, this.length, srcAddr, dstAddr);
  }
}

export interface UdpRepr {
  srcPort: number;
  dstPort: number;
  payload: Uint8Array;
}

/** `length` is the IP payload length; the checksum is verified against the pseudo-header. */
export function parseUdp(
  buf: Uint8Array,
  offset: number,
  length: number,
  srcAddr: number,
  dstAddr: number,
): ParseOutcome<UdpRepr> {
  const view = new UdpView(buf, offset);
  const error = view.check(length);
  if (error !== WireError.Ok) return { ok: false, error };
  if (!view.verifyChecksum(srcAddr, dstAddr)) return { ok: false, error: WireError.BadChecksum };
  return {
    ok: true,
    repr: {
      srcPort: view.srcPort,
      dstPort: view.dstPort,
      payload: buf.slice(offset + UDP_HEADER_LEN, offset + view.length),
    },
  };
}

/** Writes header and payload; with `withChecksum` false the checksum field is 0 (none). Returns the length. */
export function emitUdp(
  repr: UdpRepr,
  buf: Uint8Array,
  offset: number,
  srcAddr: number,
  dstAddr: number,
  withChecksum = true,
): number {
  const view = new UdpView(buf, offset);
  const length = UDP_HEADER_LEN + repr.payload.length;
  view.srcPort = repr.srcPort;
  view.dstPort = repr.dstPort;
  view.length = length;
  view.checksum = 0;
  buf.set(repr.payload, offset + UDP_HEADER_LEN);
  if (withChecksum) view.fillChecksum(srcAddr, dstAddr);
  return length;
}
