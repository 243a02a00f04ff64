/**
 * SPEC 9: any frame goes through the parser without an exception and gets a kind and a
 * reason. And parse(build(x)) gives back x for every builder. Fixed seed.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseArp } from '../../src/pipeline/wire/arp.ts';
import {
  buildArpFrame,
  buildIcmpEchoFrame,
  buildTcpFrame,
  buildUdpFrame,
} from '../../src/pipeline/wire/build.ts';
import { WIRE_ERROR_COUNT, WireError } from '../../src/pipeline/wire/error.ts';
import { parseEthernet } from '../../src/pipeline/wire/ethernet.ts';
import { parseIcmp } from '../../src/pipeline/wire/icmp.ts';
import { parseIpv4Header } from '../../src/pipeline/wire/ipv4.ts';
import { HeaderParser, PacketKind, PACKET_KIND_COUNT } from '../../src/pipeline/wire/parse.ts';
import { parseTcp } from '../../src/pipeline/wire/tcp.ts';
import { parseUdp } from '../../src/pipeline/wire/udp.ts';

const SETTINGS = { seed: 42, numRuns: 3000 };

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const mac = fc.uint8Array({ minLength: 6, maxLength: 6 });
const vlanId = fc.option(fc.integer({ min: 0, max: 4095 }), { nil: undefined });
const payloadLength = fc.oneof(fc.integer({ min: 0, max: 1500 }), fc.integer({ min: 8900, max: 8976 }));
const base = fc.record({ srcMac: mac, dstMac: mac, srcIp: u32, dstIp: u32, vlanId, ttl: fc.integer({ min: 0, max: 255 }), ipId: u16 });

/** Frames that look like real traffic and then get cut short and have bytes overwritten. */
const mutatedFrame = fc
  .record({
    frame: fc.oneof(
      base.chain((b) => fc.record({ srcPort: u16, dstPort: u16 }).map((p) => buildUdpFrame({ ...b, ...p, payloadLength: 20 }))),
      base.map((b) => buildTcpFrame({ ...b, srcPort: 1, dstPort: 2, payloadLength: 5 })),
      base.map((b) => buildIcmpEchoFrame({ ...b, type: 'request', identifier: 1, sequence: 2 })),
      base.map((b) => buildArpFrame({ op: 'request', senderMac: b.srcMac, senderIp: b.srcIp, targetIp: b.dstIp, vlanId: b.vlanId })),
    ),
    cut: fc.nat(),
    edits: fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { maxLength: 6 }),
  })
  .map(({ frame, cut, edits }) => {
    for (const { at, value } of edits) frame[at % frame.length] = value;
    return frame.subarray(0, cut % (frame.length + 1));
  });

const anyFrame = fc.oneof(fc.uint8Array({ maxLength: 200 }), mutatedFrame);

describe('parsers never throw and always name a kind and a reason (property)', () => {
  it('HeaderParser: kind and error in range, offsets inside the frame, Malformed exactly when a layer failed', () => {
    const parser = new HeaderParser({ verifyIpv4Checksum: true });
    fc.assert(
      fc.property(anyFrame, fc.integer({ min: -10, max: 300 }), (frame, length) => {
        const kind = parser.parse(frame, length);
        expect(kind).toBe(parser.kind);
        expect(kind >= 0 && kind < PACKET_KIND_COUNT).toBe(true);
        expect(parser.error >= 0 && parser.error < WIRE_ERROR_COUNT).toBe(true);
        expect(parser.frameLength).toBe(Math.max(0, Math.min(length, frame.length)));
        const failed = parser.error !== WireError.Ok && parser.error !== WireError.Fragment && parser.error !== WireError.StackedVlan;
        expect(kind === PacketKind.Malformed).toBe(failed);
        if (kind === PacketKind.Ipv4Udp || kind === PacketKind.Ipv4Tcp || kind === PacketKind.Ipv4Icmp) {
          expect(parser.payloadOffset).toBeGreaterThan(parser.l4Offset);
          expect(parser.payloadOffset).toBeLessThanOrEqual(parser.frameLength);
          expect(parser.l4Offset + parser.l4Length).toBeLessThanOrEqual(parser.frameLength);
        }
        if (kind === PacketKind.Arp) expect(parser.l3Offset + 28).toBeLessThanOrEqual(parser.frameLength);
      }),
      SETTINGS,
    );
  });

  it('repr parsers return ok or an error code on any bytes', () => {
    const codes = new Set<number>(Object.values(WireError));
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), u32, u32, (bytes, src, dst) => {
        for (const outcome of [
          parseEthernet(bytes),
          parseArp(bytes),
          parseIpv4Header(bytes),
          parseIcmp(bytes),
          parseUdp(bytes, 0, bytes.length, src, dst),
          parseTcp(bytes, 0, bytes.length, src, dst),
        ]) {
          expect(outcome.ok || codes.has(outcome.error)).toBe(true);
        }
      }),
      SETTINGS,
    );
  });
});

describe('parse(build(x)) round-trips (property)', () => {
  const parser = new HeaderParser({ verifyIpv4Checksum: true });

  it('UDP frames: every header field, and the payload, come back', () => {
    fc.assert(
      fc.property(base, u16, u16, payloadLength, fc.boolean(), (b, srcPort, dstPort, length, udpChecksum) => {
        const frame = buildUdpFrame({ ...b, srcPort, dstPort, payloadLength: length, udpChecksum });
        expect(frame.length).toBe(Math.max(60, (b.vlanId === undefined ? 14 : 18) + 28 + length));
        expect(parser.parse(frame)).toBe(PacketKind.Ipv4Udp);
        expect([parser.vlanId, parser.srcIp, parser.dstIp, parser.srcPort, parser.dstPort, parser.ttl, parser.l4Length]).toEqual([
          b.vlanId ?? -1, b.srcIp, b.dstIp, srcPort, dstPort, b.ttl, 8 + length,
        ]);
        const udp = parseUdp(frame, parser.l4Offset, parser.l4Length, b.srcIp, b.dstIp);
        expect(udp.ok && [udp.repr.srcPort, udp.repr.dstPort, udp.repr.payload.length]).toEqual([srcPort, dstPort, length]);
        const ip = parseIpv4Header(frame, parser.l3Offset);
        expect(ip.ok && ip.repr.ident).toBe(b.ipId);
        const eth = parseEthernet(frame);
        expect(eth.ok && [eth.repr.srcMac, eth.repr.dstMac]).toEqual([b.srcMac, b.dstMac]);
      }),
      SETTINGS,
    );
  });

  it('TCP frames: ports, flags, sequence numbers and payload come back', () => {
    fc.assert(
      fc.property(base, u16, u16, u32, u32, fc.integer({ min: 0, max: 0x1ff }), fc.integer({ min: 0, max: 1400 }), (b, sp, dp, seq, ack, flags, length) => {
        const frame = buildTcpFrame({ ...b, srcPort: sp, dstPort: dp, seqNumber: seq, ackNumber: ack, flags, payloadLength: length });
        expect(parser.parse(frame)).toBe(PacketKind.Ipv4Tcp);
        expect([parser.srcPort, parser.dstPort, parser.tcpFlags, parser.l4Length]).toEqual([sp, dp, flags, 20 + length]);
        const tcp = parseTcp(frame, parser.l4Offset, parser.l4Length, b.srcIp, b.dstIp);
        expect(tcp.ok && [tcp.repr.seqNumber, tcp.repr.ackNumber, tcp.repr.payload.length]).toEqual([seq, ack, length]);
      }),
      SETTINGS,
    );
  });

  it('ICMP echo frames: type, identifier, sequence come back and the checksum verifies', () => {
    fc.assert(
      fc.property(base, fc.constantFrom('request' as const, 'reply' as const), u16, u16, fc.uint8Array({ maxLength: 64 }), (b, type, id, seq, payload) => {
        const frame = buildIcmpEchoFrame({ ...b, type, identifier: id, sequence: seq, payload });
        expect(parser.parse(frame)).toBe(PacketKind.Ipv4Icmp);
        expect([parser.icmpType, parser.icmpId, parser.icmpSeq]).toEqual([type === 'request' ? 8 : 0, id, seq]);
        const icmp = parseIcmp(frame, parser.l4Offset, parser.l4Length);
        expect(icmp.ok && icmp.repr.payload).toEqual(payload);
      }),
      SETTINGS,
    );
  });

  it('ARP frames: operation and addresses come back', () => {
    fc.assert(
      fc.property(base, fc.constantFrom(1, 2), mac, (b, op, targetMac) => {
        const frame = buildArpFrame({ op, senderMac: b.srcMac, senderIp: b.srcIp, targetMac, targetIp: b.dstIp, vlanId: b.vlanId });
        expect(parser.parse(frame)).toBe(PacketKind.Arp);
        expect([parser.vlanId, parser.arpOp, parser.arpSenderIp, parser.arpTargetIp]).toEqual([b.vlanId ?? -1, op, b.srcIp, b.dstIp]);
        const arp = parseArp(frame, parser.l3Offset);
        expect(arp.ok && [arp.repr.senderMac, arp.repr.targetMac]).toEqual([b.srcMac, targetMac]);
      }),
      SETTINGS,
    );
  });
});
