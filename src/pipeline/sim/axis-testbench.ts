import type { AxisChannel } from './channel.ts';
import { ClockedModule, IDLE } from './module.ts';
import type { Packet, PacketPool } from './packet.ts';

/**
 * Testbench source and sink for AXI4-Stream channels, after cocotbext-axi's
 * AxisSource / AxisSink: tests drive modules through their channels, never
 * through internals.
 */
export class AxisSource extends ClockedModule {
  private readonly out: AxisChannel;
  private readonly queue: Packet[] = [];
  private readonly notBefore: number[] = [];
  private qHead = 0;
  private current: Packet | null = null;
  private beat = 0;
  packetsSent = 0;
  /** Cycle at which each packet's first beat was accepted, indexed by send order. */
  readonly firstBeatCycles: number[] = [];

  constructor(name: string, output: AxisChannel) {
    super(name);
    this.out = this.output(output);
  }

  /** Queues a packet to be offered no earlier than `cycle`. */
  send(packet: Packet, cycle = 0): void {
    this.queue.push(packet);
    this.notBefore.push(cycle);
    this.wakeAt(cycle);
  }

  pending(): number {
    return this.queue.length - this.qHead + (this.current === null ? 0 : 1);
  }

  evaluate(cycle: number): void {
    const out = this.out;
    if (out.valid && out.ready) {
      if (this.beat === 0) this.firstBeatCycles.push(cycle);
      if (++this.beat === this.current!.beats) {
        this.current = null;
        this.packetsSent++;
      }
    }
    if (this.current === null && this.qHead < this.queue.length && this.notBefore[this.qHead]! <= cycle + 1) {
      this.current = this.queue[this.qHead++]!;
      this.beat = 0;
    }
    if (this.current === null) out.release();
    else out.drive(this.current, this.beat);
  }

  commit(): number {
    if (this.current === null && this.qHead < this.queue.length) return this.notBefore[this.qHead]! - 1;
    return IDLE;
  }
}

export interface ReceivedPacket {
  readonly packet: Packet;
  /** Cycle in which the last beat moved. */
  readonly lastBeatCycle: number;
  readonly firstBeatCycle: number;
}

/**
 * Accepts beats, checks that each packet's beats arrive in order without
 * interleaving, and records packets with the cycles of their first and last beat.
 * `readyPattern(cycle)` gives tready for a cycle (backpressure); default always.
 */
export class AxisSink extends ClockedModule {
  private readonly in: AxisChannel;
  readonly received: ReceivedPacket[] = [];
  /** Protocol violations seen (beat out of order, packet interleaved). Tests expect none. */
  readonly violations: string[] = [];
  private expectBeat = 0;
  private firstBeatCycle = 0;
  private readonly readyPattern: ((cycle: number) => boolean) | null;
  private readonly pool: PacketPool | null;
  /** When set, received packets are released to the pool instead of kept. */
  keepPackets = true;
  packetsReceived = 0;
  bytesReceived = 0;

  constructor(name: string, input: AxisChannel, readyPattern: ((cycle: number) => boolean) | null = null, pool: PacketPool | null = null) {
    super(name);
    this.in = this.input(input);
    this.readyPattern = readyPattern;
    this.pool = pool;
  }

  override reset(): void {
    const r = this.readyPattern === null ? true : this.readyPattern(0);
    this.in.ready = this.in.nextReady = r;
  }

  evaluate(cycle: number): void {
    const ch = this.in;
    if (ch.valid && ch.ready) {
      const p = ch.packet!;
      if (ch.beat !== this.expectBeat) this.violations.push(`cycle ${cycle}: beat ${ch.beat} of tag ${p.tag}, expected ${this.expectBeat}`);
      if (ch.beat === 0) this.firstBeatCycle = cycle;
      this.expectBeat = ch.beat + 1;
      if (ch.beat === p.beats - 1) {
        this.expectBeat = 0;
        this.packetsReceived++;
        this.bytesReceived += p.length;
        if (this.keepPackets) this.received.push({ packet: p, lastBeatCycle: cycle, firstBeatCycle: this.firstBeatCycle });
        else if (this.pool !== null) this.pool.release(p);
      }
    }
    if (this.readyPattern !== null) ch.setReady(this.readyPattern(cycle + 1));
  }

  commit(): number {
    // A ready pattern changes by itself, so the sink keeps running while it has one.
    return this.readyPattern === null ? IDLE : 0;
  }
}
