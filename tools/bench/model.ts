/**
 * Model benchmark (SPEC section 8 "model"): simulated frames per wall-clock second
 * through a NIC model, offered at 10G line rate on nf0 and delivered to dma0, for the
 * reference NIC and the Fatriot NIC in the same run, plus the busy simulation rate
 * and single-packet latencies in cycles.
 */
import { createMemoryLink } from '../../src/dataplane/memory-link.ts';
import type { Port } from '../../src/dataplane/port.ts';
import { buildUdpFrame } from '../../src/pipeline/wire/build.ts';
import type { NicShell } from '../../src/pipeline/nic/nic-shell.ts';
import { LineRateOffer } from '../experiments/nic-measure.ts';
import { WireTiming } from '../../src/pipeline/modules/ethernet-wire.ts';

export type NicFactory = () => NicShell;

export interface ThroughputResult {
  delivered: number;
  wallSeconds: number;
  mpps: number;
  gbps: number;
  modelCycles: number;
  mcyclesPerSecond: number;
  /** Cycles the simulator evaluated (steps), of modelCycles. */
  evaluatedCycles: number;
}

/** A UDP frame of `length` bytes (no FCS) from a client to 10.0.0.11:7 (a service address). */
export function benchFrame(length: number): Uint8Array {
  return buildUdpFrame({
    srcMac: '02:00:00:00:00:01',
    dstMac: '02:00:00:00:00:0b',
    srcIp: '10.0.0.1',
    dstIp: '10.0.0.11',
    srcPort: 40000,
    dstPort: 7,
    payloadLength: length - 42,
  });
}

/**
 * How the NIC's ports are set up for a throughput run. `sinks` (the bench): the host only
 * counts and the other ports lead to idle sinks, so all of them promise (quietUntil) that
 * no frame will come and the model need not check for one. `tap-like`: only nf0 and dma0
 * are attached, neither promises anything, and the host takes frames ahead of their
 * cycle, as on the TAP path (to measure what the model costs there, without the kernel).
 * `tap-bursts`: the same ports, driven as the real-time driver drives TAPs at full load:
 * frames handed over in bursts of TAP_BURST_FRAMES stamped with one cycle (the line
 * rate's, so the wire spaces them at line rate), each followed by
 * `promiseNoInputBefore` the next burst's cycle and a run to it.
 */
export type BenchPorts = 'sinks' | 'tap-like' | 'tap-bursts';

/** Frames a TAP port reads in one wake-up at most (TapPort maxBatch), for `tap-bursts`. */
export const TAP_BURST_FRAMES = 64;

/** Offers `count` frames of `length` bytes at line rate on nf0 and counts those reaching dma0. */
export function measureThroughput(factory: NicFactory, length: number, count: number, ports: BenchPorts = 'sinks'): ThroughputResult {
  const nic = factory();
  const [nf, gen] = createMemoryLink('nf0', 'generator');
  let delivered = 0;
  let bytes = 0;
  if (ports === 'sinks') {
    const [dma, host] = createMemoryLink('dma0', 'host');
    host.sendsNothing();
    const sink = (name: string) => {
      const [port, far] = createMemoryLink(name, `${name}_sink`);
      far.sendsNothing();
      return port;
    };
    nic.attach({ nf: [nf, sink('nf1'), sink('nf2'), sink('nf3')], dma: [dma, sink('dma1'), sink('dma2'), sink('dma3')] });
    host.attach((f) => {
      delivered++;
      bytes += f.length;
    });
  } else {
    // The counting is written out in each setup: one closure shared by both measured 1%
    // more instructions a frame in the sinks setup (tools/bench/instructions.sh).
    const transmit = (f: Uint8Array): void => {
      delivered++;
      bytes += f.length;
    };
    const host: Port = { name: 'dma0', attach() {}, receive() {}, transmit, close() {}, takesFramesAhead: true };
    nic.attach({ nf: [nf], dma: [host] });
  }
  const frame = benchFrame(length);
  if (ports !== 'tap-bursts') nic.sim.add(new LineRateOffer('bench_source', gen, frame, count, nic.coreHz));
  const start = nic.sim.now;
  const steps0 = nic.sim.evaluatedCycles;
  const t0 = process.hrtime.bigint();
  if (ports === 'tap-bursts') runTapBursts(nic, gen, frame, count);
  nic.sim.runUntilIdle();
  const wallSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const modelCycles = nic.sim.now - start;
  return {
    delivered,
    wallSeconds,
    mpps: delivered / wallSeconds / 1e6,
    gbps: (bytes * 8) / wallSeconds / 1e9,
    modelCycles,
    mcyclesPerSecond: modelCycles / wallSeconds / 1e6,
    evaluatedCycles: nic.sim.evaluatedCycles - steps0,
  };
}

/** Hands `count` frames to `gen` in TAP-sized bursts at line rate, promising and running the model after each. */
function runTapBursts(nic: NicShell, gen: Port, frame: Uint8Array, count: number): void {
  const sim = nic.sim;
  const timing = new WireTiming(nic.coreHz);
  const burstUnits = timing.frameUnits(frame.length) * TAP_BURST_FRAMES;
  const startUnits = timing.unitsAt(sim.now);
  for (let sent = 0, b = 1; sent < count; b++) {
    const at = sim.now;
    for (const end = Math.min(count, sent + TAP_BURST_FRAMES); sent < end; sent++) gen.transmit(frame, at);
    const next = timing.cycleAt(startUnits + b * burstUnits);
    sim.promiseNoInputBefore(next);
    sim.runUntil(next);
  }
}

/** Cycles from a frame's arrival on nf0 (the cycle it was handed to the wire) to its delivery at dma0. */
export function measureLatencyCycles(factory: NicFactory, length = 60): number {
  const nic = factory();
  const [nf, gen] = createMemoryLink('nf0', 'generator');
  const [dma, host] = createMemoryLink('dma0', 'host');
  nic.attach({ nf: [nf], dma: [dma] });
  let at = -1;
  host.attach((_f, cycle) => {
    at = cycle;
  });
  const sentAt = nic.sim.now;
  gen.transmit(benchFrame(length), sentAt);
  nic.sim.runUntilIdle();
  if (at < 0) throw new Error('latency probe frame was not delivered');
  return at - sentAt;
}

/**
 * Cycles from a request's arrival on nf0 of a Fatriot NIC in fail-safe to its
 * relayed (NAT'd) copy leaving nf0 for the backup, the backup's MAC already known
 * (a static ARP entry), so only the pipeline counts.
 */
export async function measureRelayLatencyCycles(length = 60): Promise<number> {
  const { FatriotNic } = await import('../../src/pipeline/nic/fatriot-nic.ts');
  const { NicConfigurator } = await import('../experiments/configure.ts');
  const { parseIpv4, parseMac } = await import('../../src/pipeline/wire/address.ts');
  const nic = new FatriotNic();
  const [nf, wire] = createMemoryLink('nf0', 'wire');
  const [dma] = createMemoryLink('dma0', 'host');
  nic.attach({ nf: [nf], dma: [dma] });
  const cfg = new NicConfigurator(nic);
  await cfg.nicAddresses({ relayIp: '10.0.0.110', relayMac: '02:00:00:00:00:6e', hostIp: '10.0.0.10', relayPortBase: 20000, relayPortCount: 1024 });
  await cfg.target({ ip: '10.0.0.11', proto: 'udp', port: 7, svcId: 1, critical: true });
  await cfg.service({ ip: '10.0.0.11', proto: 'udp', port: 7, backupIp: '10.0.0.21', backupPort: 7 });
  await cfg.failsafeMode(1, 'on');
  nic.failsafeHandler.setStaticArp(parseIpv4('10.0.0.21'), parseMac('02:00:00:00:00:15'));
  let at = -1;
  wire.attach((_f, cycle) => {
    if (at < 0) at = cycle;
  });
  nic.sim.runUntil(nic.sim.now + 1000);
  const sentAt = nic.sim.now;
  wire.transmit(benchFrame(length), sentAt);
  nic.sim.runUntil(sentAt + 100_000);
  if (at < 0) throw new Error('relayed probe frame did not leave nf0');
  return at - sentAt;
}
