/**
 * Fig. 9 (Fatriot 5.1, performance overhead): the Fatriot NIC next to the reference NIC.
 *
 * (a) Throughput: each NIC on its own is offered 64- and 1500-byte frames back to back
 *     at 10G line rate on nf0; what reaches the host on dma0 is counted in model time
 *     (frames per model second). On the Fatriot NIC every frame hits the target table as
 *     a mission-critical service and is mirrored by the dual queue, so the whole Fatriot
 *     path is exercised. throughput_ratio = Fatriot / reference.
 * (b) Latency: cycles from a frame's first bit on nf0 to its delivery on dma0 through an
 *     idle NIC, and the generator's RTT on the Fig. 8 testbed to the echo service on the
 *     main host's OS ("Host") and in its VM ("VM"), with either NIC on both hosts.
 *
 * The paper's host-side throughput limit (the reference driver, 5.1) is outside the NIC
 * and not modelled: the DMA engine's host ring never fills.
 */
import { join } from 'node:path';
import { FIG8_PLAN } from '../../src/host/sim/fig8-testbed.ts';
import {
  COLOURS,
  mean,
  outputDir,
  ProgressTracker,
  roundTo,
  writeCsv,
  writeSummary,
  writeSvg,
  type ExperimentOptions,
  type NicKind,
  type Summary,
} from './common.ts';
import { configureServiceTarget, measureLatencyCycles, measureLineRate, type LineRateResult } from './nic-measure.ts';
import { pacedRun } from './fig8-run.ts';
import { groupedBarsSpec } from './plots.ts';

export interface OverheadOptions extends ExperimentOptions {
  /** 64-byte frames offered at line rate per NIC; default 20 000. */
  frames64?: number;
  /** 1500-byte frames offered at line rate per NIC; default 4 000. */
  frames1500?: number;
  /** Requests per RTT run (host and VM, each NIC); default 50 at 100 per second. */
  rttPackets?: number;
  /** Evaluated cycles in the VCD of the Fatriot NIC at line rate; default 3000. */
  vcdCycles?: number;
}

const KINDS: readonly NicKind[] = ['reference', 'fatriot'];
const LABEL: Record<NicKind, string> = { reference: 'Ref. NIC', fatriot: 'Fatriot' };

export async function runOverhead(opts: OverheadOptions = {}): Promise<Summary> {
  const dir = outputDir('overhead', opts.outDir);
  const n64 = opts.frames64 ?? 20_000;
  const n1500 = opts.frames1500 ?? 4_000;
  const rttPackets = opts.rttPackets ?? 50;
  const progress = new ProgressTracker(opts.onProgress);
  const files: string[] = [];

  // (a) line-rate throughput, both frame sizes, both NICs.
  const rates = new Map<string, LineRateResult>();
  const cost = { 60: n64, 1514: n1500 * 10 } as Record<number, number>;
  const total = 2 * (cost[60]! + cost[1514]!);
  let done = 0;
  for (const frameBytes of [60, 1514]) {
    for (const kind of KINDS) {
      progress.phase((0.8 * done) / total, 0, `overhead: ${LABEL[kind]} at line rate, ${frameBytes + 4}-byte frames`);
      const vcdPath = join(dir, 'fatriot-nic-line-rate.vcd');
      const vcd = kind === 'fatriot' && frameBytes === 60 ? { path: vcdPath, maxCycles: opts.vcdCycles ?? 3000 } : undefined;
      rates.set(`${kind}/${frameBytes}`, await measureLineRate(kind, frameBytes, frameBytes === 60 ? n64 : n1500, vcd));
      if (vcd !== undefined) files.push(vcdPath);
      done += cost[frameBytes]!;
    }
  }
  const rate = (kind: NicKind, frameBytes: number): LineRateResult => rates.get(`${kind}/${frameBytes}`)!;

  progress.phase(0.8, 0.02, 'overhead: latency through an idle NIC');
  const latency = new Map<string, number>();
  for (const kind of KINDS) for (const frameBytes of [60, 1514]) latency.set(`${kind}/${frameBytes}`, await measureLatencyCycles(kind, frameBytes));

  // (b) RTT to the service on the host OS and in the VM, each NIC on both hosts.
  const rtt = new Map<string, { pkt: number; rttUs: number | null }[]>();
  let run = 0;
  for (const kind of KINDS) {
    for (const where of ['host', 'vm'] as const) {
      progress.phase(0.82 + 0.04 * run++, 0.04, `overhead: RTT to the ${where === 'host' ? 'host' : 'VM'} with ${LABEL[kind]}`);
      const r = await pacedRun({
        kind,
        dir,
        prefix: `rtt-${kind}-${where}`,
        packets: rttPackets,
        ratePps: 100,
        dstIp: where === 'host' ? FIG8_PLAN.main.hostIp : FIG8_PLAN.main.serviceIp,
        drainS: 0.05,
        captureHosts: ['main'],
        configure: async (_tb, main) => configureServiceTarget(main),
        progress,
      });
      files.push(...r.files);
      rtt.set(`${kind}/${where}`, r.records.map((x) => ({ pkt: x.seq + 1, rttUs: x.rttUs })));
    }
  }
  const meanRtt = (kind: NicKind, where: string): number | null => {
    const xs = rtt.get(`${kind}/${where}`)!.flatMap((x) => (x.rttUs === null ? [] : [x.rttUs]));
    return mean(xs);
  };
  const lostRtt = (kind: NicKind, where: string): number => rtt.get(`${kind}/${where}`)!.filter((x) => x.rttUs === null).length;

  progress.phase(0.99, 0.01, 'overhead: writing results');
  const csvPath = join(dir, 'overhead.csv');
  writeCsv(
    csvPath,
    ['nic', 'frame_bytes', 'offered', 'delivered', 'offered_mpps', 'delivered_mpps', 'delivered_gbps', 'delivered_line_gbps', 'latency_cycles', 'wall_s'],
    KINDS.flatMap((kind) =>
      [60, 1514].map((b) => {
        const r = rate(kind, b);
        return [kind, b + 4, r.offered, r.delivered, r.offeredFps / 1e6, r.deliveredFps / 1e6, r.deliveredGbps, r.deliveredLineGbps, latency.get(`${kind}/${b}`)!, r.wallSeconds];
      }),
    ),
  );
  const rttCsvPath = join(dir, 'overhead-rtt.csv');
  writeCsv(
    rttCsvPath,
    ['nic', 'target', 'pkt', 'rtt_us'],
    KINDS.flatMap((kind) => (['host', 'vm'] as const).flatMap((where) => rtt.get(`${kind}/${where}`)!.map((x) => [kind, where, x.pkt, x.rttUs]))),
  );
  const series = KINDS.map((k) => ({ name: LABEL[k], colour: COLOURS[k] }));
  const svgPath = join(dir, 'overhead.svg');
  await writeSvg(
    svgPath,
    groupedBarsSpec('Fig. 9: reference NIC vs Fatriot (model time)', [
      {
        title: '(a) throughput at line rate, nf0 -> dma0',
        yTitle: 'delivered Gbps (frames with FCS)',
        seriesOrder: series,
        rows: KINDS.flatMap((k) => [60, 1514].map((b) => ({ group: `${b + 4} B`, series: LABEL[k], value: roundTo(rate(k, b).deliveredGbps, 3) }))),
      },
      {
        title: '(b) latency through the NIC, nf0 -> dma0',
        yTitle: 'ns',
        seriesOrder: series,
        rows: KINDS.flatMap((k) => [60, 1514].map((b) => ({ group: `${b + 4} B`, series: LABEL[k], value: roundTo((latency.get(`${k}/${b}`)! * 1e9) / rate(k, b).coreHz, 1) }))),
      },
      {
        title: '(b) RTT from the generator',
        yTitle: 'µs',
        seriesOrder: series,
        rows: KINDS.flatMap((k) => (['host', 'vm'] as const).map((w) => ({ group: w === 'host' ? 'Host' : 'VM', series: LABEL[k], value: roundTo(meanRtt(k, w) ?? 0, 2) }))),
      },
    ]),
  );

  const ratio = (b: number): number => rate('fatriot', b).deliveredFps / rate('reference', b).deliveredFps;
  const r2 = (v: number | null, d = 3): number | null => (v === null ? null : roundTo(v, d));
  const summary: Summary = {
    experiment: 'overhead',
    figure: 'Fig. 9',
    throughput_ratio_64B: roundTo(ratio(60), 6),
    throughput_ratio_1500B: roundTo(ratio(1514), 6),
    latency_cycles_refnic: latency.get('reference/60')!,
    latency_cycles_fatriot: latency.get('fatriot/60')!,
    latency_cycles_refnic_1500B: latency.get('reference/1514')!,
    latency_cycles_fatriot_1500B: latency.get('fatriot/1514')!,
    refnic_64B_mpps: roundTo(rate('reference', 60).deliveredFps / 1e6, 4),
    fatriot_64B_mpps: roundTo(rate('fatriot', 60).deliveredFps / 1e6, 4),
    refnic_1500B_gbps: roundTo(rate('reference', 1514).deliveredGbps, 4),
    fatriot_1500B_gbps: roundTo(rate('fatriot', 1514).deliveredGbps, 4),
    offered_64B_mpps: roundTo(rate('reference', 60).offeredFps / 1e6, 4),
    offered_1500B_gbps: roundTo((rate('reference', 1514).offeredFps * 1518 * 8) / 1e9, 4),
    delivered_64B: { refnic: rate('reference', 60).delivered, fatriot: rate('fatriot', 60).delivered, offered: n64 },
    delivered_1500B: { refnic: rate('reference', 1514).delivered, fatriot: rate('fatriot', 1514).delivered, offered: n1500 },
    rtt_us_host_refnic: r2(meanRtt('reference', 'host')),
    rtt_us_vm_refnic: r2(meanRtt('reference', 'vm')),
    rtt_us_host_fatriot: r2(meanRtt('fatriot', 'host')),
    rtt_us_vm_fatriot: r2(meanRtt('fatriot', 'vm')),
    rtt_lost: { refnic_host: lostRtt('reference', 'host'), refnic_vm: lostRtt('reference', 'vm'), fatriot_host: lostRtt('fatriot', 'host'), fatriot_vm: lostRtt('fatriot', 'vm') },
    notes: [
      'Throughput in model time: delivered frames per model second at dma0 while nf0 is offered 10G line rate; ratios are Fatriot / reference NIC.',
      'On the Fatriot NIC the frames are the main service\'s (target table hit, mission-critical, mirrored by the dual queue).',
      'Latency: cycles of the core clock from the first bit on nf0 to delivery on dma0 through an idle NIC, 64-byte frames unless named.',
      'RTT: mean over the run, generator -> switch -> NIC -> host OS echo (Host) or VM echo (VM) and back; host-side delays are the assumed values of src/host/sim/timing.ts.',
    ],
    files: [summaryName(dir), csvPath, rttCsvPath, svgPath, ...files],
  };
  writeSummary(dir, summary);
  progress.done('overhead: done');
  return summary;
}

function summaryName(dir: string): string {
  return join(dir, 'summary.json');
}
