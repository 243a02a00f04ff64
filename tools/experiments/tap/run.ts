/**
 * One paced run of a paper experiment on the netns testbed (tools/testbed, Fig. 8)
 * through real NIC processes (`fatriot daemon --tap`): the testbed comes up with the
 * Fatriot NIC (or, for the "without" runs, the reference NIC) on both hosts, the NICs
 * are configured through their control sockets (FatriotClient), the traffic generator
 * sends sequence-numbered UDP requests at a fixed rate (tools/testbed/udp-probe.ts in
 * the generator's namespace), timed actions (faults, heartbeat start) run at wall-clock
 * instants derived from the request schedule, the main NIC's events are recorded, and
 * the testbed is torn down, also on error. Packets are numbered from 1 as in the paper.
 *
 * Times: everything is wall clock in µs since the epoch. Requests are due at
 * startUs + k x 1e6 / ratePps; the control server stamps each event with its own wall
 * clock (`timeUs`), the model cycle comes with it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { FatriotClient } from '../../../src/control/client.ts';
import type { ControlEvent, HeartbeatEntry } from '../../../src/control/objects.ts';
import { fatriotNic, REPO_ROOT, testbedUp, type Testbed } from '../../testbed/testbed.ts';
import type { NicKind } from '../common.ts';

/** Service ID of the main host's echo service (as the simulated experiments use). */
export const SERVICE_ID = 1;
/** Service ID of the main host's host-level heartbeat (Fig. 11). */
export const HOST_SVC_ID = 2;

export interface TapRecord {
  /** Sequence number (packet number - 1). */
  seq: number;
  sendUs: number;
  /** null: no reply within the probe's timeout. */
  rttUs: number | null;
  lost: boolean;
}

export interface FailsafeEventRecord {
  svcId: number;
  active: boolean;
  cause: string;
  cycle: number;
  timeUs: number;
}

export interface HeartbeatEventRecord {
  svcId: number;
  rttNs: number;
  rttAvgNs: number;
  ratio: number;
  timedOut: boolean;
  cycle: number;
  timeUs: number;
}

export interface TapRunContext {
  testbed: Testbed;
  /** Control clients of the NICs (Fatriot runs; null for the reference NIC). */
  main: FatriotClient | null;
  backup: FatriotClient | null;
}

export interface TapAction {
  /** Wall clock instant, µs since the epoch. */
  atUs: number;
  label: string;
  run: (ctx: TapRunContext) => unknown;
}

export interface TapRunOptions {
  kind: NicKind;
  /** Testbed name prefix (tools/testbed/plan.ts) and state folder. */
  prefix: string;
  stateDir?: string;
  /** Where the pcaps go, as `<filePrefix>-<host>-<port>.pcap`; none when capture is false. */
  outDir: string;
  filePrefix: string;
  capture?: boolean;
  packets: number;
  ratePps: number;
  /** Probe reply timeout, ms (a later reply counts as lost). Default 1000. */
  replyTimeoutMs?: number;
  /** Configures the NICs before traffic (only called for Fatriot runs). */
  configure?: (ctx: TapRunContext) => Promise<void>;
  /**
   * Actions at instants derived from the schedule: gets each request's due time and
   * the present instant (both µs since the epoch), returns the actions. Called before
   * the first request leaves; actions may come before it (heartbeat learning).
   */
  actions?: (plannedUs: readonly number[], nowUs: number) => TapAction[];
  /** Earliest start of the first request after the probe is ready, ms; actions may ask for more. Default 300. */
  minLeadMs?: number;
  /** Makes the first request due no earlier than this (µs since the epoch), e.g. to leave room for learning. */
  startNotBeforeUs?: (nowUs: number) => number;
  progress?: (fraction: number) => void;
  /** Tear down on SIGINT/SIGTERM (default true; the CLI's Ctrl-C). */
  handleSignals?: boolean;
}

export interface TapRunResult {
  kind: NicKind;
  records: TapRecord[];
  startUs: number;
  plannedUs: number[];
  failsafe: FailsafeEventRecord[];
  heartbeats: HeartbeatEventRecord[];
  /** When each action started and what it returned, by label. */
  actionAtUs: Map<string, number>;
  actionResult: Map<string, unknown>;
  /** The main NIC's heartbeat table at the end of the run (Fatriot runs). */
  heartbeatTable: HeartbeatEntry[];
  /** Replies that did not come from the service's own address (must be 0: the relay is transparent). */
  badSource: number;
  files: string[];
}

/** Wall clock, µs since the epoch. */
export function nowUs(): number {
  return (performance.timeOrigin + performance.now()) * 1000;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

interface ProbeOutput {
  sent: number;
  received: number;
  rttUs: (number | null)[];
  sendUs: number[];
  startUs: number;
  badSource: number;
}

/** The probe in the generator's namespace, started and waiting for "start". */
class Probe {
  private readonly lines: string[] = [];
  private readonly exited: Promise<number | null>;
  private stderr = '';

  private constructor(readonly child: ChildProcess) {
    const rl = createInterface({ input: child.stdout! });
    rl.on('line', (line) => this.lines.push(line));
    child.stderr!.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString('utf8');
    });
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  static async start(testbed: Testbed, packets: number, ratePps: number, replyTimeoutMs: number): Promise<Probe> {
    const { plan } = testbed;
    const child = spawn(
      'ip',
      [
        'netns', 'exec', plan.tgen.netns, process.execPath, '--import', 'tsx',
        join(REPO_ROOT, 'tools/testbed/udp-probe.ts'), '--host', plan.main.address, '--port', String(plan.echoPort),
        '--count', String(packets), '--interval-ms', String(1000 / ratePps), '--timeout-ms', String(replyTimeoutMs),
        '--wait-start',
      ],
      { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    const probe = new Probe(child);
    const deadline = Date.now() + 30_000;
    while (!probe.lines.includes('ready')) {
      if (child.exitCode !== null || Date.now() > deadline) {
        probe.kill();
        throw new Error(`udp-probe did not start: ${probe.stderr.trim() || 'timed out'}`);
      }
      await sleep(10);
    }
    return probe;
  }

  begin(startUs: number): void {
    this.child.stdin!.end(`start ${startUs / 1000}\n`);
  }

  async result(): Promise<ProbeOutput> {
    const code = await this.exited;
    const last = this.lines.at(-1);
    if (code !== 0 || last === undefined || !last.startsWith('{')) throw new Error(`udp-probe failed (exit ${code}): ${this.stderr.trim()}`);
    return JSON.parse(last) as ProbeOutput;
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

/** Moves `<pcapDir>/<host>/<port>.pcap` to `<outDir>/<filePrefix>-<host>-<port>.pcap`. */
function collectPcaps(pcapDir: string, outDir: string, filePrefix: string): string[] {
  const files: string[] = [];
  if (!existsSync(pcapDir)) return files;
  for (const host of readdirSync(pcapDir).sort()) {
    for (const file of readdirSync(join(pcapDir, host)).sort()) {
      if (!file.endsWith('.pcap')) continue;
      const to = join(outDir, `${filePrefix}-${host}-${file}`);
      renameSync(join(pcapDir, host, file), to);
      files.push(to);
    }
  }
  rmSync(pcapDir, { recursive: true, force: true });
  return files;
}

export async function tapRun(o: TapRunOptions): Promise<TapRunResult> {
  const capture = o.capture ?? true;
  const pcapDir = join(o.outDir, `.pcap-${o.filePrefix}`);
  rmSync(pcapDir, { recursive: true, force: true });
  if (capture) mkdirSync(pcapDir, { recursive: true });
  const failsafe: FailsafeEventRecord[] = [];
  const heartbeats: HeartbeatEventRecord[] = [];
  const actionAtUs = new Map<string, number>();
  const actionResult = new Map<string, unknown>();
  const timers: NodeJS.Timeout[] = [];
  let probe: Probe | null = null;
  let ctx: TapRunContext | null = null;
  const testbed = await testbedUp({
    prefix: o.prefix,
    ...(o.stateDir === undefined ? {} : { stateDir: o.stateDir }),
    nic: fatriotNic({ reference: o.kind === 'reference', ...(capture ? { pcapDir } : {}) }),
    handleSignals: o.handleSignals ?? true,
  });
  try {
    ctx = { testbed, main: null, backup: null };
    if (o.kind === 'fatriot') {
      ctx.main = await FatriotClient.connect(testbed.socketPath('main'));
      ctx.backup = await FatriotClient.connect(testbed.socketPath('backup'));
      ctx.main.on('event', (e: ControlEvent) => {
        if (e.kind === 'failsafe') failsafe.push({ svcId: e.svcId, active: e.active, cause: e.cause, cycle: e.cycle, timeUs: e.timeUs });
        else if (e.kind === 'heartbeat') {
          heartbeats.push({ svcId: e.svcId, rttNs: e.rttNs, rttAvgNs: e.rttAvgNs, ratio: e.ratio, timedOut: e.timedOut, cycle: e.cycle, timeUs: e.timeUs });
        }
      });
      await ctx.main.subscribe('events');
      await o.configure?.(ctx);
    }

    probe = await Probe.start(testbed, o.packets, o.ratePps, o.replyTimeoutMs ?? 1000);
    const now = nowUs();
    const startUs = Math.max(now + (o.minLeadMs ?? 300) * 1000, o.startNotBeforeUs?.(now) ?? 0);
    const plannedUs = Array.from({ length: o.packets }, (_, k) => startUs + (k * 1e6) / o.ratePps);
    const pending: Promise<void>[] = [];
    const runCtx = ctx;
    for (const action of o.actions?.(plannedUs, now) ?? []) {
      const done = new Promise<void>((resolve, reject) => {
          timers.push(
            setTimeout(() => {
              actionAtUs.set(action.label, nowUs());
              Promise.resolve()
                .then(() => action.run(runCtx))
                .then((r) => {
                  actionResult.set(action.label, r);
                  resolve();
                }, reject);
            }, Math.max(0, (action.atUs - nowUs()) / 1000)),
          );
      });
      // Observed now, rethrown by Promise.all below once the probe is done.
      done.catch(() => undefined);
      pending.push(done);
    }
    probe.begin(startUs);
    if (o.progress !== undefined) {
      const p = o.progress;
      const endUs = plannedUs.at(-1)!;
      timers.push(
        setInterval(() => p(Math.min(1, Math.max(0, (nowUs() - startUs) / (endUs - startUs)))), 500),
      );
    }
    const out = await probe.result();
    await Promise.all(pending);
    const heartbeatTable = ctx.main === null ? [] : await ctx.main.heartbeats();
    const records: TapRecord[] = out.rttUs.map((rtt, seq) => ({ seq, sendUs: out.sendUs[seq] ?? plannedUs[seq]!, rttUs: rtt, lost: rtt === null }));
    return { kind: o.kind, records, startUs: out.startUs, plannedUs, failsafe, heartbeats, actionAtUs, actionResult, heartbeatTable, badSource: out.badSource, files: [] };
  } finally {
    for (const t of timers) clearTimeout(t);
    probe?.kill();
    ctx?.main?.close();
    ctx?.backup?.close();
    await testbed.down();
  }
}

/** tapRun, then the pcaps moved beside the results (the daemons close them when they stop). */
export async function tapRunWithFiles(o: TapRunOptions): Promise<TapRunResult> {
  const pcapDir = join(o.outDir, `.pcap-${o.filePrefix}`);
  try {
    const r = await tapRun(o);
    r.files = (o.capture ?? true) ? collectPcaps(pcapDir, o.outDir, o.filePrefix) : [];
    return r;
  } catch (e) {
    rmSync(pcapDir, { recursive: true, force: true });
    throw e;
  }
}

// ---- the fail-over set-up shared by delay.ts and crash.ts --------------------------

/** The heartbeat's UDP payload: any bytes the echo service sends back. */
const HEARTBEAT_PAYLOAD_HEX = Buffer.from('fatriot heartbeat').toString('hex');

/**
 * The main NIC's tables for fail-over of the main service to the backup's (Fatriot
 * 5.2): the service as a mission-critical target, the backup host's service in the
 * service table. The relay address, MAC and ports are the testbed's (nicConfigFor).
 */
export async function configureFailover({ testbed, main }: TapRunContext): Promise<void> {
  const p = testbed.plan;
  await main!.targetAdd({ ip: p.main.address, proto: 'udp', port: p.echoPort, svcId: SERVICE_ID, critical: true });
  await main!.serviceAdd({ ip: p.main.address, proto: 'udp', port: p.echoPort, backupIp: p.backup.address, backupPort: 0 });
}

export interface HeartbeatParams {
  intervalS: number;
  threshold: number;
  learnSamples: number;
  /** Also watch the host OS (Fig. 11): an ICMP heartbeat of kind host, service HOST_SVC_ID. */
  hostHeartbeat?: boolean;
}

/** The main NIC's heartbeats: UDP to the service's echo port, and optionally the host-level one. */
export async function configureHeartbeats({ testbed, main }: TapRunContext, h: HeartbeatParams): Promise<void> {
  const p = testbed.plan;
  const common = { intervalNs: Math.round(h.intervalS * 1e9), threshold: h.threshold, learnSamples: h.learnSamples };
  await main!.heartbeatAdd({ svcId: SERVICE_ID, kind: 'udp', target: p.main.address, mac: p.main.mac, port: p.echoPort, payload: HEARTBEAT_PAYLOAD_HEX, ...common });
  if (h.hostHeartbeat === true) {
    await main!.heartbeatAdd({ svcId: HOST_SVC_ID, kind: 'host', target: p.main.address, mac: p.main.mac, ...common });
  }
}

// ---- analysis helpers shared by delay.ts and crash.ts ----------------------------

/** Packet number (1-based) of the first request sent at or after `timeUs`; packets + 1 when none. */
export function packetAtUs(records: readonly TapRecord[], timeUs: number): number {
  for (const r of records) if (r.sendUs >= timeUs) return r.seq + 1;
  return records.length + 1;
}

/** Mean RTT (µs) of the answered requests among packets from..to (1-based, inclusive); null when none. */
export function meanRttUs(records: readonly TapRecord[], from: number, to: number): number | null {
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

/** Unanswered requests among packets from..to (1-based, inclusive). */
export function lostBetween(records: readonly TapRecord[], from: number, to: number): number {
  let lost = 0;
  for (let p = Math.max(1, from); p <= Math.min(to, records.length); p++) if (records[p - 1]!.lost) lost++;
  return lost;
}

/** Answered / sent among packets from..to (1-based, inclusive); null when the range is empty. */
export function deliveredRatio(records: readonly TapRecord[], from: number, to: number): number | null {
  const first = Math.max(1, from);
  const last = Math.min(to, records.length);
  if (last < first) return null;
  return 1 - lostBetween(records, first, last) / (last - first + 1);
}

/** Whether fail-safe of `svcId` is on at `timeUs`, from the event log. */
export function failsafeActiveAt(events: readonly FailsafeEventRecord[], svcId: number, timeUs: number): boolean {
  let active = false;
  for (const e of events) if (e.svcId === svcId && e.timeUs <= timeUs) active = e.active;
  return active;
}

/** First fail-safe change of `svcId` to `active` at or after `fromUs`. */
export function firstChange(events: readonly FailsafeEventRecord[], svcId: number, active: boolean, fromUs: number): FailsafeEventRecord | null {
  return events.find((e) => e.svcId === svcId && e.active === active && e.timeUs >= fromUs) ?? null;
}

/**
 * When to write a heartbeat entry so that one of its heartbeats leaves `phase` x
 * interval before `faultUs` (phase 0.5: the fault falls mid-way between two heartbeats,
 * the mean case; as the simulated experiments do, fig8-run.ts heartbeatsAtPhase), with
 * as many whole intervals before it as fit after `earliestUs`. Returns null when fewer
 * than `learnSamples + 1` fit: the run must start later.
 */
export function heartbeatStartUs(faultUs: number, intervalS: number, phase: number, learnSamples: number, earliestUs: number): number | null {
  if (!(phase >= 0 && phase < 1)) throw new RangeError(`fault phase must be in [0, 1), got ${phase}`);
  const intervalUs = intervalS * 1e6;
  const last = faultUs - phase * intervalUs;
  const whole = Math.floor((last - earliestUs) / intervalUs);
  if (whole < learnSamples + 1) return null;
  return last - whole * intervalUs;
}

/** Learning time the heartbeat needs before the fault: (learnSamples + 1 + phase) intervals. */
export function learningLeadUs(intervalS: number, phase: number, learnSamples: number): number {
  return (learnSamples + 1 + phase) * intervalS * 1e6;
}

/** Default progress output of the CLI: one stderr line per phase. */
export function phaseLogger(onProgress?: (fraction: number, label: string) => void): (fraction: number, label: string) => void {
  if (onProgress !== undefined) return onProgress;
  let last = '';
  return (_fraction, label) => {
    if (label !== last) process.stderr.write(`${label}\n`);
    last = label;
  };
}
