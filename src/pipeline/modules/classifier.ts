import type { AxisChannel } from '../sim/channel.ts';
import { ClockedModule, IDLE, type TraceSignal } from '../sim/module.ts';
import type { Packet } from '../sim/packet.ts';
import type { RegisteredVector } from '../sim/registered-vector.ts';
import { TimedRing } from '../sim/ring.ts';
import { counterIndex } from '../regs/register-map.ts';
import type { CounterBank, TableMemory } from '../regs/table-memory.ts';
import { HeaderParser, PacketKind } from '../wire/parse.ts';
import { FallthroughFifoTimeline, FallthroughSmallFifo } from './fallthrough-small-fifo.ts';
import {
  DST_FAILSAFE_HANDLER,
  DST_HEARTBEAT_MANAGER,
  DST_NEIGHBOR_DISCOVERY,
  FLAG_FROM_FATRIOT,
} from './fatriot-tuser.ts';

const STATE_HEADER = 0;
const STATE_IN_PACKET = 1;
const IP_PROTO_TCP = 6;
const IP_PROTO_UDP = 17;
const ICMP_ECHO_REPLY = 0;
/** Even tuser bits: the packet entered from a MAC (the wire). */
const WIRE_SRC_MASK = 0x55;

export interface ClassifierParams {
  /** MAX_DEPTH_BITS of the input fallthrough_small_fifo (assumed, like the lookup's input FIFO). */
  inFifoDepthBits: number;
  /** Beats the parser needs before it can decide: Ethernet + 802.1Q + IPv4 + L4 ports fit in 2 beats of 32 bytes. */
  headerBeats: number;
  /** Cycles from the last header beat to the verdict: parse stage plus target-table lookup (assumed). */
  lookupLatencyCycles: number;
}

export interface ClassifierTables {
  targetTable: TableMemory;
  nicConfig: TableMemory;
}

/**
 * Fatriot's header parser and traffic classifier (papers/fatriot.txt 3.3, Fig. 4;
 * SPEC section 3 item 1). It sits after nic_output_port_lookup, holds each packet
 * until its header beats are in, parses Ethernet/802.1Q/IPv4/UDP/TCP/ICMP/ARP,
 * looks the service signature (dst IP, protocol, dst port) up in the target table
 * and writes the verdict into the sideband: `critical` and `serviceId` (for the
 * dual queue's sub-queue), and the destination when the packet is for a module
 * inside the NIC (src/pipeline/README.md lists the rules). Anything it cannot parse,
 * or that is not IPv4, goes on to the host unchanged, counted.
 */
export class Classifier extends ClockedModule {
  /** An AXI4-Stream core: only handshakes and new offers wake it (ClockedModule). */
  override readonly wakeOnHandshakeOnly = true;
  readonly fifo: FallthroughSmallFifo;
  private readonly in: AxisChannel;
  private readonly out: AxisChannel;
  private readonly params: ClassifierParams;
  private readonly targetTable: TableMemory;
  private readonly nicConfig: TableMemory;
  private readonly failsafeActive: RegisteredVector;
  private readonly counters: CounterBank;
  private readonly parser = new HeaderParser();
  /** Packets whose header beats are in, keyed by the cycle their verdict is ready. */
  private readonly verdicts = new TimedRing<Packet>();
  private state = STATE_HEADER;

  // Target-table index: open addressing over entry numbers, rebuilt when the table changes.
  private indexVersion = -1;
  private readonly indexSlots: Int32Array;
  private readonly indexMask: number;
  private readonly fDstIp: number;
  private readonly fDstPort: number;
  private readonly fProto: number;
  private readonly fServiceId: number;
  private readonly fCritical: number;
  private readonly fValid: number;
  private readonly fRelayIp: number;
  private readonly fAnnouncePort: number;

  private readonly cPackets = counterIndex('event.classifierPackets');
  private readonly cHits = counterIndex('event.classifierTargetHits');
  private readonly cNotIpv4 = counterIndex('event.classifierNotIpv4');
  private readonly cParseErrors = counterIndex('event.classifierParseErrors');

  constructor(
    name: string,
    input: AxisChannel,
    output: AxisChannel,
    tables: ClassifierTables,
    failsafeActive: RegisteredVector,
    counters: CounterBank,
    params: ClassifierParams,
  ) {
    super(name);
    this.in = this.input(input);
    this.out = this.output(output);
    this.params = params;
    this.targetTable = tables.targetTable;
    this.nicConfig = tables.nicConfig;
    this.failsafeActive = failsafeActive;
    this.counters = counters;
    this.fifo = new FallthroughSmallFifo(`${name}.input_fifo`, params.inFifoDepthBits);
    let slots = 1;
    while (slots < this.targetTable.depth * 2) slots <<= 1;
    this.indexSlots = new Int32Array(slots).fill(-1);
    this.indexMask = slots - 1;
    const t = this.targetTable;
    this.fDstIp = t.fieldIndex('dstIp');
    this.fDstPort = t.fieldIndex('dstPort');
    this.fProto = t.fieldIndex('proto');
    this.fServiceId = t.fieldIndex('serviceId');
    this.fCritical = t.fieldIndex('critical');
    this.fValid = t.fieldIndex('valid');
    this.fRelayIp = this.nicConfig.fieldIndex('relayIp');
    this.fAnnouncePort = this.nicConfig.fieldIndex('announcePort');
  }

  override reset(): void {
    this.in.ready = this.in.nextReady = true;
  }

  evaluate(cycle: number): void {
    if (this.trains) {
      this.runPump();
      return;
    }
    const fifo = this.fifo;
    const out = this.out;
    const inCh = this.in;
    fifo.sync(cycle - 1);
    const rd = out.valid && out.ready;
    if (rd) {
      if (this.state === STATE_HEADER) this.verdicts.shift();
      this.state = out.beat === out.packet!.beats - 1 ? STATE_HEADER : STATE_IN_PACKET;
    }
    const wr = inCh.valid && inCh.ready;
    if (wr) {
      const p = inCh.packet!;
      const headerBeat = Math.min(this.params.headerBeats, p.beats) - 1;
      if (inCh.beat === headerBeat) {
        // The parser has the bytes it needs: decide now, release the head after the lookup.
        this.classify(p);
        this.verdicts.push(p, cycle + 1 + this.params.lookupLatencyCycles);
      }
    }
    if (wr || rd) fifo.clockAt(cycle, wr, inCh.packet, inCh.beat, rd);
    else fifo.sync(cycle);
    inCh.setReady(!fifo.nearlyFull());
    if (fifo.empty()) {
      out.release();
      return;
    }
    const p = fifo.doutPacket();
    const beat = fifo.doutBeat();
    if (this.state === STATE_HEADER && (this.verdicts.length === 0 || this.verdicts.peek() !== p || this.verdicts.peekTime() > cycle + 1)) {
      out.release();
      return;
    }
    out.drive(p, beat);
  }

  commit(cycle: number): number {
    // Trains: the next header to classify (the heap keeps one wake-up a module).
    if (this.trains) return this.headers.peekTime();
    let wake = this.fifo.nextChangeCycle() - 1;
    // Not offering the head for the next cycle yet (what evaluate drove): wake when its verdict is ready.
    if (this.state === STATE_HEADER && this.verdicts.length > 0 && !this.out.nextValid) {
      const t = this.verdicts.peekTime() - 1;
      if (t < wake) wake = t;
    }
    return wake <= cycle ? cycle + 1 : wake;
  }

  // --- Trains: the input FIFO as a timeline (as nic_output_port_lookup). A packet is
  // classified in the cycle its last header beat is written, as the per-cycle model does,
  // with the tables as they are then: the module wakes in that cycle for it, and posts
  // the packet's first beat only after (from its verdict cycle), so the output queues see
  // the verdict when they take the beat. Other beats leave from the cycle they reach dout.

  private timeline: FallthroughFifoTimeline | null = null;
  /** Packets whose last header beat is posted, keyed by its cycle: classified then. */
  private readonly headers = new TimedRing<Packet>();

  override canRunTrains(): boolean {
    return true;
  }

  override startTrains(): void {
    this.timeline = FallthroughFifoTimeline.of(this.fifo);
  }

  override trainPosted(): void {
    this.runPump();
  }

  override trainAcceptable(): void {
    this.runPump();
  }

  override trainAccept(_ch: AxisChannel, index: number, offerCycle: number): number {
    return this.timeline!.writeCycle(index, offerCycle);
  }

  override trainHorizon(): number {
    const tl = this.timeline!;
    const verdictAfterHeader = 1 + this.params.lookupLatencyCycles;
    let h: number;
    if (tl.read < tl.written) {
      h = tl.headDoutCycle();
      if (this.state === STATE_HEADER) {
        const p = tl.headPacket();
        let verdict: number;
        if (this.verdicts.length > 0 && this.verdicts.peek() === p) verdict = this.verdicts.peekTime();
        else if (this.headers.length > 0 && this.headers.peek() === p) verdict = this.headers.peekTime() + verdictAfterHeader;
        else verdict = this.in.producer!.trainHorizon(this.in) + verdictAfterHeader;
        if (verdict > h) h = verdict;
      }
    } else {
      const from = this.in.producer!.trainHorizon(this.in);
      // Through the FIFO (written, out of memory, on dout) at the earliest; a packet's first beat also waits for its verdict.
      h = from + (this.state === STATE_HEADER && verdictAfterHeader > 3 ? verdictAfterHeader : 3);
    }
    if (h <= this.out.lastPostedCycle) h = this.out.lastPostedCycle + 1;
    return h;
  }

  protected override pump(): void {
    const tl = this.timeline!;
    const inCh = this.in;
    const out = this.out;
    const sim = this.sim!;
    const headerBeats = this.params.headerBeats;
    while (inCh.postCount > 0) {
      const p = inCh.peekPacket();
      const beat = inCh.peekBeat();
      const h = inCh.peekCycle();
      tl.write(h, p, beat);
      if (beat === (headerBeats < p.beats ? headerBeats : p.beats) - 1) this.headers.push(p, h);
      inCh.shiftPost();
    }
    // Classify in the header's own cycle (an evaluation then), with the tables of that cycle.
    if (sim.isStepping) {
      const now = sim.now;
      while (this.headers.length > 0 && this.headers.peekTime() <= now) {
        const at = this.headers.peekTime();
        if (at < now) throw new Error(`${this.name}: header of cycle ${at} classified late (${now})`);
        const p = this.headers.shift();
        this.classify(p);
        this.verdicts.push(p, at + 1 + this.params.lookupLatencyCycles);
      }
    }
    while (tl.read < tl.written) {
      const p = tl.headPacket();
      let offer = tl.headDoutCycle();
      if (this.state === STATE_HEADER) {
        // The first beat waits for its verdict (not classified yet: its header cycle comes later).
        if (this.verdicts.length === 0 || this.verdicts.peek() !== p) break;
        const v = this.verdicts.peekTime();
        if (v > offer) offer = v;
      }
      const h = out.answered(out.consumer!.trainAccept(out, out.posted, out.offerFrom(offer), out.afterLast));
      if (h < 0) break;
      const beat = tl.headBeat();
      out.post(p, beat, h);
      tl.readHead(h);
      if (this.state === STATE_HEADER) this.verdicts.shift();
      this.state = beat === p.beats - 1 ? STATE_HEADER : STATE_IN_PACKET;
    }
    if (out.takePostsUnseen()) out.consumer!.trainPosted(out);
    tl.forgetBefore(sim.settledCycle());
    if (inCh.takeProducerWaiting()) inCh.producer!.trainAcceptable(inCh);
    if (this.headers.length > 0) this.wakeAt(this.headers.peekTime());
  }

  /** Writes the verdict of packet `p` into its sideband. */
  private classify(p: Packet): void {
    const counters = this.counters;
    counters.add(this.cPackets, 1);
    if ((p.flags & FLAG_FROM_FATRIOT) !== 0) return;
    const parser = this.parser;
    const kind = parser.parse(p.data, p.length);
    const fromWire = (p.srcPort & WIRE_SRC_MASK) !== 0;
    const relayIp = this.nicConfig.get(0, this.fRelayIp);
    if (kind === PacketKind.Arp) {
      if (relayIp !== 0 && parser.arpTargetIp === relayIp) p.dstPort = DST_FAILSAFE_HANDLER;
      return;
    }
    if (kind === PacketKind.Malformed) {
      counters.add(this.cParseErrors, 1);
      return;
    }
    if (kind === PacketKind.Ipv6 || kind === PacketKind.OtherEthertype) {
      counters.add(this.cNotIpv4, 1);
      return;
    }
    const dstIp = parser.dstIp;
    if (relayIp !== 0 && dstIp === relayIp) {
      if (fromWire) {
        p.dstPort = DST_FAILSAFE_HANDLER;
      } else if (kind === PacketKind.Ipv4Udp || (kind === PacketKind.Ipv4Icmp && parser.icmpType === ICMP_ECHO_REPLY)) {
        p.dstPort = DST_HEARTBEAT_MANAGER;
      }
      return;
    }
    if (fromWire && kind === PacketKind.Ipv4Udp) {
      const announcePort = this.nicConfig.get(0, this.fAnnouncePort);
      if (announcePort !== 0 && parser.dstPort === announcePort) {
        p.dstPort = DST_NEIGHBOR_DISCOVERY;
        return;
      }
    }
    // Non-first fragments carry no ports: they match only ICMP-style (port 0) signatures.
    const proto = parser.ipProto;
    const port = kind === PacketKind.Ipv4Udp || kind === PacketKind.Ipv4Tcp ? parser.dstPort : 0;
    const entry = this.lookup(dstIp, proto, port);
    if (entry < 0) return;
    counters.add(this.cHits, 1);
    const t = this.targetTable;
    const svc = t.get(entry, this.fServiceId);
    p.serviceId = svc;
    p.critical = t.get(entry, this.fCritical);
    if (p.critical !== 0 && fromWire && this.failsafeActive.value[svc] === 1) p.dstPort = DST_FAILSAFE_HANDLER;
  }

  /** Target-table entry for a signature, or -1. */
  private lookup(dstIp: number, proto: number, port: number): number {
    const t = this.targetTable;
    if (this.indexVersion !== t.version) this.rebuildIndex();
    const slots = this.indexSlots;
    const mask = this.indexMask;
    for (let h = hashSignature(dstIp, proto, port) & mask, n = 0; n <= mask; h = (h + 1) & mask, n++) {
      const e = slots[h]!;
      if (e < 0) return -1;
      if (t.get(e, this.fDstIp) === dstIp && t.get(e, this.fProto) === proto && this.signaturePort(e) === port) return e;
    }
    return -1;
  }

  private rebuildIndex(): void {
    const t = this.targetTable;
    const slots = this.indexSlots;
    const mask = this.indexMask;
    slots.fill(-1);
    for (let e = 0; e < t.depth; e++) {
      if (t.get(e, this.fValid) === 0) continue;
      let h = hashSignature(t.get(e, this.fDstIp), t.get(e, this.fProto), this.signaturePort(e)) & mask;
      while (slots[h]! >= 0) h = (h + 1) & mask;
      slots[h] = e;
    }
    this.indexVersion = t.version;
  }

  /** ICMP and protocols without ports match on (dst IP, protocol) alone: their port is 0. */
  private signaturePort(e: number): number {
    const proto = this.targetTable.get(e, this.fProto);
    return proto === IP_PROTO_UDP || proto === IP_PROTO_TCP ? this.targetTable.get(e, this.fDstPort) : 0;
  }

  override traceSignals(): TraceSignal[] {
    return [
      { name: 'state', width: 1, read: () => this.state },
      { name: 'fifo_level', width: 8, read: () => this.fifo.occupancy() },
    ];
  }
}

function hashSignature(ip: number, proto: number, port: number): number {
  let h = Math.imul(ip ^ 0x9e3779b9, 0x85ebca6b);
  h ^= Math.imul((proto << 16) | port, 0xc2b2ae35);
  h ^= h >>> 15;
  return h >>> 0;
}
