/**
 * Fig. 11 (Fatriot 5.2, host down failure). The generator sends 10 UDP requests a
 * second to the echo service in the main host's VM; when packet 50 is due the main host
 * crashes (SimHost.crash(): the OS and its VMs answer nothing, everything in flight is
 * lost) and stays down. With Fatriot the main NIC watches the service (UDP heartbeat)
 * and the host OS (host-level ICMP heartbeat, whose failure puts every registered
 * service in fail-safe, 3.4) and relays the service to the backup VM once it detects the
 * crash; with the reference NIC nothing answers any more.
 *
 * detect_ms: from the crash to the main NIC's fail-safe 'on' event for the service.
 * bound_ms: interval + threshold x RTT_avg (the larger of the two entries', read back
 * from the heartbeat table) + the NIC's nf0 -> dma0 pipeline latency.
 * delivered_ratio_*: replies / requests over the packets sent from the first one after
 * detection (failsafe_on_pkt) to the end, for both runs.
 */
import { join } from 'node:path';
import {
  COLOURS,
  outputDir,
  ProgressTracker,
  roundTo,
  writeCsv,
  writeSummary,
  writeSvg,
  type ExperimentOptions,
  type Summary,
} from './common.ts';
import {
  configureFailover,
  heartbeatsAtPhase,
  HOST_SVC_ID,
  lostBetween,
  meanRttUs,
  packetAt,
  pacedRun,
  type Fig8Bed,
  type PacedRunResult,
} from './fig8-run.ts';
import { measureLatencyCycles, SERVICE_ID } from './nic-measure.ts';
import { stackedPacketSeriesSpec, type SeriesPoint } from './plots.ts';

export interface CrashOptions extends ExperimentOptions {
  /** Requests in the run; default 100. */
  packets?: number;
  ratePps?: number;
  /** Packet at which the main host crashes; default 50. */
  crashPkt?: number;
  threshold?: number;
  learnSamples?: number;
  /** Fraction of the interval between the last heartbeat and the crash; default 0.5 (see fig8-run.ts heartbeatsAtPhase). */
  faultPhase?: number;
  /** Evaluated cycles dumped to the VCD from the crash; default 20 000. */
  vcdCycles?: number;
}

export const CRASH_DEFAULTS = {
  packets: 100,
  ratePps: 10,
  crashPkt: 50,
  intervalS: 0.5,
  threshold: 1.5,
  learnSamples: 4,
  faultPhase: 0.5,
} as const;

export async function runCrash(opts: CrashOptions = {}): Promise<Summary> {
  const d = CRASH_DEFAULTS;
  const intervalS = opts.interval ?? d.intervalS;
  const packets = opts.packets ?? d.packets;
  const ratePps = opts.ratePps ?? d.ratePps;
  const crashPkt = opts.crashPkt ?? d.crashPkt;
  const threshold = opts.threshold ?? d.threshold;
  const learnSamples = opts.learnSamples ?? d.learnSamples;
  const faultPhase = opts.faultPhase ?? d.faultPhase;
  if (!(crashPkt > 1 && crashPkt <= packets)) throw new RangeError(`need 1 < crashPkt <= packets (got ${crashPkt}, ${packets})`);
  const name = 'crash';
  const dir = outputDir(name, opts.outDir);
  const progress = new ProgressTracker(opts.onProgress);
  const hooks = new Map<number, (tb: Fig8Bed) => void>([[crashPkt, (tb) => tb.main.host.crash()]]);

  progress.phase(0, 0.5, `crash: with Fatriot (heartbeat every ${intervalS} s)`);
  const withRun = await pacedRun({
    kind: 'fatriot',
    dir,
    prefix: 'fatriot',
    packets,
    ratePps,
    atPacket: hooks,
    vcd: { fromPacket: crashPkt, maxCycles: opts.vcdCycles ?? 20_000 },
    configure: (_tb, main, backup) => configureFailover(main, backup),
    atCycle: heartbeatsAtPhase({ intervalS, threshold, learnSamples, hostHeartbeat: true }, crashPkt, faultPhase),
    progress,
  });
  progress.phase(0.5, 0.45, 'crash: without Fatriot (reference NIC)');
  const withoutRun = await pacedRun({ kind: 'reference', dir, prefix: 'reference', packets, ratePps, atPacket: hooks, progress });

  progress.phase(0.95, 0.05, 'crash: writing results');
  const summary = await summarise(dir, withRun, withoutRun, { intervalS, threshold, crashPkt, packets, ratePps, learnSamples, faultPhase });
  progress.done('crash: done');
  return summary;
}

interface CrashParams {
  intervalS: number;
  threshold: number;
  crashPkt: number;
  packets: number;
  ratePps: number;
  learnSamples: number;
  faultPhase: number;
}

function deliveredRatio(r: PacedRunResult, from: number, to: number): number | null {
  const sent = Math.min(to, r.records.length) - Math.max(1, from) + 1;
  if (sent <= 0) return null;
  return (sent - lostBetween(r.records, from, to)) / sent;
}

async function summarise(dir: string, w: PacedRunResult, wo: PacedRunResult, p: CrashParams): Promise<Summary> {
  const hz = w.coreHz;
  const ms = (cycles: number): number => (cycles * 1e3) / hz;
  const crashCycle = w.hookCycles.get(p.crashPkt)!;
  const on = w.events.firstChange(SERVICE_ID, true, crashCycle);
  const onPkt = on === null ? null : packetAt(w.records, on.cycle);
  const falseAlarms = w.events.failsafe.filter((f) => f.active && f.cycle < crashCycle).length;

  const hbService = await w.main!.heartbeatStatus(SERVICE_ID);
  const hbHost = await w.main!.heartbeatStatus(HOST_SVC_ID);
  const pipelineCycles = await measureLatencyCycles('fatriot', 60);
  const thresholdMilli = Math.round(p.threshold * 1000);
  const timeout = (rttAvg: number): number => Math.ceil((rttAvg * thresholdMilli) / 1000);
  const boundCycles = Math.round(p.intervalS * hz) + Math.max(timeout(hbService.rttAvgCycles), timeout(hbHost.rttAvgCycles)) + pipelineCycles;

  const from = onPkt ?? p.packets + 1;
  const summary: Summary = {
    experiment: 'crash',
    figure: 'Fig. 11',
    interval_s: p.intervalS,
    threshold: p.threshold,
    crash_pkt: p.crashPkt,
    failsafe_on_pkt: onPkt,
    detect_ms: on === null ? null : roundTo(ms(on.cycle - crashCycle), 6),
    bound_ms: roundTo(ms(boundCycles), 6),
    delivered_ratio_with: deliveredRatio(w, from, p.packets),
    delivered_ratio_without: deliveredRatio(wo, from, p.packets),
    lost_with: lostBetween(w.records, 1, p.packets),
    // Further measured values.
    lost_without: lostBetween(wo.records, 1, p.packets),
    lost_with_before_crash: lostBetween(w.records, 1, p.crashPkt - 1),
    delivered_ratio_without_after_crash: deliveredRatio(wo, p.crashPkt, p.packets),
    failsafe_cause: on?.cause ?? null,
    failsafe_activations_before_crash: falseAlarms,
    rtt_us_before_crash_with: round3(meanRttUs(w.records, 1, p.crashPkt - 1)),
    rtt_us_after_detection_with: round3(onPkt === null ? null : meanRttUs(w.records, onPkt, p.packets)),
    rtt_us_before_crash_without: round3(meanRttUs(wo.records, 1, p.crashPkt - 1)),
    rtt_avg_us_service: roundTo((hbService.rttAvgCycles * 1e6) / hz, 4),
    rtt_avg_us_host: roundTo((hbHost.rttAvgCycles * 1e6) / hz, 4),
    pipeline_latency_cycles: pipelineCycles,
    fault_phase: p.faultPhase,
    learn_samples: p.learnSamples,
    packets: p.packets,
    rate_pps: p.ratePps,
    vcd_cycles: w.vcdCycles,
    notes: [
      `The main host crashes when packet ${p.crashPkt} is due (SimHost.crash(): OS and VMs down, nothing in flight survives) and stays down.`,
      'Fatriot: UDP heartbeat to the service VM and host-level ICMP heartbeat to the host OS, both at the same interval and threshold; failsafe_cause says which verdict came first.',
      'delivered_ratio_with / _without: replies over requests for packets failsafe_on_pkt..end in each run; lost_with counts the requests between the crash and detection.',
      'bound_ms = interval + ceil(threshold x RTT_avg) (the larger of the two heartbeat entries) + nf0 -> dma0 latency of an idle Fatriot NIC.',
    ],
    files: [] as string[],
  };

  const t0 = w.plannedCycles[0]!;
  const active = (cycle: number): number => {
    let state = 0;
    for (const f of w.events.failsafe) if (f.serviceId === SERVICE_ID && f.cycle <= cycle) state = f.active ? 1 : 0;
    return state;
  };
  const csvPath = join(dir, 'crash.csv');
  writeCsv(
    csvPath,
    ['pkt', 'send_ms', 'rtt_us_with', 'rtt_us_without', 'lost_with', 'lost_without', 'failsafe_with', 'host_down'],
    w.records.map((r, i) => {
      const o = wo.records[i];
      return [r.seq + 1, ms(r.sendCycle - t0), r.rttUs, o?.rttUs ?? null, r.lost ? 1 : 0, o === undefined || o.lost ? 1 : 0, active(r.sendCycle), r.seq + 1 >= p.crashPkt ? 1 : 0];
    }),
  );

  // Delivered rate per second of requests (Fig. 11, upper panel), plotted at each window's last packet.
  const perWindow = Math.max(1, Math.round(p.ratePps));
  const rate = (r: PacedRunResult, run: string): SeriesPoint[] => {
    const out: SeriesPoint[] = [];
    for (let first = 1; first <= p.packets; first += perWindow) {
      const last = Math.min(p.packets, first + perWindow - 1);
      out.push({ pkt: last, run, value: roundTo(100 * (deliveredRatio(r, first, last) ?? 0), 3) });
    }
    return out;
  };
  // RTT with a lost request drawn as 0, as the paper does.
  const rtt = (r: PacedRunResult, run: string): SeriesPoint[] => r.records.map((x) => ({ pkt: x.seq + 1, run, value: x.rttUs === null ? 0 : roundTo(x.rttUs, 3) }));
  const runs = [
    { name: 'with Fatriot (fail-safe)', colour: COLOURS.reference },
    { name: 'without Fatriot', colour: COLOURS.fatriot },
  ];
  const fault = { from: p.crashPkt, to: p.packets + 1, label: 'main host down' };
  const markers = onPkt === null ? [] : [{ pkt: onPkt, label: `fail-safe on (pkt ${onPkt}, ${roundTo(ms(on!.cycle - crashCycle), 1)} ms)`, colour: COLOURS.reference }];
  const svgPath = join(dir, 'crash.svg');
  await writeSvg(
    svgPath,
    stackedPacketSeriesSpec(`Fig. 11: host down failure at packet ${p.crashPkt}, heartbeat interval ${p.intervalS} s`, [
      {
        title: 'delivered rate (per second of requests)',
        yTitle: 'delivered (%)',
        points: [...rate(w, runs[0]!.name), ...rate(wo, runs[1]!.name)],
        runs,
        fault,
        markers,
      },
      {
        title: 'RTT (0: no reply)',
        yTitle: 'RTT (µs)',
        points: [...rtt(w, runs[0]!.name), ...rtt(wo, runs[1]!.name)],
        runs,
        fault,
        markers,
      },
    ]),
  );
  summary.files = [join(dir, 'summary.json'), csvPath, svgPath, ...w.files, ...wo.files];
  writeSummary(dir, summary);
  return summary;
}

function round3(v: number | null): number | null {
  return v === null ? null : roundTo(v, 3);
}
