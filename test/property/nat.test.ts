/**
 * Fail-safe handler NAT (Fatriot 3.5): forward translation then reverse translation is the
 * identity on the client's view. For random flows of UDP (with and without checksum),
 * TCP and ICMP echo, optionally VLAN-tagged:
 * - the relayed packet is byte-identical to one built from scratch with the translated
 *   addresses, so every incrementally adjusted checksum equals a full recomputation;
 * - the backup's reply, after the reverse translation, is byte-identical to the reply the
 *   service itself would have sent the client.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { srcForWireEgress } from '../../src/pipeline/modules/fatriot-tuser.ts';
import { parseIpv4, parseMac } from '../../src/pipeline/wire/address.ts';
import { buildArpFrame, buildIcmpEchoFrame, buildTcpFrame, buildUdpFrame } from '../../src/pipeline/wire/build.ts';
import { HeaderParser } from '../../src/pipeline/wire/parse.ts';
import {
  BACKUP_IP,
  BACKUP_MAC,
  CLIENT_MAC,
  makeBench,
  NIC_MAC,
  RELAY_IP,
  SVC_ID,
  SVC_IP,
  SVC_MAC,
  writeEntry,
} from '../pipeline/modules/failsafe-handler-harness.ts';

type Proto = 'udp' | 'tcp' | 'icmp';

interface Endpoints {
  srcMac: string;
  dstMac: string;
  srcIp: number | string;
  dstIp: number | string;
  /** UDP/TCP source port, or the ICMP identifier. */
  srcPort: number;
  dstPort: number;
  ttl: number;
}

interface FlowCase {
  proto: Proto;
  clientIp: number;
  clientPort: number;
  svcPort: number;
  udpChecksum: boolean;
  ttl: number;
  vlanId: number | undefined;
  nf: number;
  replyNf: number;
  payload: Uint8Array;
  replyPayload: Uint8Array;
  seq: number;
}

/** One frame of the flow; `echo` is 'request' from the client side, 'reply' from the server side. */
function frameOf(c: FlowCase, e: Endpoints, payload: Uint8Array, echo: 'request' | 'reply'): Uint8Array {
  const common = { srcMac: e.srcMac, dstMac: e.dstMac, srcIp: e.srcIp, dstIp: e.dstIp, ttl: e.ttl, vlanId: c.vlanId, payload };
  if (c.proto === 'udp') return buildUdpFrame({ ...common, srcPort: e.srcPort, dstPort: e.dstPort, udpChecksum: c.udpChecksum });
  if (c.proto === 'tcp') {
    return buildTcpFrame({ ...common, srcPort: e.srcPort, dstPort: e.dstPort, seqNumber: c.seq, ackNumber: c.seq ^ 0x5a5a5a5a, flags: 0x018 });
  }
  return buildIcmpEchoFrame({ ...common, type: echo, identifier: echo === 'request' ? e.srcPort : e.dstPort, sequence: c.seq & 0xffff });
}

const flowCase: fc.Arbitrary<FlowCase> = fc.record({
  proto: fc.constantFrom<Proto>('udp', 'tcp', 'icmp'),
  // Clients in 10.1.0.0/16: never the relay, service or backup address.
  clientIp: fc.integer({ min: 0x0a010000, max: 0x0a01ffff }),
  clientPort: fc.integer({ min: 0, max: 0xffff }),
  svcPort: fc.integer({ min: 1, max: 0xffff }),
  udpChecksum: fc.boolean(),
  ttl: fc.integer({ min: 2, max: 255 }),
  vlanId: fc.option(fc.integer({ min: 1, max: 4094 }), { nil: undefined }),
  nf: fc.integer({ min: 0, max: 3 }),
  replyNf: fc.integer({ min: 0, max: 3 }),
  payload: fc.uint8Array({ maxLength: 300 }),
  replyPayload: fc.uint8Array({ maxLength: 300 }),
  seq: fc.integer({ min: 0, max: 0xffffffff }),
});

describe('fail-safe handler NAT (property)', () => {
  it('forward then reverse NAT is the identity on the client view, with recomputed checksums both ways', () => {
    fc.assert(
      fc.property(
        fc.array(flowCase, { minLength: 1, maxLength: 6 }),
        fc.boolean(),
        fc.option(fc.integer({ min: 1, max: 0xffff }), { nil: undefined }),
        (flows, decrementTtl, udpBackupPort) => {
          const b = makeBench({ decrementTtl, staticArp: [{ ip: parseIpv4(BACKUP_IP), mac: parseMac(BACKUP_MAC) }] });
          b.setFailsafe(SVC_ID, true);
          writeEntry(b.regs.defaultBackup, 0, { ip: parseIpv4(BACKUP_IP), valid: 1 });
          // UDP services of SVC_IP on any port move to udpBackupPort when given (0 keeps the port).
          writeEntry(b.regs.serviceTable, 0, { svcIp: parseIpv4(SVC_IP), svcPort: 0, proto: 17, valid: 1, backupIp: parseIpv4(BACKUP_IP), backupPort: udpBackupPort ?? 0 });
          const hop = decrementTtl ? 1 : 0;
          const ps = new HeaderParser();
          for (const c of flows) {
            const svcPort = c.proto === 'icmp' ? 0 : c.svcPort;
            const backupPort = c.proto === 'udp' && udpBackupPort !== undefined ? udpBackupPort : svcPort;
            b.sendDirect(
              frameOf(c, { srcMac: CLIENT_MAC, dstMac: SVC_MAC, srcIp: c.clientIp, dstIp: SVC_IP, srcPort: c.clientPort, dstPort: svcPort, ttl: c.ttl }, c.payload, 'request'),
              `nf${c.nf}`,
            );
            b.run();
            const sent = b.sink.received.length;
            const relayed = b.frames()[sent - 1]!;
            ps.parse(relayed);
            const relayPort = c.proto === 'icmp' ? ps.icmpId : ps.srcPort;
            const towardsBackup: Endpoints = { srcMac: NIC_MAC, dstMac: BACKUP_MAC, srcIp: RELAY_IP, dstIp: BACKUP_IP, srcPort: relayPort, dstPort: backupPort, ttl: c.ttl - hop };
            expect(relayed).toEqual(frameOf(c, towardsBackup, c.payload, 'request'));
            expect(b.sink.received[sent - 1]!.packet.srcPort).toBe(srcForWireEgress(c.nf));

            const backupReply: Endpoints = { srcMac: BACKUP_MAC, dstMac: NIC_MAC, srcIp: BACKUP_IP, dstIp: RELAY_IP, srcPort: backupPort, dstPort: relayPort, ttl: 64 };
            b.sendDirect(frameOf(c, backupReply, c.replyPayload, 'reply'), `nf${c.replyNf}`, 0);
            b.run();
            expect(b.sink.received).toHaveLength(sent + 1);
            const serviceReply: Endpoints = { srcMac: SVC_MAC, dstMac: CLIENT_MAC, srcIp: SVC_IP, dstIp: c.clientIp, srcPort: svcPort, dstPort: c.clientPort, ttl: 64 - hop };
            expect(b.frames()[sent]).toEqual(frameOf(c, serviceReply, c.replyPayload, 'reply'));
            expect(b.sink.received[sent]!.packet.srcPort).toBe(srcForWireEgress(c.nf));
          }
          expect(b.counter('event.relayedToBackup')).toBe(flows.length);
          expect(b.counter('event.relayedToClient')).toBe(flows.length);
        },
      ),
      { seed: 42, numRuns: 200 },
    );
  });

  it('takes any frame on either input without an exception and accounts for every packet (SPEC 9)', () => {
    const seedFrames = [
      buildUdpFrame({ srcMac: CLIENT_MAC, dstMac: SVC_MAC, srcIp: '10.1.0.1', dstIp: SVC_IP, srcPort: 1, dstPort: 5000, payloadLength: 20 }),
      buildTcpFrame({ srcMac: CLIENT_MAC, dstMac: SVC_MAC, srcIp: '10.1.0.1', dstIp: SVC_IP, srcPort: 1, dstPort: 80, vlanId: 7 }),
      buildIcmpEchoFrame({ srcMac: CLIENT_MAC, dstMac: SVC_MAC, srcIp: '10.1.0.1', dstIp: SVC_IP, type: 'request', identifier: 1, sequence: 1 }),
      buildUdpFrame({ srcMac: BACKUP_MAC, dstMac: NIC_MAC, srcIp: BACKUP_IP, dstIp: RELAY_IP, srcPort: 5000, dstPort: 40000 }),
      buildArpFrame({ op: 'request', senderMac: CLIENT_MAC, senderIp: '10.1.0.1', targetIp: RELAY_IP }),
      buildArpFrame({ op: 'reply', senderMac: CLIENT_MAC, senderIp: '10.1.0.1', targetMac: NIC_MAC, targetIp: RELAY_IP }),
    ];
    const frame = fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 200 }),
      fc.tuple(fc.constantFrom(...seedFrames), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.integer({ min: 1, max: 120 })).map(
        ([f, flips, cut]) => {
          const g = f.slice(0, Math.max(1, Math.min(f.length, cut + 14)));
          for (const [at, v] of flips) g[at % g.length] = v;
          return g;
        },
      ),
    );
    const drops = ['malformedIpv4', 'ipv4Fragment', 'failsafeNoBackup', 'arpUnresolved', 'relayPortsExhausted', 'relayNoMapping', 'ttlExpired', 'unsupportedProtocol'];
    fc.assert(
      fc.property(fc.array(fc.tuple(frame, fc.boolean(), fc.constantFrom('nf0', 'nf3', 'dma1')), { minLength: 1, maxLength: 12 }), (inputs) => {
        const b = makeBench({ staticArp: [{ ip: parseIpv4(BACKUP_IP), mac: parseMac(BACKUP_MAC) }] });
        b.setFailsafe(SVC_ID, true);
        writeEntry(b.regs.defaultBackup, 0, { ip: parseIpv4(BACKUP_IP), valid: 1 });
        for (const [f, mirrored, port] of inputs) {
          if (mirrored) b.sendMirror(f, port);
          else b.sendDirect(f, port);
        }
        b.run();
        const dropped = drops.reduce((sum, d) => sum + b.counter(`drop.${d}`), 0);
        const sent = b.sink.received.length;
        expect(sent + dropped + b.counter('event.arpRepliesReceived')).toBe(inputs.length);
        expect(b.pool.inUse).toBe(sent);
        expect(b.sink.violations).toEqual([]);
      }),
      { seed: 42, numRuns: 300 },
    );
  });
});
