import { describe, expect, it } from 'vitest';
import { createMemoryLink } from '../../../src/dataplane/memory-link.ts';
import { lineRateFramesPerSecond } from '../../../hw/netfpga-spec/index.ts';
import { Simulator } from '../../../src/pipeline/sim/simulator.ts';
import { buildArpFrame, buildUdpFrame } from '../../../src/pipeline/wire/build.ts';
import { L2Switch } from '../../../src/host/sim/l2-switch.ts';
import { SimHost } from '../../../src/host/sim/sim-host.ts';
import { rttStats, TrafficGenerator } from '../../../src/host/sim/traffic-generator.ts';
import { UdpEchoService, type UdpEchoServiceOptions } from '../../../src/host/sim/udp-echo-service.ts';
import { decode, Peer } from './helpers.ts';

const TGEN = { ip: '10.0.0.1', mac: '02:00:00:00:00:01' };
const HOST = { ip: '10.0.0.10', mac: '02:00:00:00:00:0a' };
const LINK = 3;
const KERNEL = 100;
const DELAY = 1000;
const RTT = LINK + KERNEL + DELAY + LINK;

function withHost(service: Partial<UdpEchoServiceOptions> = {}) {
  const sim = new Simulator();
  const [tgenPort, hostPort] = createMemoryLink('tgen', 'host', { latencyCycles: LINK });
  const host = sim.add(new SimHost('host', { port: hostPort, ...HOST, kernelDelayCycles: KERNEL }));
  const echo = new UdpEchoService(host, { port: 7007, delayCycles: DELAY, ...service });
  const tgen = sim.add(new TrafficGenerator('tgen', { port: tgenPort, ...TGEN }));
  // ARP: request leaves at 1, the host answers after its kernel delay, the generator's responder takes a cycle.
  const t0 = 1 + LINK + KERNEL + LINK + 1;
  return { sim, host, echo, tgen, t0 };
}

function withPeer() {
  const sim = new Simulator();
  const [tgenPort, peerPort] = createMemoryLink('tgen', 'peer');
  const tgen = sim.add(new TrafficGenerator('tgen', { port: tgenPort, ...TGEN }));
  const peer = sim.add(new Peer('peer', peerPort));
  return { sim, tgen, peer };
}

describe('TrafficGenerator', () => {
  it('ARP-resolves the next hop, then sends request i at exactly t0 + i x intervalCycles and measures RTT per request', () => {
    const { sim, tgen, t0 } = withHost();
    tgen.start({ dstIp: HOST.ip, dstPort: 7007, count: 5, intervalCycles: 10_000 });
    sim.runUntilIdle();
    expect(tgen.state).toBe('done');
    expect(tgen.scheduleStartCycle).toBe(t0);
    expect(tgen.results()).toEqual(
      [0, 1, 2, 3, 4].map((seq) => ({
        seq,
        sendCycle: t0 + seq * 10_000,
        replyCycle: t0 + seq * 10_000 + RTT,
        lost: false,
        rttCycles: RTT,
        rttUs: (RTT * 6.25) / 1000,
      })),
    );
  });

  it('keeps a rate in packets per second exact: request i leaves at t0 + floor(i x 160e6 / rate)', () => {
    const { sim, tgen, t0 } = withHost();
    tgen.start({ dstIp: HOST.ip, dstPort: 7007, count: 5, ratePps: 3 });
    sim.runUntilIdle();
    expect(tgen.results().map((r) => r.sendCycle - t0)).toEqual([0, 53_333_333, 106_666_666, 160_000_000, 213_333_333]);
    tgen.start({ dstIp: HOST.ip, dstPort: 7007, count: 4, ratePps: 10 });
    sim.runUntilIdle();
    const second = tgen.results().map((r) => r.sendCycle);
    expect(second.slice(1).map((c, i) => c - second[i]!)).toEqual([16_000_000, 16_000_000, 16_000_000]);
    // The next hop is known now: the second run starts the cycle after start() was called.
    expect(tgen.scheduleStartCycle).toBe(second[0]);
  });

  it('stamps each request with magic, run id, sequence and send cycle, and pads to the frame size', () => {
    const { sim, tgen, peer } = withPeer();
    peer.send(buildArpFrame({ op: 'request', senderMac: HOST.mac, senderIp: HOST.ip, targetIp: TGEN.ip }), 1);
    sim.runUntilIdle();
    // The generator's responder answered in one cycle, and learned the requester (neigh_event_ns)...
    expect(peer.received.map((r) => [r.cycle, decode(r.frame).arp?.op])).toEqual([[2, 2]]);
    tgen.start({ dstIp: HOST.ip, dstPort: 7007, count: 2, intervalCycles: 1000, frameBytes: 100 });
    sim.runUntilIdle();
    // ...so the run needs no ARP of its own.
    const requests = peer.received.slice(1);
    expect(requests.map((r) => r.frame.length)).toEqual([100, 100]);
    const first = decode(requests[0]!.frame);
    expect(first).toMatchObject({ dstMac: HOST.mac, srcMac: TGEN.mac, ip: { src: TGEN.ip, dst: HOST.ip }, udp: { srcPort: 49152, dstPort: 7007 } });
    expect(first.error).toBeUndefined();
    const p = decode(requests[1]!.frame).udp!.payload;
    expect(p.length).toBe(100 - 42);
    const sendCycle = requests[1]!.cycle;
    expect(Array.from(p.subarray(0, 16))).toEqual([
      0x46, 0x4d, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, (sendCycle >>> 24) & 0xff, (sendCycle >>> 16) & 0xff, (sendCycle >>> 8) & 0xff, sendCycle & 0xff,
    ]);
    expect(p.subarray(16).every((b) => b === 0)).toBe(true);
  });

  it('counts only genuine replies: duplicates, bad checksums, wrong sources and unsent sequence numbers are not', () => {
    const { sim, tgen, peer } = withPeer();
    tgen.start({ dstIp: HOST.ip, dstPort: 7007, count: 2, intervalCycles: 1000 });
    peer.send(buildArpFrame({ op: 'reply', senderMac: HOST.mac, senderIp: HOST.ip, targetMac: TGEN.mac, targetIp: TGEN.ip }), 10);
    sim.runUntil(3000);
    const req = decode(peer.received[1]!.frame).udp!.payload;
    const reply = (payload: Uint8Array, srcIp = HOST.ip) =>
      buildUdpFrame({ srcMac: HOST.mac, dstMac: TGEN.mac, srcIp, dstIp: TGEN.ip, srcPort: 7007, dstPort: 49152, payload });
    const bad = reply(req);
    bad[14 + 20 + 6]! ^= 1;
    const unsent = req.slice();
    unsent[7] = 9;
    peer.send(reply(req), 5000);
    peer.send(reply(req), 5001);
    peer.send(bad, 5002);
    peer.send(reply(req, '10.0.0.99'), 5003);
    peer.send(reply(unsent), 5004);
    sim.runUntilIdle();
    expect(tgen.results().map((r) => r.replyCycle)).toEqual([5000, null]);
    expect(tgen.stats).toEqual({ replies: 1, duplicateReplies: 1, badChecksumReplies: 1, unmatchedReplies: 1 });
  });

  it('pings with ICMP echo: identifier 0x464d, the sequence in the header, RTT of the host kernel alone', () => {
    const { sim, tgen, t0 } = withHost();
    tgen.start({ dstIp: HOST.ip, protocol: 'icmp', count: 3, intervalCycles: 5000 });
    sim.runUntilIdle();
    expect(tgen.results().map((r) => [r.sendCycle, r.rttCycles])).toEqual([
      [t0, LINK + KERNEL + LINK],
      [t0 + 5000, LINK + KERNEL + LINK],
      [t0 + 10_000, LINK + KERNEL + LINK],
    ]);
  });

  it('stops resolving after three unanswered requests and reports the run unresolved', () => {
    const { sim, tgen, peer } = withPeer();
    tgen.start({ dstIp: HOST.ip, dstPort: 7007, count: 3, intervalCycles: 1000 });
    sim.runUntilIdle();
    expect(tgen.state).toBe('unresolved');
    expect(tgen.sent).toBe(0);
    expect(peer.received.map((r) => [r.cycle, decode(r.frame).arp?.op])).toEqual([
      [1, 1],
      [1 + 160_000_000, 1],
      [1 + 320_000_000, 1],
    ]);
  });

  it('summarises delivery over sequence ranges and RTT percentiles by nearest rank', () => {
    const { sim, tgen, echo, t0 } = withHost();
    tgen.start({ dstIp: HOST.ip, dstPort: 7007, count: 10, intervalCycles: 10_000 });
    // The service is down for requests 3..5.
    sim.runUntil(t0 + 2 * 10_000 + RTT + 1);
    echo.crash();
    sim.runUntil(t0 + 6 * 10_000 - 1);
    echo.recover();
    sim.runUntilIdle();
    expect(tgen.results().map((r) => r.lost)).toEqual([false, false, false, true, true, true, false, false, false, false]);
    expect(tgen.summary()).toMatchObject({ fromSeq: 0, toSeq: 9, sent: 10, delivered: 7, lost: 3, deliveredRatio: 0.7 });
    expect(tgen.summary(3, 5)).toMatchObject({ sent: 3, delivered: 0, deliveredRatio: 0, rttCycles: null });
    expect(tgen.summary(6, 100)).toMatchObject({ toSeq: 9, sent: 4, delivered: 4, deliveredRatio: 1 });
    expect(tgen.summary().rttCycles).toEqual({ count: 7, min: RTT, mean: RTT, p50: RTT, p90: RTT, p99: RTT, max: RTT });
    expect(rttStats([5, 1, 4, 2, 3, 10, 9, 8, 7, 6])).toEqual({ count: 10, min: 1, mean: 5.5, p50: 5, p90: 9, p99: 10, max: 10 });
    expect(rttStats([])).toBeNull();
  });

  for (const frameBytes of [60, 1514]) {
    it(`line-rate mode with ${frameBytes}-byte frames: back to back at the exact wire time, echoes counted at line rate`, () => {
      const sim = new Simulator();
      const [tgenPort, sw0] = createMemoryLink('tgen', 'sw0', { latencyCycles: LINK });
      const [sw1, hostPort] = createMemoryLink('sw1', 'host', { latencyCycles: LINK });
      sim.add(new L2Switch('sw', { ports: [sw0, sw1], latencyCycles: 80 }));
      const host = sim.add(new SimHost('host', { port: hostPort, ...HOST, kernelDelayCycles: KERNEL }));
      new UdpEchoService(host, { port: 7007, delayCycles: 0 });
      const tgen = sim.add(new TrafficGenerator('tgen', { port: tgenPort, ...TGEN }));
      const n = frameBytes === 60 ? 3000 : 500;
      tgen.start({ dstIp: HOST.ip, dstPort: 7007, count: n, lineRate: true, frameBytes });
      sim.runUntilIdle();
      const t0 = tgen.scheduleStartCycle;
      // 160 MHz: 125 wire units a cycle, 16 a byte; a frame holds (max(len + 4, 64) + 20) bytes of wire.
      const units = (Math.max(frameBytes + 4, 64) + 20) * 16;
      expect(tgen.results().map((r) => r.sendCycle)).toEqual(Array.from({ length: n }, (_, i) => t0 + Math.ceil((i * units) / 125)));
      const th = tgen.throughput();
      expect(th.received).toBe(n);
      const line = lineRateFramesPerSecond(frameBytes);
      expect(Math.abs(th.txPps / line - 1)).toBeLessThan(1e-3);
      expect(Math.abs(th.rxPps / line - 1)).toBeLessThan(1e-3);
      expect(th.rxLineGbps).toBeCloseTo(10, 1);
      expect(th.rxFrameGbps).toBeCloseTo((10 * (frameBytes + 4)) / (Math.max(frameBytes + 4, 64) + 20), 1);
      expect(tgen.repliesPerWindow(1_600_000).reduce((a, b) => a + b, 0)).toBe(n);
    });
  }

  it('refuses ambiguous or impossible runs', () => {
    const { tgen } = withPeer();
    expect(() => tgen.start({ dstIp: HOST.ip, dstPort: 7, count: 1 })).toThrow(/exactly one/);
    expect(() => tgen.start({ dstIp: HOST.ip, dstPort: 7, count: 1, ratePps: 1, lineRate: true })).toThrow(/exactly one/);
    expect(() => tgen.start({ dstIp: HOST.ip, count: 1, ratePps: 1 })).toThrow(/dstPort/);
    expect(() => tgen.start({ dstIp: '10.1.0.1', dstPort: 7, count: 1, ratePps: 1 })).toThrow(/not on the link/);
    expect(() => tgen.start({ dstIp: HOST.ip, dstPort: 7, count: 1, ratePps: 1, frameBytes: 57 })).toThrow(/frameBytes/);
  });
});
