/** TCP segment headers (RFC 793, flags per RFC 3168 and RFC 3540). */
import { tcpChecksum, verifyTcpChecksum } from './checksum.ts';
import { WireError, type ParseOutcome, type WireErrorCode } from './error.ts';
import { ByteView } from './view.ts';

export const TCP_HEADER_LEN = 20;

/** The 9 flag bits, NS in bit 8 (byte 12) and CWR..FIN in byte 13. */
export const TcpFlags = {
  Fin: 0x001,
  Syn: 0x002,
  Rst: 0x004,
  Psh: 0x008,
  Ack: 0x010,
  Urg: 0x020,
  Ece: 0x040,
  Cwr: 0x080,
  Ns: 0x100,
} as const;

export class TcpView extends ByteView {
  /**
   * `length` is the segment length (the IP payload). Truncated under 20 bytes; BadTcpOffset
   * when the data offset is under 5 words or the header would run past the segment.
   */
  check(length: number): WireErrorCode {
    if (length < TCP_HEADER_LEN) return WireError.Truncated;
    const headerLength = this.headerLength;
    if (headerLength < TCP_HEADER_LEN || headerLength > length) return WireError.BadTcpOffset;
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
  get seqNumber(): number {
    return this.u32(4);
  }
  set seqNumber(value: number) {
    this.setU32(4, value);
  }
  get ackNumber(): number {
    return this.u32(8);
  }
  set ackNumber(value: number) {
    this.setU32(8, value);
  }
  /** Header length in 32-bit words. */
  get dataOffset(): number {
    return this.buf[this.offset + 12]! >>> 4;
  }
  set dataOffset(value: number) {
    this.buf[this.offset + 12] = ((value & 0x0f) << 4) | (this.buf[this.offset + 12]! & 0x0f);
  }
  get headerLength(): number {
    return (this.buf[this.offset + 12]! >>> 4) << 2;
  }
  /** Flag bits as in `TcpFlags`. */
  get flags(): number {
    return this.u16(12) & 0x01ff;
  }
  set flags(value: number) {
    this.setU16(12, (this.u16(12) & 0xfe00) | (value & 0x01ff));
  }
  get windowSize(): number {
    return this.u16(14);
  }
  set windowSize(value: number) {
    this.setU16(14, value);
  }
  get checksum(): number {
    return this.u16(16);
  }
  set checksum(value: number) {
    this.setU16(16, value);
  }
  get urgentPointer(): number {
    return this.u16(18);
  }
  set urgentPointer(value: number) {
    this.setU16(18, value);
  }
  get payloadOffset(): number {
    return this.offset + this.headerLength;
  }

  /** TCP has no length field: `tcpLength` is the IP payload length. */
  fillChecksum(srcAddr: number, dstAddr: number, tcpLength: number): void {
    this.checksum = tcpChecksum(this.buf, this.offset, tcpLength, srcAddr, dstAddr);
  }
  verifyChecksum(srcAddr: number, dstAddr: number, tcpLength: number): boolean {
    return verifyTcpChecksum(this.buf, this.offset, tcpLength, srcAddr, dstAddr);
  }
}

export interface TcpRepr {
  srcPort: number;
  dstPort: number;
  seqNumber: number;
  ackNumber: number;
  flags: number;
  windowSize: number;
  urgentPointer: number;
  /** Raw option bytes; emitted zero-padded to 32 bits (at most 40). */
  options: Uint8Array;
  payload: Uint8Array;
}

/** `length` is the segment length (IP payload); the checksum is verified. */
export function parseTcp(
  buf: Uint8Array,
  offset: number,
  length: number,
  srcAddr: number,
  dstAddr: number,
): ParseOutcome<TcpRepr> {
  const view = new TcpView(buf, offset);
  const error = view.check(length);
  if (error !== WireError.Ok) return { ok: false, error };
  if (!view.verifyChecksum(srcAddr, dstAddr, length)) return { ok: false, error: WireError.BadChecksum };
  const headerLength = view.headerLength;
  return {
    ok: true,
    repr: {
      srcPort: view.srcPort,
      dstPort: view.dstPort,
      seqNumber: view.seqNumber,
      ackNumber: view.ackNumber,
      flags: view.flags,
      windowSize: view.windowSize,
      urgentPointer: view.urgentPointer,
      options: buf.slice(offset + TCP_HEADER_LEN, offset + headerLength),
      payload: buf.slice(offset + headerLength, offset + length),
    },
  };
}

export function tcpHeaderLength(repr: TcpRepr): number {
  return TCP_HEADER_LEN + ((repr.options.length + 3) & ~3);
}

/** Writes header, options and payload with a valid checksum; returns the segment length. */
export function emitTcp(repr: TcpRepr, buf: Uint8Array, offset: number, srcAddr: number, dstAddr: number): number {
  const headerLength = tcpHeaderLength(repr);
  if (headerLength > 60) throw new RangeError(`TCP options too long: ${repr.options.length} bytes`);
  const view = new TcpView(buf, offset);
  view.srcPort = repr.srcPort;
  view.dstPort = repr.dstPort;
  view.seqNumber = repr.seqNumber;
  view.ackNumber = repr.ackNumber;
  buf[offset + 12] = (headerLength >>> 2) << 4;
  view.flags = repr.flags;
  view.windowSize = repr.windowSize;
  view.checksum = 0;
  view.urgentPointer = repr.urgentPointer;
  buf.fill(0, offset + TCP_HEADER_LEN, offset + headerLength);
  buf.set(repr.options, offset + TCP_HEADER_LEN);
  buf.set(repr.payload, offset + headerLength);
  const length = headerLength + repr.payload.length;
  view.fillChecksum(srcAddr, dstAddr, length);
  return length;
}
