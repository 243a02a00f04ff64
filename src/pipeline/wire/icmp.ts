/**
 * ICMPv4 messages (RFC 792). Every message starts with type, code, checksum and a 4-byte
 * rest-of-header; for echo request/reply that is identifier and sequence number, which the
 * fail-safe handler translates (Fatriot 3.4: ICMP echo is relayed on its identifier).
 */
import { icmpChecksum, verifyIcmpChecksum } from './checksum.ts';
import { WireError, type ParseOutcome, type WireErrorCode } from './error.ts';
import { ByteView } from './view.ts';

export const IcmpType = {
  EchoReply: 0,
  DestinationUnreachable: 3,
  Redirect: 5,
  EchoRequest: 8,
  TimeExceeded: 11,
} as const;

export const ICMP_HEADER_LEN = 8;

export class IcmpView extends ByteView {
  /** `length` is the IP payload length; Truncated under the 8-byte header. */
  check(length: number): WireErrorCode {
    return length < ICMP_HEADER_LEN ? WireError.Truncated : WireError.Ok;
  }

  get type(): number {
    return this.buf[this.offset]!;
  }
  set type(value: number) {
    this.buf[this.offset] = value;
  }
  get code(): number {
    return this.buf[this.offset + 1]!;
  }
  set code(value: number) {
    this.buf[this.offset + 1] = value;
  }
  get checksum(): number {
    return this.u16(2);
  }
  set checksum(value: number) {
    this.setU16(2, value);
  }
  /** Echo identifier (first half of the rest-of-header). */
  get identifier(): number {
    return this.u16(4);
  }
  set identifier(value: number) {
    this.setU16(4, value);
  }
  /** Echo sequence number (second half of the rest-of-header). */
  get sequence(): number {
    return this.u16(6);
  }
  set sequence(value: number) {
    this.setU16(6, value);
  }
  get isEcho(): boolean {
    const type = this.buf[this.offset]!;
    return type === IcmpType.EchoRequest || type === IcmpType.EchoReply;
  }
  get payloadOffset(): number {
    return this.offset + ICMP_HEADER_LEN;
  }

  /** Checksum over the whole message of `icmpLength` bytes (the IP payload). */
  fillChecksum(icmpLength: number): void {
    this.checksum = icmpChecksum(this.buf, this.offset, icmpLength);
  }
  verifyChecksum(icmpLength: number): boolean {
    return verifyIcmpChecksum(this.buf, this.offset, icmpLength);
  }
}

export interface IcmpRepr {
  type: number;
  code: number;
  /** Echo identifier; for other types the first 16 bits of the rest-of-header. */
  identifier: number;
  /** Echo sequence; for other types the last 16 bits of the rest-of-header. */
  sequence: number;
  payload: Uint8Array;
}

/** `length` is the IP payload length; the checksum is verified. */
export function parseIcmp(buf: Uint8Array, offset = 0, length = buf.length - offset): ParseOutcome<IcmpRepr> {
  const view = new IcmpView(buf, offset);
  const error = view.check(length);
  if (error !== WireError.Ok) return { ok: false, error };
  if (!view.verifyChecksum(length)) return { ok: false, error: WireError.BadChecksum };
  return {
    ok: true,
    repr: {
      type: view.type,
      code: view.code,
      identifier: view.identifier,
      sequence: view.sequence,
      payload: buf.slice(offset + ICMP_HEADER_LEN, offset + length),
    },
  };
}

/** Writes the message with a valid checksum; returns its length. */
export function emitIcmp(repr: IcmpRepr, buf: Uint8Array, offset = 0): number {
  const view = new IcmpView(buf, offset);
  view.type = repr.type;
  view.code = repr.code;
  view.checksum = 0;
  view.identifier = repr.identifier;
  view.sequence = repr.sequence;
  buf.set(repr.payload, offset + ICMP_HEADER_LEN);
  const length = ICMP_HEADER_LEN + repr.payload.length;
  view.fillChecksum(length);
  return length;
}
