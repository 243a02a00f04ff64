/**
 * Testbench for the heartbeat manager (cocotbext-axi style: through its channels only).
 * `HeartbeatEcho` stands in for the host and its services: it takes every heartbeat
 * off the manager's tx channel and answers it on the rx channel after a programmable
 * number of cycles (ICMP echo reply, or the UDP datagram sent back), or never.
 */
import { HEARTBEAT_PORT_BASE, HeartbeatManager } from '../../../src/pipeline/modules/heartbeat-manager.ts';
import { DST_HEARTBEAT_MANAGER, type NicEvent } from '../../../src/pipeline/modules/fatriot-tuser.ts';
import { FatriotRegisters } from '../../../src/pipeline/regs/fatriot-registers.ts';
import { enumValue, macToFields, packEntry, payloadToWords, tableSpec } from '../../../src/pipeline/regs/register-map.ts';
import { AxisChannel } from '../../../src/pipeline/sim/channel.ts';
import { ClockedModule, IDLE } from '../../../src/pipeline/sim/module.ts';
import { PacketPool, type Packet } from '../../../src/pipeline/sim/packet.ts';
import { RegisteredVector } from '../../../src/pipeline/sim/registered-vector.ts';
import { Simulator } from '../../../src/pipeline/sim/simulator.ts';
import { formatIpv4, formatMac, parseIpv4, parseMac } from '../../../src/pipeline/wire/address.ts';
import { IcmpType, IcmpView } from '../../../src/pipeline/wire/icmp.ts';
import { Ipv4View } from '../../../src/pipeline/wire/ipv4.ts';
import { HeaderParser, PacketKind } from '../../../src/pipeline/wire/parse.ts';
import { UdpView } from '../../../src/pipeline/wire/udp.ts';

/** The paper's clock (hw/netfpga-spec default, block design at 160 MHz). */
export const CORE_HZ = 160e6;
export const cyclesOfUs = (us: number): number => Math.round(us * (CORE_HZ / 1e6));
export const cyclesOfS = (s: number): number => Math.round(s * CORE_HZ);

export const NIC_MAC = '02:00:00:00:00:fe';
export const RELAY_IP = '10.0.0.254';
export const HOST_IP = '10.0.0.1';

/** A heartbeat as the echo saw it arrive. */
export interface SeenHeartbeat {
  /** Cycle its first beat was accepted (= the manager's send cycle). */
  cycle: number;
  entry: number;
  seq: number;
  /** n-th heartbeat of this entry seen by the echo, from 0. */
  index: number;
  proto: 'icmp' | 'udp';
  packet: Packet;
  srcIp: string;
  dstIp: string;
  srcMac: string;
  dstMac: string;
  dstPort: number;
}

/** Cycles until the reply's first beat arrives back at the manager, or null: never answer. */
export type EchoDelay = (hb: SeenHeartbeat) => number | null;

export class HeartbeatEcho extends ClockedModule {
  readonly seen: SeenHeartbeat[] = [];
  /** Cycle each reply's first beat was accepted by the manager, with its heartbeat. */
  readonly repliesDelivered: { entry: number; seq: number; cycle: number }[] = [];
  private readonly in: AxisChannel;
  private readonly out: AxisChannel;
  private readonly pool: PacketPool;
  private readonly pending: { p: Packet; due: number; entry: number; seq: number }[] = [];
  private readonly perEntry = new Map<number, number>();
  private readonly parser = new HeaderParser();
  private current: { p: Packet; entry: number; seq: number } | null = null;
  private beat = 0;
  /** Heartbeats are copied before release so tests can inspect their bytes. */
  keepCopies = true;

  constructor(
    name: string,
    fromNic: AxisChannel,
    toNic: AxisChannel,
    pool: PacketPool,
    public delay: EchoDelay,
  ) {
    super(name);
    this.in = this.input(fromNic);
    this.out = this.output(toNic);
    this.pool = pool;
  }

  override reset(): void {
    this.in.ready = this.in.nextReady = true;
  }

  evaluate(cycle: number): void {
    const inCh = this.in;
    if (inCh.valid && inCh.ready) {
      const p = inCh.packet!;
      if (inCh.beat === 0) this.onHeartbeat(p, cycle);
      if (inCh.beat >= p.beats - 1) this.pool.release(p);
    }
    const out = this.out;
    if (out.valid && out.ready) {
      if (this.beat === 0) this.repliesDelivered.push({ entry: this.current!.entry, seq: this.current!.seq, cycle });
      if (++this.beat === this.current!.p.beats) this.current = null;
    }
    if (this.current === null && this.pending.length > 0 && this.pending[0]!.due <= cycle + 1) {
      this.current = this.pending.shift()!;
      this.beat = 0;
    }
    if (this.current === null) out.release();
    else out.drive(this.current.p, this.beat);
  }

  commit(): number {
    if (this.current === null && this.pending.length > 0) return this.pending[0]!.due - 1;
    return IDLE;
  }

  private onHeartbeat(p: Packet, cycle: number): void {
    const ps = this.parser;
    const kind = ps.parse(p.data, p.length);
    if (kind !== PacketKind.Ipv4Icmp && kind !== PacketKind.Ipv4Udp) throw new Error(`echo got a non-heartbeat (kind ${kind})`);
    const icmp = kind === PacketKind.Ipv4Icmp;
    const entry = (icmp ? ps.icmpId : ps.srcPort) - HEARTBEAT_PORT_BASE;
    const ip = new Ipv4View(p.data, ps.l3Offset);
    const seq = icmp ? ps.icmpSeq : ip.ident;
    const index = this.perEntry.get(entry) ?? 0;
    this.perEntry.set(entry, index + 1);
    const copy = this.keepCopies ? this.pool.clone(p) : p;
    const hb: SeenHeartbeat = {
      cycle,
      entry,
      seq,
      index,
      proto: icmp ? 'icmp' : 'udp',
      packet: copy,
      srcIp: formatIpv4(ps.srcIp),
      dstIp: formatIpv4(ps.dstIp),
      srcMac: formatMac(p.data, 6),
      dstMac: formatMac(p.data, 0),
      dstPort: icmp ? 0 : ps.dstPort,
    };
    this.seen.push(hb);
    const d = this.delay(hb);
    if (d === null) return;
    if (d < 1) throw new Error('an answer takes at least one cycle');
    const r = this.pool.clone(p);
    r.flags = 0;
    r.srcPort = 1 << 1;
    r.dstPort = DST_HEARTBEAT_MANAGER;
    const b = r.data;
    // Swap MACs and addresses: the host answers the NIC's relay address.
    for (let i = 0; i < 6; i++) {
      const t = b[i]!;
      b[i] = b[6 + i]!;
      b[6 + i] = t;
    }
    const rip = new Ipv4View(b, ps.l3Offset);
    const src = rip.srcAddr;
    rip.srcAddr = rip.dstAddr;
    rip.dstAddr = src;
    rip.fillChecksum();
    if (icmp) {
      const v = new IcmpView(b, ps.l4Offset);
      v.type = IcmpType.EchoReply;
      v.fillChecksum(ps.l4Length);
    } else {
      const v = new UdpView(b, ps.l4Offset);
      const sp = v.srcPort;
      v.srcPort = v.dstPort;
      v.dstPort = sp;
      v.fillChecksum(rip.srcAddr, rip.dstAddr);
    }
    const due = cycle + d;
    let at = this.pending.length;
    while (at > 0 && this.pending[at - 1]!.due > due) at--;
    this.pending.splice(at, 0, { p: r, due, entry, seq });
    this.wakeAt(due - 1);
  }
}

export interface HeartbeatConfig {
  serviceId: number;
  kind: 'host' | 'icmp' | 'udp' | 'raw';
  targetIp?: string;
  targetMac?: string;
  udpPort?: number;
  intervalCycles: number;
  thresholdMilli: number;
  learnSamples: number;
  payload?: Uint8Array;
  valid?: boolean;
}

export function heartbeatWords(c: HeartbeatConfig): Uint32Array {
  const spec = tableSpec('heartbeatTable');
  const mac = macToFields(parseMac(c.targetMac ?? '00:00:00:00:00:00'));
  return packEntry(spec, {
    serviceId: c.serviceId,
    kind: enumValue(spec, 'kind', c.kind),
    valid: c.valid === false ? 0 : 1,
    targetIp: c.targetIp === undefined ? 0 : parseIpv4(c.targetIp),
    targetMacLo: mac.lo,
    targetMacHi: mac.hi,
    udpPort: c.udpPort ?? 0,
    intervalCycles: c.intervalCycles,
    thresholdMilli: c.thresholdMilli,
    learnSamples: c.learnSamples,
    payloadLength: c.payload?.length ?? 0,
  });
}

export interface Bench {
  sim: Simulator;
  regs: FatriotRegisters;
  pool: PacketPool;
  hm: HeartbeatManager;
  echo: HeartbeatEcho;
  failsafe: RegisteredVector;
  events: NicEvent[];
  /** Host write of heartbeat entry `e` (and its payload) visible from `visibleCycle` (default: now). */
  configure(e: number, c: HeartbeatConfig, visibleCycle?: number): void;
  /** Reads a status field of heartbeat entry e. */
  status(e: number, field: string): number;
  failsafeEvents(): Extract<NicEvent, { kind: 'failsafe' }>[];
  heartbeatEvents(serviceId?: number): Extract<NicEvent, { kind: 'heartbeat' }>[];
}

export function makeBench(delay: EchoDelay, options: { shuffleSeed?: number; dmaPort?: number } = {}): Bench {
  const sim = new Simulator(options.shuffleSeed === undefined ? {} : { shuffleSeed: options.shuffleSeed });
  const regs = new FatriotRegisters();
  const pool = new PacketPool(32);
  const tx = new AxisChannel('heartbeat_manager_to_tx_mux');
  const rx = new AxisChannel('output_queues_to_heartbeat_manager');
  const failsafe = new RegisteredVector('failsafe_active', regs.failsafeMode.depth);
  const events: NicEvent[] = [];
  const nicSpec = tableSpec('nicConfig');
  const mac = macToFields(parseMac(NIC_MAC));
  regs.nicConfig.hostWriteEntry(
    0,
    packEntry(nicSpec, { relayIp: parseIpv4(RELAY_IP), hostIp: parseIpv4(HOST_IP), nicMacHi: mac.hi, nicMacLo: mac.lo }),
    0,
  );
  const hm = new HeartbeatManager('heartbeat_manager', rx, tx, pool, regs, regs.counters, failsafe, CORE_HZ, (e) => events.push(e), {
    dmaPort: options.dmaPort ?? 0,
  });
  const echo = new HeartbeatEcho('echo', tx, rx, pool, delay);
  sim.add(hm);
  sim.add(echo);
  const hb = regs.heartbeatTable;
  return {
    sim,
    regs,
    pool,
    hm,
    echo,
    failsafe,
    events,
    configure(e, c, visibleCycle = sim.now) {
      if (c.payload !== undefined) {
        regs.heartbeatPayload.hostWriteEntry(e, payloadToWords(c.payload, regs.heartbeatPayload.wordsPerEntry), visibleCycle);
      }
      hb.hostWriteEntry(e, heartbeatWords(c), visibleCycle);
    },
    status(e, field) {
      return hb.get(e, hb.fieldIndex(field));
    },
    failsafeEvents() {
      return events.filter((x): x is Extract<NicEvent, { kind: 'failsafe' }> => x.kind === 'failsafe');
    },
    heartbeatEvents(serviceId) {
      return events.filter(
        (x): x is Extract<NicEvent, { kind: 'heartbeat' }> => x.kind === 'heartbeat' && (serviceId === undefined || x.serviceId === serviceId),
      );
    },
  };
}
