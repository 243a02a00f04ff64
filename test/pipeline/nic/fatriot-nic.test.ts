import { describe, expect, it } from 'vitest';
import { createMemoryLink } from '../../../src/dataplane/memory-link.ts';
import { FatriotNic } from '../../../src/pipeline/nic/fatriot-nic.ts';
import { ReferenceNic } from '../../../src/pipeline/nic/reference-nic.ts';
import { HeaderParser, PacketKind } from '../../../src/pipeline/wire/parse.ts';
import { buildArpFrame, buildUdpFrame } from '../../../src/pipeline/wire/build.ts';
import { formatIpv4 } from '../../../src/pipeline/wire/address.ts';
import { verifyIpv4HeaderChecksum, verifyUdpChecksum } from '../../../src/pipeline/wire/checksum.ts';
import { NicConfigurator } from '../../../tools/experiments/configure.ts';
import { measureLatencyCycles } from '../../../tools/bench/model.ts';

const CLIENT = { ip: '10.0.0.1', mac: '02:00:00:00:00:01' };
const SERVICE = { ip: '10.0.0.11', mac: '02:00:00:00:00:0b', port: 7007 };
const BACKUP = { ip: '10.0.0.21', mac: '02:00:00:00:00:15', port: 7007 };
const RELAY = { ip: '10.0.0.110', mac: '02:00:00:00:00:6e' };

function request(seq: number): Uint8Array {
  const payload = new Uint8Array(32);
  payload[0] = seq;
  return buildUdpFrame({ srcMac: CLIENT.mac, dstMac: SERVICE.mac, srcIp: CLIENT.ip, dstIp: SERVICE.ip, srcPort: 40000, dstPort: SERVICE.port, payload });
}

async function setup() {
  const nic = new FatriotNic();
  const [nf, wire] = createMemoryLink('nf0', 'wire');
  const [dma, host] = createMemoryLink('dma0', 'host');
  nic.attach({ nf: [nf], dma: [dma] });
  const toWire: { frame: Uint8Array; cycle: number }[] = [];
  const toHost: { frame: Uint8Array; cycle: number }[] = [];
  wire.attach((f, c) => toWire.push({ frame: f.slice(), cycle: c }));
  host.attach((f, c) => toHost.push({ frame: f.slice(), cycle: c }));
  const cfg = new NicConfigurator(nic);
  await cfg.nicAddresses({ relayIp: RELAY.ip, relayMac: RELAY.mac, hostIp: '10.0.0.10', relayPortBase: 20000, relayPortCount: 1024 });
  await cfg.target({ ip: SERVICE.ip, proto: 'udp', port: SERVICE.port, svcId: 1, critical: true });
  await cfg.service({ ip: SERVICE.ip, proto: 'udp', port: SERVICE.port, backupIp: BACKUP.ip, backupPort: BACKUP.port });
  return { nic, wire, host, toWire, toHost, cfg };
}

describe('FatriotNic', () => {
  it('adds the classifier and dual queue to the reference latency, and nothing else', () => {
    const ref = measureLatencyCycles(() => new ReferenceNic());
    const fatriot = measureLatencyCycles(() => new FatriotNic());
    // classifier: input fall-through (3) + header beats + table lookup (2); dual queue fall-through (3).
    expect(ref).toBe(42);
    expect(fatriot).toBe(50);
  });

  it('classifies critical traffic, mirrors it on dequeue, and serves it through the host while healthy', async () => {
    const { nic, wire, toHost, toWire } = await setup();
    for (let i = 0; i < 5; i++) wire.transmit(request(i), nic.sim.now + i * 1000);
    nic.sim.runUntil(nic.sim.now + 20_000);
    expect(toHost).toHaveLength(5);
    expect(toWire).toHaveLength(0);
    expect(nic.counter('event.classifierTargetHits')).toBe(5);
    expect(nic.counter('event.mirroredToFailsafe')).toBe(5);
    expect(nic.counter('event.relayedToBackup')).toBe(0);
    expect(nic.pool.inUse).toBe(0);
  });

  it('in fail-safe, relays a request to the backup through real ARP and NAT, and reverses the reply', async () => {
    const { nic, wire, toHost, toWire, cfg } = await setup();
    await cfg.failsafeMode(1, 'on');
    wire.transmit(request(7), nic.sim.now);
    nic.sim.runUntil(nic.sim.now + 20_000);
    // First the NIC asks who has the backup's address, from its relay address.
    const parser = new HeaderParser();
    expect(toWire).toHaveLength(1);
    expect(parser.parse(toWire[0]!.frame)).toBe(PacketKind.Arp);
    expect(formatIpv4(parser.arpTargetIp)).toBe(BACKUP.ip);
    expect(formatIpv4(parser.arpSenderIp)).toBe(RELAY.ip);
    // The backup answers; the held request leaves, translated.
    wire.transmit(buildArpFrame({ op: 'reply', senderMac: BACKUP.mac, senderIp: BACKUP.ip, targetMac: RELAY.mac, targetIp: RELAY.ip }), nic.sim.now);
    nic.sim.runUntil(nic.sim.now + 20_000);
    expect(toWire).toHaveLength(2);
    const relayed = toWire[1]!.frame;
    expect(parser.parse(relayed)).toBe(PacketKind.Ipv4Udp);
    expect(formatIpv4(parser.dstIp)).toBe(BACKUP.ip);
    expect(parser.dstPort).toBe(BACKUP.port);
    expect(formatIpv4(parser.srcIp)).toBe(RELAY.ip);
    const relayPort = parser.srcPort;
    expect(relayPort).toBeGreaterThanOrEqual(20000);
    expect(verifyIpv4HeaderChecksum(relayed, parser.l3Offset, parser.ipHeaderLength)).toBe(true);
    expect(verifyUdpChecksum(relayed, parser.l4Offset, parser.l4Length, parser.srcIp, parser.dstIp)).toBe(true);
    expect(relayed[parser.payloadOffset]).toBe(7);
    expect(toHost).toHaveLength(0);
    // The backup's echo comes back to the relay address and leaves towards the client
    // from the original service address.
    const payload = new Uint8Array(32);
    payload[0] = 7;
    wire.transmit(buildUdpFrame({ srcMac: BACKUP.mac, dstMac: RELAY.mac, srcIp: BACKUP.ip, dstIp: RELAY.ip, srcPort: BACKUP.port, dstPort: relayPort, payload }), nic.sim.now);
    nic.sim.runUntil(nic.sim.now + 20_000);
    expect(toWire).toHaveLength(3);
    const reply = toWire[2]!.frame;
    expect(parser.parse(reply)).toBe(PacketKind.Ipv4Udp);
    expect(formatIpv4(parser.srcIp)).toBe(SERVICE.ip);
    expect(parser.srcPort).toBe(SERVICE.port);
    expect(formatIpv4(parser.dstIp)).toBe(CLIENT.ip);
    expect(parser.dstPort).toBe(40000);
    expect(verifyUdpChecksum(reply, parser.l4Offset, parser.l4Length, parser.srcIp, parser.dstIp)).toBe(true);
    expect(nic.counter('event.relayedToBackup')).toBe(1);
    expect(nic.counter('event.relayedToClient')).toBe(1);
    expect(nic.pool.inUse).toBe(0);
  });
});
