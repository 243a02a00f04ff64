/** ARP for IPv4 over Ethernet (RFC 826), the only kind the NIC answers or resolves with. */
import { copyMac, readIpv4, readMac48, writeIpv4 } from './address.ts';
import { EtherType } from './ethernet.ts';
import { WireError, type ParseOutcome, type WireErrorCode } from './error.ts';
import { ByteView } from './view.ts';

export const ArpOp = { Request: 1, Reply: 2 } as const;

/** RFC 826 hardware type for Ethernet. */
export const ARP_HTYPE_ETHERNET = 1;
/** Fixed part: htype, ptype, hlen, plen, oper. */
const ARP_FIXED_LEN = 8;
/** Ethernet/IPv4 packet: 8 fixed bytes, two (MAC, IPv4) pairs. */
export const ARP_PACKET_LEN = 28;

export class ArpView extends ByteView {
  /** Ok only for a complete Ethernet/IPv4 ARP packet; other hardware or protocol types are BadArp. */
  check(length: number): WireErrorCode {
    if (length < ARP_FIXED_LEN) return WireError.Truncated;
    if (
      this.hardwareType !== ARP_HTYPE_ETHERNET ||
      this.protocolType !== EtherType.Ipv4 ||
      this.hardwareLength !== 6 ||
      this.protocolLength !== 4
    ) {
      return WireError.BadArp;
    }
    if (length < ARP_PACKET_LEN) return WireError.Truncated;
    return WireError.Ok;
  }

  get hardwareType(): number {
    return this.u16(0);
  }
  set hardwareType(value: number) {
    this.setU16(0, value);
  }
  get protocolType(): number {
    return this.u16(2);
  }
  set protocolType(value: number) {
    this.setU16(2, value);
  }
  get hardwareLength(): number {
    return this.buf[this.offset + 4]!;
  }
  set hardwareLength(value: number) {
    this.buf[this.offset + 4] = value;
  }
  get protocolLength(): number {
    return this.buf[this.offset + 5]!;
  }
  set protocolLength(value: number) {
    this.buf[this.offset + 5] = value;
  }
  get operation(): number {
    return this.u16(6);
  }
  set operation(value: number) {
    this.setU16(6, value);
  }

  get senderMacOffset(): number {
    return this.offset + 8;
  }
  get senderMac48(): number {
    return readMac48(this.buf, this.offset + 8);
  }
  setSenderMac(mac: Uint8Array, macOffset = 0): void {
    copyMac(mac, macOffset, this.buf, this.offset + 8);
  }
  get senderIp(): number {
    return readIpv4(this.buf, this.offset + 14);
  }
  set senderIp(value: number) {
    writeIpv4(this.buf, this.offset + 14, value);
  }
  get targetMacOffset(): number {
    return this.offset + 18;
  }
  get targetMac48(): number {
    return readMac48(this.buf, this.offset + 18);
  }
  setTargetMac(mac: Uint8Array, macOffset = 0): void {
    copyMac(mac, macOffset, this.buf, this.offset + 18);
  }
  get targetIp(): number {
    return readIpv4(this.buf, this.offset + 24);
  }
  set targetIp(value: number) {
    writeIpv4(this.buf, this.offset + 24, value);
  }
}

export interface ArpRepr {
  op: number;
  senderMac: Uint8Array;
  senderIp: number;
  targetMac: Uint8Array;
  targetIp: number;
}

export function parseArp(buf: Uint8Array, offset = 0, length = buf.length - offset): ParseOutcome<ArpRepr> {
  const view = new ArpView(buf, offset);
  const error = view.check(length);
  if (error !== WireError.Ok) return { ok: false, error };
  return {
    ok: true,
    repr: {
      op: view.operation,
      senderMac: buf.slice(offset + 8, offset + 14),
      senderIp: view.senderIp,
      targetMac: buf.slice(offset + 18, offset + 24),
      targetIp: view.targetIp,
    },
  };
}

/** Writes a 28-byte Ethernet/IPv4 ARP packet; returns its length. */
export function emitArp(repr: ArpRepr, buf: Uint8Array, offset = 0): number {
  const view = new ArpView(buf, offset);
  view.hardwareType = ARP_HTYPE_ETHERNET;
  view.protocolType = EtherType.Ipv4;
  view.hardwareLength = 6;
  view.protocolLength = 4;
  view.operation = repr.op;
  view.setSenderMac(repr.senderMac);
  view.senderIp = repr.senderIp;
  view.setTargetMac(repr.targetMac);
  view.targetIp = repr.targetIp;
  return ARP_PACKET_LEN;
}
