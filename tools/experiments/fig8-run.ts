/**
 * A fixed-rate run on the simulated Fig. 8 testbed (Fatriot section 5.2): the traffic
 * generator sends UDP requests at `ratePps` to a service, the run stops before given
 * packets to inject faults, and every request's RTT, the NICs' fail-safe and heartbeat
 * events, pcaps of the generator's and NICs' ports and a VCD window come back.
 *
 * Packets are numbered from 1 as in the paper ("from the 40th packet"); packet n is the
 * generator's sequence number n - 1. A hook "at packet n" runs when the simulator stands
 * at the cycle packet n is due to leave the generator, before anything of that cycle
 * has been evaluated.
 */
import { join } from 'node:path';
import { coreClockHz } from '../../hw/netfpga-spec/index.ts';
import { buildFig8Testbed, FIG8_PLAN, type Fig8Testbed } from '../../src/host/sim/fig8-testbed.ts';
import type { ProbeRecord } from '../../src/host/sim/traffic-generator.ts';
import { cyclesFromMs } from '../../src/host/sim/timing.ts';
import type { FatriotNic } from '../../src/pipeline/nic/fatriot-nic.ts';
import { Simulator } from '../../src/pipeline/sim/simulator.ts';
import { CaptureSet, EventLog, nicFactoryOf, VcdWindow, type AnyNic, type CapturedNic, type NicKind, type ProgressTracker } from './common.ts';
import { NicConfigurator } from './configure.ts';

export type Fig8Bed = Fig8Testbed<CapturedNic<AnyNic>>;

export interface PacedRunOptions {
  kind: NicKind;
  /** Output folder for pcaps and the VCD. */
  dir: string;
  /** File name prefix of this run's pcaps and VCD. */
  prefix: string;
  packets: number;
  ratePps: number;
  /** Service the generator talks to; default the main host's service VM. */
  dstIp?: string;
  dstPort?: number;
  /** Configures the NICs (Fatriot runs) before traffic starts; returns the main NIC's configurator. */
  configure?: (tb: Fig8Bed, main: NicConfigurator, backup: NicConfigurator) => Promise<void>;
  /** Hooks by packet number (1-based), run at the cycle that packet is due. */
  atPacket?: ReadonlyMap<number, (tb: Fig8Bed, cycle: number) => void>;
  /** VCD window: starts at packet `fromPacket` (at most `maxCycles` evaluated cycles); none when omitted. */
  vcd?: { fromPacket: number; maxCycles: number };
  /** Model time to wait for replies after the last request; default 1 s. */
  drainS?: number;
  progress?: ProgressTracker;
  /** Capture pcaps (default true); `captureHosts` limits the NIC ports captured to those hosts' NICs. */
  capture?: boolean;
  captureHosts?: readonly ('main' | 'backup')[];
}

export interface PacedRunResult {
  tb: Fig8Bed;
  records: ProbeRecord[];
  /** Events of the main host's NIC (empty for the reference NIC). */
  events: EventLog;
  /** Cycle each packet (1-based index - 1) was due. */
  plannedCycles: number[];
  /** Cycle each hook ran, by packet number. */
  hookCycles: Map<number, number>;
  main: NicConfigurator | null;
  coreHz: number;
  files: string[];
  vcdCycles: number;
  duplicateReplies: number;
}

export async function pacedRun(o: PacedRunOptions): Promise<PacedRunResult> {
  const sim = new Simulator();
  // The NICs run at the default core clock; the testbed's hosts and switch use the same.
  const coreHz = coreClockHz();
  const periodNs = 1e9 / coreHz;
  const hosts = o.captureHosts;
  const include = hosts === undefined ? undefined : (port: string) => port === 'tgen' || hosts.some((h) => port.startsWith(`${h}-`));
  const captures = new CaptureSet(o.dir, o.prefix, periodNs, o.capture ?? true, include);
  const tb: Fig8Bed = buildFig8Testbed(sim, { nicFactory: await nicFactoryOf(o.kind, captures), coreHz });
  captures.observePort('tgen', tb.tgenPort);
  const events = new EventLog();
  let main: NicConfigurator | null = null;
  if (o.kind === 'fatriot') {
    const mainNic = tb.main.nic.nic as FatriotNic;
    const backupNic = tb.backup.nic.nic as FatriotNic;
    mainNic.subscribe(events.listener);
    main = new NicConfigurator(mainNic);
    const backup = new NicConfigurator(backupNic);
    await o.configure?.(tb, main, backup);
  }

  const tgen = tb.tgen;
  tgen.start({ dstIp: o.dstIp ?? FIG8_PLAN.main.serviceIp, dstPort: o.dstPort ?? FIG8_PLAN.servicePort, count: o.packets, ratePps: o.ratePps });
  // The generator ARP-resolves the service first; its schedule starts when the reply is in.
  const step = cyclesFromMs(1, coreHz);
  for (let i = 0; tgen.scheduleStartCycle < 0; i++) {
    if (tgen.state === 'unresolved' || i > 5000) throw new Error(`generator could not resolve ${o.dstIp ?? FIG8_PLAN.main.serviceIp}`);
    sim.runUntil(sim.now + step);
  }
  const plannedCycles: number[] = [];
  for (let seq = 0; seq < o.packets; seq++) plannedCycles.push(tgen.plannedCycle(seq));

  const vcd = o.vcd === undefined ? null : new VcdWindow(join(o.dir, `${o.prefix}.vcd`), sim, periodNs, o.vcd.maxCycles);
  const hookCycles = new Map<number, number>();
  for (let n = 1; n <= o.packets; n++) {
    const at = plannedCycles[n - 1]!;
    const hook = o.atPacket?.get(n);
    const startsVcd = vcd !== null && o.vcd!.fromPacket === n;
    if (hook !== undefined || startsVcd) {
      if (at > sim.now) sim.runUntil(at);
      if (startsVcd) vcd.start();
      if (hook !== undefined) {
        hook(tb, sim.now);
        hookCycles.set(n, sim.now);
      }
    }
    if (n % 5 === 0) {
      sim.runUntil(at);
      o.progress?.update(n / o.packets);
    }
  }
  sim.runUntil(plannedCycles[o.packets - 1]! + Math.round((o.drainS ?? 1) * coreHz));
  vcd?.stop();
  captures.close();
  const files = [...captures.files];
  if (vcd !== null) files.push(vcd.path);
  return {
    tb,
    records: tgen.results(),
    events,
    plannedCycles,
    hookCycles,
    main,
    coreHz,
    files,
    vcdCycles: vcd?.dumpedCycles ?? 0,
    duplicateReplies: tgen.stats.duplicateReplies,
  };
}

/** Packet number (1-based) of the first request sent at or after `cycle`; packets + 1 when none. */
export function packetAt(records: readonly ProbeRecord[], cycle: number): number {
  for (const r of records) if (r.sendCycle >= cycle) return r.seq + 1;
  return records.length + 1;
}

/** Mean RTT in µs of the delivered requests among packets from..to (1-based, inclusive); null when none. */
export function meanRttUs(records: readonly ProbeRecord[], from: number, to: number): number | null {
  let sum = 0;
  let n = 0;
  for (let p = Math.max(1, from); p <= Math.min(to, records.length); p++) {
    const r = records[p - 1]!;
    if (r.rttUs !== null) {
      sum += r.rttUs;
      n++;
    }
  }
  return n === 0 ? null : sum / n;
}

/** Requests with no reply among packets from..to (1-based, inclusive). */
export function lostBetween(records: readonly ProbeRecord[], from: number, to: number): number {
  let lost = 0;
  for (let p = Math.max(1, from); p <= Math.min(to, records.length); p++) if (records[p - 1]!.lost) lost++;
  return lost;
}
