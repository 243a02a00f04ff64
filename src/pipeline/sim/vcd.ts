import { closeSync, openSync, writeSync } from 'node:fs';
import type { AxisChannel } from './channel.ts';
import type { ClockedModule, TraceSignal } from './module.ts';
import type { CycleObserver, Simulator } from './simulator.ts';

interface Traced {
  readonly id: string;
  readonly width: number;
  last: number;
}

/**
 * Writes a Value Change Dump (IEEE 1364 section 18) of channel handshakes,
 * FIFO levels and module states that GTKWave opens. A value committed in cycle t
 * is the register output from cycle t+1 on, so it is dumped at time
 * (t+1) x clock period.
 *
 * Tracing is for debugging and figures, not the hot path: it is only active when
 * attached, and then costs a comparison per traced signal of each awake module.
 */
export class VcdWriter implements CycleObserver {
  private readonly fd: number;
  private readonly periodPs: number;
  private chunks: string[] = [];
  private pending = 0;
  private lastTime = -1;
  private nextCode = 0;
  private readonly channelVars = new Map<AxisChannel, Traced[]>();
  private readonly moduleVars = new Map<ClockedModule, { signals: TraceSignal[]; vars: Traced[] }>();

  constructor(path: string, sim: Simulator, clockPeriodNs: number, scopeName = 'top') {
    // Channels between modules that run trains carry posted handshakes, not registered signals.
    if (sim.runsTrains) throw new Error(`VCD ${path}: the simulator already runs trains; make it with { trains: false } to dump a VCD after the first cycle`);
    this.fd = openSync(path, 'w');
    this.periodPs = Math.round(clockPeriodNs * 1000);
    const out: string[] = [];
    out.push('$date ' + new Date().toISOString() + ' $end\n');
    out.push('$version fatriot-ts cycle model $end\n');
    out.push('$timescale 1ps $end\n');
    out.push(`$scope module ${ident(scopeName)} $end\n`);
    for (const ch of sim.channels) {
      out.push(`$scope module ${ident(ch.name)} $end\n`);
      const vars: Traced[] = [];
      for (const [name, width] of [['tvalid', 1], ['tready', 1], ['tlast', 1], ['beat', 16], ['packet_tag', 32]] as const) {
        const v = { id: this.code(), width, last: -1 };
        out.push(`$var wire ${width} ${v.id} ${name} $end\n`);
        vars.push(v);
      }
      out.push('$upscope $end\n');
      this.channelVars.set(ch, vars);
    }
    for (const m of sim.modules) {
      const signals = m.traceSignals();
      if (signals.length === 0) continue;
      out.push(`$scope module ${ident(m.name)} $end\n`);
      const vars: Traced[] = [];
      for (const s of signals) {
        const v = { id: this.code(), width: s.width, last: -1 };
        out.push(`$var reg ${s.width} ${v.id} ${ident(s.name)} $end\n`);
        vars.push(v);
      }
      out.push('$upscope $end\n');
      this.moduleVars.set(m, { signals, vars });
    }
    out.push('$upscope $end\n$enddefinitions $end\n');
    writeSync(this.fd, out.join(''));
    // Initial values at time 0.
    this.time(0);
    this.emit('$dumpvars\n');
    for (const ch of sim.channels) this.sampleChannel(ch);
    for (const m of sim.modules) this.sampleModule(m);
    this.emit('$end\n');
    sim.observer = this;
  }

  afterCycle(cycle: number, modules: readonly ClockedModule[], moduleCount: number, channels: readonly AxisChannel[], channelCount: number): void {
    this.time((cycle + 1) * this.periodPs);
    // Canonical order (by id), so the dump does not depend on evaluation order.
    const chs = channels.slice(0, channelCount).sort((a, b) => a.id - b.id);
    for (const ch of chs) this.sampleChannel(ch);
    const mods = modules.slice(0, moduleCount).sort((a, b) => a.id - b.id);
    for (const m of mods) this.sampleModule(m);
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }

  private sampleChannel(ch: AxisChannel): void {
    const vars = this.channelVars.get(ch);
    if (vars === undefined) return;
    this.set(vars[0]!, ch.valid ? 1 : 0);
    this.set(vars[1]!, ch.ready ? 1 : 0);
    this.set(vars[2]!, ch.valid && ch.isLast() ? 1 : 0);
    this.set(vars[3]!, ch.valid ? ch.beat : 0);
    this.set(vars[4]!, ch.valid && ch.packet !== null ? ch.packet.tag >>> 0 : 0);
  }

  private sampleModule(m: ClockedModule): void {
    const entry = this.moduleVars.get(m);
    if (entry === undefined) return;
    for (let i = 0; i < entry.vars.length; i++) this.set(entry.vars[i]!, entry.signals[i]!.read());
  }

  private set(v: Traced, value: number): void {
    if (v.last === value) return;
    v.last = value;
    if (v.width === 1) this.emit(`${value}${v.id}\n`);
    else this.emit(`b${(value >>> 0).toString(2)} ${v.id}\n`);
  }

  private time(ps: number): void {
    this.pendingTime = ps;
  }

  private pendingTime = 0;

  private emit(s: string): void {
    if (this.pendingTime !== this.lastTime) {
      this.chunks.push(`#${this.pendingTime}\n`);
      this.lastTime = this.pendingTime;
    }
    this.chunks.push(s);
    if (++this.pending >= 4096) this.flush();
  }

  private flush(): void {
    if (this.chunks.length === 0) return;
    writeSync(this.fd, this.chunks.join(''));
    this.chunks = [];
    this.pending = 0;
  }

  private code(): string {
    // Identifier codes are printable ASCII 33..126, base 94.
    let n = this.nextCode++;
    let s = '';
    do {
      s += String.fromCharCode(33 + (n % 94));
      n = Math.floor(n / 94);
    } while (n > 0);
    return s;
  }
}

function ident(name: string): string {
  return name.replace(/[^A-Za-z0-9_]/g, '_');
}
