/**
 * Fig. 10 (Fatriot 5.2, processing delay failure). The generator sends 10 UDP requests
 * a second to the echo service in the main host's VM; from packet 40 the service takes
 * `faultDelayMs` longer per request, from packet 80 it is back to normal. The run is made
 * twice on the same simulated Fig. 8 testbed: with a Fatriot NIC on both hosts (the main
 * one watching the service with a UDP heartbeat every `interval` s, threshold 1.5, and
 * the backup VM in its service table), and with the reference NIC on both.
 *
 * The fault: a fixed extra processing time that is far above what the threshold allows
 * (5 ms against RTT_avg x 1.5, about 0.35 ms on this testbed), so every heartbeat during
 * the fault crosses the threshold and the first one times out. Fig. 10(a) uses an
 * interval of 0.5 s; Fig. 10(b) 0.1 s (`interval: 0.1`).
 *
 * detect_ms: from the cycle the delay is injected (when packet 40 leaves the generator)
 * to the main NIC's fail-safe 'on' event for the service. bound_ms: interval + threshold x
 * RTT_avg (read back from the heartbeat table) + the NIC's nf0 -> dma0 pipeline latency.
 */
import { join } from 'node:path';
import { cyclesFromMs } from '../../src/host/sim/timing.ts';
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
import { configureFailover, heartbeatsAtPhase, lostBetween, meanRttUs, packetAt, pacedRun, type Fig8Bed, type PacedRunResult } from './fig8-run.ts';
import { measureLatencyCycles, SERVICE_ID } from './nic-measure.ts';
import { packetSeriesSpec } from './plots.ts';

export interface DelayOptions extends ExperimentOptions {
  /** Requests in the run; default 100. */
  packets?: number;
  /** Requests a second; default 10 (the paper's). */
  ratePps?: number;
  /** First slow packet; default 40. */
  faultStartPkt?: number;
  /** First packet after recovery; default 80. */
  faultEndPkt?: number;
  /** Extra processing time per request during the fault; default 5 ms. */
  faultDelayMs?: number;
  /** Default 1.5. */
  threshold?: number;
  /** RTT samples learnt before monitoring; default 4. */
  learnSamples?: number;
  /**
   * Fraction of the heartbeat interval between the last heartbeat before the fault and
   * the fault's start (fig8-run.ts heartbeatsAtPhase); default 0.5, the mean case.
   */
  faultPhase?: number;
  /** Extra runs with the fault at phases (k + 0.5) / n of the interval, for detect_ms_by_phase; default 4, 0 for none. */
  sweepPhases?: number;
  /** Evaluated cycles dumped to the VCD from the fault's start; default 20 000. */
  vcdCycles?: number;
}

export const DELAY_DEFAULTS = {
  packets: 100,
  ratePps: 10,
  faultStartPkt: 40,
  faultEndPkt: 80,
  faultDelayMs: 5,
  intervalS: 0.5,
  threshold: 1.5,
  learnSamples: 4,
  faultPhase: 0.5,
} as const;

/** results/delay for the paper's 0.5 s interval, results/delay-100ms for 0.1 s, and so on. */
export function delayName(intervalS: number): string {
  return intervalS === DELAY_DEFAULTS.intervalS ? 'delay' : `delay-${roundTo(intervalS * 1000, 3)}ms`;
}

export async function runDelay(opts: DelayOptions = {}): Promise<Summary> {
  const d = DELAY_DEFAULTS;
  const intervalS = opts.interval ?? d.intervalS;
  const packets = opts.packets ?? d.packets;
  const ratePps = opts.ratePps ?? d.ratePps;
  const faultStartPkt = opts.faultStartPkt ?? d.faultStartPkt;
  const faultEndPkt = opts.faultEndPkt ?? d.faultEndPkt;
  const faultDelayMs = opts.faultDelayMs ?? d.faultDelayMs;
  const threshold = opts.threshold ?? d.threshold;
  const learnSamples = opts.learnSamples ?? d.learnSamples;
  const faultPhase = opts.faultPhase ?? d.faultPhase;
  if (!(faultStartPkt > 1 && faultEndPkt > faultStartPkt && faultEndPkt <= packets + 1)) {
    throw new RangeError(`need 1 < faultStartPkt < faultEndPkt <= packets + 1 (got ${faultStartPkt}, ${faultEndPkt}, ${packets})`);
  }
  const name = delayName(intervalS);
  const dir = outputDir(name, opts.outDir);
  const progress = new ProgressTracker(opts.onProgress);

  let normalDelayCycles = -1;
  const hooks = new Map<number, (tb: Fig8Bed) => void>([
    [
      faultStartPkt,
      (tb) => {
        normalDelayCycles = tb.main.service.delayCycles;
        tb.main.service.setDelay(normalDelayCycles + cyclesFromMs(faultDelayMs, tb.coreHz));
      },
    ],
    [faultEndPkt, (tb) => tb.main.service.setDelay(normalDelayCycles)],
  ]);
  if (faultEndPkt > packets) hooks.delete(faultEndPkt);

  progress.phase(0, 0.45, `${name}: with Fatriot (heartbeat every ${intervalS} s)`);
  const withRun = await pacedRun({
    kind: 'fatriot',
    dir,
    prefix: 'fatriot',
    packets,
    ratePps,
    atPacket: hooks,
    vcd: { fromPacket: faultStartPkt, maxCycles: opts.vcdCycles ?? 20_000 },
    configure: (_tb, main, backup) => configureFailover(main, backup),
    atCycle: heartbeatsAtPhase({ intervalS, threshold, learnSamples }, faultStartPkt, faultPhase),
    progress,
  });
  progress.phase(0.45, 0.45, `${name}: without Fatriot (reference NIC)`);
  const withoutRun = await pacedRun({ kind: 'reference', dir, prefix: 'reference', packets, ratePps, atPacket: hooks, progress });

  const sweepPhases = opts.sweepPhases ?? 4;
  const sweep: { phase: number; detectMs: number | null }[] = [];
  for (let k = 0; k < sweepPhases; k++) {
    const phase = (k + 0.5) / sweepPhases;
    progress.phase(0.9 + (0.05 * k) / sweepPhases, 0.05 / sweepPhases, `${name}: detection at fault phase ${roundTo(phase, 3)}`);
    // Only as far as detection must have happened by (interval + timeout), with the fault on throughout.
    const last = Math.min(packets, faultStartPkt + Math.ceil(intervalS * ratePps) + 2);
    const r = await pacedRun({
      kind: 'fatriot',
      dir,
      prefix: 'sweep',
      packets: last,
      ratePps,
      capture: false,
      drainS: 0.1,
      atPacket: new Map([[faultStartPkt, hooks.get(faultStartPkt)!]]),
      configure: (_tb, main, backup) => configureFailover(main, backup),
      atCycle: heartbeatsAtPhase({ intervalS, threshold, learnSamples }, faultStartPkt, phase),
    });
    const at = r.hookCycles.get(faultStartPkt)!;
    const on = r.events.firstChange(SERVICE_ID, true, at);
    sweep.push({ phase, detectMs: on === null ? null : ((on.cycle - at) * 1e3) / r.coreHz });
  }

  progress.phase(0.95, 0.05, `${name}: writing results`);
  const summary = await summarise(dir, name, withRun, withoutRun, {
    intervalS,
    threshold,
    faultStartPkt,
    faultEndPkt,
    faultDelayMs,
    packets,
    ratePps,
    learnSamples,
    faultPhase,
    sweep,
  });
  progress.done(`${name}: done`);
  return summary;
}

interface DelayParams {
  intervalS: number;
  threshold: number;
  faultStartPkt: number;
  faultEndPkt: number;
  faultDelayMs: number;
  packets: number;
  ratePps: number;
  learnSamples: number;
  faultPhase: number;
  sweep: { phase: number; detectMs: number | null }[];
}

async function summarise(dir: string, name: string, w: PacedRunResult, wo: PacedRunResult, p: DelayParams): Promise<Summary> {
  const hz = w.coreHz;
  const ms = (cycles: number): number => (cycles * 1e3) / hz;
  const faultCycle = w.hookCycles.get(p.faultStartPkt)!;
  const recoveryCycle = w.hookCycles.get(p.faultEndPkt) ?? Number.POSITIVE_INFINITY;
  const on = w.events.firstChange(SERVICE_ID, true, faultCycle);
  const off = on === null ? null : w.events.firstChange(SERVICE_ID, false, on.cycle);
  const falseAlarms = w.events.failsafe.filter((f) => f.serviceId === SERVICE_ID && f.active && f.cycle < faultCycle).length;
  const onPkt = on === null ? null : packetAt(w.records, on.cycle);
  const offPkt = off === null ? null : packetAt(w.records, off.cycle);

  const hb = await w.main!.heartbeatStatus(SERVICE_ID);
  const pipelineCycles = await measureLatencyCycles('fatriot', 60);
  const intervalCycles = Math.round(p.intervalS * hz);
  const timeoutCycles = Math.ceil((hb.rttAvgCycles * Math.round(p.threshold * 1000)) / 1000);
  const boundCycles = intervalCycles + timeoutCycles + pipelineCycles;

  const lastFaultPkt = Math.min(p.faultEndPkt - 1, p.packets);
  const relayedTo = offPkt === null ? lastFaultPkt : Math.min(offPkt - 1, lastFaultPkt);
  const rttBaseline = meanRttUs(w.records, 1, p.faultStartPkt - 1);
  const summary: Summary = {
    experiment: name,
    figure: p.intervalS === 0.5 ? 'Fig. 10(a)' : 'Fig. 10(b)',
    interval_s: p.intervalS,
    threshold: p.threshold,
    fault_start_pkt: p.faultStartPkt,
    fault_end_pkt: p.faultEndPkt,
    failsafe_on_pkt: onPkt,
    failsafe_off_pkt: offPkt,
    detect_ms: on === null ? null : roundTo(ms(on.cycle - faultCycle), 6),
    bound_ms: roundTo(ms(boundCycles), 6),
    rtt_us_baseline: round3(rttBaseline),
    rtt_us_fault_with: round3(onPkt === null ? null : meanRttUs(w.records, onPkt, relayedTo)),
    rtt_us_fault_without: round3(meanRttUs(wo.records, p.faultStartPkt, lastFaultPkt)),
    lost_with: lostBetween(w.records, 1, p.packets),
    lost_without: lostBetween(wo.records, 1, p.packets),
    // Further measured values.
    rtt_us_baseline_without: round3(meanRttUs(wo.records, 1, p.faultStartPkt - 1)),
    rtt_us_before_detection_with: round3(onPkt === null ? null : meanRttUs(w.records, p.faultStartPkt, onPkt - 1)),
    rtt_us_after_recovery_with: round3(meanRttUs(w.records, p.faultEndPkt, p.packets)),
    rtt_us_after_recovery_without: round3(meanRttUs(wo.records, p.faultEndPkt, p.packets)),
    failsafe_off_ms_after_recovery: off === null || recoveryCycle === Number.POSITIVE_INFINITY ? null : roundTo(ms(off.cycle - recoveryCycle), 6),
    failsafe_activations_before_fault: falseAlarms,
    failsafe_cause: on?.cause ?? null,
    duplicate_replies_with: w.duplicateReplies,
    rtt_avg_us: roundTo((hb.rttAvgCycles * 1e6) / hz, 4),
    rtt_avg_cycles: hb.rttAvgCycles,
    heartbeat_timeout_cycles: timeoutCycles,
    pipeline_latency_cycles: pipelineCycles,
    heartbeats: w.events.heartbeats.filter((h) => h.serviceId === SERVICE_ID).length,
    heartbeat_timeouts: w.events.heartbeats.filter((h) => h.serviceId === SERVICE_ID && h.timedOut).length,
    packets: p.packets,
    rate_pps: p.ratePps,
    fault_delay_ms: p.faultDelayMs,
    learn_samples: p.learnSamples,
    fault_phase: p.faultPhase,
    detect_ms_by_phase: Object.fromEntries(p.sweep.map((x) => [String(roundTo(x.phase, 4)), x.detectMs === null ? null : roundTo(x.detectMs, 6)])),
    detect_ms_sweep_max: sweepMax(p.sweep),
    vcd_cycles: w.vcdCycles,
    notes: [
      'Packets are numbered from 1; failsafe_on_pkt / failsafe_off_pkt are the first requests the generator sent after the main NIC reported fail-safe on / off for the service.',
      `Fault: the main VM's echo service takes ${p.faultDelayMs} ms more per request from packet ${p.faultStartPkt} to packet ${p.faultEndPkt - 1}; detect_ms counts from the cycle it is injected, when packet ${p.faultStartPkt} leaves the generator.`,
      `fault_phase ${p.faultPhase}: the heartbeats were started so that one left ${p.faultPhase} x interval before the fault (0.5: the fault falls mid-way between two heartbeats, the mean case; detection takes between T and interval + T).`,
      'detect_ms_by_phase: detection time of extra runs (fault kept on, no captures) with the fault at other phases of the heartbeat interval; each must stay within bound_ms.',
      'bound_ms = interval + ceil(threshold x RTT_avg) + nf0 -> dma0 latency of an idle Fatriot NIC (64-byte frame); RTT_avg read from the heartbeat table through the register map.',
      'rtt_us_fault_with: mean RTT of the requests sent while fail-safe was on inside the fault window (relayed to the backup VM); rtt_us_fault_without: mean over the whole fault window without Fatriot.',
      'lost_*: requests of the whole run that got no reply (a late reply still counts).',
    ],
    files: [] as string[],
  };

  const csvPath = join(dir, `${name}.csv`);
  const t0 = w.plannedCycles[0]!;
  const active = (cycle: number): number => {
    let state = 0;
    for (const f of w.events.failsafe) if (f.serviceId === SERVICE_ID && f.cycle <= cycle) state = f.active ? 1 : 0;
    return state;
  };
  writeCsv(
    csvPath,
    ['pkt', 'send_ms', 'rtt_us_with', 'rtt_us_without', 'lost_with', 'lost_without', 'failsafe_with', 'fault'],
    w.records.map((r, i) => {
      const o = wo.records[i];
      const pkt = r.seq + 1;
      return [
        pkt,
        ms(r.sendCycle - t0),
        r.rttUs,
        o?.rttUs ?? null,
        r.lost ? 1 : 0,
        o === undefined || o.lost ? 1 : 0,
        active(r.sendCycle),
        pkt >= p.faultStartPkt && pkt < p.faultEndPkt ? 1 : 0,
      ];
    }),
  );
  const hbCsvPath = join(dir, `${name}-heartbeats.csv`);
  writeCsv(
    hbCsvPath,
    ['time_ms', 'svc', 'rtt_us', 'rtt_avg_us', 'ratio', 'timed_out'],
    w.events.heartbeats.map((h) => [ms(h.cycle - t0), h.serviceId, h.timedOut ? null : (h.rttCycles * 1e6) / hz, (h.rttAvgCycles * 1e6) / hz, h.ratio, h.timedOut ? 1 : 0]),
  );

  const svgPath = join(dir, `${name}.svg`);
  const points = [
    ...w.records.map((r) => ({ pkt: r.seq + 1, run: 'with Fatriot', value: r.rttUs === null ? null : r.rttUs / 1000 })),
    ...wo.records.map((r) => ({ pkt: r.seq + 1, run: 'without Fatriot', value: r.rttUs === null ? null : r.rttUs / 1000 })),
  ];
  const markers = [];
  if (onPkt !== null) markers.push({ pkt: onPkt, label: `fail-safe on (pkt ${onPkt}, ${roundTo(ms(on!.cycle - faultCycle), 1)} ms)`, colour: COLOURS.fatriot });
  if (offPkt !== null) markers.push({ pkt: offPkt, label: `fail-safe off (pkt ${offPkt})`, colour: '#7f7f7f' });
  await writeSvg(
    svgPath,
    packetSeriesSpec({
      title: `${summary.figure as string}: processing delay failure, heartbeat interval ${p.intervalS} s`,
      yTitle: 'RTT (ms)',
      points,
      runs: [
        { name: 'with Fatriot', colour: COLOURS.fatriot },
        { name: 'without Fatriot', colour: COLOURS.reference },
      ],
      fault: { from: p.faultStartPkt, to: p.faultEndPkt, label: `+${p.faultDelayMs} ms processing delay` },
      markers,
    }),
  );
  summary.files = [join(dir, 'summary.json'), csvPath, hbCsvPath, svgPath, ...w.files, ...wo.files];
  writeSummary(dir, summary);
  return summary;
}

function sweepMax(sweep: { detectMs: number | null }[]): number | null {
  if (sweep.length === 0 || sweep.some((x) => x.detectMs === null)) return null;
  return roundTo(Math.max(...sweep.map((x) => x.detectMs!)), 6);
}

function round3(v: number | null): number | null {
  return v === null ? null : roundTo(v, 3);
}
