/**
 * Fig. 11 (Fatriot 5.2, host down failure) on real packets: the netns testbed
 * (tools/testbed, Fig. 8) with a `fatriot daemon --tap` process as each host's NIC.
 * The traffic generator sends 10 sequence-numbered UDP requests a second to the main
 * host's echo service; just before packet 50 the main host crashes (its interface goes
 * down: nothing it would send leaves, nothing reaches it) and stays down. Two runs on
 * fresh testbeds:
 * - with Fatriot: the Fatriot NIC on both hosts; the main NIC has the service as a
 *   mission-critical target, a UDP heartbeat to the service port and a host-level
 *   heartbeat (ICMP to the host OS, Fatriot 3.4: its failure puts every registered
 *   service in fail-safe), both every `interval` s with threshold 1.5 and learn N, and
 *   the backup host's service in its service table;
 * - without Fatriot: both NICs run `fatriot daemon --reference`.
 *
 * detect_ms: from the crash to the main NIC's fail-safe "on" event for the service
 * (wall-clock stamps). bound_ms: interval + threshold x RTT_avg (the larger of the two
 * heartbeats' learnt averages) + the nf0 -> dma0 latency of an idle Fatriot NIC.
 * delivered_ratio_*: answered / sent among the requests from the crash to the end.
 */
import { join } from 'node:path';
import { coreClockHz } from '../../../hw/netfpga-spec/index.ts';
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
import { stackedPacketSeriesSpec } from '../plots.ts';
import {
  configureFailover,
  configureHeartbeats,
  deliveredRatio,
  failsafeActiveAt,
  firstChange,
  heartbeatStartUs,
  HOST_SVC_ID,
  learningLeadUs,
  lostBetween,
  meanRttUs,
  packetAtUs,
  phaseLogger,
  SERVICE_ID,
  tapRunWithFiles,
  type TapAction,
  type TapRecord,
  type TapRunResult,
} from './run.ts';

export interface CrashTapOptions extends ExperimentOptions {
  /** Requests in the run; default 100. */
  packets?: number;
  /** Requests a second; default 10 (the paper's). */
  ratePps?: number;
  /** The host crashes just before this packet; default 50. */
  crashPkt?: number;
  /** Default 1.5. */
  threshold?: number;
  /** RTT samples learnt before monitoring; default 5. */
  learnSamples?: number;
  /** Fraction of the interval between the last heartbeat before the crash and the crash; default 0.5. */
  faultPhase?: number;
  /** Testbed name prefix; default "fxc". */
  prefix?: string;
  stateDir?: string;
  /** Write pcaps of every NIC port; default true. */
  capture?: boolean;
}

export const CRASH_TAP_DEFAULTS = {
  packets: 100,
  ratePps: 10,
  crashPkt: 50,
  intervalS: 0.5,
  threshold: 1.5,
  learnSamples: 5,
  faultPhase: 0.5,
  prefix: 'fxc',
} as const;

/** The crash happens this long before its packet is due. */
const FAULT_LEAD_US = 20_000;
/** Room for the configuration before the first heartbeat, µs. */
const CONFIG_MARGIN_US = 200_000;

export function crashTapName(intervalS: number): string {
  return intervalS === CRASH_TAP_DEFAULTS.intervalS ? 'crash-tap' : `crash-tap-${roundTo(intervalS * 1000, 3)}ms`;
}

export async function runCrashTap(opts: CrashTapOptions = {}): Promise<Summary> {
  const d = CRASH_TAP_DEFAULTS;
  const intervalS = opts.interval ?? d.intervalS;
  const packets = opts.packets ?? d.packets;
  const ratePps = opts.ratePps ?? d.ratePps;
  const crashPkt = opts.crashPkt ?? d.crashPkt;
  const threshold = opts.threshold ?? d.threshold;
  const learnSamples = opts.learnSamples ?? d.learnSamples;
  const faultPhase = opts.faultPhase ?? d.faultPhase;
  if (!(crashPkt > 1 && crashPkt <= packets)) throw new RangeError(`need 1 < crashPkt <= packets (got ${crashPkt}, ${packets})`);
  const name = crashTapName(intervalS);
  const dir = outputDir(name, opts.outDir);
  const log = phaseLogger(opts.onProgress);
  const common = {
    prefix: opts.prefix ?? d.prefix,
    ...(opts.stateDir === undefined ? {} : { stateDir: opts.stateDir }),
    outDir: dir,
    capture: opts.capture ?? true,
    packets,
    ratePps,
    handleSignals: true,
  };
  const crashAt = (planned: readonly number[]): number => planned[crashPkt - 1]! - FAULT_LEAD_US;
  const crashAction = (planned: readonly number[]): TapAction => ({ atUs: crashAt(planned), label: 'crash', run: (ctx) => ctx.testbed.crashHost('main') });

  const withLabel = `${name}: with Fatriot (real NIC processes, heartbeats every ${intervalS} s)`;
  log(0, withLabel);
  const withRun = await tapRunWithFiles({
    ...common,
    kind: 'fatriot',
    filePrefix: 'fatriot',
    configure: configureFailover,
    startNotBeforeUs: (now) => now + CONFIG_MARGIN_US + learningLeadUs(intervalS, faultPhase, learnSamples) + FAULT_LEAD_US - ((crashPkt - 1) * 1e6) / ratePps,
    actions: (planned, now) => {
      const hbAt = heartbeatStartUs(crashAt(planned), intervalS, faultPhase, learnSamples, now + CONFIG_MARGIN_US / 2);
      if (hbAt === null) throw new Error('internal: no room for the heartbeats to learn before the crash');
      return [
        { atUs: hbAt, label: 'heartbeat', run: (ctx) => configureHeartbeats(ctx, { intervalS, threshold, learnSamples, hostHeartbeat: true }) },
        crashAction(planned),
      ];
    },
    progress: (f) => log(0.45 * f, withLabel),
  });
  const withoutLabel = `${name}: without Fatriot (reference NIC processes)`;
  log(0.45, withoutLabel);
  const withoutRun = await tapRunWithFiles({
    ...common,
    kind: 'reference',
    filePrefix: 'reference',
    actions: (planned) => [crashAction(planned)],
    progress: (f) => log(0.45 + 0.45 * f, withoutLabel),
  });
  log(0.9, `${name}: writing results`);
  const summary = await summarise(dir, name, withRun, withoutRun, { intervalS, threshold, crashPkt, packets, ratePps, learnSamples, faultPhase });
  log(1, `${name}: done`);
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

/** Delivered fraction of the last `window` requests up to each one (the paper's "delivered rate" panel). */
function rollingDelivered(records: readonly TapRecord[], window: number): (number | null)[] {
  return records.map((_r, i) => {
    const from = Math.max(0, i - window + 1);
    let got = 0;
    for (let k = from; k <= i; k++) if (!records[k]!.lost) got++;
    return got / (i - from + 1);
  });
}

async function summarise(dir: string, name: string, w: TapRunResult, wo: TapRunResult, p: CrashParams): Promise<Summary> {
  const crashUs = w.actionAtUs.get('crash')!;
  const activeAtCrash = failsafeActiveAt(w.failsafe, SERVICE_ID, crashUs);
  const on = activeAtCrash ? null : firstChange(w.failsafe, SERVICE_ID, true, crashUs);
  const onUs = activeAtCrash ? crashUs : (on?.timeUs ?? null);
  const offAfter = onUs === null ? null : firstChange(w.failsafe, SERVICE_ID, false, onUs);
  const onPkt = onUs === null ? null : packetAtUs(w.records, onUs);
  const falseAlarms = w.failsafe.filter((f) => f.svcId === SERVICE_ID && f.active && f.timeUs < crashUs).length;

  const avgs = w.heartbeatTable.filter((h) => h.svcId === SERVICE_ID || h.svcId === HOST_SVC_ID).map((h) => h.rttAvgNs);
  const rttAvgNs = avgs.length === 0 ? null : Math.max(...avgs);
  const pipelineCycles = await measureLatencyCycles('fatriot', 60);
  const pipelineMs = (pipelineCycles * 1e3) / coreClockHz();
  const boundMs = rttAvgNs === null ? null : p.intervalS * 1e3 + (p.threshold * rttAvgNs) / 1e6 + pipelineMs;
  const round3 = (v: number | null): number | null => (v === null ? null : roundTo(v, 6));
  const hbOf = (svc: number) => w.heartbeatTable.find((h) => h.svcId === svc);

  const summary: Summary = {
    experiment: name,
    figure: 'Fig. 11',
    testbed: 'tap',
    crash_pkt: p.crashPkt,
    detect_ms: onUs === null ? null : roundTo((onUs - crashUs) / 1e3, 3),
    bound_ms: boundMs === null ? null : roundTo(boundMs, 3),
    delivered_ratio_with: round3(deliveredRatio(w.records, p.crashPkt, p.packets)),
    delivered_ratio_without: round3(deliveredRatio(wo.records, p.crashPkt, p.packets)),
    lost_with: lostBetween(w.records, 1, p.packets),
    // Further measured values.
    interval_s: p.intervalS,
    threshold: p.threshold,
    failsafe_on_pkt: onPkt,
    delivered_ratio_after_detection_with: round3(onPkt === null ? null : deliveredRatio(w.records, onPkt, p.packets)),
    delivered_ratio_before_crash_with: round3(deliveredRatio(w.records, 1, p.crashPkt - 1)),
    delivered_ratio_before_crash_without: round3(deliveredRatio(wo.records, 1, p.crashPkt - 1)),
    lost_without: lostBetween(wo.records, 1, p.packets),
    lost_between_crash_and_detection_with: onPkt === null ? null : lostBetween(w.records, p.crashPkt, onPkt - 1),
    failsafe_active_at_crash: activeAtCrash,
    failsafe_activations_before_crash: falseAlarms,
    failsafe_off_after_crash: offAfter !== null,
    failsafe_cause: on?.cause ?? null,
    rtt_us_baseline: round3(meanRttUs(w.records, 1, p.crashPkt - 1)),
    rtt_us_after_detection_with: round3(onPkt === null ? null : meanRttUs(w.records, onPkt, p.packets)),
    rtt_avg_us_service: hbOf(SERVICE_ID) === undefined ? null : roundTo(hbOf(SERVICE_ID)!.rttAvgNs / 1e3, 3),
    rtt_avg_us_host: hbOf(HOST_SVC_ID) === undefined ? null : roundTo(hbOf(HOST_SVC_ID)!.rttAvgNs / 1e3, 3),
    pipeline_latency_cycles: pipelineCycles,
    heartbeat_timeouts: w.heartbeats.filter((h) => h.timedOut).length,
    bad_source_replies: w.badSource + wo.badSource,
    packets: p.packets,
    rate_pps: p.ratePps,
    learn_samples: p.learnSamples,
    fault_phase: p.faultPhase,
    notes: [
      'TAP testbed: network namespaces, each host behind its own `fatriot daemon --tap` process (the cycle model on real TAP devices, real-time driver).',
      'Without Fatriot: both NICs run `fatriot daemon --reference` (the reference NIC top), not the Fatriot NIC with fail-safe forced off.',
      `Crash: the main host's interface goes down ${FAULT_LEAD_US / 1000} ms before packet ${p.crashPkt} is due and stays down; detect_ms counts from then to the main NIC's fail-safe "on" event for the service (0 when a false alarm had it on already).`,
      'bound_ms = interval + threshold x RTT_avg (the larger learnt average of the service and host heartbeats) + nf0 -> dma0 latency of an idle Fatriot NIC (cycle model).',
      'delivered_ratio_*: answered / sent among the requests from crash_pkt to the end; delivered_ratio_after_detection_with: from failsafe_on_pkt to the end.',
    ],
    files: [] as string[],
  };

  const csvPath = join(dir, `${name}.csv`);
  const t0 = w.startUs;
  writeCsv(
    csvPath,
    ['pkt', 'send_ms', 'rtt_us_with', 'rtt_us_without', 'delivered_with', 'delivered_without', 'failsafe_with', 'crashed'],
    w.records.map((r, i) => {
      const o = wo.records[i];
      const pkt = r.seq + 1;
      return [pkt, (r.sendUs - t0) / 1e3, r.rttUs, o?.rttUs ?? null, r.lost ? 0 : 1, o === undefined || o.lost ? 0 : 1, failsafeActiveAt(w.failsafe, SERVICE_ID, r.sendUs) ? 1 : 0, pkt >= p.crashPkt ? 1 : 0];
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
  const runs = [
    { name: 'with Fatriot', colour: COLOURS.fatriot },
    { name: 'without Fatriot', colour: COLOURS.reference },
  ];
  const rateW = rollingDelivered(w.records, p.ratePps);
  const rateWo = rollingDelivered(wo.records, p.ratePps);
  const fault = { from: p.crashPkt, to: p.packets + 1, label: 'main host down' };
  const markers = onPkt === null ? [] : [{ pkt: onPkt, label: `fail-safe on (pkt ${onPkt}, ${summary.detect_ms as number} ms)`, colour: COLOURS.fatriot }];
  await writeSvg(
    svgPath,
    stackedPacketSeriesSpec(`Fig. 11 on TAP: host down failure, heartbeat interval ${p.intervalS} s`, [
      {
        title: 'delivered rate (last 1 s)',
        yTitle: 'delivered fraction',
        points: [
          ...w.records.map((r, i) => ({ pkt: r.seq + 1, run: 'with Fatriot', value: rateW[i]! })),
          ...wo.records.map((r, i) => ({ pkt: r.seq + 1, run: 'without Fatriot', value: rateWo[i]! })),
        ],
        runs,
        fault,
        markers,
      },
      {
        title: 'RTT',
        yTitle: 'RTT (ms)',
        points: [
          ...w.records.map((r) => ({ pkt: r.seq + 1, run: 'with Fatriot', value: r.rttUs === null ? null : r.rttUs / 1000 })),
          ...wo.records.map((r) => ({ pkt: r.seq + 1, run: 'without Fatriot', value: r.rttUs === null ? null : r.rttUs / 1000 })),
        ],
        runs,
        fault,
      },
    ]),
  );
  summary.files = [join(dir, 'summary.json'), csvPath, hbCsvPath, eventsCsvPath, svgPath, ...w.files, ...wo.files];
  writeSummary(dir, summary);
  return summary;
}
