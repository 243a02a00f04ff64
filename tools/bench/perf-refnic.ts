/**
 * Scratch benchmark for the cycle model's speed (issue 3 item 7), not part of
 * `npm run bench`:
 *
 *   node --import tsx/esm tools/bench/perf-refnic.ts tput [len=60] [count=100000] [reps=3]
 *     measureThroughput of the reference NIC (the bench's own number), best of reps,
 *     plus module evaluations per delivered packet, per module.
 *   node --import tsx/esm tools/bench/perf-refnic.ts digest
 *     runs mixed random traffic (every port, both directions, both output-queue
 *     variants, drops) and prints a hash of every delivery (port, tag, cycle, length)
 *     and every counter: it must not change when the kernel gets faster.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createMemoryLink } from '../../src/dataplane/memory-link.ts';
import { ReferenceNic } from '../../src/pipeline/nic/reference-nic.ts';
import { Simulator } from '../../src/pipeline/sim/simulator.ts';
import type { ClockedModule } from '../../src/pipeline/sim/module.ts';
import { ScheduledSender } from '../../src/host/sim/scheduled-sender.ts';
import { tuneV8ForModel } from '../../src/pipeline/sim/jit-tuning.ts';
import { measureThroughput } from './model.ts';

tuneV8ForModel();
const [mode = 'tput', ...rest] = process.argv.slice(2);

function countEvaluations(len: number, count: number): Map<string, number> {
  const counts = new Map<string, number>();
  const factory = () => {
    const nic = new ReferenceNic();
    const sim = nic.sim;
    const add = sim.add.bind(sim);
    sim.add = <M extends ClockedModule>(m: M): M => {
      const evaluate = m.evaluate.bind(m);
      counts.set(m.name, 0);
      m.evaluate = (c: number) => {
        counts.set(m.name, counts.get(m.name)! + 1);
        evaluate(c);
      };
      return add(m);
    };
    for (const m of sim.modules) {
      const evaluate = m.evaluate.bind(m);
      counts.set(m.name, 0);
      m.evaluate = (c: number) => {
        counts.set(m.name, counts.get(m.name)! + 1);
        evaluate(c);
      };
    }
    return nic;
  };
  const r = measureThroughput(factory, len, count);
  const perPacket = new Map<string, number>();
  for (const [k, v] of counts) if (v > 0) perPacket.set(k, v / r.delivered);
  return perPacket;
}

function main(): void {
if (mode === 'tput') {
  const len = Number(rest[0] ?? 60);
  const count = Number(rest[1] ?? 100_000);
  const reps = Number(rest[2] ?? 3);
  measureThroughput(() => new ReferenceNic(), len, Math.min(count, 5000));
  // The machine may be shared: CPU time (user + system) of this process is steadier than wall time.
  let best = { mpps: 0, gbps: 0, cpuMpps: 0, cycles: 0 };
  for (let i = 0; i < reps; i++) {
    const nic = { sim: null as ReferenceNic['sim'] | null };
    const cpu0 = process.cpuUsage();
    const r = measureThroughput(() => {
      const n = new ReferenceNic();
      nic.sim = n.sim;
      return n;
    }, len, count);
    const cpu = process.cpuUsage(cpu0);
    const cpuMpps = r.delivered / ((cpu.user + cpu.system) / 1e6) / 1e6;
    if (r.delivered !== count) throw new Error(`delivered ${r.delivered} of ${count}`);
    if (r.mpps > best.mpps) best = { ...best, mpps: r.mpps, gbps: r.gbps, cycles: nic.sim!.evaluatedCycles / r.delivered };
    if (cpuMpps > best.cpuMpps) best.cpuMpps = cpuMpps;
  }
  const evals = countEvaluations(len, Math.min(count, 20_000));
  let total = 0;
  for (const v of evals.values()) total += v;
  console.log(
    JSON.stringify({
      len,
      count,
      mpps: Number(best.mpps.toFixed(4)),
      gbps: Number(best.gbps.toFixed(3)),
      cpuMpps: Number(best.cpuMpps.toFixed(4)),
      evaluatedCyclesPerPacket: Number(best.cycles.toFixed(2)),
      evaluationsPerPacket: Number(total.toFixed(2)),
      perModule: Object.fromEntries([...evals].map(([k, v]) => [k, Number(v.toFixed(2))])),
    }),
  );
} else if (mode === 'digest') {
  const hash = createHash('sha256');
  for (const variant of ['tail_drop', 'global_backpressure'] as const) {
    for (const seed of [1, 2, 3]) {
      const r = runMixed(variant, seed);
      if (process.env.DIGEST_DUMP) writeFileSync(`${process.env.DIGEST_DUMP}-${variant}-${seed}.json`, r);
      hash.update(r);
    }
  }
  console.log(hash.digest('hex'));
} else {
  throw new Error(`unknown mode ${mode}`);
}
}

function runMixed(variant: 'tail_drop' | 'global_backpressure', seed: number): string {
  let x = seed * 0x9e3779b1 || 1;
  const rnd = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
  const nic = new ReferenceNic({ outputQueuesVariant: variant, sim: new Simulator({ trains: process.env.TRAINS !== "0" }) });
  const wire = [0, 1, 2, 3].map((i) => createMemoryLink(`nf${i}`, `peer${i}`));
  const host = [0, 1, 2, 3].map((i) => createMemoryLink(`dma${i}`, `host${i}`));
  nic.attach({ nf: wire.map((l) => l[0]), dma: host.map((l) => l[0]) });
  const senders = wire.map((l, i) => nic.sim.add(new ScheduledSender(`sender${i}`, l[1])));
  const hostSenders = host.map((l, i) => nic.sim.add(new ScheduledSender(`hostsender${i}`, l[1])));
  const log: number[] = [];
  const tagOf = (f: Uint8Array) => f[14]! | (f[15]! << 8) | (f[16]! << 16);
  host.forEach((l, i) => l[1].attach((f, c) => log.push(1, i, tagOf(f), c, f.length)));
  wire.forEach((l, i) => l[1].attach((f, c) => log.push(2, i, tagOf(f), c, f.length)));
  let tag = 0;
  const lengths = [60, 64, 65, 96, 97, 128, 200, 511, 1000, 1514];
  for (const list of [senders, hostSenders]) {
    for (let p = 0; p < 4; p++) {
      let t = Math.floor(rnd() * 50);
      for (let i = 0; i < 300; i++) {
        const len = rnd() < 0.5 ? lengths[Math.floor(rnd() * lengths.length)]! : 14 + Math.floor(rnd() * 1500);
        const f = new Uint8Array(len);
        f[12] = 0x08;
        tag++;
        f[14] = tag & 0xff;
        f[15] = (tag >>> 8) & 0xff;
        f[16] = (tag >>> 16) & 0xff;
        list[p]!.send(f, t);
        // Bursts (several frames at once) alternate with gaps, so queues fill and drain.
        t += rnd() < 0.3 ? 0 : Math.floor(rnd() * 400);
      }
    }
  }
  nic.sim.runUntilIdle();
  // `now` after runUntilIdle is left out: trains skip the idle wake-ups that end a per-cycle run.
  return JSON.stringify({ log, counters: Array.from(nic.counters), oq: Array.from(nic.outputQueues.counters), inUse: nic.pool.inUse });
}

main();
