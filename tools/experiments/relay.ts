/**
 * Fig. 12 (Fatriot 5.3, network performance of the fail-safe relay). The generator
 * sends UDP frames to the main service at 10G line rate while the main NIC has the
 * service in fail-safe (forced on, `fatriot failsafe on svc 1`): the main NIC relays
 * every frame to the backup VM (DNAT/SNAT in the fail-safe handler), "traffic generator
 * -> main host's Fatriot -> backup host's Fatriot". For comparison the same frames go
 * straight to the backup VM ("direct"). Both are measured where they arrive: at the
 * backup NIC's wire port nf0 (first bit) and at its host port dma0.
 *
 * The frames go to the discard port (9) of the service address, which the main NIC has
 * as a mission-critical target relayed to the backup VM's port 9, where nothing listens:
 * a one-way flood, as a throughput test is (echo replies would share the main NIC's nf0
 * with the relayed flood and measure the reply path instead).
 *
 * Throughput: frames per model second at the backup NIC over a line-rate run, as Gb/s of
 * frame bytes with FCS. Latency: one-way, from a frame's first bit at the generator (its
 * stamp) to its first bit at the backup NIC's nf0, mean over low-rate probes;
 * added_latency_ns = relay - direct for 64-byte frames. The relay adds the main NIC and a
 * second pass through the switch (500 ns assumed, src/host/sim/timing.ts); the main NIC's
 * own share, nf0 in to nf0 out, is reported beside it.
 */
import { join } from 'node:path';
import { coreClockHz, lineRateFramesPerSecond } from '../../hw/netfpga-spec/index.ts';
import { buildFig8Testbed, FIG8_PLAN } from '../../src/host/sim/fig8-testbed.ts';
import { cyclesFromMs } from '../../src/host/sim/timing.ts';
import { FatriotNic } from '../../src/pipeline/nic/fatriot-nic.ts';
import { Simulator } from '../../src/pipeline/sim/simulator.ts';
import {
  CaptureSet,
  COLOURS,
  mean,
  outputDir,
  ProgressTracker,
  roundTo,
  VcdWindow,
  writeCsv,
  writeSummary,
  writeSvg,
  type CapturedNic,
  type ExperimentOptions,
  type FrameObserver,
  type Summary,
} from './common.ts';
import { NicConfigurator } from './configure.ts';
import { configureFailover } from './fig8-run.ts';
import { SERVICE_ID } from './nic-measure.ts';
import { linesSpec } from './plots.ts';

/** RFC 863 discard: a UDP port nothing listens on at the backup. */
export const DISCARD_PORT = 9;

export interface RelayOptions extends ExperimentOptions {
  /** Frames of the 1500-byte line-rate runs (the summary's headline); default 3000. */
  frames1500?: number;
  /** Frames of each other size's line-rate runs; default 2000. */
  framesPerSize?: number;
  /** Frame lengths without FCS for the curves; default 60, 252, 508, 1020, 1514. */
  sizes?: number[];
  /** Low-rate latency probes per size and path (1000 a second); default 50. */
  latencyProbes?: number;
  /** Evaluated cycles of the VCD of the relay at line rate; default 3000. */
  vcdCycles?: number;
}

type Path = 'direct' | 'relay';

/** Reads the generator's stamp (sequence, send cycle) of frames crossing a port; no allocation per frame. */
class StampMeter {
  arrivals = new Float64Array(0);
  sendCycles = new Float64Array(0);
  frames = 0;
  first = -1;
  last = -1;
  runId = -1;

  reset(count: number): void {
    this.arrivals = new Float64Array(count).fill(-1);
    this.sendCycles = new Float64Array(count).fill(-1);
    this.frames = 0;
    this.first = -1;
    this.last = -1;
  }

  readonly observe: FrameObserver = (f, cycle) => {
    // Ethernet II, IPv4 without options, UDP; the stamp starts the payload (traffic-generator.ts).
    if (f.length < 58 || f[12] !== 0x08 || f[13] !== 0x00 || f[14] !== 0x45 || f[23] !== 17) return;
    const o = 42;
    if (f[o] !== 0x46 || f[o + 1] !== 0x4d) return;
    const seq = ((f[o + 4]! << 24) | (f[o + 5]! << 16) | (f[o + 6]! << 8) | f[o + 7]!) >>> 0;
    if (seq >= this.arrivals.length || this.arrivals[seq]! >= 0) return;
    const hi = ((f[o + 8]! << 24) | (f[o + 9]! << 16) | (f[o + 10]! << 8) | f[o + 11]!) >>> 0;
    const lo = ((f[o + 12]! << 24) | (f[o + 13]! << 16) | (f[o + 14]! << 8) | f[o + 15]!) >>> 0;
    this.arrivals[seq] = cycle;
    this.sendCycles[seq] = hi * 0x100000000 + lo;
    this.frames++;
    if (this.first < 0) this.first = cycle;
    this.last = cycle;
  };

  /** Frames per second between the first and the last frame. */
  fps(hz: number): number {
    return this.frames > 1 && this.last > this.first ? ((this.frames - 1) * hz) / (this.last - this.first) : 0;
  }

  /** Mean cycles from the stamp (or `from`'s arrival of the same frame) to arrival here. */
  meanLatencyCycles(from?: StampMeter): number | null {
    const xs: number[] = [];
    for (let i = 0; i < this.arrivals.length; i++) {
      const a = this.arrivals[i]!;
      const b = from === undefined ? this.sendCycles[i]! : from.arrivals[i]!;
      if (a >= 0 && b >= 0) xs.push(a - b);
    }
    return mean(xs);
  }
}

interface SizeResult {
  path: Path;
  frameBytes: number;
  offered: number;
  atNic: number;
  atHost: number;
  nicFps: number;
  hostFps: number;
  nicGbps: number;
  hostGbps: number;
  latencyNs: number | null;
  /** Relay only: the main NIC's share, nf0 in to nf0 out. */
  mainNicNs: number | null;
  relayedByMain: number;
}

export async function runRelay(opts: RelayOptions = {}): Promise<Summary> {
  const dir = outputDir('relay', opts.outDir);
  const sizes = [...new Set([...(opts.sizes ?? [60, 252, 508, 1020, 1514]), 60, 1514])].sort((a, b) => a - b);
  const frames1500 = opts.frames1500 ?? 3000;
  const framesPerSize = opts.framesPerSize ?? 2000;
  const probes = opts.latencyProbes ?? 50;
  const progress = new ProgressTracker(opts.onProgress);
  const results: SizeResult[] = [];
  const files: string[] = [];
  const weight = (b: number): number => (b === 1514 ? frames1500 : framesPerSize) * (b + 100);
  const total = 2 * sizes.reduce((s, b) => s + weight(b), 0);
  let done = 0;
  for (const path of ['direct', 'relay'] as const) {
    for (const frameBytes of sizes) {
      progress.phase((0.98 * done) / total, (0.98 * weight(frameBytes)) / total, `relay: ${path}, ${frameBytes + 4}-byte frames`);
      const count = frameBytes === 1514 ? frames1500 : framesPerSize;
      const capture = frameBytes === 1514;
      const vcd = capture && path === 'relay' ? { path: join(dir, 'relay-line-rate.vcd'), maxCycles: opts.vcdCycles ?? 3000 } : null;
      const r = await measurePath(dir, path, frameBytes, count, probes, capture, vcd);
      results.push(r.result);
      files.push(...r.files);
      done += weight(frameBytes);
      progress.update(1);
    }
  }
  progress.phase(0.99, 0.01, 'relay: writing results');
  const get = (path: Path, b: number): SizeResult => results.find((x) => x.path === path && x.frameBytes === b)!;
  const d1500 = get('direct', 1514);
  const r1500 = get('relay', 1514);
  const d64 = get('direct', 60);
  const r64 = get('relay', 60);
  const lineGbps1500 = (lineRateFramesPerSecond(1514) * 1518 * 8) / 1e9;
  const diff = (a: number | null, b: number | null): number | null => (a === null || b === null ? null : roundTo(a - b, 3));

  const csvPath = join(dir, 'relay.csv');
  writeCsv(
    csvPath,
    ['path', 'frame_bytes', 'offered', 'at_backup_nic', 'at_backup_host', 'nic_mpps', 'nic_gbps', 'host_gbps', 'line_rate_gbps', 'latency_ns', 'main_nic_ns'],
    results.map((x) => [
      x.path,
      x.frameBytes + 4,
      x.offered,
      x.atNic,
      x.atHost,
      x.nicFps / 1e6,
      x.nicGbps,
      x.hostGbps,
      (lineRateFramesPerSecond(x.frameBytes) * (x.frameBytes + 4) * 8) / 1e9,
      x.latencyNs,
      x.mainNicNs,
    ]),
  );
  const svgPath = join(dir, 'relay.svg');
  const series = [
    { name: 'via main Fatriot (relay)', colour: COLOURS.relay, width: 5 },
    { name: 'direct to backup', colour: COLOURS.direct, dash: [6, 4], width: 2 },
    { name: '10G line rate', colour: '#616161', dash: [2, 2], width: 1.5 },
  ];
  const label = (p: Path): string => (p === 'relay' ? series[0]!.name : series[1]!.name);
  await writeSvg(
    svgPath,
    linesSpec('Fig. 12: generator -> backup host\'s Fatriot NIC, fail-safe relay vs direct (model time)', [
      {
        title: '(a) throughput at the backup NIC',
        xTitle: 'frame size (bytes, with FCS)',
        yTitle: 'Gb/s (frame bytes with FCS)',
        seriesOrder: series,
        rows: [
          ...results.map((x) => ({ x: x.frameBytes + 4, series: label(x.path), value: roundTo(x.nicGbps, 4) })),
          ...sizes.map((b) => ({ x: b + 4, series: series[2]!.name, value: roundTo((lineRateFramesPerSecond(b) * (b + 4) * 8) / 1e9, 4) })),
        ],
      },
      {
        title: '(b) one-way latency, generator -> backup NIC',
        xTitle: 'frame size (bytes, with FCS)',
        yTitle: 'ns',
        seriesOrder: [...series.slice(0, 2), { name: 'main NIC only (relay, nf0 in -> out)', colour: COLOURS.fatriot }],
        rows: [
          ...results.flatMap((x) => (x.latencyNs === null ? [] : [{ x: x.frameBytes + 4, series: label(x.path), value: roundTo(x.latencyNs, 1) }])),
          ...results.flatMap((x) => (x.mainNicNs === null ? [] : [{ x: x.frameBytes + 4, series: 'main NIC only (relay, nf0 in -> out)', value: roundTo(x.mainNicNs, 1) }])),
        ],
      },
    ]),
  );

  const summary: Summary = {
    experiment: 'relay',
    figure: 'Fig. 12',
    gbps_1500B_direct: roundTo(d1500.nicGbps, 4),
    gbps_1500B_relay: roundTo(r1500.nicGbps, 4),
    added_latency_ns: diff(r64.latencyNs, d64.latencyNs),
    // Further measured values.
    line_rate_gbps_1500B: roundTo(lineGbps1500, 4),
    relay_line_rate_fraction_1500B: roundTo(r1500.nicGbps / lineGbps1500, 6),
    relay_over_direct_1500B: roundTo(r1500.nicGbps / d1500.nicGbps, 6),
    host_gbps_1500B_direct: roundTo(d1500.hostGbps, 4),
    host_gbps_1500B_relay: roundTo(r1500.hostGbps, 4),
    delivered_1500B: { offered: frames1500, direct: d1500.atNic, relay: r1500.atNic },
    relayed_by_main_1500B: r1500.relayedByMain,
    mpps_64B_direct: roundTo(d64.nicFps / 1e6, 4),
    mpps_64B_relay: roundTo(r64.nicFps / 1e6, 4),
    latency_ns_64B_direct: r3(d64.latencyNs),
    latency_ns_64B_relay: r3(r64.latencyNs),
    main_nic_latency_ns_64B: r3(r64.mainNicNs),
    added_latency_ns_1500B: diff(r1500.latencyNs, d1500.latencyNs),
    main_nic_latency_ns_1500B: r3(r1500.mainNicNs),
    sizes_bytes: sizes.map((b) => b + 4),
    notes: [
      'gbps_*: frames per model second arriving at the backup NIC\'s nf0 during a line-rate run, times the frame bytes with FCS (10G line rate for 1518-byte frames: line_rate_gbps_1500B).',
      'relay: fail-safe forced on for the service on the main NIC; every frame is relayed by the fail-safe handler (DNAT to the backup VM, SNAT to the relay address).',
      'added_latency_ns: mean one-way latency (first bit at the generator to first bit at the backup NIC) relay minus direct, 64-byte frames; it includes the extra pass through the switch (500 ns assumed) and cables; main_nic_latency_ns_64B is the main NIC alone.',
      'Warm-up frames resolve ARP on every hop before each measurement; the latency probes go at 1000 frames a second into idle NICs.',
    ],
    files: [join(dir, 'summary.json'), csvPath, svgPath, ...files],
  };
  writeSummary(dir, summary);
  progress.done('relay: done');
  return summary;
}

function r3(v: number | null): number | null {
  return v === null ? null : roundTo(v, 3);
}

async function measurePath(
  dir: string,
  path: Path,
  frameBytes: number,
  count: number,
  probes: number,
  capture: boolean,
  vcdOut: { path: string; maxCycles: number } | null,
): Promise<{ result: SizeResult; files: string[] }> {
  const plan = FIG8_PLAN;
  const coreHz = coreClockHz();
  // The VCD window opens after configuration: every handshake must be a registered signal then.
  const sim = new Simulator({ trains: vcdOut === null });
  const atBackupNic = new StampMeter();
  const atBackupHost = new StampMeter();
  const atMainIn = new StampMeter();
  const atMainOut = new StampMeter();
  const observers = new Map<string, { rx?: FrameObserver; tx?: FrameObserver }>([
    ['backup-nf0', { rx: atBackupNic.observe }],
    ['backup-dma0', { tx: atBackupHost.observe }],
    ['main-nf0', { rx: atMainIn.observe, tx: atMainOut.observe }],
  ]);
  const captures = new CaptureSet(dir, `${path}-${frameBytes + 4}B`, 1e9 / coreHz, { enabled: capture, observers });
  const tb = buildFig8Testbed<CapturedNic<FatriotNic>>(sim, { nicFactory: (name, s) => captures.wrapNic(name, new FatriotNic({ sim: s, name })), coreHz });
  captures.observePort('tgen', tb.tgenPort);
  const main = new NicConfigurator(tb.main.nic.nic);
  const backup = new NicConfigurator(tb.backup.nic.nic);
  await configureFailover(main, backup);
  await main.target({ ip: plan.main.serviceIp, proto: 'udp', port: DISCARD_PORT, svcId: SERVICE_ID, critical: true });
  await main.service({ ip: plan.main.serviceIp, proto: 'udp', port: DISCARD_PORT, backupIp: plan.backup.serviceIp, backupPort: 0 });
  if (path === 'relay') await main.failsafeMode(SERVICE_ID, 'on');
  const dstIp = path === 'relay' ? plan.main.serviceIp : plan.backup.serviceIp;
  const tgen = tb.tgen;
  const meters = [atBackupNic, atBackupHost, atMainIn, atMainOut];
  const runTo = (limitCycles: number): void => {
    const end = sim.now + limitCycles;
    while (tgen.state !== 'done' && sim.now < end) sim.runUntil(sim.now + cyclesFromMs(1, coreHz));
    // Let the last frames through both NICs and the switch.
    sim.runUntil(sim.now + cyclesFromMs(1, coreHz));
  };

  // Warm-up: ARP on every hop (generator, main NIC's fail-safe handler, hosts).
  captures.paused = true;
  meters.forEach((m) => m.reset(4));
  tgen.start({ dstIp, dstPort: DISCARD_PORT, count: 4, ratePps: 1000, frameBytes });
  runTo(cyclesFromMs(3000, coreHz));
  sim.runUntil(sim.now + cyclesFromMs(10, coreHz));

  // Latency: probes into idle NICs.
  captures.paused = false;
  meters.forEach((m) => m.reset(probes));
  tgen.start({ dstIp, dstPort: DISCARD_PORT, count: probes, ratePps: 1000, frameBytes });
  runTo(cyclesFromMs(3000, coreHz));
  const ns = (cycles: number | null): number | null => (cycles === null ? null : (cycles * 1e9) / coreHz);
  const latencyNs = ns(atBackupNic.meanLatencyCycles());
  const mainNicNs = path === 'relay' ? ns(atMainOut.meanLatencyCycles(atMainIn)) : null;

  // Throughput: a line-rate run.
  captures.paused = true;
  meters.forEach((m) => m.reset(count));
  const vcd = vcdOut === null ? null : new VcdWindow(vcdOut.path, sim, 1e9 / coreHz, vcdOut.maxCycles, 'fig12_relay');
  tgen.start({ dstIp, dstPort: DISCARD_PORT, count, lineRate: true, frameBytes });
  vcd?.start();
  runTo(cyclesFromMs(3000, coreHz));
  vcd?.stop();
  captures.close();
  const nicFps = atBackupNic.fps(coreHz);
  const hostFps = atBackupHost.fps(coreHz);
  const gbps = (fps: number): number => (fps * (frameBytes + 4) * 8) / 1e9;
  return {
    result: {
      path,
      frameBytes,
      offered: count,
      atNic: atBackupNic.frames,
      atHost: atBackupHost.frames,
      nicFps,
      hostFps,
      nicGbps: gbps(nicFps),
      hostGbps: gbps(hostFps),
      latencyNs,
      mainNicNs,
      relayedByMain: path === 'relay' ? atMainOut.frames : 0,
    },
    files: [...captures.files, ...(vcd === null ? [] : [vcd.path])],
  };
}
