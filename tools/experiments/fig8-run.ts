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
import { SERVICE_ID } from './nic-measure.ts';

export type Fig8Bed = Fig8Testbed<CapturedNic<AnyNic>>;

/** Runs at a cycle of a paced run; `main` is the main NIC's configurator (Fatriot runs). */
export type RunHook = (tb: Fig8Bed, cycle: number, main: NicConfigurator | null) => void | Promise<void>;

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
  atPacket?: ReadonlyMap<number, RunHook>;
  /**
   * Actions at cycles chosen once the generator's schedule is known (its ARP is done):
   * gets every packet's due cycle and the present cycle.
   */
  atCycle?: (plannedCycles: readonly number[], now: number) => { cycle: number; run: RunHook }[];
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
  // A VCD window opens mid-run and needs every handshake as a registered signal: no trains then.
  const sim = new Simulator({ trains: o.vcd === undefined });
  // The NICs run at the default core clock; the testbed's hosts and switch use the same.
  const coreHz = coreClockHz();
  const periodNs = 1e9 / coreHz;
  const hosts = o.captureHosts;
  const include = hosts === undefined ? undefined : (port: string) => port === 'tgen' || hosts.some((h) => port.startsWith(`${h}-`));
  const captures = new CaptureSet(o.dir, o.prefix, periodNs, { enabled: o.capture ?? true, include });
  const tb: Fig8Bed = buildFig8Testbed(sim, { nicFactory: nicFactoryOf(o.kind, captures), coreHz });
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
  // Everything that must happen at a cycle, in cycle order (packet hooks before timed actions at the same cycle).
  const steps: { cycle: number; order: number; run: () => void | Promise<void> }[] = [];
  for (let n = 1; n <= o.packets; n++) {
    const at = plannedCycles[n - 1]!;
    if (vcd !== null && o.vcd!.fromPacket === n) steps.push({ cycle: at, order: 0, run: () => vcd.start() });
    const hook = o.atPacket?.get(n);
    if (hook !== undefined) {
      steps.push({
        cycle: at,
        order: 1,
        run: async () => {
          hookCycles.set(n, sim.now);
          await hook(tb, sim.now, main);
        },
      });
    }
    if (n % 5 === 0 || n === o.packets) steps.push({ cycle: at, order: 3, run: () => o.progress?.update(n / o.packets) });
  }
  for (const a of o.atCycle?.(plannedCycles, sim.now) ?? []) {
    if (a.cycle < sim.now) throw new Error(`an action is due at cycle ${a.cycle}, before the present ${sim.now}`);
    steps.push({ cycle: a.cycle, order: 2, run: () => a.run(tb, sim.now, main) });
  }
  steps.sort((a, b) => a.cycle - b.cycle || a.order - b.order);
  for (const st of steps) {
    if (st.cycle > sim.now) sim.runUntil(st.cycle);
    await st.run();
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

/** Heartbeat parameters of a fail-over run (Fatriot 3.4, Fig. 5). */
export interface FailoverConfig {
  intervalS: number;
  /** RTT_last / RTT_avg above which fail-safe activates (paper: 1.5, "over 50%"). */
  threshold: number;
  learnSamples: number;
  /** Also watch the host OS with a host-level heartbeat (Fig. 11, host down). */
  hostHeartbeat?: boolean;
}

/** Service ID of the host-level heartbeat entry (its failure puts every registered service in fail-safe). */
export const HOST_SVC_ID = 2;

/**
 * The NICs' tables for fail-over of the main service to the backup's (Fatriot 5.2):
 * each NIC's relay address, the service as a mission-critical target of the main NIC
 * and the backup VM in its service table. Heartbeats come separately
 * (`configureHeartbeats`), so a run can start them at a chosen phase. All through the
 * register map.
 */
export async function configureFailover(main: NicConfigurator, backup: NicConfigurator): Promise<void> {
  const p = FIG8_PLAN;
  await main.nicAddresses({ relayIp: p.main.relayIp, relayMac: p.main.relayMac, hostIp: p.main.hostIp });
  await backup.nicAddresses({ relayIp: p.backup.relayIp, relayMac: p.backup.relayMac, hostIp: p.backup.hostIp });
  await main.target({ ip: p.main.serviceIp, proto: 'udp', port: p.servicePort, svcId: SERVICE_ID, critical: true });
  await main.service({ ip: p.main.serviceIp, proto: 'udp', port: p.servicePort, backupIp: p.backup.serviceIp, backupPort: 0 });
}

/** The main NIC's heartbeats: UDP to the service's echo port, and optionally ICMP to the host OS. */
export async function configureHeartbeats(main: NicConfigurator, c: FailoverConfig): Promise<void> {
  const p = FIG8_PLAN;
  await main.heartbeat({
    svcId: SERVICE_ID,
    kind: 'udp',
    targetIp: p.main.serviceIp,
    targetMac: p.main.serviceMac,
    port: p.servicePort,
    payload: HEARTBEAT_PAYLOAD,
    intervalS: c.intervalS,
    threshold: c.threshold,
    learnSamples: c.learnSamples,
  });
  if (c.hostHeartbeat === true) {
    await main.heartbeat({
      svcId: HOST_SVC_ID,
      kind: 'host',
      targetIp: p.main.hostIp,
      targetMac: p.main.hostMac,
      intervalS: c.intervalS,
      threshold: c.threshold,
      learnSamples: c.learnSamples,
    });
  }
}

/**
 * Where a fault falls between two heartbeats decides how long detection takes
 * (anything from T to interval + T, T = RTT_avg x threshold; Fatriot 3.4). So that this
 * is a stated parameter and not an accident of start-up timing, the heartbeats are
 * written while traffic runs, at the cycle that makes a heartbeat leave `phase` x
 * interval before the fault starts (phase 0.5: the fault falls mid-way between two
 * heartbeats, the mean case; phase near 1: just after one left, the worst case). As many
 * whole intervals as fit lie before it, at least learnSamples + 1, so the NIC has learnt
 * RTT_avg and sent normal heartbeats by then. The first heartbeat leaves a few cycles
 * after the write (the register latency), which shifts the phase by well under 1 µs.
 */
export function heartbeatsAtPhase(c: FailoverConfig, faultPacket: number, phase: number): NonNullable<PacedRunOptions['atCycle']> {
  if (!(phase >= 0 && phase < 1)) throw new RangeError(`fault phase must be in [0, 1), got ${phase}`);
  return (planned, now) => {
    const hz = coreClockHz();
    const intervalCycles = Math.round(c.intervalS * hz);
    const fault = planned[faultPacket - 1]!;
    // Leave room for the configuration's own register accesses before the first heartbeat.
    const margin = 10_000;
    const offset = Math.round(phase * intervalCycles);
    const whole = Math.floor((fault - offset - now - margin) / intervalCycles);
    if (whole < c.learnSamples + 1) {
      throw new RangeError(
        `the heartbeat needs ${c.learnSamples + 1} intervals of ${c.intervalS} s before the fault at packet ${faultPacket}: start the fault later or learn fewer samples`,
      );
    }
    const cycle = fault - offset - whole * intervalCycles;
    return [{ cycle, run: async (_tb, _now, main) => main === null ? undefined : configureHeartbeats(main, c) }];
  };
}

/** The heartbeat's UDP payload: any bytes the echo service sends back. */
const HEARTBEAT_PAYLOAD = new TextEncoder().encode('fatriot heartbeat');
