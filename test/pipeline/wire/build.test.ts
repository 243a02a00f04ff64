import { describe, expect, it } from 'vitest';
import { parseMac } from '../../../src/pipeline/wire/address.ts';
import { parseArp } from '../../../src/pipeline/wire/arp.ts';
import {
  buildArpFrame,
  buildIcmpEchoFrame,
  buildIpv4Frame,
  buildTcpFrame,
  buildUdpFrame,
} from '../../../src/pipeline/wire/build.ts';
import { verifyIpv4HeaderChecksum, verifyTcpChecksum } from '../../../src/pipeline/wire/checksum.ts';
import { parseEthernet } from '../../../src/pipeline/wire/ethernet.ts';
import { parseIpv4Header } from '../../../src/pipeline/wire/ipv4.ts';
import { parseTcp, TcpFlags } from '../../../src/pipeline/wire/tcp.ts';
import { parseUdp } from '../../../src/pipeline/wire/udp.ts';

const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
const BASE = { srcMac: '02:00:00:00:00:01', dstMac: '02:00:00:00:00:02', srcIp: '10.0.0.1', dstIp: '10.0.0.2' };

describe('frame builders', () => {
  it('buildUdpFrame: exact bytes, checksums computed independently (IP 0x66c7, UDP 0x5649), padded to 60', () => {
    const frame = buildUdpFrame({ ...BASE, srcPort: 12345, dstPort: 53, payload: new TextEncoder().encode('hello!!!') });
    expect(frame).toEqual(
      hex(
        '020000000002 020000000001 0800' +
          '4500 0024 0000 0000 4011 66c7 0a000001 0a000002' +
          '3039 0035 0010 5649 68656c6c6f212121' +
          '00000000000000000000',
      ),
    );
  });

  it('buildUdpFrame: udpChecksum false leaves 0; ttl, ipId, DF and VLAN are honoured', () => {
    const frame = buildUdpFrame({
      ...BASE, srcPort: 1, dstPort: 2, payloadLength: 4, udpChecksum: false, ttl: 3, ipId: 0x4242,
      dontFragment: true, vlanId: 0xabc, vlanPcp: 7,
    });
    expect(frame.subarray(12, 18)).toEqual(hex('8100 eabc 0800'));
    expect(frame.subarray(18 + 4, 18 + 9)).toEqual(hex('4242 4000 03'));
    expect(frame.subarray(38 + 6, 38 + 12)).toEqual(hex('0000 00010203'));
    expect(verifyIpv4HeaderChecksum(frame, 18, 20)).toBe(true);
  });

  it('buildUdpFrame: payloadLength fills the pattern i & 0xff and the datagram verifies', () => {
    const frame = buildUdpFrame({ ...BASE, srcPort: 1, dstPort: 2, payloadLength: 300 });
    expect(frame.length).toBe(14 + 20 + 8 + 300);
    expect(frame[42 + 255]).toBe(255);
    expect(frame[42 + 256]).toBe(0);
    const parsed = parseUdp(frame, 34, 308, 0x0a000001, 0x0a000002);
    expect(parsed.ok && parsed.repr.payload.length).toBe(300);
  });

  it('buildIcmpEchoFrame: echo reply with exact header and checksums (IP 0x66df, ICMP 0x5430)', () => {
    const frame = buildIcmpEchoFrame({ ...BASE, type: 'reply', identifier: 0xabcd, sequence: 2 });
    expect(frame.length).toBe(60);
    expect(frame.subarray(14, 42)).toEqual(hex('4500 001c 0000 0000 4001 66df 0a000001 0a000002 0000 5430 abcd 0002'));
    expect(buildIcmpEchoFrame({ ...BASE, type: 'request', identifier: 0, sequence: 0 })[34]).toBe(8);
  });

  it('buildTcpFrame: defaults to ACK, window 65535; checksum verifies', () => {
    const frame = buildTcpFrame({ ...BASE, srcPort: 443, dstPort: 50000, seqNumber: 0xffffffff, payloadLength: 10 });
    const parsed = parseTcp(frame, 34, 30, 0x0a000001, 0x0a000002);
    expect(parsed).toEqual({
      ok: true,
      repr: {
        srcPort: 443, dstPort: 50000, seqNumber: 0xffffffff, ackNumber: 0, flags: TcpFlags.Ack, windowSize: 65535,
        urgentPointer: 0, options: new Uint8Array(0), payload: Uint8Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
      },
    });
    expect(verifyTcpChecksum(frame, 34, 30, 0x0a000001, 0x0a000002)).toBe(true);
  });

  it('buildArpFrame: a request goes to broadcast with an unknown target MAC', () => {
    const frame = buildArpFrame({ op: 'request', senderMac: BASE.srcMac, senderIp: BASE.srcIp, targetIp: BASE.dstIp });
    expect(frame.length).toBe(60);
    expect(frame.subarray(0, 42)).toEqual(
      hex('ffffffffffff 020000000001 0806 0001 0800 06 04 0001 020000000001 0a000001 000000000000 0a000002'),
    );
  });

  it('buildArpFrame: a reply goes to the target MAC', () => {
    const frame = buildArpFrame({
      op: 'reply', senderMac: BASE.dstMac, senderIp: BASE.dstIp, targetMac: BASE.srcMac, targetIp: BASE.srcIp,
    });
    const eth = parseEthernet(frame);
    expect(eth.ok && eth.repr.dstMac).toEqual(parseMac(BASE.srcMac));
    expect(parseArp(frame, 14)).toEqual({
      ok: true,
      repr: { op: 2, senderMac: parseMac(BASE.dstMac), senderIp: 0x0a000002, targetMac: parseMac(BASE.srcMac), targetIp: 0x0a000001 },
    });
  });

  it('buildIpv4Frame: fragments carry MF and the offset; the header verifies', () => {
    const frame = buildIpv4Frame({ ...BASE, protocol: 17, moreFragments: true, fragmentOffset: 3, payloadLength: 24 });
    const parsed = parseIpv4Header(frame, 14);
    expect(parsed.ok && [parsed.repr.moreFragments, parsed.repr.fragmentOffset, parsed.repr.payloadLength]).toEqual([true, 3, 24]);
  });

  it('accepts numeric addresses and byte MACs as well as text', () => {
    const a = buildUdpFrame({ ...BASE, srcPort: 1, dstPort: 2 });
    const b = buildUdpFrame({
      srcMac: parseMac(BASE.srcMac), dstMac: parseMac(BASE.dstMac), srcIp: 0x0a000001, dstIp: 0x0a000002, srcPort: 1, dstPort: 2,
    });
    expect(b).toEqual(a);
  });
});
