/**
 * Ethernet II frames with at most one IEEE 802.1Q tag. Frames here carry no preamble and
 * no FCS (as on a TAP device and on the NetFPGA AXI4-Stream datapath), so the minimum
 * frame is 60 bytes, not 64.
 */
import { copyMac, readMac48 } from './address.ts';
import { WireError, type ParseOutcome, type WireErrorCode } from './error.ts';
import { ByteView } from './view.ts';

/** IEEE 802 EtherType values (IANA registry). */
export const EtherType = {
  Ipv4: 0x0800,
  Arp: 0x0806,
  /** C-tag TPID, IEEE 802.1Q. */
  Vlan: 0x8100,
  Ipv6: 0x86dd,
  /** S-tag TPID, IEEE 802.1ad (QinQ). */
  QinQ: 0x88a8,
} as const;

export const ETHERNET_HEADER_LEN = 14;
export const VLAN_TAG_LEN = 4;
/** 64-byte minimum (IEEE 802.3) less the 4-byte FCS, which frames here do not carry. */
export const ETHERNET_MIN_FRAME_LEN = 60;
/** 1500-byte MTU plus the 14-byte header, no FCS. */
export const ETHERNET_MAX_FRAME_LEN = 1514;
export const VLAN_ID_NONE = -1;

/** Zero-copy view of an Ethernet header; re-point it with `reset` for each frame. */
export class EthernetView extends ByteView {
  /** Validates that `length` bytes from `offset` hold the header (and the tag, if tagged). */
  check(length: number): WireErrorCode {
    if (length < ETHERNET_HEADER_LEN) return WireError.Truncated;
    if (this.vlanTagged && length < ETHERNET_HEADER_LEN + VLAN_TAG_LEN) return WireError.Truncated;
    return WireError.Ok;
  }

  get dstMacOffset(): number {
    return this.offset;
  }
  get srcMacOffset(): number {
    return this.offset + 6;
  }
  get dstMac48(): number {
    return readMac48(this.buf, this.offset);
  }
  get srcMac48(): number {
    return readMac48(this.buf, this.offset + 6);
  }
  setDstMac(mac: Uint8Array, macOffset = 0): void {
    copyMac(mac, macOffset, this.buf, this.offset);
  }
  setSrcMac(mac: Uint8Array, macOffset = 0): void {
    copyMac(mac, macOffset, this.buf, this.offset + 6);
  }
  /** Group bit of the destination: broadcast or multicast (IEEE 802). */
  get dstIsMulticast(): boolean {
    return (this.buf[this.offset]! & 1) === 1;
  }

  /** The EtherType/TPID right after the MACs (0x8100 when tagged). */
  get etherType(): number {
    const b = this.buf;
    const o = this.offset + 12;
    return (b[o]! << 8) | b[o + 1]!;
  }
  set etherType(value: number) {
    this.buf[this.offset + 12] = value >>> 8;
    this.buf[this.offset + 13] = value;
  }

  get vlanTagged(): boolean {
    return this.etherType === EtherType.Vlan;
  }
  /** Tag control information (PCP 3 bits, DEI 1 bit, VID 12 bits); only meaningful when tagged. */
  get vlanTci(): number {
    const b = this.buf;
    const o = this.offset + 14;
    return (b[o]! << 8) | b[o + 1]!;
  }
  set vlanTci(value: number) {
    this.buf[this.offset + 14] = value >>> 8;
    this.buf[this.offset + 15] = value;
  }
  get vlanId(): number {
    return this.vlanTci & 0x0fff;
  }
  set vlanId(value: number) {
    this.vlanTci = (this.vlanTci & 0xf000) | (value & 0x0fff);
  }
  get vlanPcp(): number {
    return this.buf[this.offset + 14]! >>> 5;
  }
  get vlanDei(): boolean {
    return (this.buf[this.offset + 14]! & 0x10) !== 0;
  }

  /** Header length in bytes: 14, or 18 with a tag. */
  get headerLength(): number {
    return this.vlanTagged ? ETHERNET_HEADER_LEN + VLAN_TAG_LEN : ETHERNET_HEADER_LEN;
  }
  /** The EtherType of the payload: the one after the tag when tagged. */
  get payloadEtherType(): number {
    const b = this.buf;
    const o = this.offset + (this.vlanTagged ? 16 : 12);
    return (b[o]! << 8) | b[o + 1]!;
  }
  set payloadEtherType(value: number) {
    const o = this.offset + (this.vlanTagged ? 16 : 12);
    this.buf[o] = value >>> 8;
    this.buf[o + 1] = value;
  }
  get payloadOffset(): number {
    return this.offset + this.headerLength;
  }
}

export interface VlanTag {
  id: number;
  pcp: number;
  dei: boolean;
}

export interface EthernetRepr {
  dstMac: Uint8Array;
  srcMac: Uint8Array;
  /** EtherType of the payload (after the tag, if any). */
  etherType: number;
  /** The one 802.1Q tag, or null. A second tag is left in the payload (etherType 0x8100). */
  vlan: VlanTag | null;
}

export function parseEthernet(buf: Uint8Array, offset = 0, length = buf.length - offset): ParseOutcome<EthernetRepr> {
  const view = new EthernetView(buf, offset);
  const error = view.check(length);
  if (error !== WireError.Ok) return { ok: false, error };
  return {
    ok: true,
    repr: {
      dstMac: buf.slice(offset, offset + 6),
      srcMac: buf.slice(offset + 6, offset + 12),
      etherType: view.payloadEtherType,
      vlan: view.vlanTagged ? { id: view.vlanId, pcp: view.vlanPcp, dei: view.vlanDei } : null,
    },
  };
}

export function ethernetHeaderLength(repr: EthernetRepr): number {
  return repr.vlan === null ? ETHERNET_HEADER_LEN : ETHERNET_HEADER_LEN + VLAN_TAG_LEN;
}

/** Writes the header at `offset`; returns its length (where the payload starts). */
export function emitEthernet(repr: EthernetRepr, buf: Uint8Array, offset = 0): number {
  const view = new EthernetView(buf, offset);
  view.setDstMac(repr.dstMac);
  view.setSrcMac(repr.srcMac);
  if (repr.vlan !== null) {
    view.etherType = EtherType.Vlan;
    view.vlanTci = ((repr.vlan.pcp & 7) << 13) | (repr.vlan.dei ? 0x1000 : 0) | (repr.vlan.id & 0x0fff);
  }
  view.payloadEtherType = repr.etherType;
  return view.headerLength;
}
