import { describe, expect, it } from 'vitest';
import { FLAG_FROM_NEIGHBOR, srcForWireEgress, type NicEvent } from '../../../src/pipeline/modules/fatriot-tuser.ts';
import {
  ANNOUNCE_MAGIC,
  emitAnnouncement,
  NeighborDiscovery,
  parseAnnouncement,
  type AnnouncementRepr,
  type NeighborDiscoveryOptions,
} from '../../../src/pipeline/modules/neighbor-discovery.ts';
import { FatriotRegisters } from '../../../src/pipeline/regs/fatriot-registers.ts';
import { counterIndex, macToFields, unpackEntry } from '../../../src/pipeline/regs/register-map.ts';
import type { TableMemory } from '../../../src/pipeline/regs/table-memory.ts';
import { AxisSink, AxisSource } from '../../../src/pipeline/sim/axis-testbench.ts';
import { AxisChannel } from '../../../src/pipeline/sim/channel.ts';
import { PacketPool } from '../../../src/pipeline/sim/packet.ts';
import { RegisteredVector } from '../../../src/pipeline/sim/registered-vector.ts';
import { Simulator } from '../../../src/pipeline/sim/simulator.ts';
import { formatIpv4, formatMac, parseIpv4, parseMac } from '../../../src/pipeline/wire/address.ts';
import { buildUdpFrame } from '../../../src/pipeline/wire/build.ts';
import { ipv4HeaderChecksum, udpChecksum } from '../../../src/pipeline/wire/checksum.ts';
import { HeaderParser, PacketKind } from '../../../src/pipeline/wire/parse.ts';
import { CLIENT_IP, CLIENT_MAC, makeBench, SVC_ID, SVC_IP, SVC_MAC, writeEntry } from './failsafe-handler-harness.ts';

const ANNOUNCE_PORT = 7447;
const MY_MAC = '02:fa:00:00:00:0a';
const MY_RELAY_IP = '10.0.0.250';
const PEER_MAC = '02:fa:00:00:00:0b';
/** 1 cycle = 1 us, so intervals in the payload are exact. */
const CORE_HZ = 1_000_000;

function configure(nicConfig: TableMemory, intervalCycles: number, extra: Record<string, number> = {}) {
  const mac = macToFields(parseMac(MY_MAC));
  writeEntry(nicConfig, 0, {
    relayIp: parseIpv4(MY_RELAY_IP),
    nicMacHi: mac.hi,
    nicMacLo: mac.lo,
    hostIp: parseIpv4('10.0.0.1'),
    announcePort: ANNOUNCE_PORT,
    capacity: 10,
    announceIntervalCycles: intervalCycles,
    relayPortBase: 40000,
    relayPortCount: 1000,
    ...extra,
  });
}

function makeNd(options: NeighborDiscoveryOptions & { intervalCycles?: number; regs?: FatriotRegisters; sim?: Simulator; pool?: PacketPool } = {}) {
  const sim = options.sim ?? new Simulator();
  const pool = options.pool ?? new PacketPool(32);
  const regs = options.regs ?? new FatriotRegisters();
  if (options.regs === undefined) configure(regs.nicConfig, options.intervalCycles ?? 0);
  const rx = new AxisChannel('nd_rx');
  const tx = new AxisChannel('nd_tx');
  const events: NicEvent[] = [];
  const nd = sim.add(
    new NeighborDiscovery(
      'neighbor_discovery',
      rx,
      tx,
      pool,
      { nicConfig: regs.nicConfig, neighborTable: regs.neighborTable, targetTable: regs.targetTable },
      regs.counters,
      (e) => events.push(e),
      { coreHz: CORE_HZ, announcePorts: [1], ...options },
    ),
  );
  const source = sim.add(new AxisSource('announcer', rx));
  const sink = sim.add(new AxisSink('nd_tx_sink', tx));
  return {
    sim,
    pool,
    regs,
    nd,
    events,
    sink,
    counter: (name: string) => regs.counters.values[counterIndex(name)]!,
    announce(a: AnnouncementRepr, cycle: number, srcMac = PEER_MAC, mutate?: (f: Uint8Array) => void): void {
      const payload = new Uint8Array(emitAnnouncement(a, new Uint8Array(2048)));
      emitAnnouncement(a, payload);
      const frame = buildUdpFrame({ srcMac, dstMac: 'ff:ff:ff:ff:ff:ff', srcIp: '10.0.0.240', dstIp: '255.255.255.255', ttl: 1, srcPort: ANNOUNCE_PORT, dstPort: ANNOUNCE_PORT, payload });
      mutate?.(frame);
      source.send(pool.fromBytes(frame, frame.length, srcForWireEgress(0) >>> 1, cycle), cycle);
    },
    neighbors(): Record<string, number | string>[] {
      const nb = regs.neighborTable;
      const out = [];
      for (let e = 0; e < nb.depth; e++) {
        const f = unpackEntry(nb.spec, nb.readEntry(e, new Uint32Array(nb.wordsPerEntry)));
        if (f.valid !== 1) continue;
        out.push({
          entry: e,
          ip: formatIpv4(f.ip!),
          serviceId: f.serviceId!,
          alive: f.alive!,
          capacity: f.capacity!,
          load: f.load!,
          lastSeenCycle: f.lastSeenCycle!,
          mac: formatMac(new Uint8Array([f.macHi! >>> 8, f.macHi! & 0xff, f.macLo! >>> 24, (f.macLo! >>> 16) & 0xff, (f.macLo! >>> 8) & 0xff, f.macLo! & 0xff])),
          svcPort: f.svcPort!,
        });
      }
      return out;
    },
  };
}

const peer = (services: AnnouncementRepr['services'], extra: Partial<AnnouncementRepr> = {}): AnnouncementRepr => ({
  capacity: 8,
  load: 3,
  intervalUs: 1000,
  hostIp: parseIpv4('10.0.0.2'),
  services,
  ...extra,
});

describe('NeighborDiscovery: announcements', () => {
  it('announces the target-table services every announceIntervalCycles in the documented layout', () => {
    const t = makeNd({ intervalCycles: 1000 });
    writeEntry(t.regs.targetTable, 0, { dstIp: parseIpv4('10.0.0.11'), dstPort: 5000, proto: 17, serviceId: 3, critical: 1, valid: 1 });
    writeEntry(t.regs.targetTable, 1, { dstIp: parseIpv4('10.0.0.11'), dstPort: 0, proto: 1, serviceId: 3, critical: 1, valid: 1 });
    writeEntry(t.regs.targetTable, 7, { dstIp: parseIpv4('10.0.0.12'), dstPort: 80, proto: 6, serviceId: 9, critical: 0, valid: 1 });
    t.sim.runUntil(3500);
    expect(t.sink.received.map((r) => r.firstBeatCycle)).toEqual([2, 1002, 2002, 3002]);
    expect(t.counter('event.announcementsSent')).toBe(4);
    const r = t.sink.received[0]!;
    expect(r.packet.srcPort).toBe(srcForWireEgress(1));
    expect(r.packet.flags).toBe(FLAG_FROM_NEIGHBOR);
    const frame = r.packet.data.subarray(0, r.packet.length);
    const ps = new HeaderParser();
    expect(ps.parse(frame)).toBe(PacketKind.Ipv4Udp);
    expect([formatMac(frame, 0), formatMac(frame, 6), formatIpv4(ps.srcIp), formatIpv4(ps.dstIp), ps.ttl, ps.srcPort, ps.dstPort]).toEqual([
      'ff:ff:ff:ff:ff:ff',
      MY_MAC,
      MY_RELAY_IP,
      '255.255.255.255',
      1,
      ANNOUNCE_PORT,
      ANNOUNCE_PORT,
    ]);
    expect((frame[24]! << 8) | frame[25]!).toBe(ipv4HeaderChecksum(frame, 14, 20));
    expect((frame[40]! << 8) | frame[41]!).toBe(udpChecksum(frame, 34, ps.l4Length, ps.srcIp, ps.dstIp));
    expect((frame[42]! << 24) >>> 0 | (frame[43]! << 16) | (frame[44]! << 8) | frame[45]!).toBe(ANNOUNCE_MAGIC);
    expect(parseAnnouncement(frame, ps.payloadOffset, ps.l4Length - 8)).toEqual({
      capacity: 10,
      load: 0,
      intervalUs: 1000,
      hostIp: parseIpv4('10.0.0.1'),
      services: [
        { serviceId: 3, port: 0, ip: parseIpv4('10.0.0.11') },
        { serviceId: 9, port: 0, ip: parseIpv4('10.0.0.12') },
      ],
    });
  });

  it('leaves out services in fail-safe here, announces configured services and the load of the last period', () => {
    const failsafeActive = new RegisteredVector('fa', 256);
    const t = makeNd({
      intervalCycles: 1000,
      failsafeActive,
      services: [
        { serviceId: 3, port: 6000, ip: parseIpv4('10.0.0.21') },
        { serviceId: 4 },
      ],
    });
    t.sim.runUntil(500);
    failsafeActive.set(4, 1);
    failsafeActive.commit();
    t.regs.counters.values[counterIndex('dma0.txPackets')] = 40;
    t.regs.counters.values[counterIndex('dma2.txPackets')] = 2;
    t.sim.runUntil(1500);
    const ps = new HeaderParser();
    const parsed = t.sink.received.map((r) => {
      ps.parse(r.packet.data, r.packet.length);
      return parseAnnouncement(r.packet.data, ps.payloadOffset, ps.l4Length - 8)!;
    });
    expect(parsed.map((a) => a.services)).toEqual([
      [{ serviceId: 3, port: 6000, ip: parseIpv4('10.0.0.21') }, { serviceId: 4, port: 0, ip: 0 }],
      [{ serviceId: 3, port: 6000, ip: parseIpv4('10.0.0.21') }],
    ]);
    expect(parsed.map((a) => a.load)).toEqual([0, 42]);
  });

  it('is silent while announceIntervalCycles is 0 and starts when the host sets it', () => {
    const t = makeNd({ intervalCycles: 0 });
    t.sim.runUntil(5000);
    expect(t.sink.received).toHaveLength(0);
    t.regs.nicConfig.hostWriteWord(0, 6, 2000, 6000);
    t.sim.runUntil(9000);
    expect(t.sink.received.map((r) => r.firstBeatCycle)).toEqual([6002, 8002]);
  });
});

describe('NeighborDiscovery: the neighbor table', () => {
  it('records each announced (ip, service) with capacity, load, last seen, MAC and port, and reports it up', () => {
    const t = makeNd();
    t.announce(peer([{ serviceId: 3, port: 6000, ip: parseIpv4('10.0.0.21') }, { serviceId: 4, port: 0, ip: 0 }]), 100);
    t.sim.runUntil(200);
    // The 86-byte frame's last (third) beat moves at 102 and is processed in that commit.
    expect(t.neighbors()).toEqual([
      { entry: 0, ip: '10.0.0.21', serviceId: 3, alive: 1, capacity: 8, load: 3, lastSeenCycle: 102, mac: PEER_MAC, svcPort: 6000 },
      { entry: 1, ip: '10.0.0.2', serviceId: 4, alive: 1, capacity: 8, load: 3, lastSeenCycle: 102, mac: PEER_MAC, svcPort: 0 },
    ]);
    expect(t.events).toEqual([
      { kind: 'neighbor', ip: parseIpv4('10.0.0.21'), serviceId: 3, up: true, cycle: 102 },
      { kind: 'neighbor', ip: parseIpv4('10.0.0.2'), serviceId: 4, up: true, cycle: 102 },
    ]);
    expect(t.counter('event.announcementsReceived')).toBe(1);
    expect(t.pool.inUse).toBe(0);
  });

  it('marks a neighbor not alive exactly 3 of its periods after it was last heard, and a later announcement revives it', () => {
    const t = makeNd();
    const a = peer([{ serviceId: 3, port: 0, ip: 0 }], { intervalUs: 1000 });
    t.announce(a, 0);
    t.announce(a, 1000);
    t.sim.runUntil(1002 + 2999 + 1);
    expect(t.neighbors()[0]!.alive).toBe(1);
    t.sim.runUntil(1002 + 3000 + 1);
    expect(t.neighbors()[0]!.alive).toBe(0);
    expect(t.counter('event.neighborsExpired')).toBe(1);
    // Sent before the run: the source offers it from cycle 1, its 3 beats move at 1..3.
    expect(t.events.map((e) => [e.kind === 'neighbor' && e.up, e.cycle])).toEqual([
      [true, 3],
      [false, 4002],
    ]);
    t.announce(a, 5000);
    t.sim.runUntil(6000);
    expect(t.neighbors()).toHaveLength(1);
    expect(t.neighbors()[0]!.alive).toBe(1);
    expect(t.events).toHaveLength(3);
  });

  it('counts malformed announcements and leaves the table alone', () => {
    const t = makeNd();
    const a = peer([{ serviceId: 3, port: 0, ip: 0 }]);
    t.announce(a, 0, PEER_MAC, (f) => (f[42] ^= 0xff)); // magic (UDP checksum now wrong too)
    t.announce(a, 10, PEER_MAC, (f) => {
      f[46] = 2; // version 2, UDP checksum fixed up
      const c = udpChecksum(f, 34, (f[38]! << 8) | f[39]!, parseIpv4('10.0.0.240'), 0xffffffff);
      f[40] = c >>> 8;
      f[41] = c & 0xff;
    });
    t.announce(a, 20, PEER_MAC, (f) => {
      f[47] = 9; // count past the payload
      const c = udpChecksum(f, 34, (f[38]! << 8) | f[39]!, parseIpv4('10.0.0.240'), 0xffffffff);
      f[40] = c >>> 8;
      f[41] = c & 0xff;
    });
    t.announce(a, 30, PEER_MAC, (f) => (f[63] ^= 1)); // payload bit flip: bad UDP checksum
    const other = buildUdpFrame({ srcMac: PEER_MAC, dstMac: SVC_MAC, srcIp: CLIENT_IP, dstIp: SVC_IP, srcPort: 1, dstPort: 9999, payloadLength: 30 });
    t.announce(a, 40, PEER_MAC, (f) => f.set(other.subarray(0, 60)));
    t.sim.runUntil(200);
    expect(t.counter('drop.announceMalformed')).toBe(5);
    expect(t.neighbors()).toEqual([]);
    expect(t.pool.inUse).toBe(0);
  });

  it('ignores its own announcements', () => {
    const t = makeNd();
    t.announce(peer([{ serviceId: 3, port: 0, ip: 0 }]), 0, MY_MAC);
    t.sim.runUntil(100);
    expect(t.neighbors()).toEqual([]);
    expect(t.counter('event.announcementsReceived')).toBe(0);
  });

  it('learns what another NeighborDiscovery announces (its tx wired to this rx)', () => {
    const sim = new Simulator();
    const pool = new PacketPool(32);
    const regsA = new FatriotRegisters();
    const regsB = new FatriotRegisters();
    configure(regsA.nicConfig, 0);
    const peerMac = macToFields(parseMac(PEER_MAC));
    configure(regsB.nicConfig, 500, { relayIp: parseIpv4('10.0.0.251'), hostIp: parseIpv4('10.0.0.2'), nicMacHi: peerMac.hi, nicMacLo: peerMac.lo, capacity: 77 });
    writeEntry(regsB.targetTable, 0, { dstIp: parseIpv4('10.0.0.31'), dstPort: 5000, proto: 17, serviceId: 5, critical: 1, valid: 1 });
    const wire = new AxisChannel('b_to_a');
    const events: NicEvent[] = [];
    sim.add(new NeighborDiscovery('nd_a', wire, new AxisChannel('a_tx'), pool, regsA, regsA.counters, (e) => events.push(e), { coreHz: CORE_HZ }));
    sim.add(new NeighborDiscovery('nd_b', new AxisChannel('b_rx'), wire, pool, regsB, regsB.counters, null, { coreHz: CORE_HZ, announcePorts: [0] }));
    sim.runUntil(1200);
    const nb = regsA.neighborTable;
    const f = unpackEntry(nb.spec, nb.readEntry(0, new Uint32Array(nb.wordsPerEntry)));
    expect([formatIpv4(f.ip!), f.serviceId, f.alive, f.capacity, f.lastSeenCycle]).toEqual(['10.0.0.31', 5, 1, 77, 1004]);
    expect(regsA.counters.values[counterIndex('event.announcementsReceived')]).toBe(3);
    expect(events).toHaveLength(1);
  });
});

describe('NeighborDiscovery with the fail-safe handler', () => {
  it('spreads fail-safe flows over announcing backups, and a backup silent for 3 periods stops receiving flows', () => {
    const staticArp = ['10.0.2.1', '10.0.2.2'].map((ip) => ({ ip: parseIpv4(ip), mac: parseMac('02:00:00:00:02:00') }));
    const fh = makeBench({ staticArp, relayPortCount: 5000 });
    fh.setFailsafe(SVC_ID, true);
    configure(fh.regs.nicConfig, 0, { relayIp: parseIpv4('10.0.0.254'), relayPortBase: 40000, relayPortCount: 5000 });
    const nd = makeNd({ regs: fh.regs, sim: fh.sim, pool: fh.pool, announcePorts: [] });
    const one = peer([{ serviceId: SVC_ID, port: 0, ip: parseIpv4('10.0.2.1') }], { intervalUs: 1000 });
    const two = peer([{ serviceId: SVC_ID, port: 0, ip: parseIpv4('10.0.2.2') }], { intervalUs: 1000 });
    // The source sends in queue order: queue the announcements in time order.
    for (let t = 0; t <= 10_000; t += 1000) {
      nd.announce(one, t);
      if (t <= 2000) nd.announce(two, t + 10);
    }
    const sendFlows = (cycle: number) => {
      fh.sim.runUntil(cycle);
      const start = fh.sink.received.length;
      for (let i = 0; i < 400; i++) {
        fh.sendDirect(buildUdpFrame({ srcMac: CLIENT_MAC, dstMac: SVC_MAC, srcIp: 0x0a010000 + i, dstIp: SVC_IP, srcPort: 999, dstPort: 5000 }), 'nf0', SVC_ID, cycle);
      }
      fh.sim.runUntil(cycle + 900);
      const counts: Record<string, number> = {};
      for (const f of fh.frames().slice(start)) {
        const ip = formatIpv4(((f[30]! << 24) | (f[31]! << 16) | (f[32]! << 8) | f[33]!) >>> 0);
        counts[ip] = (counts[ip] ?? 0) + 1;
      }
      return counts;
    };
    const early = sendFlows(2100);
    expect(Object.keys(early).sort()).toEqual(['10.0.2.1', '10.0.2.2']);
    expect(Math.abs(early['10.0.2.1']! - 200)).toBeLessThan(30);
    // Backup two was last heard at 2012: at 2012 + 3000 it is no longer alive.
    fh.sim.runUntil(5011);
    expect(nd.neighbors().map((n) => n.alive)).toEqual([1, 1]);
    const late = sendFlows(5012);
    expect(nd.neighbors().map((n) => n.alive)).toEqual([1, 0]);
    expect(late).toEqual({ '10.0.2.1': 400 });
    expect(nd.events.filter((e) => e.kind === 'neighbor' && !e.up)).toHaveLength(1);
  });
});
