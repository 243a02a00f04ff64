import { describe, expect, it } from 'vitest';
import { createMemoryLink } from '../../../src/dataplane/memory-link.ts';
import { Simulator } from '../../../src/pipeline/sim/simulator.ts';
import { buildArpFrame, buildIcmpEchoFrame, buildUdpFrame } from '../../../src/pipeline/wire/build.ts';
import { SimHost, type SimHostOptions } from '../../../src/host/sim/sim-host.ts';
import { linuxNeighborParams } from '../../../src/host/sim/timing.ts';
import { decode, Peer } from './helpers.ts';

const PEER = { ip: '10.0.0.1', mac: '02:00:00:00:00:01' };
const HOST = { ip: '10.0.0.10', mac: '02:00:00:00:00:0a' };
const VM = { ip: '10.0.0.11', mac: '02:00:00:00:00:0b' };
const KERNEL = 100;
/** Linux retrans_time (1 s) and delay_first_probe_time (5 s) at 160 MHz. */
const RETRANS = 160_000_000;
const DELAY_PROBE = 800_000_000;

function setup(options: Partial<SimHostOptions> = {}) {
  const sim = new Simulator();
  const [peerPort, hostPort] = createMemoryLink('peer', 'host');
  const host = sim.add(new SimHost('host', { port: hostPort, ...HOST, kernelDelayCycles: KERNEL, ...options }));
  const peer = sim.add(new Peer('peer', peerPort));
  const seen = () => peer.received.map((r) => ({ cycle: r.cycle, ...decode(r.frame) }));
  return { sim, host, peer, seen };
}

const arpRequest = (targetIp: string, sender = PEER) =>
  buildArpFrame({ op: 'request', senderMac: sender.mac, senderIp: sender.ip, targetIp });
const arpReply = (to = HOST, from = PEER) =>
  buildArpFrame({ op: 'reply', senderMac: from.mac, senderIp: from.ip, targetMac: to.mac, targetIp: to.ip });
const ping = (sequence: number, to = HOST, payloadLength = 32) =>
  buildIcmpEchoFrame({ srcMac: PEER.mac, dstMac: to.mac, srcIp: PEER.ip, dstIp: to.ip, type: 'request', identifier: 0x1234, sequence, payloadLength });

describe('SimHost', () => {
  it('uses the Linux neighbour defaults in cycles', () => {
    expect(linuxNeighborParams(160e6)).toEqual({
      retransCycles: RETRANS,
      mcastProbes: 3,
      ucastProbes: 3,
      reachableCycles: 30 * 160_000_000,
      delayFirstProbeCycles: DELAY_PROBE,
      unresQlen: 101,
      locktimeCycles: 160_000_000,
    });
  });

  it('answers an ARP request for its address after the kernel delay, and none for another address', () => {
    const { sim, host, peer, seen } = setup();
    peer.send(arpRequest(HOST.ip), 10);
    peer.send(arpRequest('10.0.0.99'), 20);
    sim.runUntilIdle();
    expect(seen()).toEqual([
      {
        cycle: 10 + KERNEL,
        dstMac: PEER.mac,
        srcMac: HOST.mac,
        arp: { op: 2, senderMac: HOST.mac, senderIp: HOST.ip, targetMac: PEER.mac, targetIp: PEER.ip },
      },
    ]);
    // neigh_event_ns: the requester is learned as STALE.
    expect(host.os.neighborState(PEER.ip, sim.now)).toBe('stale');
    expect(host.os.stats.txArpReplies).toBe(1);
  });

  it('answers ICMP echo after the kernel delay with the request identifier, sequence and payload', () => {
    const { sim, peer, seen } = setup();
    peer.send(arpRequest(HOST.ip), 10);
    const request = ping(7, HOST, 56);
    peer.send(request, 1000);
    sim.runUntilIdle();
    const reply = seen()[1]!;
    expect(reply).toMatchObject({
      cycle: 1000 + KERNEL,
      dstMac: PEER.mac,
      srcMac: HOST.mac,
      ip: { src: HOST.ip, dst: PEER.ip, ttl: 64, protocol: 1 },
      icmp: { type: 0, identifier: 0x1234, sequence: 7 },
    });
    expect(reply.error).toBeUndefined();
    expect(reply.icmp!.payload).toEqual(decode(request).icmp!.payload);
  });

  it('resolves an unknown peer like Linux: three broadcast requests 1 s apart, then the entry fails and its queue is dropped', () => {
    const { sim, host, peer, seen } = setup();
    peer.send(ping(1), 10);
    sim.runUntilIdle();
    const t = 10 + KERNEL;
    expect(seen().map((f) => [f.cycle, f.dstMac, f.arp])).toEqual(
      [t, t + RETRANS, t + 2 * RETRANS].map((cycle) => [
        cycle,
        'ff:ff:ff:ff:ff:ff',
        { op: 1, senderMac: HOST.mac, senderIp: HOST.ip, targetMac: '00:00:00:00:00:00', targetIp: PEER.ip },
      ]),
    );
    expect(host.os.neighborState(PEER.ip, sim.now)).toBe('none');
    expect(host.os.stats.dropUnresolved).toBe(1);
    expect(host.pool.inUse).toBe(0);
  });

  it('sends what it queued when the ARP reply comes, and a unicast reply makes the entry REACHABLE', () => {
    const { sim, host, peer, seen } = setup();
    for (let i = 0; i < 3; i++) peer.send(ping(i), 10 + i);
    peer.send(arpReply(), 5000);
    sim.runUntilIdle();
    const frames = seen();
    expect(frames[0]!.arp!.op).toBe(1);
    expect(frames.slice(1).map((f) => [f.cycle, f.dstMac, f.icmp?.sequence])).toEqual([
      [5000 + KERNEL, PEER.mac, 0],
      [5000 + KERNEL, PEER.mac, 1],
      [5000 + KERNEL, PEER.mac, 2],
    ]);
    expect(host.os.neighborState(PEER.ip, 5000 + KERNEL)).toBe('reachable');
    // base_reachable_time later the entry is STALE.
    expect(host.os.neighborState(PEER.ip, 5000 + KERNEL + 30 * 160_000_000)).toBe('stale');
  });

  it('keeps only the newest unres_qlen packets behind an unresolved entry', () => {
    const { sim, host, peer, seen } = setup({ neighbor: { unresQlen: 2 } });
    for (let i = 0; i < 4; i++) peer.send(ping(i), 10 + i);
    peer.send(arpReply(), 5000);
    sim.runUntilIdle();
    expect(seen().filter((f) => f.icmp !== undefined).map((f) => f.icmp!.sequence)).toEqual([2, 3]);
    expect(host.os.stats.dropUnresolved).toBe(2);
  });

  it('uses a STALE entry at once, then after delay_first_probe_time probes the cached MAC by unicast and fails without answers', () => {
    const { sim, host, peer, seen } = setup();
    peer.send(arpRequest(HOST.ip), 10);
    peer.send(ping(1), 1000);
    sim.runUntilIdle();
    const t = 1000 + KERNEL;
    const frames = seen();
    expect(frames[1]).toMatchObject({ cycle: t, dstMac: PEER.mac, icmp: { sequence: 1 } });
    expect(frames.slice(2).map((f) => [f.cycle, f.dstMac, f.arp?.op, f.arp?.targetIp])).toEqual(
      [0, 1, 2].map((k) => [t + DELAY_PROBE + k * RETRANS, PEER.mac, 1, PEER.ip]),
    );
    expect(host.os.neighborState(PEER.ip, sim.now)).toBe('none');
  });

  it('a unicast reply to a probe makes the entry REACHABLE and stops probing', () => {
    const { sim, host, peer, seen } = setup();
    peer.send(arpRequest(HOST.ip), 10);
    peer.send(ping(1), 1000);
    const probe = 1000 + KERNEL + DELAY_PROBE;
    peer.send(arpReply(), probe + 500);
    sim.runUntilIdle();
    expect(seen().filter((f) => f.arp?.op === 1).map((f) => f.cycle)).toEqual([probe]);
    expect(host.os.neighborState(PEER.ip, probe + 500 + KERNEL)).toBe('reachable');
  });

  it('ignores an ARP reply nobody asked for (arp_accept = 0)', () => {
    const { sim, host, peer } = setup();
    peer.send(arpReply(), 10);
    sim.runUntilIdle();
    expect(host.os.neighborState(PEER.ip, sim.now)).toBe('none');
  });

  it('drops frames with a bad IPv4 header or ICMP checksum, and counts them', () => {
    const { sim, host, peer, seen } = setup();
    peer.send(arpRequest(HOST.ip), 10);
    const badIp = ping(1);
    badIp[14 + 10]! ^= 0xff;
    const badIcmp = ping(2);
    badIcmp[14 + 20 + 2]! ^= 0xff;
    peer.send(badIp, 100);
    peer.send(badIcmp, 200);
    sim.runUntilIdle();
    expect(seen()).toHaveLength(1);
    expect(host.os.stats.dropBadChecksum).toBe(2);
  });

  it('after crash() answers nothing (ARP, ICMP, services); recover() answers again with an empty neighbour table', () => {
    const { sim, host, peer, seen } = setup();
    peer.send(arpRequest(HOST.ip), 10);
    sim.runUntilIdle();
    host.crash();
    expect(host.crashed).toBe(true);
    expect(host.os.neighborState(PEER.ip, sim.now)).toBe('none');
    const t = sim.now;
    peer.send(arpRequest(HOST.ip), t + 10);
    peer.send(ping(1), t + 20);
    peer.send(buildUdpFrame({ srcMac: PEER.mac, dstMac: HOST.mac, srcIp: PEER.ip, dstIp: HOST.ip, srcPort: 1, dstPort: 7, payloadLength: 4 }), t + 30);
    sim.runUntilIdle();
    expect(seen()).toHaveLength(1);
    expect(host.nodeStats.dropDown).toBe(3);
    host.recover();
    const u = sim.now;
    peer.send(ping(2), u + 10);
    sim.runUntilIdle();
    // Neighbours were flushed: the host must ARP before it can answer.
    expect(seen().slice(1).map((f) => [f.cycle, f.arp?.op ?? 'icmp'])).toEqual([
      [u + 10 + KERNEL, 1],
      [u + 10 + KERNEL + RETRANS, 1],
      [u + 10 + KERNEL + 2 * RETRANS, 1],
    ]);
  });

  it('drops a crash while frames are in flight without leaking packets', () => {
    const { sim, host, peer } = setup();
    peer.send(arpRequest(HOST.ip), 10);
    peer.send(ping(1), 20);
    sim.runUntil(50);
    host.crash();
    sim.runUntilIdle();
    expect(peer.received).toHaveLength(0);
    expect(host.pool.inUse).toBe(0);
  });

  it('hosts a VM with its own address and MAC that answers ARP and ICMP through the vswitch path', () => {
    const { sim, host, peer, seen } = setup();
    const vm = host.addGuest({ ...VM, pathDelayCycles: 500, kernelDelayCycles: 50 });
    peer.send(arpRequest(VM.ip), 10);
    peer.send(ping(3, VM), 2000);
    sim.runUntilIdle();
    const frames = seen();
    expect(frames.slice(0, 2).map((f) => [f.cycle, f.srcMac, f.arp?.senderIp ?? f.ip?.src, f.icmp?.sequence])).toEqual([
      [10 + 500 + 50 + 500, VM.mac, VM.ip, undefined],
      [2000 + 500 + 50 + 500, VM.mac, VM.ip, 3],
    ]);
    // The guest's own neighbour table then probes the peer (who stays silent) from the VM's MAC.
    expect(frames.slice(2).map((f) => [f.srcMac, f.dstMac, f.arp?.op])).toEqual([
      [VM.mac, PEER.mac, 1],
      [VM.mac, PEER.mac, 1],
      [VM.mac, PEER.mac, 1],
    ]);
    expect(vm.neighborState(PEER.ip, sim.now)).toBe('none');
    // The host OS did not answer for the VM's address, nor learn from it.
    expect(host.os.stats.txArpReplies).toBe(0);
    expect(host.os.neighborState(PEER.ip, sim.now)).toBe('none');
  });

  it('refuses a guest whose address or MAC is taken', () => {
    const { host } = setup();
    expect(() => host.addGuest({ ip: HOST.ip, mac: VM.mac })).toThrow(/already in use/);
    expect(() => host.addGuest({ ip: VM.ip, mac: HOST.mac })).toThrow(/already in use/);
  });

  it('costs nothing while idle: a 10 s quiet gap is one jump', () => {
    const { sim, peer } = setup();
    peer.send(arpRequest(HOST.ip), 10);
    peer.send(arpRequest(HOST.ip), 1_600_000_000);
    sim.runUntilIdle();
    expect(peer.received.map((r) => r.cycle)).toEqual([10 + KERNEL, 1_600_000_000 + KERNEL]);
    expect(sim.evaluatedCycles).toBeLessThan(20);
  });
});
