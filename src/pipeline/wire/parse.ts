/**
 * The no-allocation header parser of the classifier and the fail-safe handler (Fatriot 3.1:
 * Ethernet with an optional 802.1Q tag, IPv4, UDP, TCP, ICMP, ARP). One parser is built per
 * module and reused per frame; `parse` fills plain numeric fields on it and returns the
 * packet kind. It reads bytes directly rather than through the views, so a frame costs a
 * handful of byte loads and no calls that could fail to inline.
 *
 * It never throws and never reads past `length` or the end of `frame`: any input yields a
 * kind, and `error` says why a frame is Malformed (or why an IPv4 packet is Ipv4Other
 * because it is a non-first fragment, or why a frame is OtherEthertype because it is QinQ).
 */
import { EtherType } from './ethernet.ts';
import { WireError, type WireErrorCode } from './error.ts';
import { IpProtocol } from './ipv4.ts';
import { verifyIpv4HeaderChecksum } from './checksum.ts';

export const PacketKind = {
  /** A layer could not be parsed; `error` says why. Fields of later layers keep their reset values. */
  Malformed: 0,
  Ipv4Udp: 1,
  Ipv4Tcp: 2,
  Ipv4Icmp: 3,
  /** Any other IPv4 protocol, or a non-first fragment (error Fragment: no L4 header in it). */
  Ipv4Other: 4,
  /** Ethernet/IPv4 ARP. */
  Arp: 5,
  Ipv6: 6,
  /** Any other EtherType, 802.3 length frames, and QinQ (error StackedVlan). */
  OtherEthertype: 7,
} as const;

export type PacketKindCode = (typeof PacketKind)[keyof typeof PacketKind];

/** Number of kinds: size of a per-kind counter array. */
export const PACKET_KIND_COUNT = 8;

const packetKindNames: readonly string[] = [
  'Malformed',
  'Ipv4Udp',
  'Ipv4Tcp',
  'Ipv4Icmp',
  'Ipv4Other',
  'Arp',
  'Ipv6',
  'OtherEthertype',
];

export function packetKindName(kind: number): string {
  return packetKindNames[kind] ?? `Unknown(${kind})`;
}

export interface HeaderParserOptions {
  /**
   * Drop IPv4 headers whose checksum does not verify (Malformed, BadChecksum). Off by
   * default: a NIC's classifier steers on header fields and leaves checksum validation
   * to the host stack, so a bad checksum still reaches the host and is dropped there.
   */
  verifyIpv4Checksum?: boolean;
}

const ETHERNET_HEADER_LEN = 14;
const VLAN_TAG_LEN = 4;
const IPV4_HEADER_LEN = 20;
const IPV6_HEADER_LEN = 40;
const UDP_HEADER_LEN = 8;
const TCP_HEADER_LEN = 20;
const ICMP_HEADER_LEN = 8;
const ARP_PACKET_LEN = 28;

export class HeaderParser {
  readonly verifyIpv4Checksum: boolean;

  kind: PacketKindCode = PacketKind.Malformed;
  error: WireErrorCode = WireError.Ok;
  /** Bytes parsed: min(length, frame.length). */
  frameLength = 0;
  /** 802.1Q VID, or -1 when untagged. */
  vlanId = -1;
  vlanPcp = 0;
  /** EtherType of the payload (after the tag, if any); -1 when the frame is too short to have one. */
  etherType = -1;
  /** Offsets are from the start of the frame; -1 where the layer is absent. */
  l3Offset = -1;
  l4Offset = -1;
  /** Offset of the UDP/TCP/ICMP payload, -1 where absent. */
  payloadOffset = -1;
  /** IPv4 payload bytes present (total length less header): the L4 segment length. */
  l4Length = 0;
  ipHeaderLength = 0;
  ipTotalLength = 0;
  ipProto = 0;
  ttl = 0;
  srcIp = 0;
  dstIp = 0;
  /** In units of 8 bytes (RFC 791). */
  fragmentOffset = 0;
  moreFragments = false;
  srcPort = 0;
  dstPort = 0;
  tcpFlags = 0;
  icmpType = 0;
  icmpCode = 0;
  icmpId = 0;
  icmpSeq = 0;
  arpOp = 0;
  arpSenderIp = 0;
  arpTargetIp = 0;

  constructor(options: HeaderParserOptions = {}) {
    this.verifyIpv4Checksum = options.verifyIpv4Checksum ?? false;
  }

  /** Parses the first `length` bytes of `frame` (no FCS); returns `this.kind`. */
  parse(frame: Uint8Array, length: number = frame.length): PacketKindCode {
    this.clear();
    // `length` may come from hardware metadata (tuser): never trust it past the buffer.
    const end = length < frame.length ? (length > 0 ? length | 0 : 0) : frame.length;
    this.frameLength = end;
    if (end < ETHERNET_HEADER_LEN) return this.malformed(WireError.Truncated);

    let etherType = (frame[12]! << 8) | frame[13]!;
    let l3Offset = ETHERNET_HEADER_LEN;
    if (etherType === EtherType.Vlan) {
      if (end < ETHERNET_HEADER_LEN + VLAN_TAG_LEN) return this.malformed(WireError.Truncated);
      this.vlanId = ((frame[14]! << 8) | frame[15]!) & 0x0fff;
      this.vlanPcp = frame[14]! >>> 5;
      etherType = (frame[16]! << 8) | frame[17]!;
      l3Offset = ETHERNET_HEADER_LEN + VLAN_TAG_LEN;
    }
    this.etherType = etherType;
    this.l3Offset = l3Offset;

    if (etherType === EtherType.Ipv4) return this.parseIpv4(frame, l3Offset, end);
    if (etherType === EtherType.Arp) return this.parseArp(frame, l3Offset, end);
    if (etherType === EtherType.Ipv6) {
      if (end - l3Offset < IPV6_HEADER_LEN) return this.malformed(WireError.Truncated);
      this.ipProto = frame[l3Offset + 6]!;
      return (this.kind = PacketKind.Ipv6);
    }
    // A second tag (802.1Q in 802.1Q) or an 802.1ad S-tag: one tag is all the classifier reads.
    if (etherType === EtherType.Vlan || etherType === EtherType.QinQ) this.error = WireError.StackedVlan;
    return (this.kind = PacketKind.OtherEthertype);
  }

  private parseIpv4(frame: Uint8Array, l3: number, end: number): PacketKindCode {
    const available = end - l3;
    if (available < IPV4_HEADER_LEN) return this.malformed(WireError.Truncated);
    const versionIhl = frame[l3]!;
    if (versionIhl >>> 4 !== 4) return this.malformed(WireError.BadVersion);
    const headerLength = (versionIhl & 0x0f) << 2;
    if (headerLength < IPV4_HEADER_LEN) return this.malformed(WireError.BadIhl);
    if (headerLength > available) return this.malformed(WireError.Truncated);
    const totalLength = (frame[l3 + 2]! << 8) | frame[l3 + 3]!;
    // Bytes past total length are Ethernet padding, not payload.
    if (totalLength < headerLength || totalLength > available) return this.malformed(WireError.BadTotalLength);
    if (this.verifyIpv4Checksum && !verifyIpv4HeaderChecksum(frame, l3, headerLength)) {
      return this.malformed(WireError.BadChecksum);
    }

    const proto = frame[l3 + 9]!;
    this.ipHeaderLength = headerLength;
    this.ipTotalLength = totalLength;
    this.ipProto = proto;
    this.ttl = frame[l3 + 8]!;
    this.srcIp = ((frame[l3 + 12]! << 24) | (frame[l3 + 13]! << 16) | (frame[l3 + 14]! << 8) | frame[l3 + 15]!) >>> 0;
    this.dstIp = ((frame[l3 + 16]! << 24) | (frame[l3 + 17]! << 16) | (frame[l3 + 18]! << 8) | frame[l3 + 19]!) >>> 0;
    const fragmentOffset = ((frame[l3 + 6]! & 0x1f) << 8) | frame[l3 + 7]!;
    const moreFragments = (frame[l3 + 6]! & 0x20) !== 0;
    this.fragmentOffset = fragmentOffset;
    this.moreFragments = moreFragments;
    const l4 = l3 + headerLength;
    const l4Length = totalLength - headerLength;
    this.l4Offset = l4;
    this.l4Length = l4Length;

    if (fragmentOffset !== 0) {
      this.error = WireError.Fragment;
      return (this.kind = PacketKind.Ipv4Other);
    }

    if (proto === IpProtocol.Udp) {
      if (l4Length < UDP_HEADER_LEN) return this.malformed(WireError.Truncated);
      const udpLength = (frame[l4 + 4]! << 8) | frame[l4 + 5]!;
      // In a first fragment the UDP length covers the whole datagram, so it may exceed this fragment.
      if (udpLength < UDP_HEADER_LEN || (udpLength > l4Length && !moreFragments)) {
        return this.malformed(WireError.BadUdpLength);
      }
      this.srcPort = (frame[l4]! << 8) | frame[l4 + 1]!;
      this.dstPort = (frame[l4 + 2]! << 8) | frame[l4 + 3]!;
      this.payloadOffset = l4 + UDP_HEADER_LEN;
      return (this.kind = PacketKind.Ipv4Udp);
    }
    if (proto === IpProtocol.Tcp) {
      if (l4Length < TCP_HEADER_LEN) return this.malformed(WireError.Truncated);
      const tcpHeaderLength = (frame[l4 + 12]! >>> 4) << 2;
      if (tcpHeaderLength < TCP_HEADER_LEN || tcpHeaderLength > l4Length) return this.malformed(WireError.BadTcpOffset);
      this.srcPort = (frame[l4]! << 8) | frame[l4 + 1]!;
      this.dstPort = (frame[l4 + 2]! << 8) | frame[l4 + 3]!;
      this.tcpFlags = ((frame[l4 + 12]! & 1) << 8) | frame[l4 + 13]!;
      this.payloadOffset = l4 + tcpHeaderLength;
      return (this.kind = PacketKind.Ipv4Tcp);
    }
    if (proto === IpProtocol.Icmp) {
      if (l4Length < ICMP_HEADER_LEN) return this.malformed(WireError.Truncated);
      this.icmpType = frame[l4]!;
      this.icmpCode = frame[l4 + 1]!;
      this.icmpId = (frame[l4 + 4]! << 8) | frame[l4 + 5]!;
      this.icmpSeq = (frame[l4 + 6]! << 8) | frame[l4 + 7]!;
      this.payloadOffset = l4 + ICMP_HEADER_LEN;
      return (this.kind = PacketKind.Ipv4Icmp);
    }
    return (this.kind = PacketKind.Ipv4Other);
  }

  private parseArp(frame: Uint8Array, l3: number, end: number): PacketKindCode {
    const available = end - l3;
    if (available < 8) return this.malformed(WireError.Truncated);
    // RFC 826 for Ethernet/IPv4 only: htype 1, ptype 0x0800, hlen 6, plen 4.
    if (
      frame[l3] !== 0 ||
      frame[l3 + 1] !== 1 ||
      frame[l3 + 2] !== 0x08 ||
      frame[l3 + 3] !== 0x00 ||
      frame[l3 + 4] !== 6 ||
      frame[l3 + 5] !== 4
    ) {
      return this.malformed(WireError.BadArp);
    }
    if (available < ARP_PACKET_LEN) return this.malformed(WireError.Truncated);
    this.arpOp = (frame[l3 + 6]! << 8) | frame[l3 + 7]!;
    this.arpSenderIp = ((frame[l3 + 14]! << 24) | (frame[l3 + 15]! << 16) | (frame[l3 + 16]! << 8) | frame[l3 + 17]!) >>> 0;
    this.arpTargetIp = ((frame[l3 + 24]! << 24) | (frame[l3 + 25]! << 16) | (frame[l3 + 26]! << 8) | frame[l3 + 27]!) >>> 0;
    return (this.kind = PacketKind.Arp);
  }

  private malformed(error: WireErrorCode): PacketKindCode {
    this.error = error;
    return (this.kind = PacketKind.Malformed);
  }

  private clear(): void {
    this.kind = PacketKind.Malformed;
    this.error = WireError.Ok;
    this.frameLength = 0;
    this.vlanId = -1;
    this.vlanPcp = 0;
    this.etherType = -1;
    this.l3Offset = -1;
    this.l4Offset = -1;
    this.payloadOffset = -1;
    this.l4Length = 0;
    this.ipHeaderLength = 0;
    this.ipTotalLength = 0;
    this.ipProto = 0;
    this.ttl = 0;
    this.srcIp = 0;
    this.dstIp = 0;
    this.fragmentOffset = 0;
    this.moreFragments = false;
    this.srcPort = 0;
    this.dstPort = 0;
    this.tcpFlags = 0;
    this.icmpType = 0;
    this.icmpCode = 0;
    this.icmpId = 0;
    this.icmpSeq = 0;
    this.arpOp = 0;
    this.arpSenderIp = 0;
    this.arpTargetIp = 0;
  }
}
