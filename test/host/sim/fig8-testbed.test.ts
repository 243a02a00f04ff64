import { beforeAll, describe, expect, it } from 'vitest';
import { createMemoryLink } from '../../../src/dataplane/memory-link.ts';
import { ReferenceNic } from '../../../src/pipeline/nic/reference-nic.ts';
import { Simulator } from '../../../src/pipeline/sim/simulator.ts';
import { parseMac, readMac48 } from '../../../src/pipeline/wire/address.ts';
import { buildFig8Testbed, FIG8_PLAN, type AttachableNic, type Fig8HostName } from '../../../src/host/sim/fig8-testbed.ts';
import { cyclesFromUs } from '../../../src/host/sim/timing.ts';
import { decode, Peer, TapPort, type Seen } from './helpers.ts';

const CABLE = 2;
const SWITCH = 80;
const KERNEL = cyclesFromUs(10);
const GUEST_KERNEL = cyclesFromUs(10);
const VM_PATH = cyclesFromUs(100);
const DELAY = cyclesFromUs(20);
/** Generator to NIC nf0 (or back): cable, cut-through switch, cable. */
const WIRE_ONE_WAY = CABLE + SWITCH + CABLE;

interface NicTaps {
  /** Frames into nf0 from the switch, and out of nf0. */
  nf: TapPort;
  /** Frames into dma0 from the host, and out of dma0 to the host. */
  dma: TapPort;
}

function testbed(shuffleSeed?: number) {
  const sim = new Simulator(shuffleSeed === undefined ? {} : { shuffleSeed });
  const taps = {} as Record<Fig8HostName, NicTaps>;
  const calls: [Fig8HostName, unknown][] = [];
  const tb = buildFig8Testbed(sim, {
    nicFactory: (name, s, plan) => {
      calls.push([name, plan]);
      const nic = new ReferenceNic({ sim: s, name });
      return {
        nic,
        attach(ports: Parameters<AttachableNic['attach']>[0]) {
          const nf = new TapPort(ports.nf![0]!);
          const dma = new TapPort(ports.dma![0]!);
          taps[name] = { nf, dma };
          nic.attach({ nf: [nf], dma: [dma] });
        },
      };
    },
    cableLatencyCycles: CABLE,
    switchLatencyCycles: SWITCH,
    hostKernelDelayCycles: KERNEL,
    guestKernelDelayCycles: GUEST_KERNEL,
    vmPathDelayCycles: VM_PATH,
    serviceDelayCycles: DELAY,
  });
  return { sim, tb, taps, calls };
}

/** The generator's run id and sequence number in a frame as "run:seq", or "" (stamp: "FM", run id, seq). */
function stampOf(frame: Uint8Array): string {
  const d = decode(frame);
  const p = d.udp?.payload ?? d.icmp?.payload;
  if (p === undefined || p.length < 16 || p[0] !== 0x46 || p[1] !== 0x4d) return '';
  return `${(p[2]! << 8) | p[3]!}:${((p[4]! << 24) | (p[5]! << 16) | (p[6]! << 8) | p[7]!) >>> 0}`;
}

function cycleOf(seen: Seen[], seq: number, run: number): number {
  const hit = seen.filter((s) => stampOf(s.frame) === `${run}:${seq}`);
  expect(hit).toHaveLength(1);
  return hit[0]!.cycle;
}

/** NIC latencies of one request/reply pair of generator run `run`, read at the NIC's own ports. */
function nicLatencies(t: NicTaps, seq: number, run = 1) {
  const inAt = cycleOf(t.nf.rx, seq, run);
  const hostGets = cycleOf(t.dma.tx, seq, run);
  const hostSends = cycleOf(t.dma.rx, seq, run);
  const outAt = cycleOf(t.nf.tx, seq, run);
  return { toHost: hostGets - inAt, toWire: outAt - hostSends, inAt, hostGets, hostSends, outAt };
}

/**
 * A 60-byte frame's latency through a lone ReferenceNic, nf0 -> dma0 and dma0 -> nf0, for
 * every phase of the input arbiter's round robin (5 inputs): [min, max] in cycles.
 */
function standaloneNicRange(): { toHost: [number, number]; toWire: [number, number] } {
  const toHost: number[] = [];
  const toWire: number[] = [];
  for (let at = 1; at <= 5; at++) {
    for (const dir of ['toHost', 'toWire'] as const) {
      const sim = new Simulator();
      const nic = new ReferenceNic({ sim });
      const [nf, wire] = createMemoryLink('nf0', 'wire');
      const [dma, host] = createMemoryLink('dma0', 'host');
      nic.attach({ nf: [nf], dma: [dma] });
      const w = sim.add(new Peer('w', wire));
      const h = sim.add(new Peer('h', host));
      (dir === 'toHost' ? w : h).send(new Uint8Array(60), at);
      sim.runUntilIdle();
      (dir === 'toHost' ? toHost : toWire).push((dir === 'toHost' ? h : w).received[0]!.cycle - at);
    }
  }
  return { toHost: [Math.min(...toHost), Math.max(...toHost)], toWire: [Math.min(...toWire), Math.max(...toWire)] };
}

describe('buildFig8Testbed with ReferenceNic', () => {
  let nicRange: ReturnType<typeof standaloneNicRange>;
  beforeAll(() => {
    nicRange = standaloneNicRange();
  });

  it('builds the paper testbed: NICs from the factory with their address plan, hosts, VMs and services', () => {
    const { tb, calls } = testbed();
    expect(calls).toEqual([
      ['main', FIG8_PLAN.main],
      ['backup', FIG8_PLAN.backup],
    ]);
    expect(tb.main.nic.nic).toBeInstanceOf(ReferenceNic);
    expect(tb.main.service.stack.ip).toBe(0x0a00000b);
    expect(tb.main.service.ownAddress).toBe(true);
    expect(tb.main.hostService.stack).toBe(tb.main.host.os);
    expect(tb.backup.service.stack.ip).toBe(0x0a000015);
    expect(tb.cableLatencyCycles).toBe(CABLE);
    expect(tb.switch.latencyCycles).toBe(SWITCH);
  });

  it('defaults: 2-cycle cables, 80-cycle switch, Linux-like hosts', () => {
    const tb = buildFig8Testbed(new Simulator(), { nicFactory: (name, sim) => new ReferenceNic({ sim, name }) });
    expect(tb.cableLatencyCycles).toBe(2);
    expect(tb.switch.latencyCycles).toBe(80);
    expect(tb.main.host.os.kernelDelayCycles).toBe(1600);
    expect(tb.main.service.stack.pathDelayCycles).toBe(16_000);
    expect(tb.main.service.delayCycles).toBe(3200);
  });

  it('UDP echo to the main VM through the switch and a ReferenceNic: ARP first, then RTT is exactly the sum of its parts', () => {
    const { sim, tb, taps } = testbed();
    tb.tgen.start({ dstIp: FIG8_PLAN.main.serviceIp, dstPort: FIG8_PLAN.servicePort, count: 20, ratePps: 10 });
    sim.runUntil(400_000_000);
    const results = tb.tgen.results();
    expect(results).toHaveLength(20);
    // ARP: the request (leaving at cycle 1) is flooded to both NICs; the VM answers through its vswitch path.
    const arpIn = taps.main.nf.rx[0]!;
    expect([arpIn.cycle, decode(arpIn.frame).arp?.targetIp]).toEqual([1 + WIRE_ONE_WAY, FIG8_PLAN.main.serviceIp]);
    expect(decode(taps.backup.nf.rx[0]!.frame).arp?.op).toBe(1);
    expect(taps.backup.dma.rx).toEqual([]);
    const arpReply = taps.main.dma.rx[0]!;
    expect(decode(arpReply.frame).arp).toMatchObject({ op: 2, senderIp: FIG8_PLAN.main.serviceIp, senderMac: FIG8_PLAN.main.serviceMac });
    expect(arpReply.cycle - taps.main.dma.tx[0]!.cycle).toBe(VM_PATH + GUEST_KERNEL + VM_PATH);

    for (const r of results) {
      const n = nicLatencies(taps.main, r.seq);
      // Each part on its own: the wire and switch, the NIC (measured at its ports), the host and VM.
      expect(n.inAt - r.sendCycle).toBe(WIRE_ONE_WAY);
      expect(n.hostSends - n.hostGets).toBe(VM_PATH + GUEST_KERNEL + DELAY + VM_PATH);
      expect(r.replyCycle! - n.outAt).toBe(WIRE_ONE_WAY);
      expect(n.toHost).toBeGreaterThanOrEqual(nicRange.toHost[0]);
      expect(n.toHost).toBeLessThanOrEqual(nicRange.toHost[1]);
      expect(n.toWire).toBeGreaterThanOrEqual(nicRange.toWire[0]);
      expect(n.toWire).toBeLessThanOrEqual(nicRange.toWire[1]);
      expect(r.rttCycles).toBe(2 * WIRE_ONE_WAY + n.toHost + n.toWire + 2 * VM_PATH + GUEST_KERNEL + DELAY);
    }
    // The switch learned every station on its port.
    const fdb = tb.switch.fdbEntries();
    expect(fdb.get(readMac48(parseMac(FIG8_PLAN.tgen.mac), 0))).toBe(0);
    expect(fdb.get(readMac48(parseMac(FIG8_PLAN.main.serviceMac), 0))).toBe(1);
  });

  it('ICMP echo to the main host OS and UDP echo to its own service: RTT without the VM path', () => {
    const { sim, tb, taps } = testbed();
    tb.tgen.start({ dstIp: FIG8_PLAN.main.hostIp, protocol: 'icmp', count: 5, intervalCycles: 1_000_000 });
    sim.runUntil(10_000_000);
    for (const r of tb.tgen.results()) {
      const n = nicLatencies(taps.main, r.seq);
      expect(r.rttCycles).toBe(2 * WIRE_ONE_WAY + n.toHost + n.toWire + KERNEL);
    }
    tb.tgen.start({ dstIp: FIG8_PLAN.main.hostIp, dstPort: FIG8_PLAN.servicePort, count: 5, intervalCycles: 1_000_000 });
    sim.runUntil(20_000_000);
    const udp = tb.tgen.results();
    expect(udp).toHaveLength(5);
    for (const r of udp) {
      const n = nicLatencies(taps.main, r.seq, 2);
      expect(r.rttCycles).toBe(2 * WIRE_ONE_WAY + n.toHost + n.toWire + KERNEL + DELAY);
    }
  });

  it('reaches the backup VM the same way, and the switch then knows all three ports', () => {
    const { sim, tb, taps } = testbed();
    tb.tgen.start({ dstIp: FIG8_PLAN.backup.serviceIp, dstPort: FIG8_PLAN.servicePort, count: 3, intervalCycles: 1_000_000 });
    sim.runUntil(10_000_000);
    expect(tb.tgen.summary().deliveredRatio).toBe(1);
    for (const r of tb.tgen.results()) {
      const n = nicLatencies(taps.backup, r.seq);
      expect(r.rttCycles).toBe(2 * WIRE_ONE_WAY + n.toHost + n.toWire + 2 * VM_PATH + GUEST_KERNEL + DELAY);
    }
    expect(tb.switch.fdbEntries().get(readMac48(parseMac(FIG8_PLAN.backup.serviceMac), 0))).toBe(2);
    expect(tb.main.service.stats.requests).toBe(0);
  });

  it('a processing delay fault from request 40 to 79 raises exactly those RTTs by exactly the delay (Fig. 10, no fail-safe)', () => {
    const { sim, tb, taps } = testbed();
    const extra = cyclesFromUs(300);
    tb.tgen.start({ dstIp: FIG8_PLAN.main.serviceIp, dstPort: FIG8_PLAN.servicePort, count: 100, ratePps: 10 });
    sim.runUntil(1_000_000);
    sim.runUntil(tb.tgen.plannedCycle(40));
    tb.main.service.setDelay(DELAY + extra);
    sim.runUntil(tb.tgen.plannedCycle(80));
    tb.main.service.setDelay(DELAY);
    sim.runUntil(tb.tgen.plannedCycle(99) + 10_000_000);
    const results = tb.tgen.results();
    expect(results.filter((r) => r.lost)).toEqual([]);
    for (const r of results) {
      const n = nicLatencies(taps.main, r.seq);
      const base = 2 * WIRE_ONE_WAY + n.toHost + n.toWire + 2 * VM_PATH + GUEST_KERNEL + DELAY;
      expect(r.rttCycles).toBe(base + (r.seq >= 40 && r.seq < 80 ? extra : 0));
    }
  });

  it('a host crash at request 50 stops every reply; recovery at 70 restores them after one ARP exchange (Fig. 11, no fail-safe)', () => {
    const { sim, tb, taps } = testbed();
    tb.tgen.start({ dstIp: FIG8_PLAN.main.serviceIp, dstPort: FIG8_PLAN.servicePort, count: 100, ratePps: 10 });
    sim.runUntil(1_000_000);
    sim.runUntil(tb.tgen.plannedCycle(50));
    tb.main.host.crash();
    sim.runUntil(tb.tgen.plannedCycle(70));
    tb.main.host.recover();
    sim.runUntil(tb.tgen.plannedCycle(99) + 10_000_000);
    expect(tb.tgen.summary(0, 49).deliveredRatio).toBe(1);
    expect(tb.tgen.summary(50, 69)).toMatchObject({ sent: 20, delivered: 0 });
    expect(tb.tgen.summary(70, 99).deliveredRatio).toBe(1);
    // The rebooted VM has forgotten the generator's MAC: request 70 waits for one ARP round trip
    // (VM -> NIC -> wire -> generator's responder (1 cycle) -> wire -> NIC -> VM).
    const r70 = tb.tgen.results()[70]!;
    const n = nicLatencies(taps.main, 70);
    const base = 2 * WIRE_ONE_WAY + n.toHost + n.toWire + 2 * VM_PATH + GUEST_KERNEL + DELAY;
    const arps = taps.main.dma.rx.filter((s) => s.cycle > tb.tgen.plannedCycle(70) && decode(s.frame).arp?.op === 1);
    expect(arps).toHaveLength(1);
    const arpOut = arps[0]!.cycle;
    const arpReplyIn = taps.main.dma.tx.find((s) => s.cycle > arpOut && decode(s.frame).arp?.op === 2)!.cycle;
    const arpToWire = taps.main.nf.tx.find((s) => s.cycle > arpOut && decode(s.frame).arp?.op === 1)!.cycle - arpOut;
    const arpToHost = arpReplyIn - taps.main.nf.rx.find((s) => s.cycle > arpOut && decode(s.frame).arp?.op === 2)!.cycle;
    expect(r70.rttCycles).toBe(base + arpToWire + 2 * WIRE_ONE_WAY + 1 + arpToHost + VM_PATH + GUEST_KERNEL + VM_PATH);
    expect(tb.tgen.results()[71]!.rttCycles).toBe(results71Base(taps.main, 71));
    expect(tb.main.host.pool.inUse).toBe(0);
  });

  it('gives the same cycles whatever order the simulator evaluates the modules in', () => {
    const run = (seed?: number) => {
      const { sim, tb } = testbed(seed);
      tb.tgen.start({ dstIp: FIG8_PLAN.main.serviceIp, dstPort: FIG8_PLAN.servicePort, count: 30, intervalCycles: 2000 });
      sim.runUntil(50_000_000);
      tb.tgen.start({ dstIp: FIG8_PLAN.backup.hostIp, dstPort: FIG8_PLAN.servicePort, count: 200, lineRate: true, frameBytes: 1514 });
      sim.runUntil(100_000_000);
      return tb.tgen.results();
    };
    const reference = run();
    expect(reference.filter((r) => !r.lost).length).toBeGreaterThan(0);
    for (const seed of [1, 42, 2024]) expect(run(seed)).toEqual(reference);
  });
});

function results71Base(t: NicTaps, seq: number): number {
  const n = nicLatencies(t, seq);
  return 2 * WIRE_ONE_WAY + n.toHost + n.toWire + 2 * VM_PATH + GUEST_KERNEL + DELAY;
}
