/**
 * What every experiment of the paper's section 5 shares (SPEC 7): where results go,
 * CSV and summary.json writers, SVG plots rendered with Vega-Lite in Node, pcap
 * captures of the generator's port and the NICs' ports, a VCD of a bounded window of
 * the datapath, and the NIC factories of the simulated Fig. 8 testbed.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as vega from 'vega';
import * as vegaLite from 'vega-lite';
import { LinkType, PcapWriter } from '../../src/dataplane/pcap.ts';
import { quietUntilOf, type FrameReceiver, type Port } from '../../src/dataplane/port.ts';
import type { Fig8HostName, Fig8HostPlan } from '../../src/host/sim/fig8-testbed.ts';
import type { NicEvent } from '../../src/pipeline/modules/fatriot-tuser.ts';
import { FatriotNic } from '../../src/pipeline/nic/fatriot-nic.ts';
import type { NicShell } from '../../src/pipeline/nic/nic-shell.ts';
import { ReferenceNic } from '../../src/pipeline/nic/reference-nic.ts';
import type { ClockedModule } from '../../src/pipeline/sim/module.ts';
import type { AxisChannel } from '../../src/pipeline/sim/channel.ts';
import type { CycleObserver, Simulator } from '../../src/pipeline/sim/simulator.ts';
import { VcdWriter } from '../../src/pipeline/sim/vcd.ts';

/** Options every experiment takes (SPEC 7: `fatriot experiment NAME [--out DIR] [--interval S]`). */
export interface ExperimentOptions {
  /** Output folder; default results/<name>/ under the working directory. */
  outDir?: string;
  /** Heartbeat interval in seconds (delay and crash; Fig. 10a uses 0.5, Fig. 10b 0.1). */
  interval?: number;
  /** Called as the run advances: fraction done in [0, 1] and what is running. */
  onProgress?: (fraction: number, label: string) => void;
}

/** A summary.json: numbers measured by the run, plus notes and the files written. */
export type Summary = Record<string, unknown>;

export type NicKind = 'reference' | 'fatriot';

/** Creates (if needed) and returns the absolute output folder of an experiment. */
export function outputDir(name: string, outDir?: string): string {
  const dir = resolve(outDir ?? join('results', name));
  mkdirSync(dir, { recursive: true });
  return dir;
}

type Cell = string | number | boolean | null | undefined;

/** RFC 4180 CSV: a header line and one line a row; null and undefined are empty cells. */
export function csvText(columns: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const cell = (v: Cell): string => {
    if (v === null || v === undefined) return '';
    if (typeof v === 'number') return Number.isFinite(v) ? String(roundTo(v, 6)) : '';
    const s = String(v);
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const lines = [columns.map(cell).join(',')];
  for (const r of rows) lines.push(r.map(cell).join(','));
  return `${lines.join('\n')}\n`;
}

export function writeCsv(path: string, columns: readonly string[], rows: readonly (readonly Cell[])[]): void {
  writeFileSync(path, csvText(columns, rows));
}

export function writeSummary(dir: string, summary: Summary): string {
  const path = join(dir, 'summary.json');
  writeFileSync(path, `${JSON.stringify(summary, null, 2)}\n`);
  return path;
}

/** Rounds to `digits` decimals (for summaries and CSV cells; the run's own numbers stay exact). */
export function roundTo(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

export function mean(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  let s = 0;
  for (const v of values) s += v;
  return s / values.length;
}

/** A Vega-Lite specification (kept loose: the plots below are the only producers). */
export type PlotSpec = Record<string, unknown>;

/** Renders a Vega-Lite spec to SVG text in Node (no canvas: the 'none' renderer and the SVG string renderer). */
export async function renderSvg(spec: PlotSpec): Promise<string> {
  // Vega-Lite's warnings (resolved scale conflicts and the like) are for authors, not for experiment output.
  const logger = vega.logger(vega.None);
  const compiled = vegaLite.compile(spec as unknown as vegaLite.TopLevelSpec, { logger }).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none', logger });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export async function writeSvg(path: string, spec: PlotSpec): Promise<void> {
  writeFileSync(path, await renderSvg(spec));
}

/** Shared look of the figures. */
export const PLOT_CONFIG = {
  background: 'white',
  font: 'Helvetica, Arial, sans-serif',
  axis: { labelFontSize: 11, titleFontSize: 12, gridColor: '#e6e6e6' },
  legend: { labelFontSize: 11, titleFontSize: 12, orient: 'top', labelLimit: 400 },
  title: { fontSize: 14 },
} as const;

/** Colours of the paper's figures: orange with Fatriot, blue without (Fig. 10a). */
export const COLOURS = { fatriot: '#ff7f0e', reference: '#1f77b4', relay: '#1f77b4', direct: '#2ca02c' } as const;

/** Sees a frame crossing a port: the port's cycle of the frame (its first bit, src/host/sim/README.md). */
export type FrameObserver = (frame: Uint8Array, cycle: number) => void;

export interface CaptureOptions {
  /** False: no pcap files at all. Default true. */
  enabled?: boolean;
  /** Which ports to capture, by name (`tgen`, `main-nf0`, ...); default all. */
  include?: (portName: string) => boolean;
  /** Observers of chosen ports, by name: `rx` sees what arrives from the link, `tx` what the NIC sends. */
  observers?: ReadonlyMap<string, { rx?: FrameObserver; tx?: FrameObserver }>;
}

/**
 * Pcap captures of one run, one file per port (`<prefix>-<port>.pcap`, nanosecond
 * pcap, LINKTYPE_ETHERNET, PcapWriter), timestamps in model time (cycle x period,
 * rounded to the ns, as CapturePort does). NIC ports are wrapped in a RecordingPort
 * before the NIC attaches to them (`wrapNic`); the generator's port, which the testbed
 * builds and attaches itself, is observed with `observePort`. While `paused` (a
 * line-rate phase), nothing is written and observers still run.
 */
export class CaptureSet {
  readonly files: string[] = [];
  paused = false;
  private readonly writers: PcapWriter[] = [];
  private readonly enabled: boolean;
  private readonly include: (portName: string) => boolean;
  private readonly observers: ReadonlyMap<string, { rx?: FrameObserver; tx?: FrameObserver }>;

  constructor(
    private readonly dir: string,
    private readonly prefix: string,
    readonly clockPeriodNs: number,
    options: CaptureOptions = {},
  ) {
    this.enabled = options.enabled ?? true;
    this.include = options.include ?? (() => true);
    this.observers = options.observers ?? new Map();
  }

  private open(portName: string): PcapWriter | null {
    if (!this.enabled || !this.include(portName)) return null;
    const path = join(this.dir, `${this.prefix}-${portName}.pcap`);
    const w = PcapWriter.open(path, LinkType.Ethernet);
    this.writers.push(w);
    this.files.push(path);
    return w;
  }

  /** Records a frame unless paused. */
  record(writer: PcapWriter | null, frame: Uint8Array, cycle: number): void {
    if (writer !== null && !this.paused && writer.isOpen) writer.write(frame, frame.length, Math.round(cycle * this.clockPeriodNs));
  }

  /** `port` (not yet attached by its consumer), wrapped when it is captured or observed. */
  wrap(portName: string, port: Port): Port {
    const writer = this.open(portName);
    const obs = this.observers.get(portName);
    if (writer === null && obs === undefined) return port;
    return new RecordingPort(port, this, writer, obs?.rx ?? null, obs?.tx ?? null);
  }

  /** A NIC whose ports nfX and dmaX are captured as `<host>-nfX` and `<host>-dmaX` when the testbed attaches them. */
  wrapNic<N extends NicShell>(host: string, nic: N): CapturedNic<N> {
    return new CapturedNic(nic, host, this);
  }

  /**
   * Records every frame `port` sends and receives, for a port whose consumer is
   * already attached (the traffic generator's, built inside buildFig8Testbed): the
   * port object's own transmit and receive are replaced by recording versions. The
   * wrappers are created once; the per-frame path allocates nothing beyond the
   * writer's copy.
   */
  observePort(portName: string, port: Port): void {
    const writer = this.open(portName);
    const obs = this.observers.get(portName);
    if (writer === null && obs === undefined) return;
    const rx = obs?.rx ?? null;
    const tx = obs?.tx ?? null;
    const transmit = port.transmit.bind(port);
    const receive = port.receive.bind(port);
    port.transmit = (frame: Uint8Array, cycle: number): void => {
      this.record(writer, frame, cycle);
      if (tx !== null) tx(frame, cycle);
      transmit(frame, cycle);
    };
    port.receive = (frame: Uint8Array, cycle: number): void => {
      this.record(writer, frame, cycle);
      if (rx !== null) rx(frame, cycle);
      receive(frame, cycle);
    };
  }

  close(): void {
    for (const w of this.writers) w.close();
  }
}

/**
 * A port in front of a NIC's port that records both directions (and shows them to
 * observers) before passing them on, as dataplane/capture.ts CapturePort does, plus a
 * pause for line-rate phases and the observers.
 */
export class RecordingPort implements Port {
  readonly name: string;
  private receiver: FrameReceiver | null = null;

  constructor(
    readonly inner: Port,
    private readonly set: CaptureSet,
    private readonly writer: PcapWriter | null,
    private readonly observeRx: FrameObserver | null,
    private readonly observeTx: FrameObserver | null,
  ) {
    this.name = inner.name;
    inner.attach(this.onInnerReceive);
  }

  attach(receiver: FrameReceiver): void {
    this.receiver = receiver;
  }

  receive(frame: Uint8Array, cycle: number): void {
    this.inner.receive(frame, cycle);
  }

  /** Frames are not handed ahead through a recording port: its observers read the model's clock. */
  readonly takesFramesAhead = false;

  /** The inner port's promise (recording adds no frames). */
  quietUntil(): number {
    return quietUntilOf(this.inner);
  }

  transmit(frame: Uint8Array, cycle: number): void {
    this.set.record(this.writer, frame, cycle);
    if (this.observeTx !== null) this.observeTx(frame, cycle);
    this.inner.transmit(frame, cycle);
  }

  close(): void {
    this.receiver = null;
    this.inner.close();
  }

  private readonly onInnerReceive = (frame: Uint8Array, cycle: number): void => {
    this.set.record(this.writer, frame, cycle);
    if (this.observeRx !== null) this.observeRx(frame, cycle);
    const receiver = this.receiver;
    if (receiver !== null) receiver(frame, cycle);
  };
}

/** A NIC handed to buildFig8Testbed: attaching it wraps its ports for capture first. */
export class CapturedNic<N extends NicShell> {
  constructor(
    readonly nic: N,
    private readonly host: string,
    private readonly captures: CaptureSet,
  ) {}

  attach(ports: { nf?: (Port | null)[]; dma?: (Port | null)[] }): void {
    this.nic.attach({
      nf: ports.nf?.map((p, i) => (p === null ? null : this.captures.wrap(`${this.host}-nf${i}`, p))),
      dma: ports.dma?.map((p, i) => (p === null ? null : this.captures.wrap(`${this.host}-dma${i}`, p))),
    });
  }
}

/**
 * A VCD of the datapath over a bounded window: `start` attaches a VcdWriter (every
 * channel handshake, FIFO level and module state of the simulator), `stop` detaches
 * it. Only evaluated cycles are dumped, and at most `maxCycles` of them, so a window
 * around a fault stays a few MB at most.
 */
export class VcdWindow implements CycleObserver {
  private writer: VcdWriter | null = null;
  private cycles = 0;
  firstCycle = -1;
  lastCycle = -1;

  constructor(
    readonly path: string,
    private readonly sim: Simulator,
    private readonly clockPeriodNs: number,
    private readonly maxCycles = 4000,
    private readonly scope = 'fig8',
  ) {}

  get active(): boolean {
    return this.writer !== null;
  }

  get dumpedCycles(): number {
    return this.cycles;
  }

  start(): void {
    if (this.writer !== null || this.firstCycle >= 0) return;
    this.writer = new VcdWriter(this.path, this.sim, this.clockPeriodNs, this.scope);
    // The writer made itself the observer; we stand in front of it to bound the window.
    this.sim.observer = this;
    this.firstCycle = this.sim.now;
  }

  afterCycle(cycle: number, modules: readonly ClockedModule[], moduleCount: number, channels: readonly AxisChannel[], channelCount: number): void {
    const w = this.writer;
    if (w === null) return;
    w.afterCycle(cycle, modules, moduleCount, channels, channelCount);
    this.lastCycle = cycle;
    if (++this.cycles >= this.maxCycles) this.stop();
  }

  stop(): void {
    if (this.writer === null) return;
    if (this.sim.observer === this) this.sim.observer = null;
    this.writer.close();
    this.writer = null;
  }
}

/** A failsafe event of a NIC, as recorded by an experiment. */
export interface FailsafeRecord {
  cycle: number;
  serviceId: number;
  active: boolean;
  cause: string;
}

/** A heartbeat sample of a NIC, as recorded by an experiment. */
export interface HeartbeatRecord {
  cycle: number;
  serviceId: number;
  rttCycles: number;
  rttAvgCycles: number;
  ratio: number;
  timedOut: boolean;
}

/** Collects a NIC's fail-safe and heartbeat events (FatriotNic.subscribe). */
export class EventLog {
  readonly failsafe: FailsafeRecord[] = [];
  readonly heartbeats: HeartbeatRecord[] = [];

  readonly listener = (e: NicEvent): void => {
    if (e.kind === 'failsafe') this.failsafe.push({ cycle: e.cycle, serviceId: e.serviceId, active: e.active, cause: e.cause });
    else if (e.kind === 'heartbeat') {
      this.heartbeats.push({ cycle: e.cycle, serviceId: e.serviceId, rttCycles: e.rttCycles, rttAvgCycles: e.rttAvgCycles, ratio: e.ratio, timedOut: e.timedOut });
    }
  };

  /** First change of service `svcId`'s fail-safe to `active` at or after `fromCycle`. */
  firstChange(svcId: number, active: boolean, fromCycle = 0): FailsafeRecord | null {
    return this.failsafe.find((f) => f.serviceId === svcId && f.active === active && f.cycle >= fromCycle) ?? null;
  }
}

export type AnyNic = ReferenceNic | FatriotNic;

/** A factory of the NIC kind for buildFig8Testbed (with captures of its ports). */
export function nicFactoryOf(kind: NicKind, captures: CaptureSet): (name: Fig8HostName, sim: Simulator, plan: Fig8HostPlan) => CapturedNic<AnyNic> {
  if (kind === 'reference') return (name, sim) => captures.wrapNic(name, new ReferenceNic({ sim, name }));
  return (name, sim) => captures.wrapNic(name, new FatriotNic({ sim, name }));
}

/** Maps the phases of a run onto one progress fraction. */
export class ProgressTracker {
  private base = 0;
  private span = 0;
  private label = '';

  constructor(private readonly onProgress?: (fraction: number, label: string) => void) {}

  /** Starts a phase covering [from, from + span) of the whole run. */
  phase(from: number, span: number, label: string): void {
    this.base = from;
    this.span = span;
    this.label = label;
    this.onProgress?.(from, label);
  }

  /** Progress inside the phase, in [0, 1]. */
  update(fraction: number): void {
    const f = Math.min(1, Math.max(0, fraction));
    this.onProgress?.(this.base + this.span * f, this.label);
  }

  done(label = 'done'): void {
    this.onProgress?.(1, label);
  }
}
