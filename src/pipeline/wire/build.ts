/**
 * Frame builders for tests and traffic generators (allocation is fine here). Every frame
 * has valid IPv4 and L4 checksums and is zero-padded to the 60-byte Ethernet minimum
 * (no FCS). Addresses may be given as text or in wire form.
 */
import { MAC_BROADCAST, MAC_ZERO, parseIpv4, parseMac } from './address.ts';
import { ArpOp, emitArp, ARP_PACKET_LEN } from './arp.ts';
import { emitEthernet, EtherType, ETHERNET_MIN_FRAME_LEN, type EthernetRepr } from './ethernet.ts';
import { emitIcmp, IcmpType, ICMP_HEADER_LEN } from './icmp.ts';
import { emitIpv4Header, IpProtocol, ipv4HeaderLength, type Ipv4Repr } from './ipv4.ts';
import { emitTcp, tcpHeaderLength, type TcpRepr } from './tcp.ts';
import { emitUdp, UDP_HEADER_LEN } from './udp.ts';

/** A MAC as six bytes or "aa:bb:cc:dd:ee:ff". */
export type MacLike = Uint8Array | string;
/** An IPv4 address as a host-order uint32 or "10.0.0.1". */
export type Ipv4Like = number | string;

export interface EthernetOptions {
  srcMac: MacLike;
  dstMac: MacLike;
  /** Adds one 802.1Q tag with this VID. */
  vlanId?: number;
  vlanPcp?: number;
}

export interface Ipv4Options extends EthernetOptions {
  srcIp: Ipv4Like;
  dstIp: Ipv4Like;
  /** Default 64. */
  ttl?: number;
  /** IPv4 identification; default 0. */
  ipId?: number;
  dontFragment?: boolean;
  moreFragments?: boolean;
  /** In units of 8 bytes. */
  fragmentOffset?: number;
  dscp?: number;
  ecn?: number;
  /** IPv4 option bytes (padded to 32 bits). */
  ipOptions?: Uint8Array;
}

/** Either explicit payload bytes, or a length filled with the pattern i & 0xff. */
export interface PayloadOptions {
  payload?: Uint8Array;
  payloadLength?: number;
}

export interface UdpFrameOptions extends Ipv4Options, PayloadOptions {
  srcPort: number;
  dstPort: number;
  /** Compute the UDP checksum (default true); false sends 0, "no checksum" (RFC 768). */
  udpChecksum?: boolean;
}

export interface TcpFrameOptions extends Ipv4Options, PayloadOptions {
  srcPort: number;
  dstPort: number;
  seqNumber?: number;
  ackNumber?: number;
  /** `TcpFlags` bits; default ACK. */
  flags?: number;
  windowSize?: number;
  urgentPointer?: number;
  tcpOptions?: Uint8Array;
}

export interface IcmpEchoFrameOptions extends Ipv4Options, PayloadOptions {
  type: 'request' | 'reply';
  identifier: number;
  sequence: number;
}

export interface Ipv4FrameOptions extends Ipv4Options, PayloadOptions {
  protocol: number;
}

export interface ArpFrameOptions {
  op: 'request' | 'reply' | number;
  senderMac: MacLike;
  senderIp: Ipv4Like;
  /** Default 00:00:00:00:00:00 (unknown, as in a request). */
  targetMac?: MacLike;
  targetIp: Ipv4Like;
  /** Ethernet source; default the sender MAC. */
  srcMac?: MacLike;
  /** Ethernet destination; default broadcast for a request, the target MAC otherwise. */
  dstMac?: MacLike;
  vlanId?: number;
  vlanPcp?: number;
}

export interface EthernetFrameOptions extends EthernetOptions {
  etherType: number;
  payload: Uint8Array;
}

export function toMac(mac: MacLike): Uint8Array {
  return typeof mac === 'string' ? parseMac(mac) : mac;
}

export function toIpv4(address: Ipv4Like): number {
  return typeof address === 'string' ? parseIpv4(address) : address >>> 0;
}

function payloadOf(options: PayloadOptions): Uint8Array {
  if (options.payload !== undefined) return options.payload;
  const payload = new Uint8Array(options.payloadLength ?? 0);
  for (let i = 0; i < payload.length; i++) payload[i] = i & 0xff;
  return payload;
}

function ethernetRepr(options: EthernetOptions, etherType: number): EthernetRepr {
  return {
    dstMac: toMac(options.dstMac),
    srcMac: toMac(options.srcMac),
    etherType,
    vlan: options.vlanId === undefined ? null : { id: options.vlanId, pcp: options.vlanPcp ?? 0, dei: false },
  };
}

function ipv4Repr(options: Ipv4Options, protocol: number, payloadLength: number): Ipv4Repr {
  return {
    srcAddr: toIpv4(options.srcIp),
    dstAddr: toIpv4(options.dstIp),
    protocol,
    ttl: options.ttl ?? 64,
    payloadLength,
    ident: options.ipId ?? 0,
    dontFragment: options.dontFragment ?? false,
    moreFragments: options.moreFragments ?? false,
    fragmentOffset: options.fragmentOffset ?? 0,
    dscp: options.dscp ?? 0,
    ecn: options.ecn ?? 0,
    options: options.ipOptions ?? new Uint8Array(0),
  };
}

/** Allocates a zeroed frame of at least 60 bytes for `contentLength` bytes. */
function allocateFrame(contentLength: number): Uint8Array {
  return new Uint8Array(Math.max(ETHERNET_MIN_FRAME_LEN, contentLength));
}

/** An Ethernet frame around arbitrary payload bytes. */
export function buildEthernetFrame(options: EthernetFrameOptions): Uint8Array {
  const eth = ethernetRepr(options, options.etherType);
  const ethLength = eth.vlan === null ? 14 : 18;
  const frame = allocateFrame(ethLength + options.payload.length);
  emitEthernet(eth, frame, 0);
  frame.set(options.payload, ethLength);
  return frame;
}

/**
 * An IPv4 frame carrying `payload` as opaque bytes after the header (for other protocols and
 * fragments). The L4 checksum inside the payload, if any, is the caller's.
 */
export function buildIpv4Frame(options: Ipv4FrameOptions): Uint8Array {
  const payload = payloadOf(options);
  const ip = ipv4Repr(options, options.protocol, payload.length);
  const eth = ethernetRepr(options, EtherType.Ipv4);
  const l3 = eth.vlan === null ? 14 : 18;
  const frame = allocateFrame(l3 + ipv4HeaderLength(ip) + payload.length);
  emitEthernet(eth, frame, 0);
  const l4 = l3 + emitIpv4Header(ip, frame, l3);
  frame.set(payload, l4);
  return frame;
}

export function buildUdpFrame(options: UdpFrameOptions): Uint8Array {
  const payload = payloadOf(options);
  const ip = ipv4Repr(options, IpProtocol.Udp, UDP_HEADER_LEN + payload.length);
  const eth = ethernetRepr(options, EtherType.Ipv4);
  const l3 = eth.vlan === null ? 14 : 18;
  const frame = allocateFrame(l3 + ipv4HeaderLength(ip) + ip.payloadLength);
  emitEthernet(eth, frame, 0);
  const l4 = l3 + emitIpv4Header(ip, frame, l3);
  emitUdp(
    { srcPort: options.srcPort, dstPort: options.dstPort, payload },
    frame,
    l4,
    ip.srcAddr,
    ip.dstAddr,
    options.udpChecksum ?? true,
  );
  return frame;
}

export function buildTcpFrame(options: TcpFrameOptions): Uint8Array {
  const tcp: TcpRepr = {
    srcPort: options.srcPort,
    dstPort: options.dstPort,
    seqNumber: options.seqNumber ?? 0,
    ackNumber: options.ackNumber ?? 0,
    flags: options.flags ?? 0x010,
    windowSize: options.windowSize ?? 65535,
    urgentPointer: options.urgentPointer ?? 0,
    options: options.tcpOptions ?? new Uint8Array(0),
    payload: payloadOf(options),
  };
  const ip = ipv4Repr(options, IpProtocol.Tcp, tcpHeaderLength(tcp) + tcp.payload.length);
  const eth = ethernetRepr(options, EtherType.Ipv4);
  const l3 = eth.vlan === null ? 14 : 18;
  const frame = allocateFrame(l3 + ipv4HeaderLength(ip) + ip.payloadLength);
  emitEthernet(eth, frame, 0);
  const l4 = l3 + emitIpv4Header(ip, frame, l3);
  emitTcp(tcp, frame, l4, ip.srcAddr, ip.dstAddr);
  return frame;
}

export function buildIcmpEchoFrame(options: IcmpEchoFrameOptions): Uint8Array {
  const payload = payloadOf(options);
  const ip = ipv4Repr(options, IpProtocol.Icmp, ICMP_HEADER_LEN + payload.length);
  const eth = ethernetRepr(options, EtherType.Ipv4);
  const l3 = eth.vlan === null ? 14 : 18;
  const frame = allocateFrame(l3 + ipv4HeaderLength(ip) + ip.payloadLength);
  emitEthernet(eth, frame, 0);
  const l4 = l3 + emitIpv4Header(ip, frame, l3);
  emitIcmp(
    {
      type: options.type === 'request' ? IcmpType.EchoRequest : IcmpType.EchoReply,
      code: 0,
      identifier: options.identifier,
      sequence: options.sequence,
      payload,
    },
    frame,
    l4,
  );
  return frame;
}

export function buildArpFrame(options: ArpFrameOptions): Uint8Array {
  const op = options.op === 'request' ? ArpOp.Request : options.op === 'reply' ? ArpOp.Reply : options.op;
  const senderMac = toMac(options.senderMac);
  const targetMac = options.targetMac === undefined ? MAC_ZERO : toMac(options.targetMac);
  const dstMac = options.dstMac ?? (op === ArpOp.Request ? MAC_BROADCAST : targetMac);
  const eth = ethernetRepr(
    { srcMac: options.srcMac ?? senderMac, dstMac, vlanId: options.vlanId, vlanPcp: options.vlanPcp },
    EtherType.Arp,
  );
  const l3 = eth.vlan === null ? 14 : 18;
  const frame = allocateFrame(l3 + ARP_PACKET_LEN);
  emitEthernet(eth, frame, 0);
  emitArp(
    { op, senderMac, senderIp: toIpv4(options.senderIp), targetMac, targetIp: toIpv4(options.targetIp) },
    frame,
    l3,
  );
  return frame;
}
