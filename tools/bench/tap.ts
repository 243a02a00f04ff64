/**
 * TAP path benchmark (SPEC 8 "tap"): in one run, a plain veth pair between two
 * namespaces (the kernel-only baseline) against two TAPs whose kernel ends sit in the
 * same two namespaces, joined in this process by the real NIC model: a FatriotNic with
 * the TAP of namespace A on its wire port nf0 and the TAP of namespace B on its host
 * port dma0, run by the real-time driver, as `fatriot daemon --tap` runs it. A NIC
 * passes frames between wire and host, so the path is
 *   ns A - TAP - [nf0  Fatriot NIC  dma0] - TAP - ns B.
 * Other forwarders plug in (`wireForwarder`: a plain userland copy, the cost of the TAPs
 * alone; `compareWire` measures it in the same run too).
 *
 * Rates: an iperf3 UDP client in namespace A sends for `durationS` to an iperf3 server
 * in B; the forwarding rate is the frames that reached B's interface (its kernel rx
 * counter) per second, so it measures the path, not how fast the iperf3 server reads.
 * 64-byte frames are 60 bytes in the TAP (no FCS): UDP payload 18. 1400-byte frames:
 * payload 1358. The 64-byte figures of both paths are maximum forwarding rates (RFC 2285
 * section 3.6.1: the highest forwarding rate over a set of offered loads): first with no
 * rate limit (-b 0, "full load"), then at SWEEP_FRACTIONS of the rate that offered, and
 * the highest counts. On a small VM the full load is not the path's best: the sender
 * flat out takes a whole core, which on two cores the forwarder then shares with the
 * receiver (the veth path does its work in the sender's own system calls). The full-load
 * rates are reported too (`*_full_load`). The two paths' trials alternate, so that both
 * see the same phase of a VM whose speed drifts. The 1400-byte rate is at full load.
 * RTT: `ping -i 0.01` from A to B, per-reply times.
 *
 * Root only. Bounded: about 35 s with the defaults (60 s with the wire comparison). Tears everything down, also on error.
 *
 * usage: node --import tsx/esm tools/bench/tap.ts [--backend addon|koffi] [--duration-s 2] [--compare-wire]
 *        [--forwarder fatriot|reference|wire] [--no-writer-thread]
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { Port } from '../../src/dataplane/port.ts';
import { RealtimeDriver } from '../../src/dataplane/realtime-driver.ts';
import type { TapBackendKind } from '../../src/dataplane/tap-backend.ts';
import { moveTapToNetns } from '../../src/dataplane/tap-netns.ts';
import { TapPort } from '../../src/dataplane/tap.ts';
import { FatriotNic } from '../../src/pipeline/nic/fatriot-nic.ts';
import { ReferenceNic } from '../../src/pipeline/nic/reference-nic.ts';
import { fatriotRegisterMap } from '../../src/pipeline/regs/register-map.ts';
import { tuneV8ForModel } from '../../src/pipeline/sim/jit-tuning.ts';

/**
 * Joins two ports: gets the frames each receives and emits frames on either. Returns
 * an optional clean-up. The default copies each frame to the other port (a cable).
 */
export type TapForwarder = (a: Port, b: Port) => (() => void) | void;

export const wireForwarder: TapForwarder = (a, b) => {
  a.attach((frame, cycle) => b.transmit(frame, cycle));
  b.attach((frame, cycle) => a.transmit(frame, cycle));
};

export interface NicForwarderStats {
  /** The NIC's counters by register-map name (Fatriot NIC only), read at clean-up. */
  counters?: Record<string, number>;
  /** Largest lag of model time behind the wall clock, µs. */
  maxLagUs: number;
}

/**
 * The NIC model as a forwarder: `a` is its wire port nf0, `b` its host port dma0. Frames
 * from either TAP are stamped with the driver's present cycle and run at once (as
 * src/control/model-nic.ts does for the daemon). `stats` is filled at clean-up.
 */
export function nicForwarder(kind: 'fatriot' | 'reference' = 'fatriot', stats?: NicForwarderStats): TapForwarder {
  return (a, b) => {
    const nic = kind === 'fatriot' ? new FatriotNic() : new ReferenceNic();
    const driver = new RealtimeDriver(nic.sim, nic.coreHz);
    // The TAPs were opened before the forwarder: they stamp each burst with the driver's
    // clock from now on (as the daemon's do), where stamping each frame read the clock
    // once a frame.
    const driven = (port: Port): Port => {
      if (!(port instanceof TapPort)) return driver.drivenPort(port, { stamp: true });
      port.setClock(driver);
      return driver.drivenPort(port);
    };
    nic.attach({ nf: [driven(a)], dma: [driven(b)] });
    driver.start();
    return () => {
      if (stats !== undefined) {
        stats.maxLagUs = driver.lag().maxLagUs;
        if (nic instanceof FatriotNic) {
          const values = nic.regs.counters.values;
          stats.counters = Object.fromEntries(
            fatriotRegisterMap.counters.named.filter((c) => values[c.index]! > 0).map((c) => [c.name, values[c.index]!]),
          );
        }
      }
      driver.stop();
    };
  };
}

export interface BenchTapOptions {
  backend?: TapBackendKind | 'auto';
  /** What joins the two TAPs; default the Fatriot NIC model (nicForwarder). */
  forwarder?: TapForwarder;
  /** Name of the forwarder in the result; default "fatriot-nic" (or "custom" with a forwarder). */
  forwarderName?: string;
  /** Also measure the TAPs joined by a plain copy (wireForwarder) in the same run: wire_* keys. */
  compareWire?: boolean;
  /** Whole seconds each rate measurement sends (iperf3 -t takes whole seconds; 0 would mean forever). Default 2. */
  durationS?: number;
  /** Pings per RTT measurement. Default 200 (2 s at 10 ms). */
  pingCount?: number;
  /** TapPortOptions.writerMinFrames of both TAPs (Infinity: no writer thread). Default: TapPort's. */
  writerMinFrames?: number;
}

export interface TapBenchResult {
  pps_64B: number;
  gbps_1400B: number;
  rtt_us_p50: number;
  rtt_us_p99: number;
  veth_pps_64B: number;
  veth_rtt_us_p50: number;
  /** Which TAP backend the TAP figures were measured with. */
  backend: TapBackendKind;
  /** Whether the TAPs handed busy send queues to the addon's writer thread. */
  writer_thread: boolean;
  /** CPU time of this process (the forwarder) per 64-byte frame forwarded, ns. */
  cpu_ns_per_frame_64B: number;
  /** What the sender offered on the TAP path in the trial that gave pps_64B, frames/s. */
  offered_pps_64B: number;
  /** 64-byte forwarding rates at full load (iperf3 -b 0), TAP path and veth. */
  pps_64B_full_load: number;
  veth_pps_64B_full_load: number;
  /** What joined the TAPs for the TAP figures: "fatriot-nic" (the NIC model), "wire", or a caller's name. */
  forwarder: string;
  /** Largest lag of model time behind the wall clock during the run, µs (NIC forwarders). */
  model_max_lag_us?: number;
  /** The NIC's non-zero counters at the end (Fatriot NIC): where frames went, drops by reason. */
  nic_counters?: Record<string, number>;
  /** compareWire: the same TAPs joined by a plain userland copy. */
  wire_pps_64B?: number;
  wire_rtt_us_p50?: number;
}

const FRAME_OVERHEAD_BYTES = 14 + 20 + 8; // Ethernet + IPv4 + UDP headers, no FCS in a TAP
const IPERF_PORT = 5207;

function ipn(netns: string, args: readonly string[]): void {
  execFileSync('ip', ['-n', netns, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
}

function rxPackets(netns: string, ifname: string): number {
  const [link] = JSON.parse(
    execFileSync('ip', ['-n', netns, '-s', '-j', 'link', 'show', 'dev', ifname], { encoding: 'utf8' }),
  ) as { stats64: { rx: { packets: number } } }[];
  return link!.stats64.rx.packets;
}

function execAsync(command: string, args: readonly string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 16 << 20 }, (error, stdout) =>
      error ? reject(error) : resolve(stdout),
    );
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Offered loads after the full one, as fractions of what the sender offered at full load. */
export const SWEEP_FRACTIONS: readonly number[] = [0.2, 0.4, 0.6, 0.8];

/**
 * Frames per second that reached `rxIf` in `rxNetns` while iperf3 sent `payloadBytes` UDP
 * from `txNetns`, at `ratePps` frames a second or, without it, as fast as it can.
 */
async function blast(
  txNetns: string,
  rxNetns: string,
  rxIf: string,
  toAddress: string,
  payloadBytes: number,
  durationS: number,
  children: Set<ChildProcess>,
  ratePps?: number,
): Promise<{ deliveredPps: number; offeredPps: number }> {
  // iperf3 -b is the UDP payload's bit rate.
  const bitrate = ratePps === undefined ? '0' : String(Math.round(ratePps * payloadBytes * 8));
  const server = spawn('ip', ['netns', 'exec', rxNetns, 'iperf3', '-s', '-1', '-B', toAddress, '-p', String(IPERF_PORT)], {
    stdio: 'ignore',
  });
  children.add(server);
  try {
    await sleep(300);
    const before = rxPackets(rxNetns, rxIf);
    const out = await execAsync(
      'ip',
      ['netns', 'exec', txNetns, 'iperf3', '-c', toAddress, '-p', String(IPERF_PORT), '-u', '-b', bitrate,
        '-l', String(payloadBytes), '-t', String(durationS), '-J'],
      (durationS + 8) * 1000,
    );
    const delivered = rxPackets(rxNetns, rxIf) - before;
    const sum = (JSON.parse(out) as { end: { sum: { packets: number; seconds: number } } }).end.sum;
    return { deliveredPps: delivered / sum.seconds, offeredPps: sum.packets / sum.seconds };
  } finally {
    if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
    children.delete(server);
  }
}

interface ForwardingRate {
  /** The highest forwarding rate over the offered loads, frames/s, and what was offered then. */
  maxPps: number;
  offeredAtMaxPps: number;
  /** The full-load trial (no rate limit). */
  fullLoad: { deliveredPps: number; offeredPps: number };
}

const PAYLOAD_64B = 60 - FRAME_OVERHEAD_BYTES;

/**
 * Maximum forwarding rates of 64-byte frames (RFC 2285 3.6.1) of one or more paths, each
 * over its `fullLoad` (a trial with no rate limit, made by the caller) and SWEEP_FRACTIONS
 * of what that offered. The paths' trials alternate (every path at 20%, then every path at
 * 40%, ...), so that a VM whose speed drifts over the run gives each the same conditions.
 */
async function maxForwardingRates(
  txNetns: string,
  rxNetns: string,
  paths: readonly { rxIf: string; toAddress: string; fullLoad: { deliveredPps: number; offeredPps: number } }[],
  durationS: number,
  children: Set<ChildProcess>,
): Promise<ForwardingRate[]> {
  const best = paths.map((path) => path.fullLoad);
  for (const fraction of SWEEP_FRACTIONS) {
    for (let i = 0; i < paths.length; i++) {
      const { rxIf, toAddress, fullLoad } = paths[i]!;
      const trial = await blast(txNetns, rxNetns, rxIf, toAddress, PAYLOAD_64B, durationS, children, fraction * fullLoad.offeredPps);
      if (trial.deliveredPps > best[i]!.deliveredPps) best[i] = trial;
    }
  }
  return paths.map((path, i) => ({ maxPps: best[i]!.deliveredPps, offeredAtMaxPps: best[i]!.offeredPps, fullLoad: path.fullLoad }));
}

async function pingRttsUs(netns: string, address: string, count: number): Promise<number[]> {
  const out = await execAsync(
    'ip',
    ['netns', 'exec', netns, 'ping', '-n', '-c', String(count), '-i', '0.01', '-w', String(Math.ceil(count * 0.01) + 3), address],
    (count * 0.01 + 10) * 1000,
  ).catch((error: { stdout?: string }) => error.stdout ?? '');
  return [...out.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]) * 1000);
}

export async function benchTap(options: BenchTapOptions = {}): Promise<TapBenchResult> {
  const durationS = options.durationS ?? 2;
  if (!Number.isInteger(durationS) || durationS < 1) throw new RangeError(`durationS must be a whole number of seconds >= 1, got ${durationS}`);
  const pingCount = options.pingCount ?? 200;
  const nicStats: NicForwarderStats = { maxLagUs: 0 };
  const forwarder = options.forwarder ?? nicForwarder('fatriot', nicStats);
  const forwarderName = options.forwarderName ?? (options.forwarder === undefined ? 'fatriot-nic' : 'custom');
  const id = (process.pid % 36 ** 3).toString(36);
  const nsA = `bt${id}a`;
  const nsB = `bt${id}b`;
  const tapA = `bt${id}ta`;
  const tapB = `bt${id}tb`;
  const created: string[] = [];
  const ports: TapPort[] = [];
  const children = new Set<ChildProcess>();
  let cleanup: (() => void) | void = undefined;
  try {
    for (const ns of [nsA, nsB]) {
      execFileSync('ip', ['netns', 'add', ns]);
      created.push(ns);
      ipn(ns, ['link', 'set', 'lo', 'up']);
      execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    }
    // Baseline: veth 10.77.100.0/24. TAP path: 10.77.101.0/24.
    ipn(nsA, ['link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb', 'netns', nsB]);
    ipn(nsA, ['addr', 'add', '10.77.100.1/24', 'dev', 'va']);
    ipn(nsB, ['addr', 'add', '10.77.100.2/24', 'dev', 'vb']);
    ipn(nsA, ['link', 'set', 'va', 'up']);
    ipn(nsB, ['link', 'set', 'vb', 'up']);

    const writerMinFrames = options.writerMinFrames;
    const a = new TapPort({ name: tapA, backend: options.backend ?? 'auto', writerMinFrames });
    ports.push(a);
    const b = new TapPort({ name: tapB, backend: a.backendKind, writerMinFrames });
    ports.push(b);
    moveTapToNetns(tapA, nsA, { addresses: ['10.77.101.1/24'] });
    moveTapToNetns(tapB, nsB, { addresses: ['10.77.101.2/24'] });
    cleanup = forwarder(a, b);
    // Resolve ARP once so the rate runs carry only UDP.
    await pingRttsUs(nsA, '10.77.101.2', 2);
    await pingRttsUs(nsA, '10.77.100.2', 2);

    // Warm-up trials, not measured, as the model bench runs frames before it measures: the
    // first frames through the NIC model run before V8 has compiled its hot paths (a cold
    // first trial forwarded half the frames a warm one did), and for symmetry the veth
    // pair gets one too.
    await blast(nsA, nsB, 'vb', '10.77.100.2', PAYLOAD_64B, 1, children);
    await blast(nsA, nsB, tapB, '10.77.101.2', PAYLOAD_64B, 1, children);
    const vethFull = await blast(nsA, nsB, 'vb', '10.77.100.2', PAYLOAD_64B, durationS, children);
    // The forwarder's CPU time per frame, over the full-load trial.
    const cpuBefore = process.cpuUsage();
    const framesBefore = a.rxFrames + b.rxFrames;
    const tapFull = await blast(nsA, nsB, tapB, '10.77.101.2', PAYLOAD_64B, durationS, children);
    const cpu = process.cpuUsage(cpuBefore);
    const frames = a.rxFrames + b.rxFrames - framesBefore;
    const [veth64, tap64] = await maxForwardingRates(
      nsA,
      nsB,
      [
        { rxIf: 'vb', toAddress: '10.77.100.2', fullLoad: vethFull },
        { rxIf: tapB, toAddress: '10.77.101.2', fullLoad: tapFull },
      ],
      durationS,
      children,
    );
    const tap1400 = await blast(nsA, nsB, tapB, '10.77.101.2', 1400 - FRAME_OVERHEAD_BYTES, durationS, children);
    const vethRtt = await pingRttsUs(nsA, '10.77.100.2', pingCount);
    const tapRtt = await pingRttsUs(nsA, '10.77.101.2', pingCount);
    cleanup?.();
    cleanup = undefined;
    let wire: { pps: number; rttP50: number } | null = null;
    if (options.compareWire === true) {
      wireForwarder(a, b);
      await blast(nsA, nsB, tapB, '10.77.101.2', PAYLOAD_64B, 1, children);
      const wireFull = await blast(nsA, nsB, tapB, '10.77.101.2', PAYLOAD_64B, durationS, children);
      const [wire64] = await maxForwardingRates(nsA, nsB, [{ rxIf: tapB, toAddress: '10.77.101.2', fullLoad: wireFull }], durationS, children);
      const wireRtt = await pingRttsUs(nsA, '10.77.101.2', pingCount);
      wire = { pps: Math.round(wire64.maxPps), rttP50: Number(percentile(wireRtt, 50).toFixed(1)) };
    }

    return {
      pps_64B: Math.round(tap64.maxPps),
      gbps_1400B: Number(((tap1400.deliveredPps * 1400 * 8) / 1e9).toFixed(3)),
      rtt_us_p50: Number(percentile(tapRtt, 50).toFixed(1)),
      rtt_us_p99: Number(percentile(tapRtt, 99).toFixed(1)),
      veth_pps_64B: Math.round(veth64.maxPps),
      veth_rtt_us_p50: Number(percentile(vethRtt, 50).toFixed(1)),
      backend: a.backendKind,
      writer_thread: a.hasWriterThread,
      cpu_ns_per_frame_64B: frames > 0 ? Math.round(((cpu.user + cpu.system) * 1000) / frames) : Number.NaN,
      offered_pps_64B: Math.round(tap64.offeredAtMaxPps),
      pps_64B_full_load: Math.round(tap64.fullLoad.deliveredPps),
      veth_pps_64B_full_load: Math.round(veth64.fullLoad.deliveredPps),
      forwarder: forwarderName,
      ...(options.forwarder === undefined ? { model_max_lag_us: Math.round(nicStats.maxLagUs), nic_counters: nicStats.counters ?? {} } : {}),
      ...(wire === null ? {} : { wire_pps_64B: wire.pps, wire_rtt_us_p50: wire.rttP50 }),
    };
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    cleanup?.();
    for (const port of ports) port.close();
    for (const ns of created) {
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      } catch {
        /* already gone */
      }
    }
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  tuneV8ForModel();
  const { values } = parseArgs({
    options: {
      backend: { type: 'string', default: 'auto' },
      'duration-s': { type: 'string', default: '2' },
      'compare-wire': { type: 'boolean', default: false },
      forwarder: { type: 'string', default: 'fatriot' },
      'no-writer-thread': { type: 'boolean', default: false },
    },
  });
  const kind = values.forwarder;
  if (kind !== 'fatriot' && kind !== 'reference' && kind !== 'wire') throw new Error(`--forwarder must be fatriot, reference or wire, not ${kind}`);
  benchTap({
    backend: values.backend as TapBackendKind | 'auto',
    durationS: Number(values['duration-s']),
    compareWire: values['compare-wire'],
    ...(values['no-writer-thread'] ? { writerMinFrames: Number.POSITIVE_INFINITY } : {}),
    ...(kind === 'fatriot' ? {} : { forwarder: kind === 'wire' ? wireForwarder : nicForwarder('reference'), forwarderName: kind === 'wire' ? 'wire' : 'reference-nic' }),
  })
    .then((result) => console.log(JSON.stringify(result)))
    .catch((error: Error) => {
      console.error(error.message);
      process.exit(1);
    });
}
