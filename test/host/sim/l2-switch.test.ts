import { describe, expect, it } from 'vitest';
import { createMemoryLink } from '../../../src/dataplane/memory-link.ts';
import { WireTiming } from '../../../src/pipeline/modules/ethernet-wire.ts';
import { Simulator } from '../../../src/pipeline/sim/simulator.ts';
import { parseMac, readMac48 } from '../../../src/pipeline/wire/address.ts';
import { buildEthernetFrame } from '../../../src/pipeline/wire/build.ts';
import { L2Switch, type L2SwitchOptions } from '../../../src/host/sim/l2-switch.ts';
import { Peer } from './helpers.ts';

const MAC = ['02:00:00:00:00:01', '02:00:00:00:00:02', '02:00:00:00:00:03', '02:00:00:00:00:04'];
const BROADCAST = 'ff:ff:ff:ff:ff:ff';

function frame(src: string, dst: string, tag: number, length = 60): Uint8Array {
  const f = buildEthernetFrame({ srcMac: src, dstMac: dst, etherType: 0x88b5, payload: new Uint8Array(length - 14) });
  f[14] = tag;
  return f;
}

function setup(options: Partial<L2SwitchOptions> = {}, ports = 3) {
  const sim = new Simulator();
  const links = Array.from({ length: ports }, (_, i) => createMemoryLink(`sw.p${i}`, `peer${i}`));
  const sw = sim.add(new L2Switch('sw', { ports: links.map((l) => l[0]), latencyCycles: 80, ...options }));
  const peers = links.map((l, i) => sim.add(new Peer(`peer${i}`, l[1])));
  const tags = (i: number) => peers[i]!.received.map((r) => r.frame[14]);
  return { sim, sw, peers, tags };
}

describe('L2Switch', () => {
  it('floods a frame from an unknown source to every other port, learns it, then forwards replies only to its port', () => {
    const { sim, sw, peers, tags } = setup();
    peers[0]!.send(frame(MAC[0]!, MAC[1]!, 1), 10);
    sim.runUntilIdle();
    expect([tags(0), tags(1), tags(2)]).toEqual([[], [1], [1]]);
    expect(sw.stats[0]!.flooded).toBe(1);
    expect(sw.lookup(readMac48(parseMac(MAC[0]!), 0))).toBe(0);

    peers[1]!.send(frame(MAC[1]!, MAC[0]!, 2), 1000);
    sim.runUntilIdle();
    expect([tags(0), tags(1), tags(2)]).toEqual([[2], [1], [1]]);
    expect(sw.stats[1]!.flooded).toBe(0);

    // Both stations are known now: unicast goes to one port only.
    peers[0]!.send(frame(MAC[0]!, MAC[1]!, 3), 2000);
    sim.runUntilIdle();
    expect([tags(0), tags(1), tags(2)]).toEqual([[2], [1, 3], [1]]);
    expect([...sw.fdbEntries().entries()]).toEqual([
      [readMac48(parseMac(MAC[0]!), 0), 0],
      [readMac48(parseMac(MAC[1]!), 0), 1],
    ]);
  });

  it('floods broadcast to every port but the ingress, even when the source is known', () => {
    const { sim, peers, tags } = setup({}, 4);
    peers[2]!.send(frame(MAC[2]!, BROADCAST, 7), 5);
    peers[2]!.send(frame(MAC[2]!, BROADCAST, 8), 500);
    sim.runUntilIdle();
    expect([tags(0), tags(1), tags(2), tags(3)]).toEqual([[7, 8], [7, 8], [], [7, 8]]);
  });

  it('filters a frame whose destination was learned on its own ingress port', () => {
    const { sim, sw, peers, tags } = setup();
    peers[0]!.send(frame(MAC[0]!, BROADCAST, 1), 5);
    peers[0]!.send(frame(MAC[3]!, MAC[0]!, 2), 500);
    sim.runUntilIdle();
    expect([tags(0), tags(1), tags(2)]).toEqual([[], [1], [1]]);
    expect(sw.stats[0]!.filtered).toBe(1);
  });

  it('forwards cut-through: the first bit leaves exactly latencyCycles after it arrived', () => {
    const { sim, peers } = setup({ latencyCycles: 80 });
    peers[0]!.send(frame(MAC[0]!, MAC[1]!, 1), 100);
    peers[0]!.send(frame(MAC[0]!, MAC[1]!, 2, 1514), 1000);
    sim.runUntilIdle();
    expect(peers[1]!.received.map((r) => r.cycle)).toEqual([180, 1080]);
  });

  it('serialises each egress port at the exact 10G wire time, shared by frames from several ingress ports', () => {
    const { sim, sw, peers } = setup({ latencyCycles: 80 }, 4);
    // Three 60-byte frames (84 bytes on the wire with preamble, FCS and gap) reach port 3 at once.
    for (let i = 0; i < 3; i++) peers[i]!.send(frame(MAC[i]!, MAC[3]!, i), 100);
    // One 1514-byte frame behind them.
    peers[0]!.send(frame(MAC[0]!, MAC[3]!, 9, 1514), 101);
    sim.runUntilIdle();
    // 84 bytes x 8 / 10 Gb/s = 67.2 ns = 10.752 cycles of 6.25 ns; each frame starts at the
    // first cycle at or after the previous one's end.
    const timing = new WireTiming(160e6);
    const start = timing.unitsAt(180);
    const expected = [0, 1, 2, 3].map((k) => timing.cycleAt(start + k * timing.frameUnits(60)));
    expect(expected).toEqual([180, 191, 202, 213]);
    expect(peers[3]!.received.map((r) => [r.frame[14], r.cycle])).toEqual([
      [0, 180],
      [1, 191],
      [2, 202],
      [9, 213],
    ]);
    expect(sw.stats[3]!.txFrames).toBe(4);
    expect(sw.stats[3]!.txBytes).toBe(3 * 60 + 1514);
  });

  it('keeps line rate on a port fed at line rate, never drifting more than a cycle from the ideal wire', () => {
    const { sim, peers } = setup({ latencyCycles: 80 });
    const n = 200;
    // A sender at line rate starts frame k at the first cycle at or after k x 10.752 cycles.
    const arrivals = Array.from({ length: n }, (_, k) => 100 + Math.ceil((k * 1344) / 125));
    for (let k = 0; k < n; k++) peers[0]!.send(frame(MAC[0]!, MAC[1]!, k & 0xff), arrivals[k]!);
    sim.runUntilIdle();
    const cycles = peers[1]!.received.map((r) => r.cycle);
    // Independent recurrence in wire units (125 a cycle, 1344 a 60-byte frame): a frame
    // leaves 80 cycles after it arrived, or when the previous one has left.
    const expected: number[] = [];
    let free = 0;
    for (const a of arrivals) {
      const start = Math.max((a + 80) * 125, free);
      free = start + 1344;
      expected.push(Math.ceil(start / 125));
    }
    expect(cycles).toEqual(expected);
    for (let k = 0; k < n; k++) {
      const ideal = Math.ceil(180 + (k * 1344) / 125);
      expect(cycles[k]! - ideal).toBeGreaterThanOrEqual(0);
      expect(cycles[k]! - ideal).toBeLessThanOrEqual(1);
    }
  });

  it('ages out a learned entry after the ageing time and floods again', () => {
    const { sim, sw, peers, tags } = setup({ ageingCycles: 1000 });
    peers[1]!.send(frame(MAC[1]!, BROADCAST, 1), 10);
    peers[0]!.send(frame(MAC[0]!, MAC[1]!, 2), 500);
    peers[0]!.send(frame(MAC[0]!, MAC[1]!, 3), 1011);
    sim.runUntilIdle();
    expect(tags(1)).toEqual([2, 3]);
    expect(tags(2)).toEqual([1, 3]);
    expect(sw.stats[0]!.flooded).toBe(1);
    expect(sw.lookup(readMac48(parseMac(MAC[1]!), 0), 1011)).toBe(-1);
  });

  it('drops and counts frames beyond an egress buffer, keeping the order of the rest', () => {
    const { sim, sw, peers, tags } = setup({ egressBufferBytes: 200 });
    peers[1]!.send(frame(MAC[1]!, BROADCAST, 0), 5);
    for (let k = 1; k <= 5; k++) peers[0]!.send(frame(MAC[0]!, MAC[1]!, k), 100);
    sim.runUntilIdle();
    // 60 + 60 + 60 bytes fit in 200; the fourth and fifth do not while the first three wait.
    expect(tags(1)).toEqual([1, 2, 3]);
    expect(sw.stats[1]!.dropBufferFull).toBe(2);
  });

  it('drops runts and oversize frames and counts them on the ingress port', () => {
    const { sim, sw, peers, tags } = setup();
    peers[0]!.send(new Uint8Array(10), 5);
    peers[0]!.send(frame(MAC[0]!, BROADCAST, 1, 1515), 6);
    sim.runUntilIdle();
    expect(tags(1)).toEqual([]);
    expect(sw.stats[0]!.dropBadLength).toBe(2);
  });
});
