import { describe, expect, it } from 'vitest';
import { createMemoryLink } from '../../../src/dataplane/memory-link.ts';
import { Simulator } from '../../../src/pipeline/sim/simulator.ts';
import { buildArpFrame, buildIcmpEchoFrame, buildUdpFrame } from '../../../src/pipeline/wire/build.ts';
import { SimHost } from '../../../src/host/sim/sim-host.ts';
import { UdpEchoService, type UdpEchoServiceOptions } from '../../../src/host/sim/udp-echo-service.ts';
import { decode, Peer } from './helpers.ts';

const PEER = { ip: '10.0.0.1', mac: '02:00:00:00:00:01' };
const HOST = { ip: '10.0.0.10', mac: '02:00:00:00:00:0a' };
const VM = { ip: '10.0.0.11', mac: '02:00:00:00:00:0b' };
const KERNEL = 100;
const DELAY = 1000;

function setup(options: Partial<UdpEchoServiceOptions> = {}) {
  const sim = new Simulator();
  const [peerPort, hostPort] = createMemoryLink('peer', 'host');
  const host = sim.add(new SimHost('host', { port: hostPort, ...HOST, kernelDelayCycles: KERNEL }));
  const service = new UdpEchoService(host, { port: 7007, delayCycles: DELAY, ...options });
  const peer = sim.add(new Peer('peer', peerPort));
  // The peer introduces itself so that replies need no ARP.
  const target = options.ip === undefined ? HOST : VM;
  peer.send(buildArpFrame({ op: 'request', senderMac: PEER.mac, senderIp: PEER.ip, targetIp: target.ip }), 1);
  const replies = () =>
    peer.received
      .map((r) => ({ cycle: r.cycle, ...decode(r.frame) }))
      .filter((f) => f.udp !== undefined)
      .map((f) => ({ cycle: f.cycle, tag: f.udp!.payload[0]!, f }));
  return { sim, host, service, peer, replies, target };
}

function request(tag: number, to = HOST, payloadLength = 18): Uint8Array {
  const payload = new Uint8Array(payloadLength);
  for (let i = 0; i < payloadLength; i++) payload[i] = (tag + i * 7) & 0xff;
  payload[0] = tag;
  return buildUdpFrame({ srcMac: PEER.mac, dstMac: to.mac, srcIp: PEER.ip, dstIp: to.ip, srcPort: 40000, dstPort: 7007, payload });
}

describe('UdpEchoService', () => {
  it('echoes the payload back to the sender after the kernel delay plus the processing delay', () => {
    const { sim, peer, replies } = setup();
    const req = request(5, HOST, 200);
    peer.send(req, 1000);
    sim.runUntilIdle();
    const [r] = replies();
    expect(r!.cycle).toBe(1000 + KERNEL + DELAY);
    expect(r!.f).toMatchObject({
      dstMac: PEER.mac,
      srcMac: HOST.mac,
      ip: { src: HOST.ip, dst: PEER.ip, ttl: 64, protocol: 17 },
      udp: { srcPort: 7007, dstPort: 40000 },
    });
    expect(r!.f.error).toBeUndefined();
    expect(r!.f.udp!.payload).toEqual(decode(req).udp!.payload);
  });

  it('raises the reply time by exactly the delay set with setDelay, for requests that start afterwards', () => {
    const { sim, service, peer, replies } = setup();
    peer.send(request(1), 1000);
    sim.runUntil(5000);
    service.setDelay(DELAY + 12_345);
    peer.send(request(2), 10_000);
    sim.runUntil(50_000);
    service.setDelay(DELAY);
    peer.send(request(3), 60_000);
    sim.runUntilIdle();
    expect(replies().map((r) => [r.tag, r.cycle])).toEqual([
      [1, 1000 + KERNEL + DELAY],
      [2, 10_000 + KERNEL + DELAY + 12_345],
      [3, 60_000 + KERNEL + DELAY],
    ]);
  });

  it('serves requests in order with one worker: a request that finds it busy waits its turn', () => {
    const { sim, peer, replies } = setup();
    for (let i = 0; i < 3; i++) peer.send(request(i), 1000);
    sim.runUntilIdle();
    expect(replies().map((r) => [r.tag, r.cycle])).toEqual([
      [0, 1000 + KERNEL + DELAY],
      [1, 1000 + KERNEL + 2 * DELAY],
      [2, 1000 + KERNEL + 3 * DELAY],
    ]);
  });

  it('serves as many requests at once as it has workers', () => {
    const { sim, peer, replies } = setup({ workers: 2 });
    for (let i = 0; i < 3; i++) peer.send(request(i), 1000);
    sim.runUntilIdle();
    expect(replies().map((r) => [r.tag, r.cycle])).toEqual([
      [0, 1000 + KERNEL + DELAY],
      [1, 1000 + KERNEL + DELAY],
      [2, 1000 + KERNEL + 2 * DELAY],
    ]);
  });

  it('drops requests beyond a full socket buffer and counts them', () => {
    const { sim, service, peer, replies } = setup({ socketBufferPackets: 1 });
    for (let i = 0; i < 4; i++) peer.send(request(i), 1000);
    sim.runUntilIdle();
    expect(replies().map((r) => r.tag)).toEqual([0, 1]);
    expect(service.stats).toEqual({ requests: 4, replies: 2, dropSocketFull: 2, dropDown: 0 });
  });

  it('answers nothing while hung; recover() answers the held request at once, then the queued ones', () => {
    const { sim, service, peer, replies } = setup();
    peer.send(request(0), 1000);
    sim.runUntil(1000 + KERNEL + 10);
    service.hang();
    expect(service.state).toBe('hung');
    peer.send(request(1), 3000);
    peer.send(request(2), 4000);
    sim.runUntil(100_000);
    expect(replies()).toEqual([]);
    expect(service.queuedRequests).toBe(2);
    service.recover();
    const resumed = sim.now + 1;
    sim.runUntilIdle();
    expect(replies().map((r) => [r.tag, r.cycle])).toEqual([
      [0, resumed],
      [1, resumed + DELAY],
      [2, resumed + 2 * DELAY],
    ]);
  });

  it('crash() loses what it held and answers nothing; recover() serves new requests', () => {
    const { sim, service, peer, replies } = setup();
    peer.send(request(0), 1000);
    sim.runUntil(1500);
    service.crash();
    peer.send(request(1), 3000);
    sim.runUntil(100_000);
    expect(replies()).toEqual([]);
    expect(service.stats.dropDown).toBe(2);
    service.recover();
    peer.send(request(2), 200_000);
    sim.runUntilIdle();
    expect(replies().map((r) => [r.tag, r.cycle])).toEqual([[2, 200_000 + KERNEL + DELAY]]);
  });

  it('in a VM: answers from the VM address through the vswitch path; a crash silences ARP and ICMP for the VM too', () => {
    const { sim, host, service, peer, replies } = setup({ ...VM, pathDelayCycles: 500, guestKernelDelayCycles: 50 });
    expect(service.ownAddress).toBe(true);
    peer.send(request(1, VM), 1000);
    sim.runUntil(10_000);
    expect(replies().map((r) => [r.tag, r.cycle, r.f.ip!.src, r.f.srcMac])).toEqual([[1, 1000 + 500 + 50 + DELAY + 500, VM.ip, VM.mac]]);
    service.crash();
    const before = peer.received.length;
    peer.send(buildArpFrame({ op: 'request', senderMac: PEER.mac, senderIp: PEER.ip, targetIp: VM.ip }), 20_000);
    peer.send(buildIcmpEchoFrame({ srcMac: PEER.mac, dstMac: VM.mac, srcIp: PEER.ip, dstIp: VM.ip, type: 'request', identifier: 1, sequence: 1 }), 20_100);
    peer.send(request(2, VM), 20_200);
    sim.runUntil(100_000);
    expect(peer.received.length).toBe(before);
    // The host OS is unaffected.
    peer.send(buildArpFrame({ op: 'request', senderMac: PEER.mac, senderIp: PEER.ip, targetIp: HOST.ip }), 100_010);
    sim.runUntil(200_000);
    expect(decode(peer.received.at(-1)!.frame).arp?.senderIp).toBe(HOST.ip);
    service.recover();
    peer.send(buildArpFrame({ op: 'request', senderMac: PEER.mac, senderIp: PEER.ip, targetIp: VM.ip }), 300_000);
    peer.send(request(3, VM), 300_100);
    sim.runUntil(400_000);
    expect(replies().map((r) => [r.tag, r.cycle])).toEqual([
      [1, 1000 + 1050 + DELAY],
      [3, 300_100 + 1050 + DELAY],
    ]);
    expect(host.pool.inUse).toBe(0);
  });

  it('keeps serving after its host crashes and recovers (a reboot)', () => {
    const { sim, host, peer, replies } = setup();
    peer.send(request(0), 1000);
    sim.runUntil(1500);
    host.crash();
    sim.runUntil(10_000);
    host.recover();
    peer.send(buildArpFrame({ op: 'request', senderMac: PEER.mac, senderIp: PEER.ip, targetIp: HOST.ip }), 20_000);
    peer.send(request(1), 30_000);
    sim.runUntil(100_000);
    expect(replies().map((r) => [r.tag, r.cycle])).toEqual([[1, 30_000 + KERNEL + DELAY]]);
    expect(host.pool.inUse).toBe(0);
  });

  it('refuses a second binding of one port and counts datagrams to unbound ports', () => {
    const { sim, host, peer, replies } = setup();
    expect(() => new UdpEchoService(host, { port: 7007 })).toThrow(/already bound/);
    peer.send(buildUdpFrame({ srcMac: PEER.mac, dstMac: HOST.mac, srcIp: PEER.ip, dstIp: HOST.ip, srcPort: 1, dstPort: 9, payloadLength: 4 }), 100);
    sim.runUntilIdle();
    expect(replies()).toEqual([]);
    expect(host.os.stats.dropNoService).toBe(1);
  });

  it('drops datagrams with a bad UDP checksum', () => {
    const { sim, host, peer, replies } = setup();
    const bad = request(1);
    bad[14 + 20 + 6]! ^= 0x55;
    peer.send(bad, 100);
    sim.runUntilIdle();
    expect(replies()).toEqual([]);
    expect(host.os.stats.dropBadChecksum).toBe(1);
  });
});
