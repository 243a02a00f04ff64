/**
 * A traffic generator in the manner of Formullar (Park et al. 2021; Fatriot section 5:
 * "It transmits a specified amount of packets at a certain traffic rate, allowing us to
 * measure round-trip times with a precision of 6.25 ns"). Like the FPGA tool it stamps
 * each request with a sequence number and its send time from the same clock it uses to
 * stamp replies, so RTTs are exact in core cycles.
 *
 * A run sends `count` UDP requests (or ICMP echo requests) to one service, either at a
 * fixed rate (packet i is due at t0 + floor(i x coreHz / ratePps), or t0 + i x
 * intervalCycles) or back to back at line rate. t0 is the run's start, or, when the next
 * hop is not yet known, the cycle its ARP reply has been processed: the generator
 * ARP-resolves once and then, as the FPGA tool with its configured destination MAC, keeps
 * that MAC for the whole run. Its own ARP responder answers requests for its address.
 *
 * Payload (big-endian, first 16 bytes; the rest is zero): magic 0x464d ("FM"), run id
 * (16 bits), sequence number (32 bits), send cycle (64 bits). A reply counts when it comes
 * from the service's address (and port), to the generator's, with this run's magic and id.
 * The cycle on the port is a frame's first bit (README.md "Time on a port"); sendCycle
 * and replyCycle are both taken there.
 */
import { coreClockHz, wireBytesPerFrame } from '../../../hw/netfpga-spec/index.ts';
import type { Port } from '../../dataplane/port.ts';
import { WireTiming } from '../../pipeline/modules/ethernet-wire.ts';
import type { Packet } from '../../pipeline/sim/packet.ts';
import { writeMac48 } from '../../pipeline/wire/address.ts';
import { buildIcmpEchoFrame, buildUdpFrame, toIpv4, type Ipv4Like, type MacLike } from '../../pipeline/wire/build.ts';
import { icmpChecksum, udpChecksum, verifyIcmpChecksum, verifyUdpChecksum } from '../../pipeline/wire/checksum.ts';
import { ETHERNET_MAX_FRAME_LEN, ETHERNET_MIN_FRAME_LEN } from '../../pipeline/wire/ethernet.ts';
import { IcmpType } from '../../pipeline/wire/icmp.ts';
import { PacketKind } from '../../pipeline/wire/parse.ts';
import { NetStack, type Neighbor } from './net-stack.ts';
import { EV_TX, EV_USER, StackNode } from './stack-node.ts';
import { linuxNeighborParams, type NeighborParams } from './timing.ts';

const EV_RUN_START = EV_USER;
const EV_RUN_SEND = EV_USER + 1;

const MAGIC = 0x464d;
/** Bytes of the generator's stamp at the start of the payload. */
export const STAMP_BYTES = 16;
/** Ethernet + IPv4 + UDP (or ICMP echo) headers before the payload. */
const HEADERS_BYTES = 14 + 20 + 8;
const PAYLOAD_OFFSET = HEADERS_BYTES;
/** Smallest frame (no FCS) that holds the stamp. */
export const MIN_GENERATOR_FRAME_BYTES = Math.max(ETHERNET_MIN_FRAME_LEN, HEADERS_BYTES + STAMP_BYTES);

export interface TrafficGeneratorOptions {
  port: Port;
  ip: Ipv4Like;
  mac: MacLike;
  prefixLength?: number;
  coreHz?: number;
  /** UDP source port of the requests; default 49152. */
  srcPort?: number;
  /** ICMP echo identifier; default 0x464d. */
  icmpIdentifier?: number;
  /** Overrides of the Linux neighbour parameters used to resolve the next hop (cycles). */
  neighbor?: Partial<NeighborParams>;
  /** Line rate of the generator's port; default the NetFPGA 10G rate. */
  lineRateBps?: number;
}

export interface GeneratorRun {
  dstIp: Ipv4Like;
  /** Default 'udp'. */
  protocol?: 'udp' | 'icmp';
  /** Service port (UDP). */
  dstPort?: number;
  /** Requests to send. */
  count: number;
  /** One of: a rate, a whole interval in cycles, or line rate. */
  ratePps?: number;
  intervalCycles?: number;
  lineRate?: boolean;
  /** Frame length without FCS, MIN_GENERATOR_FRAME_BYTES..1514; default 60 (64 on the wire with FCS). */
  frameBytes?: number;
  /**
   * Cycle the run starts (ARP first if needed): the first frame can leave then. Default,
   * and at the earliest, the cycle after the present (a frame sent from evaluate(t)
   * leaves at t + 1 or later).
   */
  startCycle?: number;
}

export type GeneratorState = 'idle' | 'resolving' | 'running' | 'done' | 'unresolved';

export interface ProbeRecord {
  seq: number;
  sendCycle: number;
  replyCycle: number | null;
  lost: boolean;
  rttCycles: number | null;
  rttUs: number | null;
}

export interface RttStats {
  count: number;
  min: number;
  mean: number;
  /** Nearest-rank percentiles. */
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface ProbeSummary {
  fromSeq: number;
  toSeq: number;
  sent: number;
  delivered: number;
  lost: number;
  /** delivered / sent over the range (1 when nothing was sent). */
  deliveredRatio: number;
  rttCycles: RttStats | null;
  rttUs: RttStats | null;
}

export interface ThroughputStats {
  frameBytes: number;
  sent: number;
  received: number;
  firstSendCycle: number;
  lastSendCycle: number;
  firstReplyCycle: number;
  lastReplyCycle: number;
  /** Rates over the span between the first and the last frame (0 with fewer than two). */
  txPps: number;
  rxPps: number;
  /** Echo throughput counting frame bytes with FCS. */
  rxFrameGbps: number;
  /** Echo throughput counting the whole wire time (preamble, FCS, inter-frame gap). */
  rxLineGbps: number;
}

export interface GeneratorStats {
  replies: number;
  duplicateReplies: number;
  badChecksumReplies: number;
  /** Frames that looked like replies of an older run or an unsent sequence number. */
  unmatchedReplies: number;
}

export class TrafficGenerator extends StackNode {
  readonly stack: NetStack;
  readonly srcPort: number;
  readonly icmpIdentifier: number;
  readonly timing: WireTiming;
  readonly stats: GeneratorStats = { replies: 0, duplicateReplies: 0, badChecksumReplies: 0, unmatchedReplies: 0 };
  private runState: GeneratorState = 'idle';
  private runId = 0;
  private dstIp = 0;
  private dstPort = 0;
  private icmp = false;
  private count = 0;
  private frameBytes = ETHERNET_MIN_FRAME_LEN;
  private ratePps = 0;
  private intervalCycles = 0;
  private lineRate = false;
  private t0 = -1;
  private template: Uint8Array = new Uint8Array(0);
  private sendCycles = new Float64Array(0);
  private replyCycles = new Float64Array(0);
  private sentCount = 0;
  private receivedCount = 0;
  private firstReplyCycle = -1;
  private lastReplyCycle = -1;
  private wireFreeUnits = 0;

  constructor(name: string, options: TrafficGeneratorOptions) {
    const coreHz = options.coreHz ?? coreClockHz();
    super(name, options.port, coreHz);
    this.srcPort = options.srcPort ?? 49152;
    this.icmpIdentifier = options.icmpIdentifier ?? MAGIC;
    this.timing = new WireTiming(coreHz, options.lineRateBps);
    this.stack = this.addStack(
      new NetStack({
        name: `${name}.arp`,
        ip: options.ip,
        mac: options.mac,
        prefixLength: options.prefixLength,
        // An FPGA ARP responder: one cycle.
        kernelDelayCycles: 1,
        neighbor: { ...linuxNeighborParams(coreHz), ...options.neighbor },
      }),
    );
  }

  get state(): GeneratorState {
    return this.runState;
  }

  /** First cycle of the send schedule (after ARP), or -1 before it is known. */
  get scheduleStartCycle(): number {
    return this.t0;
  }

  /** Requests sent so far in this run. */
  get sent(): number {
    return this.sentCount;
  }

  /** Replies matched so far in this run. */
  get received(): number {
    return this.receivedCount;
  }

  /** Starts a run; results of the previous run are discarded. */
  start(run: GeneratorRun): void {
    if (this.runState === 'resolving' || this.runState === 'running') throw new Error(`${this.name}: a run is in progress`);
    const modes = (run.ratePps !== undefined ? 1 : 0) + (run.intervalCycles !== undefined ? 1 : 0) + (run.lineRate === true ? 1 : 0);
    if (modes !== 1) throw new Error(`${this.name}: give exactly one of ratePps, intervalCycles, lineRate`);
    if (run.ratePps !== undefined && !(run.ratePps > 0)) throw new RangeError(`ratePps must be > 0`);
    if (run.intervalCycles !== undefined && (!Number.isInteger(run.intervalCycles) || run.intervalCycles < 1)) {
      throw new RangeError(`intervalCycles must be an integer >= 1`);
    }
    if (!Number.isInteger(run.count) || run.count < 0) throw new RangeError(`count must be an integer >= 0`);
    const frameBytes = run.frameBytes ?? ETHERNET_MIN_FRAME_LEN;
    if (!Number.isInteger(frameBytes) || frameBytes < MIN_GENERATOR_FRAME_BYTES || frameBytes > ETHERNET_MAX_FRAME_LEN) {
      throw new RangeError(`frameBytes must be ${MIN_GENERATOR_FRAME_BYTES}..${ETHERNET_MAX_FRAME_LEN}`);
    }
    const protocol = run.protocol ?? 'udp';
    if (protocol === 'udp' && run.dstPort === undefined) throw new Error(`${this.name}: a UDP run needs dstPort`);
    this.dstIp = toIpv4(run.dstIp);
    if (((this.dstIp ^ this.stack.ip) & this.stack.netmask) !== 0) throw new Error(`${this.name}: ${run.dstIp} is not on the link`);
    this.icmp = protocol === 'icmp';
    this.dstPort = run.dstPort ?? 0;
    this.count = run.count;
    this.frameBytes = frameBytes;
    this.ratePps = run.ratePps ?? 0;
    this.intervalCycles = run.intervalCycles ?? 0;
    this.lineRate = run.lineRate === true;
    this.runId = (this.runId + 1) & 0xffff;
    this.t0 = -1;
    this.sendCycles = new Float64Array(run.count).fill(-1);
    this.replyCycles = new Float64Array(run.count).fill(-1);
    this.sentCount = 0;
    this.receivedCount = 0;
    this.firstReplyCycle = -1;
    this.lastReplyCycle = -1;
    this.template = this.buildTemplate();
    const startCycle = Math.max(run.startCycle ?? 0, this.now + 1);
    this.runState = 'resolving';
    this.schedule(startCycle, EV_RUN_START, this.runId, 0, 0, null);
  }

  /** Where request `seq` is due by the schedule (before waiting for the wire), once t0 is known. */
  plannedCycle(seq: number): number {
    if (this.t0 < 0) return -1;
    if (this.lineRate) return this.t0;
    if (this.intervalCycles > 0) return this.t0 + seq * this.intervalCycles;
    return this.t0 + Math.floor((seq * this.coreHz) / this.ratePps);
  }

  /** One record per request sent in this run. */
  results(): ProbeRecord[] {
    const out: ProbeRecord[] = [];
    for (let seq = 0; seq < this.sentCount; seq++) {
      const sendCycle = this.sendCycles[seq]!;
      const reply = this.replyCycles[seq]!;
      const rtt = reply < 0 ? null : reply - sendCycle;
      out.push({
        seq,
        sendCycle,
        replyCycle: reply < 0 ? null : reply,
        lost: reply < 0,
        rttCycles: rtt,
        rttUs: rtt === null ? null : (rtt * 1e6) / this.coreHz,
      });
    }
    return out;
  }

  /** Delivery and RTT over sequence numbers fromSeq..toSeq (inclusive, clamped to what was sent). */
  summary(fromSeq = 0, toSeq = this.sentCount - 1): ProbeSummary {
    const last = Math.min(toSeq, this.sentCount - 1);
    const first = Math.max(0, fromSeq);
    const rtts: number[] = [];
    for (let seq = first; seq <= last; seq++) {
      const reply = this.replyCycles[seq]!;
      if (reply >= 0) rtts.push(reply - this.sendCycles[seq]!);
    }
    const sent = last >= first ? last - first + 1 : 0;
    const cycles = rttStats(rtts);
    const toUs = (c: number) => (c * 1e6) / this.coreHz;
    return {
      fromSeq: first,
      toSeq: last,
      sent,
      delivered: rtts.length,
      lost: sent - rtts.length,
      deliveredRatio: sent === 0 ? 1 : rtts.length / sent,
      rttCycles: cycles,
      rttUs:
        cycles === null
          ? null
          : {
              count: cycles.count,
              min: toUs(cycles.min),
              mean: toUs(cycles.mean),
              p50: toUs(cycles.p50),
              p90: toUs(cycles.p90),
              p99: toUs(cycles.p99),
              max: toUs(cycles.max),
            },
    };
  }

  /** Throughput of the run (the burst / line-rate mode's measure). */
  throughput(): ThroughputStats {
    const sent = this.sentCount;
    const received = this.receivedCount;
    const firstSend = sent > 0 ? this.sendCycles[0]! : -1;
    const lastSend = sent > 0 ? this.sendCycles[sent - 1]! : -1;
    const txPps = sent > 1 && lastSend > firstSend ? ((sent - 1) * this.coreHz) / (lastSend - firstSend) : 0;
    const span = this.lastReplyCycle - this.firstReplyCycle;
    const rxPps = received > 1 && span > 0 ? ((received - 1) * this.coreHz) / span : 0;
    return {
      frameBytes: this.frameBytes,
      sent,
      received,
      firstSendCycle: firstSend,
      lastSendCycle: lastSend,
      firstReplyCycle: this.firstReplyCycle,
      lastReplyCycle: this.lastReplyCycle,
      txPps,
      rxPps,
      rxFrameGbps: (rxPps * (this.frameBytes + 4) * 8) / 1e9,
      rxLineGbps: (rxPps * wireBytesPerFrame(this.frameBytes) * 8) / 1e9,
    };
  }

  /** Replies received in consecutive windows of `windowCycles` from the schedule's start (echoes per window). */
  repliesPerWindow(windowCycles: number): number[] {
    if (this.t0 < 0 || this.receivedCount === 0) return [];
    const counts: number[] = [];
    for (let seq = 0; seq < this.sentCount; seq++) {
      const reply = this.replyCycles[seq]!;
      if (reply < 0) continue;
      const k = Math.floor((reply - this.t0) / windowCycles);
      while (counts.length <= k) counts.push(0);
      counts[k]!++;
    }
    return counts;
  }

  neighborResolved(stack: NetStack, neighbor: Neighbor, time: number): void {
    if (stack === this.stack && this.runState === 'resolving' && neighbor.ip === this.dstIp) this.begin(neighbor.mac48, time);
  }

  neighborFailed(stack: NetStack, ip: number, _time: number): void {
    if (stack === this.stack && this.runState === 'resolving' && ip === this.dstIp) this.runState = 'unresolved';
  }

  protected override onEvent(kind: number, a: number, b: number, c: number, ref: object | null, t: number): void {
    if (kind === EV_RUN_START) {
      if (a !== this.runId || this.runState !== 'resolving') return;
      const mac48 = this.stack.neighborMac48(this.dstIp);
      if (mac48 >= 0) this.begin(mac48, t);
      else this.stack.resolve(this.dstIp, t);
      return;
    }
    if (kind === EV_RUN_SEND) {
      if (a === this.runId && this.runState === 'running') this.send(b, t);
      return;
    }
    super.onEvent(kind, a, b, c, ref, t);
  }

  /** Frames of the ARP responder share the wire with the requests. */
  protected override transmitNow(p: Packet, t: number): void {
    const start = Math.max(this.timing.unitsAt(t), this.wireFreeUnits);
    const startCycle = this.timing.cycleAt(start);
    if (startCycle > t) {
      this.schedule(startCycle, EV_TX, 0, 0, 0, p);
      return;
    }
    this.wireFreeUnits = start + this.timing.frameUnits(p.length);
    super.transmitNow(p, t);
  }

  protected override onReceive(p: Packet, at: number): void {
    if (this.runState !== 'idle' && this.matchReply(p, at)) {
      this.pool.release(p);
      return;
    }
    super.onReceive(p, at);
  }

  private begin(mac48: number, t: number): void {
    writeMac48(this.template, 0, mac48);
    this.t0 = t;
    this.runState = this.count === 0 ? 'done' : 'running';
    if (this.count > 0) this.scheduleSend(0);
  }

  private scheduleSend(seq: number): void {
    const start = Math.max(this.timing.unitsAt(this.plannedCycle(seq)), this.wireFreeUnits);
    this.schedule(this.timing.cycleAt(start), EV_RUN_SEND, this.runId, seq, 0, null);
  }

  private send(seq: number, t: number): void {
    const start = Math.max(this.timing.unitsAt(this.plannedCycle(seq)), this.wireFreeUnits);
    const startCycle = this.timing.cycleAt(start);
    if (startCycle > t) {
      // The responder took the wire in the meantime.
      this.schedule(startCycle, EV_RUN_SEND, this.runId, seq, 0, null);
      return;
    }
    const f = this.template;
    const o = PAYLOAD_OFFSET;
    f[o + 4] = seq >>> 24;
    f[o + 5] = seq >>> 16;
    f[o + 6] = seq >>> 8;
    f[o + 7] = seq;
    const hi = Math.floor(t / 0x100000000);
    const lo = t >>> 0;
    f[o + 8] = hi >>> 24;
    f[o + 9] = hi >>> 16;
    f[o + 10] = hi >>> 8;
    f[o + 11] = hi;
    f[o + 12] = lo >>> 24;
    f[o + 13] = lo >>> 16;
    f[o + 14] = lo >>> 8;
    f[o + 15] = lo;
    const l4 = 34;
    const l4Length = this.frameBytes - l4;
    f[l4 + (this.icmp ? 2 : 6)] = 0;
    f[l4 + (this.icmp ? 3 : 7)] = 0;
    if (this.icmp) {
      f[l4 + 6] = (seq >>> 8) & 0xff;
      f[l4 + 7] = seq & 0xff;
      const cs = icmpChecksum(f, l4, l4Length);
      f[l4 + 2] = cs >>> 8;
      f[l4 + 3] = cs & 0xff;
    } else {
      const cs = udpChecksum(f, l4, l4Length, this.stack.ip, this.dstIp);
      f[l4 + 6] = cs >>> 8;
      f[l4 + 7] = cs & 0xff;
    }
    this.wireFreeUnits = start + this.timing.frameUnits(this.frameBytes);
    this.sendCycles[seq] = t;
    this.sentCount = seq + 1;
    this.nodeStats.txFrames++;
    this.nodeStats.txBytes += this.frameBytes;
    this.port.transmit(f, t);
    if (seq + 1 < this.count) this.scheduleSend(seq + 1);
    else this.runState = 'done';
  }

  /** Records `p` if it is a reply of this run; false if it is something else. */
  private matchReply(p: Packet, at: number): boolean {
    const parser = this.parser;
    const kind = parser.parse(p.data, p.length);
    if (parser.vlanId !== -1 || parser.dstIp !== this.stack.ip || parser.srcIp !== this.dstIp) return false;
    const d = p.data;
    const payload = parser.payloadOffset;
    if (this.icmp) {
      if (kind !== PacketKind.Ipv4Icmp || parser.icmpType !== IcmpType.EchoReply || parser.icmpId !== this.icmpIdentifier) return false;
      if (!verifyIcmpChecksum(d, parser.l4Offset, parser.l4Length)) {
        this.stats.badChecksumReplies++;
        return true;
      }
    } else {
      if (kind !== PacketKind.Ipv4Udp || parser.dstPort !== this.srcPort || parser.srcPort !== this.dstPort) return false;
      const udpLength = (d[parser.l4Offset + 4]! << 8) | d[parser.l4Offset + 5]!;
      if (!verifyUdpChecksum(d, parser.l4Offset, udpLength, parser.srcIp, parser.dstIp)) {
        this.stats.badChecksumReplies++;
        return true;
      }
    }
    const payloadEnd = parser.l3Offset + parser.ipTotalLength;
    if (payloadEnd - payload < STAMP_BYTES || ((d[payload]! << 8) | d[payload + 1]!) !== MAGIC) return false;
    const runId = (d[payload + 2]! << 8) | d[payload + 3]!;
    const seq = ((d[payload + 4]! << 24) | (d[payload + 5]! << 16) | (d[payload + 6]! << 8) | d[payload + 7]!) >>> 0;
    if (runId !== this.runId || seq >= this.sentCount) {
      this.stats.unmatchedReplies++;
      return true;
    }
    if (this.replyCycles[seq]! >= 0) {
      this.stats.duplicateReplies++;
      return true;
    }
    this.replyCycles[seq] = at;
    this.receivedCount++;
    this.stats.replies++;
    if (this.firstReplyCycle < 0 || at < this.firstReplyCycle) this.firstReplyCycle = at;
    if (at > this.lastReplyCycle) this.lastReplyCycle = at;
    return true;
  }

  private buildTemplate(): Uint8Array {
    const payload = new Uint8Array(this.frameBytes - HEADERS_BYTES);
    payload[0] = MAGIC >>> 8;
    payload[1] = MAGIC & 0xff;
    payload[2] = this.runId >>> 8;
    payload[3] = this.runId & 0xff;
    const common = { srcMac: this.stack.mac, dstMac: new Uint8Array(6), srcIp: this.stack.ip, dstIp: this.dstIp, payload };
    const frame = this.icmp
      ? buildIcmpEchoFrame({ ...common, type: 'request', identifier: this.icmpIdentifier, sequence: 0 })
      : buildUdpFrame({ ...common, srcPort: this.srcPort, dstPort: this.dstPort });
    return frame.subarray(0, this.frameBytes);
  }
}

/** Min, mean, nearest-rank percentiles and max of `values`; null when empty. */
export function rttStats(values: readonly number[]): RttStats | null {
  const n = values.length;
  if (n === 0) return null;
  const sorted = Float64Array.from(values).sort();
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i]!;
  const rank = (p: number) => sorted[Math.max(1, Math.ceil((p / 100) * n)) - 1]!;
  return { count: n, min: sorted[0]!, mean: sum / n, p50: rank(50), p90: rank(90), p99: rank(99), max: sorted[n - 1]! };
}
