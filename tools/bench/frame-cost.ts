/**
 * A fixed model workload for measuring what one frame costs (tools/bench/instructions.sh):
 * FRAMES frames of LENGTH bytes at line rate nf0 -> dma0 through a NIC, after a short
 * warm-up, as tools/bench/model.ts measures them for the bench.
 *
 * usage: node --import tsx/esm tools/bench/frame-cost.ts FRAMES [LENGTH=60] [reference|fatriot|reference-after-fatriot] [sinks|tap-like|tap-bursts]
 * (FATRIOT_V8_TUNING=0: without the model V8 flags, jit-tuning.ts)
 */
import { FatriotNic } from '../../src/pipeline/nic/fatriot-nic.ts';
import { ReferenceNic } from '../../src/pipeline/nic/reference-nic.ts';
import { tuneV8ForModel } from '../../src/pipeline/sim/jit-tuning.ts';
import { measureThroughput, type BenchPorts } from './model.ts';

tuneV8ForModel();

const frames = Number(process.argv[2] ?? 100_000);
const length = Number(process.argv[3] ?? 60);
const kind = process.argv[4] ?? 'reference';
if (!['reference', 'fatriot', 'reference-after-fatriot'].includes(kind)) throw new Error(`unknown NIC ${kind}`);
const ports = (process.argv[5] ?? 'sinks') as BenchPorts;
if (ports !== 'sinks' && ports !== 'tap-like' && ports !== 'tap-bursts') throw new Error(`ports must be sinks, tap-like or tap-bursts, not ${ports}`);
const make = kind === 'fatriot' ? () => new FatriotNic() : () => new ReferenceNic();
// As the bench runs it: the reference NIC measured after the Fatriot NIC ran in the same process.
if (kind === 'reference-after-fatriot') measureThroughput(() => new FatriotNic(), length, 20_000);
measureThroughput(make, length, 5_000, ports);
const cpu0 = process.cpuUsage();
const r = measureThroughput(make, length, frames, ports);
const cpu = process.cpuUsage(cpu0);
console.log(JSON.stringify({ nic: kind, ports, frames: r.delivered, mpps: Number(r.mpps.toFixed(4)), cpu_ns_per_frame: Math.round(((cpu.user + cpu.system) * 1000) / r.delivered) }));
