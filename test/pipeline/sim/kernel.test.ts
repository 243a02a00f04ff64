import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AxisChannel, PacketPool, Simulator, VcdWriter } from '../../../src/pipeline/sim/index.ts';
import { AxisFifo } from '../../../src/pipeline/sim/axis-fifo.ts';
import { AxisSink, AxisSource } from '../../../src/pipeline/sim/axis-testbench.ts';
import { parseVcd, valueAt } from '../../helpers/vcd.ts';

const dir = mkdtempSync(join(tmpdir(), 'fatriot-kernel-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** xorshift32 so backpressure patterns are random but repeatable. */
function lcgPattern(seed: number, pReady: number): (cycle: number) => boolean {
  return (cycle) => {
    let x = (seed ^ Math.imul(cycle + 1, 0x9e3779b1)) >>> 0;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000 < pReady;
  };
}

function buildChain(opts: { shuffleSeed?: number; depth?: number; ready?: ((c: number) => boolean) | null }) {
  const sim = new Simulator(opts.shuffleSeed === undefined ? {} : { shuffleSeed: opts.shuffleSeed });
  const pool = new PacketPool(32);
  const a = new AxisChannel('src_to_f1');
  const b = new AxisChannel('f1_to_f2');
  const c = new AxisChannel('f2_to_sink');
  const source = sim.add(new AxisSource('source', a));
  sim.add(new AxisFifo('f1', a, b, opts.depth ?? 4));
  sim.add(new AxisFifo('f2', b, c, opts.depth ?? 4));
  const sink = sim.add(new AxisSink('sink', c, opts.ready ?? null));
  return { sim, pool, source, sink };
}

function makePacket(pool: PacketPool, tag: number, length: number) {
  const p = pool.take(length);
  for (let i = 0; i < length; i++) p.data[i] = (tag * 31 + i) & 0xff;
  p.tag = tag;
  return p;
}

describe('simulation kernel', () => {
  it('moves a beat through each fall-through FIFO stage in exactly one cycle', () => {
    const { sim, pool, source, sink } = buildChain({});
    source.send(makePacket(pool, 1, 64), 0);
    sim.runUntilIdle();
    // Source offers from cycle 1, f1 takes it in 1, f2 in 2, sink in 3; 2 beats, last in 4.
    expect(source.firstBeatCycles).toEqual([1]);
    expect(sink.received.map((r) => [r.firstBeatCycle, r.lastBeatCycle])).toEqual([[3, 4]]);
  });

  it('delivers every packet intact and in order under random backpressure', () => {
    const { sim, pool, source, sink } = buildChain({ depth: 3, ready: lcgPattern(7, 0.3) });
    const lengths: number[] = [];
    for (let i = 0; i < 200; i++) {
      const len = 1 + ((i * 37) % 300);
      lengths.push(len);
      source.send(makePacket(pool, i, len), i * 3);
    }
    sim.runUntil(200_000);
    expect(sink.violations).toEqual([]);
    expect(sink.received.map((r) => r.packet.tag)).toEqual(lengths.map((_, i) => i));
    for (const r of sink.received) {
      const p = r.packet;
      expect(p.length).toBe(lengths[p.tag]);
      for (let i = 0; i < p.length; i++) if (p.data[i] !== ((p.tag * 31 + i) & 0xff)) throw new Error(`byte ${i} of ${p.tag}`);
    }
  });

  it('propagates backpressure: a stalled sink stalls the source and loses nothing', () => {
    let open = false;
    const { sim, pool, source, sink } = buildChain({ depth: 2, ready: () => open });
    for (let i = 0; i < 10; i++) source.send(makePacket(pool, i, 96), 0);
    sim.runUntil(1000);
    expect(sink.received).toHaveLength(0);
    // 3 beats each; two FIFOs of 2 beats hold 4 beats and the source holds the rest.
    expect(source.pending()).toBeGreaterThanOrEqual(8);
    open = true;
    sim.runUntil(2000);
    expect(sink.received.map((r) => r.packet.tag)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(sink.violations).toEqual([]);
  });

  it('skips idle time: a packet 1e8 cycles later costs a handful of evaluated cycles', () => {
    const { sim, pool, source, sink } = buildChain({});
    source.send(makePacket(pool, 1, 32), 100_000_000);
    sim.runUntil(200_000_000);
    expect(sink.received[0]!.lastBeatCycle).toBe(100_000_002);
    expect(sim.evaluatedCycles).toBeLessThan(10);
    expect(sim.now).toBe(200_000_000);
  });

  it('gives an identical trace whatever order modules are evaluated in', () => {
    const traces: string[] = [];
    for (const seed of [undefined, 1, 2, 3, 12345]) {
      const { sim, pool, source } = buildChain({ shuffleSeed: seed, depth: 3, ready: lcgPattern(99, 0.6) });
      const path = join(dir, `order-${seed ?? 'declared'}.vcd`);
      const vcd = new VcdWriter(path, sim, 5);
      for (let i = 0; i < 50; i++) source.send(makePacket(pool, i, 1 + ((i * 53) % 200)), i * 2);
      sim.runUntil(5000);
      vcd.close();
      traces.push(readFileSync(path, 'utf8').replace(/^\$date.*$/m, ''));
    }
    for (const t of traces.slice(1)) expect(t).toBe(traces[0]);
    expect(traces[0]!.length).toBeGreaterThan(1000);
  });

  it('writes a VCD whose handshakes parse back at the cycles they happened', () => {
    const { sim, pool, source } = buildChain({});
    const path = join(dir, 'handshake.vcd');
    const vcd = new VcdWriter(path, sim, 5);
    source.send(makePacket(pool, 7, 64), 0);
    sim.runUntilIdle();
    vcd.close();
    const trace = parseVcd(path);
    expect(trace.timescale).toBe('1ps');
    // f1 offers beat 0 in cycle 2 and beat 1 (tlast) in cycle 3; both accepted at once.
    expect(valueAt(trace, 'top.f1_to_f2.tvalid', 1 * 5000)).toBe(0);
    expect(valueAt(trace, 'top.f1_to_f2.tvalid', 2 * 5000)).toBe(1);
    expect(valueAt(trace, 'top.f1_to_f2.tlast', 2 * 5000)).toBe(0);
    expect(valueAt(trace, 'top.f1_to_f2.tlast', 3 * 5000)).toBe(1);
    expect(valueAt(trace, 'top.f1_to_f2.packet_tag', 3 * 5000)).toBe(7);
    expect(valueAt(trace, 'top.f1_to_f2.tvalid', 4 * 5000)).toBe(0);
    expect(valueAt(trace, 'top.f1.level', 2 * 5000)).toBe(1);
  });
});
