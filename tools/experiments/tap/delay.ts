/**
 * Fig. 10 (Fatriot 5.2, processing delay failure) on real packets: the netns testbed
 * (tools/testbed, Fig. 8) with a `fatriot daemon --tap` process as each host's NIC.
 * The traffic generator sends 10 UDP requests a second, each with its sequence number,
 * to the echo service of the main host; from packet 40 the main host answers
 * `faultDelayMs` late (tc netem delay on its interface, or, on kernels without
 * sch_netem, the echo server's own delay: summary.fault_how says which), from packet 80
 * it is back to normal. Two runs on fresh testbeds:
 * - with Fatriot: the Fatriot NIC on both hosts; the main NIC has the service as a
 *   mission-critical target, a UDP heartbeat to the service port (interval, threshold
 *   1.5, learn N), and the backup host's service in its service table; relay address,
 *   MAC and ports come from the testbed (nicConfigFor);
 * - without Fatriot: both NICs run `fatriot daemon --reference` (the reference NIC top,
 *   no Fatriot modules), the same faults.
 *
 * detect_ms: from the instant the delay is injected (just before packet 40 is due) to
 * the main NIC's fail-safe "on" event for the service (its wall-clock stamp); 0 when a
 * false alarm had it on already. bound_ms: interval + threshold x RTT_avg (the learnt
 * average read back from the heartbeat table) + the nf0 -> dma0 latency of an idle
 * Fatriot NIC (cycle model, tools/experiments/nic-measure.ts). The heartbeats are
 * started so that one leaves faultPhase x interval before the fault (0.5: the mean case).
 */
import { join } from 'node:path';
import {
  COLOURS,
  outputDir,
  roundTo,
  writeCsv,
  writeSummary,
  writeSvg,
  type ExperimentOptions,
  type Summary,
} from '../common.ts';
import { measureLatencyCycles } from '../nic-measure.ts';
import { packetSeriesSpec } from '../plots.ts';
import { coreClockHz } from '../../../hw/netfpga-spec/index.ts';
import type { DelayHow } from '../../testbed/testbed.ts';
import {
  configureFailover,
  configureHeartbeats,
  failsafeActiveAt,
  firstChange,
  heartbeatStartUs,
  learningLeadUs,
  lostBetween,
  meanRttUs,
  packetAtUs,
  phaseLogger,
  SERVICE_ID,
  tapRunWithFiles,
  type TapAction,
  type TapRunContext,
  type TapRunResult,
} from './run.ts';

export interface DelayTapOptions extends ExperimentOptions {
  /** Requests in the run; default 100. */
  packets?: number;
  /** Requests a second; default 10 (the paper's). */
  ratePps?: number;
  /** First slow packet; default 40. */
  faultStartPkt?: number;
  /** First packet after recovery; default 80. */
  faultEndPkt?: number;
  /**
   * How late the main host answers during the fault; default 50 ms. Real hosts' RTTs
   * jitter by milliseconds, so the fault is made well above threshold x RTT_avg.
   */
  faultDelayMs?: number;
  /** Default 1.5 (the paper's "over 50%"). */
  threshold?: number;
  /** RTT samples learnt before monitoring; default 5. */
  learnSamples?: number;
  /** Fraction of the interval between the last heartbeat before the fault and the fault; default 0.5. */
  faultPhase?: number;
  /** netem, the echo server's delay, or auto (netem when the kernel has it). */
  delayHow?: DelayHow;
  /** Testbed name prefix; default "fxd". */
  prefix?: string;
  stateDir?: string;
  /** Write pcaps of every NIC port; default true. */
  capture?: boolean;
}

export const DELAY_TAP_DEFAULTS = {
  packets: 100,
  ratePps: 10,
  faultStartPkt: 40,
  faultEndPkt: 80,
  faultDelayMs: 50,
  intervalS: 0.5,
  threshold: 1.5,
  learnSamples: 5,
  faultPhase: 0.5,
  prefix: 'fxd',
} as const;

/** The fault is put in place this long before its first packet is due. */
const FAULT_LEAD_US = 20_000;
/** Room for the configuration before the first heartbeat, µs. */
const CONFIG_MARGIN_US = 200_000;

export function delayTapName(intervalS: number): string {
  return intervalS === DELAY_TAP_DEFAULTS.intervalS ? 'delay-tap' : `delay-tap-${roundTo(intervalS * 1000, 3)}ms`;
}

export async function runDelayTap(opts: DelayTapOptions = {}): Promise<Summary> {
  const d = DELAY_TAP_DEFAULTS;
  const intervalS = opts.interval ?? d.intervalS;
  const packets = opts.packets ?? d.packets;
  const ratePps = opts.ratePps ?? d.ratePps;
  const faultStartPkt = opts.faultStartPkt ?? d.faultStartPkt;
  const faultEndPkt = opts.faultEndPkt ?? d.faultEndPkt;
  const faultDelayMs = opts.faultDelayMs ?? d.faultDelayMs;
  const threshold = opts.threshold ?? d.threshold;
  const learnSamples = opts.learnSamples ?? d.learnSamples;
  const faultPhase = opts.faultPhase ?? d.faultPhase;
  const how = opts.delayHow ?? 'auto';
  if (!(faultStartPkt > 1 && faultEndPkt > faultStartPkt && faultEndPkt <= packets + 1)) {
    throw new RangeError(`need 1 < faultStartPkt < faultEndPkt <= packets + 1 (got ${faultStartPkt}, ${faultEndPkt}, ${packets})`);
  }
  const name = delayTapName(intervalS);
  const dir = outputDir(name, opts.outDir);
  const log = phaseLogger(opts.onProgress);
  const prefix = opts.prefix ?? d.prefix;
  const common = {
    prefix,
    ...(opts.stateDir === undefined ? {} : { stateDir: opts.stateDir }),
    outDir: dir,
    capture: opts.capture ?? true,
    packets,
    ratePps,
    handleSignals: true,
  };
  const faultAt = (planned: readonly number[]): number => planned[faultStartPkt - 1]! - FAULT_LEAD_US;
  const faultActions = (planned: readonly number[]): TapAction[] => {
    const actions: TapAction[] = [
      { atUs: faultAt(planned), label: 'fault', run: (ctx: TapRunContext) => ctx.testbed.addDelay('main', faultDelayMs, how) },
    ];
    if (faultEndPkt <= packets) {
      actions.push({ atUs: planned[faultEndPkt - 1]! - FAULT_LEAD_US, label: 'recover', run: (ctx: TapRunContext) => ctx.testbed.clearDelay('main') });
    }
    return actions;
  };
  // The first request comes late enough for the heartbeat to learn before the fault.
  const startNotBeforeUs = (now: number): number =>
    now + CONFIG_MARGIN_US + learningLeadUs(intervalS, faultPhase, learnSamples) + FAULT_LEAD_US - ((faultStartPkt - 1) * 1e6) / ratePps;

  log(0, `${name}: with Fatriot (real NIC processes, heartbeat every ${intervalS} s)`);
  const withRun = await tapRunWithFiles({
    ...common,
    kind: 'fatriot',
    filePrefix: 'fatriot',
    configure: configureFailover,
    startNotBeforeUs,
    actions: (planned, now) => {
      const hbAt = heartbeatStartUs(faultAt(planned), intervalS, faultPhase, learnSamples, now + CONFIG_MARGIN_US / 2);
      if (hbAt === null) throw new Error('internal: no room for the heartbeat to learn before the fault');
      return [
        {
          atUs: hbAt,
          label: 'heartbeat',
          run: (ctx) => configureHeartbeats(ctx, { intervalS, threshold, learnSamples }),
        },
        ...faultActions(planned),
      ];
    },
    progress: (f) => log(0.45 * f, `${name}: with Fatriot (real NIC processes, heartbeat every ${intervalS} s)`),
  });
  log(0.45, `${name}: without Fatriot (reference NIC processes)`);
  const withoutRun = await tapRunWithFiles({
    ...common,
    kind: 'reference',
    filePrefix: 'reference',
    actions: (planned) => faultActions(planned),
    progress: (f) => log(0.45 + 0.45 * f, `${name}: without Fatriot (reference NIC processes)`),
  });
  log(0.9, `${name}: writing results`);
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
    prefix,
  });
  log(1, `${name}: done`);
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
  prefix: string;
}

async function summarise(dir: string, name: string, w: TapRunResult, wo: TapRunResult, p: DelayParams): Promise<Summary> {
  const faultUs = w.actionAtUs.get('fault')!;
  const recoverUs = w.actionAtUs.get('recover') ?? null;
  const activeAtFault = failsafeActiveAt(w.failsafe, SERVICE_ID, faultUs);
  const on = activeAtFault ? null : firstChange(w.failsafe, SERVICE_ID, true, faultUs);
  const onUs = activeAtFault ? faultUs : (on?.timeUs ?? null);
  const off = onUs === null ? null : firstChange(w.failsafe, SERVICE_ID, false, onUs);
  const onPkt = onUs === null ? null : packetAtUs(w.records, onUs);
  const offPkt = off === null ? null : packetAtUs(w.records, off.timeUs);
  const falseAlarms = w.failsafe.filter((f) => f.svcId === SERVICE_ID && f.active && f.timeUs < faultUs).length;

  const hb = w.heartbeatTable.find((h) => h.svcId === SERVICE_ID);
  const rttAvgNs = hb?.rttAvgNs ?? null;
  const hz = coreClockHz();
  const pipelineCycles = await measureLatencyCycles('fatriot', 60);
  const pipelineMs = (pipelineCycles * 1e3) / hz;
  const boundMs = rttAvgNs === null ? null : p.intervalS * 1e3 + (p.threshold * rttAvgNs) / 1e6 + pipelineMs;

  const lastFaultPkt = Math.min(p.faultEndPkt - 1, p.packets);
  const relayedTo = offPkt === null ? lastFaultPkt : Math.min(offPkt - 1, lastFaultPkt);
  const round3 = (v: number | null): number | null => (v === null ? null : roundTo(v, 3));
  const summary: Summary = {
    experiment: name,
    figure: p.intervalS === 0.5 ? 'Fig. 10(a)' : 'Fig. 10(b)',
    testbed: 'tap',
    interval_s: p.intervalS,
    threshold: p.threshold,
    fault_start_pkt: p.faultStartPkt,
    fault_end_pkt: p.faultEndPkt,
    failsafe_on_pkt: onPkt,
    failsafe_off_pkt: offPkt,
    detect_ms: onUs === null ? null : roundTo((onUs - faultUs) / 1e3, 3),
    bound_ms: boundMs === null ? null : roundTo(boundMs, 3),
    rtt_us_baseline: round3(meanRttUs(w.records, 1, p.faultStartPkt - 1)),
    rtt_us_fault_with: round3(onPkt === null ? null : meanRttUs(w.records, onPkt, relayedTo)),
    rtt_us_fault_without: round3(meanRttUs(wo.records, p.faultStartPkt, lastFaultPkt)),
    lost_with: lostBetween(w.records, 1, p.packets),
    lost_without: lostBetween(wo.records, 1, p.packets),
    // Further measured values.
    fault_how: w.actionResult.get('fault') ?? null,
    fault_delay_ms: p.faultDelayMs,
    failsafe_active_at_fault_start: activeAtFault,
    failsafe_activations_before_fault: falseAlarms,
    failsafe_cause: on?.cause ?? null,
    failsafe_off_ms_after_recovery: off === null || recoverUs === null ? null : roundTo((off.timeUs - recoverUs) / 1e3, 3),
    rtt_us_baseline_without: round3(meanRttUs(wo.records, 1, p.faultStartPkt - 1)),
    rtt_us_before_detection_with: round3(onPkt === null ? null : meanRttUs(w.records, p.faultStartPkt, onPkt - 1)),
    rtt_us_after_recovery_with: round3(meanRttUs(w.records, p.faultEndPkt, p.packets)),
    rtt_us_after_recovery_without: round3(meanRttUs(wo.records, p.faultEndPkt, p.packets)),
    rtt_avg_us: rttAvgNs === null ? null : roundTo(rttAvgNs / 1e3, 3),
    heartbeat_timeout_ms: rttAvgNs === null ? null : roundTo((p.threshold * rttAvgNs) / 1e6, 3),
    pipeline_latency_cycles: pipelineCycles,
    heartbeats: w.heartbeats.filter((h) => h.svcId === SERVICE_ID).length,
    heartbeat_timeouts: w.heartbeats.filter((h) => h.svcId === SERVICE_ID && h.timedOut).length,
    bad_source_replies: w.badSource + wo.badSource,
    packets: p.packets,
    rate_pps: p.ratePps,
    learn_samples: p.learnSamples,
    fault_phase: p.faultPhase,
    notes: [
      'TAP testbed: network namespaces, each host behind its own `fatriot daemon --tap` process (the cycle model on real TAP devices, real-time driver).',
      'Without Fatriot: both NICs run `fatriot daemon --reference` (the reference NIC top), not the Fatriot NIC with fail-safe forced off.',
      'Packets are numbered from 1; failsafe_on_pkt / failsafe_off_pkt: the first requests sent after the main NIC reported fail-safe on / off (event wall-clock stamps).',
      `Fault: the main host answers ${p.faultDelayMs} ms late (fault_how: netem on its interface, or its echo server holds replies) from packet ${p.faultStartPkt} to ${p.faultEndPkt - 1}; detect_ms counts from the instant it was injected, ${FAULT_LEAD_US / 1000} ms before packet ${p.faultStartPkt} was due.`,
      'detect_ms is 0 when fail-safe was already on at the fault (failsafe_active_at_fault_start: a false alarm of the 1.5 threshold on a jittery host).',
      'bound_ms = interval + threshold x RTT_avg (learnt, read from the heartbeat table) + nf0 -> dma0 latency of an idle Fatriot NIC (cycle model).',
      'rtt_us_fault_with: mean RTT of the requests sent while fail-safe was on inside the fault window (relayed to the backup host); rtt_us_fault_without: mean over the whole fault window without Fatriot.',
      'lost_*: requests of the whole run with no reply within 1 s.',
    ],
    files: [] as string[],
  };

  const csvPath = join(dir, `${name}.csv`);
  const t0 = w.startUs;
  writeCsv(
    csvPath,
    ['pkt', 'send_ms', 'rtt_us_with', 'rtt_us_without', 'lost_with', 'lost_without', 'failsafe_with', 'fault'],
    w.records.map((r, i) => {
      const o = wo.records[i];
      const pkt = r.seq + 1;
      return [
        pkt,
        (r.sendUs - t0) / 1e3,
        r.rttUs,
        o?.rttUs ?? null,
        r.lost ? 1 : 0,
        o === undefined || o.lost ? 1 : 0,
        failsafeActiveAt(w.failsafe, SERVICE_ID, r.sendUs) ? 1 : 0,
        pkt >= p.faultStartPkt && pkt < p.faultEndPkt ? 1 : 0,
      ];
    }),
  );
  const hbCsvPath = join(dir, `${name}-heartbeats.csv`);
  writeCsv(
    hbCsvPath,
    ['time_ms', 'svc', 'rtt_us', 'rtt_avg_us', 'ratio', 'timed_out'],
    w.heartbeats.map((h) => [(h.timeUs - t0) / 1e3, h.svcId, h.timedOut ? null : h.rttNs / 1e3, h.rttAvgNs / 1e3, h.ratio, h.timedOut ? 1 : 0]),
  );
  const eventsCsvPath = join(dir, `${name}-failsafe.csv`);
  writeCsv(
    eventsCsvPath,
    ['time_ms', 'svc', 'active', 'cause', 'cycle'],
    w.failsafe.map((f) => [(f.timeUs - t0) / 1e3, f.svcId, f.active ? 1 : 0, f.cause, f.cycle]),
  );

  const svgPath = join(dir, `${name}.svg`);
  const points = [
    ...w.records.map((r) => ({ pkt: r.seq + 1, run: 'with Fatriot', value: r.rttUs === null ? null : r.rttUs / 1000 })),
    ...wo.records.map((r) => ({ pkt: r.seq + 1, run: 'without Fatriot', value: r.rttUs === null ? null : r.rttUs / 1000 })),
  ];
  const markers = [];
  if (onPkt !== null) markers.push({ pkt: onPkt, label: `fail-safe on (pkt ${onPkt}, ${summary.detect_ms as number} ms)`, colour: COLOURS.fatriot });
  if (offPkt !== null) markers.push({ pkt: offPkt, label: `fail-safe off (pkt ${offPkt})`, colour: '#7f7f7f' });
  await writeSvg(
    svgPath,
    packetSeriesSpec({
      title: `${summary.figure as string} on TAP: processing delay failure, heartbeat interval ${p.intervalS} s`,
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
  summary.files = [join(dir, 'summary.json'), csvPath, hbCsvPath, eventsCsvPath, svgPath, ...w.files, ...wo.files];
  writeSummary(dir, summary);
  return summary;
}
