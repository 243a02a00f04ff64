import { describe, expect, it } from 'vitest';
import { FLAG_FROM_FAILSAFE, srcForHostEgress, srcForWireEgress } from '../../../src/pipeline/modules/fatriot-tuser.ts';
import { formatIpv4, formatMac, parseIpv4, parseMac } from '../../../src/pipeline/wire/address.ts';
import {
  buildArpFrame,
  buildIcmpEchoFrame,
  buildIpv4Frame,
  buildTcpFrame,
  buildUdpFrame,
} from '../../../src/pipeline/wire/build.ts';
import {
  icmpChecksum,
  ipv4HeaderChecksum,
  tcpChecksum,
  udpChecksum,
  verifyIcmpChecksum,
  verifyIpv4HeaderChecksum,
  verifyTcpChecksum,
  verifyUdpChecksum,
} from '../../../src/pipeline/wire/checksum.ts';
import { HeaderParser, PacketKind } from '../../../src/pipeline/wire/parse.ts';
import {
  BACKUP_IP,
  BACKUP_MAC,
  CLIENT_IP,
  CLIENT_MAC,
  makeBench,
  NIC_MAC,
  RELAY_IP,
  RELAY_PORT_BASE,
  setEntry,
  SVC_ID,
  SVC_IP,
  SVC_MAC,
  writeEntry,
  type BenchOptions,
} from './failsafe-handler-harness.ts';

const staticBackup = { staticArp: [{ ip: parseIpv4(BACKUP_IP), mac: parseMac(BACKUP_MAC) }] };

/** A bench with SVC_ID in fail-safe and a service-table entry SVC_IP udp/5000 -> BACKUP_IP:6000. */
function benchWithService(options: BenchOptions = staticBackup) {
  const b = makeBench(options);
  writeEntry(b.regs.serviceTable, 0, { svcIp: parseIpv4(SVC_IP), svcPort: 5000, proto: 17, valid: 1, backupIp: parseIpv4(BACKUP_IP), backupPort: 6000 });
  b.setFailsafe(SVC_ID, true);
  return b;
}

function clientUdp(srcPort = 1234, dstPort = 5000, extra: Partial<Parameters<typeof buildUdpFrame>[0]> = {}) {
  return buildUdpFrame({ srcMac: CLIENT_MAC, dstMac: SVC_MAC, srcIp: CLIENT_IP, dstIp: SVC_IP, srcPort, dstPort, payloadLength: 37, ...extra });
}

interface Headers {
  kind: number;
  srcMac: string;
  dstMac: string;
  srcIp: string;
  dstIp: string;
  srcPort: number;
  dstPort: number;
  ttl: number;
  icmpId: number;
}

function headers(frame: Uint8Array): Headers {
  const ps = new HeaderParser();
  ps.parse(frame);
  return {
    kind: ps.kind,
    srcMac: formatMac(frame, 6),
    dstMac: formatMac(frame, 0),
    srcIp: formatIpv4(ps.srcIp),
    dstIp: formatIpv4(ps.dstIp),
    srcPort: ps.srcPort,
    dstPort: ps.dstPort,
    ttl: ps.ttl,
    icmpId: ps.icmpId,
  };
}

/** Every checksum of the frame equals a full recomputation (and verifies). */
function expectChecksumsRecomputed(frame: Uint8Array): void {
  const ps = new HeaderParser();
  ps.parse(frame);
  const l3 = ps.l3Offset;
  const l4 = ps.l4Offset;
  const stored = (at: number) => (frame[at]! << 8) | frame[at + 1]!;
  expect(stored(l3 + 10)).toBe(ipv4HeaderChecksum(frame, l3, ps.ipHeaderLength));
  expect(verifyIpv4HeaderChecksum(frame, l3, ps.ipHeaderLength)).toBe(true);
  if (ps.kind === PacketKind.Ipv4Udp) {
    const c = stored(l4 + 6);
    if (c !== 0) expect(c).toBe(udpChecksum(frame, l4, ps.l4Length, ps.srcIp, ps.dstIp));
    expect(verifyUdpChecksum(frame, l4, ps.l4Length, ps.srcIp, ps.dstIp)).toBe(true);
  } else if (ps.kind === PacketKind.Ipv4Tcp) {
    expect(stored(l4 + 16)).toBe(tcpChecksum(frame, l4, ps.l4Length, ps.srcIp, ps.dstIp));
    expect(verifyTcpChecksum(frame, l4, ps.l4Length, ps.srcIp, ps.dstIp)).toBe(true);
  } else if (ps.kind === PacketKind.Ipv4Icmp) {
    expect(stored(l4 + 2)).toBe(icmpChecksum(frame, l4, ps.l4Length));
    expect(verifyIcmpChecksum(frame, l4, ps.l4Length)).toBe(true);
  } else {
    throw new Error(`not a relayed kind: ${ps.kind}`);
  }
}

describe('FailsafeHandler: relay towards the backup', () => {
  it('DNATs to the service-table backup, SNATs to the relay address and leaves by the ingress port', () => {
    const b = benchWithService();
    const frame = clientUdp();
    b.sendDirect(frame, 'nf1');
    b.run();
    expect(b.sink.received).toHaveLength(1);
    const r = b.sink.received[0]!;
    const out = b.frames()[0]!;
    expect(headers(out)).toEqual({
      kind: PacketKind.Ipv4Udp,
      srcMac: NIC_MAC,
      dstMac: BACKUP_MAC,
      srcIp: RELAY_IP,
      dstIp: BACKUP_IP,
      srcPort: RELAY_PORT_BASE,
      dstPort: 6000,
      ttl: 63,
      icmpId: 0,
    });
    expectChecksumsRecomputed(out);
    // Payload and padding untouched; length unchanged.
    expect(out.length).toBe(frame.length);
    expect(out.subarray(42)).toEqual(frame.subarray(42));
    expect(r.packet.srcPort).toBe(srcForWireEgress(1));
    expect(r.packet.flags).toBe(FLAG_FROM_FAILSAFE);
    expect(r.packet.critical).toBe(0);
    expect(b.counter('event.relayedToBackup')).toBe(1);
    expect(b.sink.violations).toEqual([]);
  });

  it('offers the first beat processingLatencyCycles after the last beat is in', () => {
    const b = benchWithService({ ...staticBackup, processingLatencyCycles: 4 });
    b.sendDirect(clientUdp(), 'nf0', SVC_ID, 10);
    b.run();
    // 79-byte frame: 3 beats, taken at 10, 11, 12 (tready high); out at 12 + 4, 17, 18.
    expect(b.directSource.firstBeatCycles).toEqual([10]);
    const r = b.sink.received[0]!;
    expect(r.firstBeatCycle).toBe(12 + 4);
    expect(r.lastBeatCycle).toBe(12 + 4 + 2);
  });

  it('keeps a UDP checksum of 0 at 0 (RFC 768: no checksum)', () => {
    const b = benchWithService();
    b.sendDirect(clientUdp(1234, 5000, { udpChecksum: false }));
    b.run();
    const out = b.frames()[0]!;
    expect((out[40]! << 8) | out[41]!).toBe(0);
    expect(headers(out).dstIp).toBe(BACKUP_IP);
    expect(ipv4HeaderChecksum(out, 14, 20)).toBe((out[24]! << 8) | out[25]!);
  });

  it('relays TCP with the checksum adjusted incrementally to the recomputed value', () => {
    const b = benchWithService();
    writeEntry(b.regs.serviceTable, 1, { svcIp: parseIpv4(SVC_IP), svcPort: 80, proto: 6, valid: 1, backupIp: parseIpv4(BACKUP_IP), backupPort: 8080 });
    b.sendDirect(buildTcpFrame({ srcMac: CLIENT_MAC, dstMac: SVC_MAC, srcIp: CLIENT_IP, dstIp: SVC_IP, srcPort: 33000, dstPort: 80, seqNumber: 77, payloadLength: 101 }));
    b.run();
    const out = b.frames()[0]!;
    const h = headers(out);
    expect([h.kind, h.srcIp, h.srcPort, h.dstIp, h.dstPort]).toEqual([PacketKind.Ipv4Tcp, RELAY_IP, RELAY_PORT_BASE, BACKUP_IP, 8080]);
    expectChecksumsRecomputed(out);
  });

  it('translates the ICMP echo identifier instead of ports', () => {
    const b = benchWithService();
    writeEntry(b.regs.serviceTable, 1, { svcIp: parseIpv4(SVC_IP), svcPort: 0, proto: 1, valid: 1, backupIp: parseIpv4(BACKUP_IP), backupPort: 0 });
    b.sendDirect(buildIcmpEchoFrame({ srcMac: CLIENT_MAC, dstMac: SVC_MAC, srcIp: CLIENT_IP, dstIp: SVC_IP, type: 'request', identifier: 0x4242, sequence: 9, payloadLength: 56 }));
    b.run();
    const out = b.frames()[0]!;
    const h = headers(out);
    expect([h.kind, h.srcIp, h.dstIp, h.icmpId]).toEqual([PacketKind.Ipv4Icmp, RELAY_IP, BACKUP_IP, RELAY_PORT_BASE]);
    expect((out[40]! << 8) | out[41]!).toBe(9);
    expectChecksumsRecomputed(out);
  });

  it('uses the default backup (same port) when no service entry matches', () => {
    const b = makeBench(staticBackup);
    b.setFailsafe(SVC_ID, true);
    writeEntry(b.regs.defaultBackup, 0, { ip: parseIpv4(BACKUP_IP), valid: 1 });
    b.sendDirect(clientUdp(1234, 7777));
    b.run();
    const h = headers(b.frames()[0]!);
    expect([h.dstIp, h.dstPort]).toEqual([BACKUP_IP, 7777]);
  });

  it('prefers an exact-port service entry over svcPort 0, and backupPort 0 keeps the port', () => {
    const b = makeBench({ staticArp: [{ ip: parseIpv4('10.0.0.7'), mac: parseMac(BACKUP_MAC) }, { ip: parseIpv4('10.0.0.8'), mac: parseMac(BACKUP_MAC) }] });
    b.setFailsafe(SVC_ID, true);
    writeEntry(b.regs.serviceTable, 0, { svcIp: parseIpv4(SVC_IP), svcPort: 0, proto: 17, valid: 1, backupIp: parseIpv4('10.0.0.7'), backupPort: 0 });
    writeEntry(b.regs.serviceTable, 5, { svcIp: parseIpv4(SVC_IP), svcPort: 5000, proto: 17, valid: 1, backupIp: parseIpv4('10.0.0.8'), backupPort: 0 });
    b.sendDirect(clientUdp(1, 5000));
    b.sendDirect(clientUdp(1, 5001));
    b.run();
    const [a, c] = b.frames().map(headers);
    expect([a!.dstIp, a!.dstPort]).toEqual(['10.0.0.8', 5000]);
    expect([c!.dstIp, c!.dstPort]).toEqual(['10.0.0.7', 5001]);
  });

  it('drops and counts a fail-safe packet with no backup and no default backup', () => {
    const b = makeBench(staticBackup);
    b.setFailsafe(SVC_ID, true);
    b.sendDirect(clientUdp());
    b.run();
    expect(b.sink.received).toHaveLength(0);
    expect(b.counter('drop.failsafeNoBackup')).toBe(1);
    expect(b.pool.inUse).toBe(0);
  });

  it('keeps one relay port per flow and gives new flows the next port', () => {
    const b = benchWithService();
    b.sendDirect(clientUdp(1000));
    b.sendDirect(clientUdp(1001));
    b.sendDirect(clientUdp(1000));
    b.run();
    expect(b.frames().map((f) => headers(f).srcPort)).toEqual([RELAY_PORT_BASE, RELAY_PORT_BASE + 1, RELAY_PORT_BASE]);
    expect(b.fh.flowCount).toBe(2);
  });

  it('counts drops by reason: TTL expired, fragments, relay ports exhausted, unsupported protocol, malformed', () => {
    const b = benchWithService({ ...staticBackup, relayPortCount: 2 });
    b.sendDirect(clientUdp(1, 5000, { ttl: 1 }));
    b.sendDirect(clientUdp(2, 5000, { moreFragments: true }));
    b.sendDirect(buildIpv4Frame({ srcMac: CLIENT_MAC, dstMac: SVC_MAC, srcIp: CLIENT_IP, dstIp: SVC_IP, protocol: 17, fragmentOffset: 10, payloadLength: 20 }));
    b.sendDirect(clientUdp(3));
    b.sendDirect(clientUdp(4));
    b.sendDirect(clientUdp(5));
    b.sendDirect(buildIpv4Frame({ srcMac: CLIENT_MAC, dstMac: SVC_MAC, srcIp: CLIENT_IP, dstIp: SVC_IP, protocol: 47, payloadLength: 20 }));
    const bad = clientUdp(6);
    bad[14] = 0x44; // IHL 4: malformed IPv4
    b.sendDirect(bad);
    b.run();
    expect(b.counter('drop.ttlExpired')).toBe(1);
    expect(b.counter('drop.ipv4Fragment')).toBe(2);
    expect(b.counter('drop.relayPortsExhausted')).toBe(1);
    expect(b.counter('drop.unsupportedProtocol')).toBe(1);
    expect(b.counter('drop.malformedIpv4')).toBe(1);
    expect(b.sink.received).toHaveLength(2);
    expect(b.pool.inUse).toBe(2);
  });

  it('reclaims the relay port of a flow idle for flowIdleTimeoutCycles', () => {
    const b = benchWithService({ ...staticBackup, relayPortCount: 1, flowIdleTimeoutCycles: 1000 });
    b.sendDirect(clientUdp(1), 'nf0', SVC_ID, 0);
    b.sendDirect(clientUdp(2), 'nf0', SVC_ID, 100);
    b.sendDirect(clientUdp(2), 'nf0', SVC_ID, 2000);
    b.run();
    expect(b.counter('drop.relayPortsExhausted')).toBe(1);
    expect(b.frames().map((f) => headers(f).srcPort)).toEqual([RELAY_PORT_BASE, RELAY_PORT_BASE]);
    expect(b.fh.flowCount).toBe(1);
  });

  it('can leave the TTL alone (decrementTtl false)', () => {
    const b = benchWithService({ ...staticBackup, decrementTtl: false });
    b.sendDirect(clientUdp(1, 5000, { ttl: 1 }));
    b.run();
    expect(headers(b.frames()[0]!).ttl).toBe(1);
    expectChecksumsRecomputed(b.frames()[0]!);
  });
});

describe('FailsafeHandler: mirrored packets', () => {
  it('drops mirrored packets of a healthy service without counting and relays those of a service in fail-safe', () => {
    const b = benchWithService();
    b.setFailsafe(SVC_ID, false);
    b.sendMirror(clientUdp(1));
    b.run();
    expect(b.sink.received).toHaveLength(0);
    expect(b.pool.inUse).toBe(0);
    const drops = Array.from(b.regs.counters.values.subarray(32, 64)).reduce((s, v) => s + v, 0);
    expect(drops).toBe(0);

    b.setFailsafe(SVC_ID, true);
    b.sendMirror(clientUdp(2), 'nf2');
    b.run();
    expect(b.sink.received).toHaveLength(1);
    expect(headers(b.frames()[0]!).dstIp).toBe(BACKUP_IP);
    expect(b.sink.received[0]!.packet.srcPort).toBe(srcForWireEgress(2));
  });

  it('rewrites a copy when the packet is shared with another queue', () => {
    const b = benchWithService();
    const frame = clientUdp(1);
    const p = b.pool.fromBytes(frame, frame.length, 1, 0);
    p.serviceId = SVC_ID;
    p.refs = 2; // also held by a second output queue
    b.directSource.send(p, 0);
    b.run();
    expect(p.data.subarray(0, frame.length)).toEqual(frame);
    expect(p.refs).toBe(1);
    expect(headers(b.frames()[0]!).dstIp).toBe(BACKUP_IP);
  });
});

describe('FailsafeHandler: replies from the backup', () => {
  function backupReply(dstPort: number, srcIp = BACKUP_IP, srcPort = 6000, extra: Partial<Parameters<typeof buildUdpFrame>[0]> = {}) {
    return buildUdpFrame({ srcMac: BACKUP_MAC, dstMac: NIC_MAC, srcIp, dstIp: RELAY_IP, srcPort, dstPort, payloadLength: 37, ...extra });
  }

  it('reverses both translations so the client sees the service address, and leaves by the client port', () => {
    const b = benchWithService();
    b.sendDirect(clientUdp(1234), 'nf1');
    b.run();
    b.sendDirect(backupReply(RELAY_PORT_BASE, BACKUP_IP, 6000, { ttl: 64 }), 'nf3');
    b.run();
    expect(b.sink.received).toHaveLength(2);
    const out = b.frames()[1]!;
    expect(headers(out)).toEqual({
      kind: PacketKind.Ipv4Udp,
      srcMac: SVC_MAC,
      dstMac: CLIENT_MAC,
      srcIp: SVC_IP,
      dstIp: CLIENT_IP,
      srcPort: 5000,
      dstPort: 1234,
      ttl: 63,
      icmpId: 0,
    });
    expectChecksumsRecomputed(out);
    expect(b.sink.received[1]!.packet.srcPort).toBe(srcForWireEgress(1));
    expect(b.counter('event.relayedToClient')).toBe(1);
  });

  it('reverses ICMP echo replies on the relay identifier', () => {
    const b = benchWithService();
    writeEntry(b.regs.serviceTable, 1, { svcIp: parseIpv4(SVC_IP), svcPort: 0, proto: 1, valid: 1, backupIp: parseIpv4(BACKUP_IP), backupPort: 0 });
    b.sendDirect(buildIcmpEchoFrame({ srcMac: CLIENT_MAC, dstMac: SVC_MAC, srcIp: CLIENT_IP, dstIp: SVC_IP, type: 'request', identifier: 77, sequence: 1, payloadLength: 8 }));
    b.run();
    b.sendDirect(buildIcmpEchoFrame({ srcMac: BACKUP_MAC, dstMac: NIC_MAC, srcIp: BACKUP_IP, dstIp: RELAY_IP, type: 'reply', identifier: RELAY_PORT_BASE, sequence: 1, payloadLength: 8 }));
    b.run();
    const out = b.frames()[1]!;
    const h = headers(out);
    expect([h.srcIp, h.dstIp, h.icmpId, h.dstMac, h.srcMac]).toEqual([SVC_IP, CLIENT_IP, 77, CLIENT_MAC, SVC_MAC]);
    expectChecksumsRecomputed(out);
  });

  it('drops replies with no mapping: unknown relay port, wrong backup address or port', () => {
    const b = benchWithService();
    b.sendDirect(clientUdp(1234));
    b.run();
    b.sendDirect(backupReply(RELAY_PORT_BASE + 5));
    b.sendDirect(backupReply(RELAY_PORT_BASE, '10.0.0.99'));
    b.sendDirect(backupReply(RELAY_PORT_BASE, BACKUP_IP, 6001));
    b.sendDirect(buildIcmpEchoFrame({ srcMac: BACKUP_MAC, dstMac: NIC_MAC, srcIp: BACKUP_IP, dstIp: RELAY_IP, type: 'reply', identifier: RELAY_PORT_BASE, sequence: 1 }));
    b.run();
    expect(b.counter('drop.relayNoMapping')).toBe(4);
    expect(b.sink.received).toHaveLength(1);
    expect(b.pool.inUse).toBe(1);
  });
});

describe('FailsafeHandler: ARP', () => {
  const arpRequestForRelay = (from: string) =>
    buildArpFrame({ op: 'request', senderMac: CLIENT_MAC, senderIp: from, targetIp: RELAY_IP });

  it('answers an ARP request for the relay address from the wire out of the same port', () => {
    const b = makeBench();
    b.sendDirect(arpRequestForRelay(CLIENT_IP), 'nf2', 0);
    b.run();
    expect(b.frames()).toEqual([
      buildArpFrame({ op: 'reply', senderMac: NIC_MAC, senderIp: RELAY_IP, targetMac: CLIENT_MAC, targetIp: CLIENT_IP }),
    ]);
    expect(b.sink.received[0]!.packet.srcPort).toBe(srcForWireEgress(2));
    expect(b.sink.received[0]!.packet.flags).toBe(FLAG_FROM_FAILSAFE);
    expect(b.counter('event.arpRepliesSent')).toBe(1);
  });

  it('answers an ARP request from the host side towards the host', () => {
    const b = makeBench();
    b.sendDirect(arpRequestForRelay('10.0.0.1'), 'dma1', 0);
    b.run();
    expect(b.sink.received).toHaveLength(1);
    expect(b.sink.received[0]!.packet.srcPort).toBe(srcForHostEgress(1));
  });

  it('drops ARP not addressed to the relay address', () => {
    const b = makeBench();
    b.sendDirect(buildArpFrame({ op: 'request', senderMac: CLIENT_MAC, senderIp: CLIENT_IP, targetIp: '10.0.0.77' }), 'nf0', 0);
    b.run();
    expect(b.sink.received).toHaveLength(0);
    expect(b.counter('drop.unsupportedProtocol')).toBe(1);
  });

  it('resolves the backup MAC by ARP before the first relayed packet leaves, then uses the cache', () => {
    const b = benchWithService({});
    b.sendDirect(clientUdp(1), 'nf1', SVC_ID, 0);
    b.sendDirect(clientUdp(2), 'nf1', SVC_ID, 10);
    // Not to idle: that would run into the 1 s ARP timeout.
    b.sim.runUntil(1000);
    // Only the ARP request has left: broadcast, for the backup IP, out of the ingress port.
    expect(b.frames()).toEqual([buildArpFrame({ op: 'request', senderMac: NIC_MAC, senderIp: RELAY_IP, targetIp: BACKUP_IP })]);
    expect(b.sink.received[0]!.packet.srcPort).toBe(srcForWireEgress(1));
    expect(b.counter('event.arpRequestsSent')).toBe(1);

    const replyAt = b.sim.now + 50;
    b.sendDirect(buildArpFrame({ op: 'reply', senderMac: BACKUP_MAC, senderIp: BACKUP_IP, targetMac: NIC_MAC, targetIp: RELAY_IP }), 'nf1', 0, replyAt);
    b.run();
    expect(b.counter('event.arpRepliesReceived')).toBe(1);
    expect(b.sink.received).toHaveLength(3);
    for (const r of b.sink.received.slice(1)) {
      expect(r.firstBeatCycle).toBeGreaterThan(replyAt);
      expect(formatMac(r.packet.data, 0)).toBe(BACKUP_MAC);
    }
    expect(b.frames().slice(1).map((f) => headers(f).srcPort)).toEqual([RELAY_PORT_BASE, RELAY_PORT_BASE + 1]);

    b.sendDirect(clientUdp(3), 'nf1');
    b.run();
    expect(b.counter('event.arpRequestsSent')).toBe(1);
    expect(headers(b.frames()[3]!).dstMac).toBe(BACKUP_MAC);
  });

  it('keeps taking input while packets wait for ARP, so the reply that frees them gets in', () => {
    const b = benchWithService({ bufferBeats: 8 });
    // Five 4-beat packets: 20 beats waiting for ARP, more than the 8-beat buffer.
    for (let i = 0; i < 5; i++) b.sendDirect(clientUdp(3000 + i, 5000, { payloadLength: 60 }), 'nf0', SVC_ID, 0);
    b.sendDirect(buildArpFrame({ op: 'reply', senderMac: BACKUP_MAC, senderIp: BACKUP_IP, targetMac: NIC_MAC, targetIp: RELAY_IP }), 'nf0', 0, 100);
    b.sim.runUntil(300);
    expect(b.sink.received).toHaveLength(6);
    expect(b.frames().slice(1).map((f) => headers(f).srcPort)).toEqual([0, 1, 2, 3, 4].map((i) => RELAY_PORT_BASE + i));
    expect(b.counter('drop.arpUnresolved')).toBe(0);
  });

  it('skips ARP for a backup with a static entry', () => {
    const b = benchWithService(staticBackup);
    b.sendDirect(clientUdp(1));
    b.run();
    expect(b.counter('event.arpRequestsSent')).toBe(0);
    expect(headers(b.frames()[0]!).dstMac).toBe(BACKUP_MAC);
  });

  it('does not let an ARP reply overwrite a static entry', () => {
    const b = benchWithService(staticBackup);
    b.sendDirect(buildArpFrame({ op: 'reply', senderMac: '02:66:66:66:66:66', senderIp: BACKUP_IP, targetMac: NIC_MAC, targetIp: RELAY_IP }), 'nf0', 0);
    b.sendDirect(clientUdp(1));
    b.run();
    expect(headers(b.frames()[0]!).dstMac).toBe(BACKUP_MAC);
  });

  it('drops held packets when no reply comes within arpTimeoutCycles, and on hold-queue overflow', () => {
    const b = benchWithService({ arpTimeoutCycles: 500, arpHoldPackets: 2 });
    b.sendDirect(clientUdp(1), 'nf0', SVC_ID, 0);
    b.sendDirect(clientUdp(2), 'nf0', SVC_ID, 0);
    b.sendDirect(clientUdp(3), 'nf0', SVC_ID, 0);
    b.sim.runUntil(400);
    expect(b.counter('drop.arpUnresolved')).toBe(1);
    b.run();
    expect(b.counter('drop.arpUnresolved')).toBe(3);
    expect(b.sink.received).toHaveLength(1); // the ARP request
    expect(b.pool.inUse).toBe(1);
    // The next packet tries again.
    b.sendDirect(clientUdp(4));
    b.run();
    expect(b.counter('event.arpRequestsSent')).toBe(2);
  });

  it('a static entry set by the control plane releases held packets at once', () => {
    const b = benchWithService({});
    b.sendDirect(clientUdp(1), 'nf0', SVC_ID, 0);
    b.sim.runUntil(100);
    b.fh.setStaticArp(parseIpv4(BACKUP_IP), parseMac(BACKUP_MAC));
    b.run();
    expect(b.sink.received).toHaveLength(2);
    expect(headers(b.frames()[1]!).dstMac).toBe(BACKUP_MAC);
  });
});

describe('FailsafeHandler: spreading across live neighbors', () => {
  const neighbors = ['10.0.1.1', '10.0.1.2', '10.0.1.3'];

  function benchWithNeighbors(flowsPerRun: number) {
    const b = makeBench({
      staticArp: neighbors.map((ip) => ({ ip: parseIpv4(ip), mac: parseMac(BACKUP_MAC) })),
      relayPortCount: 20000,
      flowTableEntries: 8192,
    });
    b.setFailsafe(SVC_ID, true);
    writeEntry(b.regs.serviceTable, 0, { svcIp: parseIpv4(SVC_IP), svcPort: 5000, proto: 17, valid: 1, backupIp: parseIpv4(BACKUP_IP), backupPort: 6000 });
    neighbors.forEach((ip, i) => setEntry(b.regs.neighborTable, 10 + i, { ip: parseIpv4(ip), serviceId: SVC_ID, alive: 1, valid: 1, svcPort: 0 }));
    // A live neighbor of another service takes none of these flows.
    setEntry(b.regs.neighborTable, 20, { ip: parseIpv4('10.0.1.9'), serviceId: SVC_ID + 1, alive: 1, valid: 1 });
    const send = () => {
      const start = b.sink.received.length;
      for (let i = 0; i < flowsPerRun; i++) {
        b.sendDirect(buildUdpFrame({ srcMac: CLIENT_MAC, dstMac: SVC_MAC, srcIp: 0x0a640000 + (i >>> 8), dstIp: SVC_IP, srcPort: 1024 + (i & 0xff), dstPort: 5000 }));
      }
      b.run();
      return b.frames().slice(start).map((f) => headers(f));
    };
    return { b, send };
  }

  it('spreads flows evenly (within 5%) over the live backups of the service, flow-consistently', () => {
    const flows = 6000;
    const { b, send } = benchWithNeighbors(flows);
    const first = send();
    expect(first).toHaveLength(flows);
    const counts = new Map<string, number>();
    for (const h of first) counts.set(h.dstIp, (counts.get(h.dstIp) ?? 0) + 1);
    expect([...counts.keys()].sort()).toEqual(neighbors);
    for (const n of counts.values()) expect(Math.abs(n - flows / 3)).toBeLessThan(0.05 * (flows / 3));
    // Neighbor svcPort 0 keeps the service port.
    expect(first.every((h) => h.dstPort === 5000)).toBe(true);
    const again = send();
    expect(again.map((h) => h.dstIp)).toEqual(first.map((h) => h.dstIp));
    expect(again.map((h) => h.srcPort)).toEqual(first.map((h) => h.srcPort));
    expect(b.counter('event.relayedToBackup')).toBe(2 * flows);
  });

  it('moves only the flows of a neighbor that is no longer alive, and falls back to the service table when none is', () => {
    const { b, send } = benchWithNeighbors(900);
    const before = send().map((h) => h.dstIp);
    b.regs.neighborTable.set(11, b.regs.neighborTable.fieldIndex('alive'), 0);
    const after = send().map((h) => h.dstIp);
    for (let i = 0; i < before.length; i++) {
      if (before[i] === neighbors[1]) expect(after[i]).not.toBe(neighbors[1]);
      else expect(after[i]).toBe(before[i]);
    }
    expect(after.filter((ip) => ip === neighbors[1])).toHaveLength(0);
    for (const e of [10, 12]) b.regs.neighborTable.set(e, b.regs.neighborTable.fieldIndex('alive'), 0);
    b.fh.setStaticArp(parseIpv4(BACKUP_IP), parseMac(BACKUP_MAC));
    const fallback = send();
    expect(fallback.every((h) => h.dstIp === BACKUP_IP && h.dstPort === 6000)).toBe(true);
  });
});

describe('FailsafeHandler: buffer and backpressure', () => {
  it('deasserts tready when the buffer is full and loses no packet under tx backpressure', () => {
    const b = benchWithService({ ...staticBackup, bufferBeats: 8, txReady: (c) => c % 4 === 0 });
    const n = 20;
    for (let i = 0; i < n; i++) b.sendDirect(clientUdp(100 + i, 5000, { payloadLength: 100 }), 'nf0', SVC_ID, 0);
    // A sink with a ready pattern never idles: run a fixed span.
    b.sim.runUntil(2000);
    expect(b.sink.received).toHaveLength(n);
    expect(b.sink.violations).toEqual([]);
    expect(b.frames().map((f) => headers(f).srcPort)).toEqual(Array.from({ length: n }, (_, i) => RELAY_PORT_BASE + i));
    // 142-byte frames are 5 beats; with 8 beats of buffer the source had to wait.
    const starts = b.directSource.firstBeatCycles;
    expect(starts[n - 1]! - starts[0]!).toBeGreaterThan(5 * (n - 1));
    expect(b.pool.inUse).toBe(n);
  });
});

describe('FailsafeHandler: evaluation order', () => {
  it('gives the same frames at the same cycles whatever order modules are evaluated in', () => {
    const scenario = (shuffleSeed?: number) => {
      const b = benchWithService({ shuffleSeed, txReady: (c) => c % 3 !== 0, bufferBeats: 12 });
      for (let i = 0; i < 6; i++) b.sendDirect(clientUdp(2000 + i, 5000, { payloadLength: 60 }), 'nf1', SVC_ID, 5 * i);
      b.sendDirect(buildArpFrame({ op: 'reply', senderMac: BACKUP_MAC, senderIp: BACKUP_IP, targetMac: NIC_MAC, targetIp: RELAY_IP }), 'nf1', 0, 200);
      b.sendMirror(clientUdp(3000), 'nf2', SVC_ID, 3);
      b.sim.runUntil(600);
      return b.sink.received.map((r) => [r.firstBeatCycle, r.lastBeatCycle, Array.from(r.packet.data.subarray(0, r.packet.length))]);
    };
    const reference = scenario();
    expect(reference).toHaveLength(8);
    for (const seed of [1, 7, 42]) expect(scenario(seed)).toEqual(reference);
  });
});
