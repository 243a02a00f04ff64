import { describe, expect, it } from 'vitest';
import {
  buildArpFrame,
  buildEthernetFrame,
  buildIcmpEchoFrame,
  buildIpv4Frame,
  buildTcpFrame,
  buildUdpFrame,
} from '../../../src/pipeline/wire/build.ts';
import { WireError } from '../../../src/pipeline/wire/error.ts';
import { HeaderParser, PacketKind, packetKindName, PACKET_KIND_COUNT } from '../../../src/pipeline/wire/parse.ts';
import { TcpFlags } from '../../../src/pipeline/wire/tcp.ts';

const MACS = { srcMac: '02:00:00:00:00:01', dstMac: '02:00:00:00:00:02' };
const IPS = { ...MACS, srcIp: '10.0.0.1', dstIp: '192.168.1.200' };
const udp = (extra: object = {}) => buildUdpFrame({ ...IPS, srcPort: 40000, dstPort: 53, payloadLength: 20, ...extra });

/** Parses and returns the parser for field assertions. */
function parsed(frame: Uint8Array, length = frame.length, parser = new HeaderParser()): HeaderParser {
  parser.parse(frame, length);
  return parser;
}

describe('HeaderParser: well-formed frames', () => {
  it('UDP over IPv4: addresses, ports, offsets, lengths', () => {
    const p = parsed(udp({ ttl: 17 }));
    expect(p.kind).toBe(PacketKind.Ipv4Udp);
    expect(p.error).toBe(WireError.Ok);
    expect(p.vlanId).toBe(-1);
    expect(p.etherType).toBe(0x0800);
    expect(p.l3Offset).toBe(14);
    expect(p.l4Offset).toBe(34);
    expect(p.payloadOffset).toBe(42);
    expect(p.l4Length).toBe(28);
    expect(p.ipHeaderLength).toBe(20);
    expect(p.ipTotalLength).toBe(48);
    expect(p.ipProto).toBe(17);
    expect(p.ttl).toBe(17);
    expect(p.srcIp).toBe(0x0a000001);
    expect(p.dstIp).toBe(0xc0a801c8);
    expect(p.srcPort).toBe(40000);
    expect(p.dstPort).toBe(53);
    expect(p.frameLength).toBe(62);
  });

  it('returns the kind from parse()', () => {
    expect(new HeaderParser().parse(udp())).toBe(PacketKind.Ipv4Udp);
  });

  it('802.1Q: one tag gives vlanId and PCP, L3 at offset 18', () => {
    const p = parsed(udp({ vlanId: 100, vlanPcp: 6 }));
    expect(p.kind).toBe(PacketKind.Ipv4Udp);
    expect(p.vlanId).toBe(100);
    expect(p.vlanPcp).toBe(6);
    expect(p.l3Offset).toBe(18);
    expect(p.l4Offset).toBe(38);
    expect(p.dstPort).toBe(53);
  });

  it('TCP: ports, flags and payload offset behind options', () => {
    const frame = buildTcpFrame({
      ...IPS, srcPort: 5000, dstPort: 80, flags: TcpFlags.Syn | TcpFlags.Ns,
      tcpOptions: Uint8Array.of(2, 4, 5, 0xb4), payloadLength: 3,
    });
    const p = parsed(frame);
    expect(p.kind).toBe(PacketKind.Ipv4Tcp);
    expect([p.srcPort, p.dstPort, p.tcpFlags]).toEqual([5000, 80, 0x102]);
    expect(p.payloadOffset).toBe(34 + 24);
    expect(p.l4Length).toBe(27);
  });

  it('ICMP echo: type, code, identifier, sequence', () => {
    const p = parsed(buildIcmpEchoFrame({ ...IPS, type: 'reply', identifier: 0xabcd, sequence: 513, payloadLength: 8 }));
    expect(p.kind).toBe(PacketKind.Ipv4Icmp);
    expect([p.icmpType, p.icmpCode, p.icmpId, p.icmpSeq]).toEqual([0, 0, 0xabcd, 513]);
    expect(p.payloadOffset).toBe(42);
  });

  it('ARP: operation and both protocol addresses', () => {
    const p = parsed(buildArpFrame({ op: 'request', senderMac: MACS.srcMac, senderIp: '10.0.0.1', targetIp: '10.0.0.254' }));
    expect(p.kind).toBe(PacketKind.Arp);
    expect(p.arpOp).toBe(1);
    expect(p.arpSenderIp).toBe(0x0a000001);
    expect(p.arpTargetIp).toBe(0x0a0000fe);
    expect(p.l3Offset).toBe(14);
  });

  it('IPv4 options: IHL 6 moves L4 to offset 38', () => {
    const p = parsed(udp({ ipOptions: Uint8Array.of(0x94, 4, 0, 0) }));
    expect(p.kind).toBe(PacketKind.Ipv4Udp);
    expect(p.ipHeaderLength).toBe(24);
    expect(p.l4Offset).toBe(38);
    expect(p.dstPort).toBe(53);
  });

  it('other IPv4 protocols are Ipv4Other with no error (GRE, 47)', () => {
    const p = parsed(buildIpv4Frame({ ...IPS, protocol: 47, payloadLength: 4 }));
    expect(p.kind).toBe(PacketKind.Ipv4Other);
    expect(p.error).toBe(WireError.Ok);
    expect(p.ipProto).toBe(47);
    expect(p.l4Offset).toBe(34);
  });

  it('IPv6 is recognised (next header read) and not parsed further', () => {
    const ipv6 = new Uint8Array(40);
    ipv6[0] = 0x60;
    ipv6[6] = 58;
    const p = parsed(buildEthernetFrame({ ...MACS, etherType: 0x86dd, payload: ipv6 }));
    expect(p.kind).toBe(PacketKind.Ipv6);
    expect(p.ipProto).toBe(58);
    expect(p.l4Offset).toBe(-1);
  });

  it('other EtherTypes (LLDP 0x88cc) are OtherEthertype with no error', () => {
    const p = parsed(buildEthernetFrame({ ...MACS, etherType: 0x88cc, payload: new Uint8Array(10) }));
    expect(p.kind).toBe(PacketKind.OtherEthertype);
    expect(p.error).toBe(WireError.Ok);
    expect(p.etherType).toBe(0x88cc);
  });

  it('jumbo frame of 9018 bytes parses with its full length', () => {
    const frame = udp({ payloadLength: 9018 - 42 });
    expect(frame.length).toBe(9018);
    const p = parsed(frame);
    expect(p.kind).toBe(PacketKind.Ipv4Udp);
    expect(p.l4Length).toBe(9018 - 34);
    expect(p.frameLength).toBe(9018);
  });

  it('Ethernet padding is not payload: l4Length comes from IP total length', () => {
    const frame = udp({ payloadLength: 0 });
    expect(frame.length).toBe(60);
    expect(parsed(frame).l4Length).toBe(8);
  });

  it('first fragment (MF set, offset 0) keeps its L4 header even though UDP length exceeds it', () => {
    const frame = buildIpv4Frame({ ...IPS, protocol: 17, moreFragments: true, payload: Uint8Array.of(0, 7, 0, 9, 0x05, 0xdc, 0, 0) });
    const p = parsed(frame);
    expect(p.kind).toBe(PacketKind.Ipv4Udp);
    expect(p.moreFragments).toBe(true);
    expect([p.srcPort, p.dstPort]).toEqual([7, 9]);
  });

  it('resets every field between frames', () => {
    const parser = new HeaderParser();
    parsed(udp({ vlanId: 5 }), undefined, parser);
    parsed(buildArpFrame({ op: 'reply', senderMac: MACS.srcMac, senderIp: 1, targetMac: MACS.dstMac, targetIp: 2 }), undefined, parser);
    expect(parser.kind).toBe(PacketKind.Arp);
    expect([parser.vlanId, parser.srcPort, parser.dstPort, parser.srcIp, parser.l4Offset]).toEqual([-1, 0, 0, 0, -1]);
    parsed(new Uint8Array(5), undefined, parser);
    expect([parser.arpOp, parser.etherType, parser.l3Offset]).toEqual([0, -1, -1]);
  });
});

describe('HeaderParser: every drop reason', () => {
  it('Truncated: under 14 bytes, a tag cut short, an IPv4 header under 20 bytes', () => {
    expect([parsed(new Uint8Array(13)).kind, parsed(new Uint8Array(13)).error]).toEqual([PacketKind.Malformed, WireError.Truncated]);
    const tagged = udp({ vlanId: 1 });
    expect(parsed(tagged, 16).error).toBe(WireError.Truncated);
    expect(parsed(udp(), 14 + 19).error).toBe(WireError.Truncated);
  });

  it('Truncated: IHL 15 (60 bytes) with fewer bytes present', () => {
    const frame = udp({ payloadLength: 0 }).subarray(0, 14 + 40);
    frame[14] = 0x4f;
    const p = parsed(frame);
    expect([p.kind, p.error]).toEqual([PacketKind.Malformed, WireError.Truncated]);
  });

  it('a length beyond the buffer is clamped to the buffer, never read past it', () => {
    const frame = udp();
    expect(parsed(frame, 100_000).frameLength).toBe(frame.length);
    expect(parsed(frame, 100_000).kind).toBe(PacketKind.Ipv4Udp);
    expect(parsed(frame, -5).error).toBe(WireError.Truncated);
  });

  it('BadVersion: EtherType IPv4 with version 6 inside', () => {
    const frame = udp();
    frame[14] = 0x65;
    expect(parsed(frame).error).toBe(WireError.BadVersion);
    expect(parsed(frame).kind).toBe(PacketKind.Malformed);
  });

  it('BadIhl: IHL below 5', () => {
    const frame = udp();
    frame[14] = 0x43;
    expect(parsed(frame).error).toBe(WireError.BadIhl);
  });

  it('BadTotalLength: larger than the frame, or smaller than the header', () => {
    const frame = udp();
    frame[16] = 0x10; // 4096 + 48
    expect(parsed(frame).error).toBe(WireError.BadTotalLength);
    frame[16] = 0;
    frame[17] = 19;
    expect(parsed(frame).error).toBe(WireError.BadTotalLength);
  });

  it('Fragment: a non-first fragment is Ipv4Other and has no ports', () => {
    const p = parsed(buildIpv4Frame({ ...IPS, protocol: 17, fragmentOffset: 185, payloadLength: 30 }));
    expect(p.kind).toBe(PacketKind.Ipv4Other);
    expect(p.error).toBe(WireError.Fragment);
    expect(p.fragmentOffset).toBe(185);
    expect([p.srcPort, p.dstPort, p.payloadOffset]).toEqual([0, 0, -1]);
    expect(p.srcIp).toBe(0x0a000001);
  });

  it('BadChecksum: only with verifyIpv4Checksum; otherwise the frame is classified', () => {
    const frame = udp();
    frame[24] ^= 0xff;
    expect(parsed(frame).kind).toBe(PacketKind.Ipv4Udp);
    const checking = new HeaderParser({ verifyIpv4Checksum: true });
    expect(parsed(frame, frame.length, checking).error).toBe(WireError.BadChecksum);
    expect(parsed(udp(), undefined, checking).kind).toBe(PacketKind.Ipv4Udp);
  });

  it('BadUdpLength: under 8, or beyond the IP payload of an unfragmented datagram', () => {
    const frame = udp();
    frame[38] = 0;
    frame[39] = 4;
    expect(parsed(frame).error).toBe(WireError.BadUdpLength);
    frame[39] = 29;
    expect(parsed(frame).error).toBe(WireError.BadUdpLength);
    frame[39] = 28;
    expect(parsed(frame).kind).toBe(PacketKind.Ipv4Udp);
  });

  it('Truncated L4: UDP under 8, TCP under 20, ICMP under 8 bytes of IP payload', () => {
    for (const protocol of [17, 6, 1]) {
      const p = parsed(buildIpv4Frame({ ...IPS, protocol, payloadLength: protocol === 6 ? 19 : 7 }));
      expect([p.kind, p.error]).toEqual([PacketKind.Malformed, WireError.Truncated]);
    }
  });

  it('BadTcpOffset: data offset below 5 or past the segment', () => {
    const frame = buildTcpFrame({ ...IPS, srcPort: 1, dstPort: 2 });
    frame[34 + 12] = 0x40;
    expect(parsed(frame).error).toBe(WireError.BadTcpOffset);
    frame[34 + 12] = 0x60;
    expect(parsed(frame).error).toBe(WireError.BadTcpOffset);
  });

  it('BadArp: ARP for another protocol type; Truncated when cut short', () => {
    const frame = buildArpFrame({ op: 'request', senderMac: MACS.srcMac, senderIp: 1, targetIp: 2 });
    expect(parsed(frame, 14 + 27).error).toBe(WireError.Truncated);
    frame[16] = 0x86;
    frame[17] = 0xdd;
    expect([parsed(frame).kind, parsed(frame).error]).toEqual([PacketKind.Malformed, WireError.BadArp]);
  });

  it('StackedVlan: QinQ (0x88a8 outer, or two 0x8100 tags) is OtherEthertype', () => {
    const sTag = buildEthernetFrame({ ...MACS, etherType: 0x88a8, payload: Uint8Array.of(0, 10, 0x81, 0, 0, 20, 8, 0) });
    expect([parsed(sTag).kind, parsed(sTag).error, parsed(sTag).vlanId]).toEqual([PacketKind.OtherEthertype, WireError.StackedVlan, -1]);
    const doubleTag = buildEthernetFrame({ ...MACS, vlanId: 10, etherType: 0x8100, payload: Uint8Array.of(0, 20, 8, 0) });
    const p = parsed(doubleTag);
    expect([p.kind, p.error, p.vlanId, p.etherType]).toEqual([PacketKind.OtherEthertype, WireError.StackedVlan, 10, 0x8100]);
  });

  it('IPv6 shorter than its 40-byte header is Truncated', () => {
    const frame = buildEthernetFrame({ ...MACS, etherType: 0x86dd, payload: new Uint8Array(39) });
    expect(parsed(frame, 14 + 39).error).toBe(WireError.Truncated);
  });
});

describe('PacketKind', () => {
  it('names every kind with consecutive codes', () => {
    expect(Object.values(PacketKind)).toEqual([...Array(PACKET_KIND_COUNT).keys()]);
    for (const [name, code] of Object.entries(PacketKind)) expect(packetKindName(code)).toBe(name);
  });
});
