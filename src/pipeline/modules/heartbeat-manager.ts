/**
 * The Fatriot heartbeat manager (papers/fatriot.txt section 3.4, Fig. 5; SPEC 3 item 3).
 *
 * A table of entries <target, message, interval, threshold> (hw/netfpga-spec
 * fatriot-register-map.json `heartbeatTable`, message bytes in `heartbeatPayload`).
 * Per valid entry the manager
 * 1. learns RTT_avg: one heartbeat every interval until `learnSamples` replies came
 *    back (0 counts as 1); RTT_avg = floor(sum / n) cycles, as an integer divider
 *    would give, and stays fixed until the host rewrites the entry (an EWMA that
 *    follows slow drift would be a one-line change in `sample`; it is not enabled
 *    because it would also learn a slowly growing fault as normal). While learning
 *    there are no verdicts and no timeouts; a learning heartbeat still unanswered at
 *    the next slot is abandoned and counts for nothing;
 * 2. then sends one heartbeat every interval, measures RTT_last and compares
 *    RTT_last / RTT_avg with the threshold exactly, in integers:
 *    RTT_last x 1000 > thresholdMilli x RTT_avg puts the entry in fail-safe, a later
 *    reply at or under the threshold takes it out;
 * 3. times out a heartbeat with no reply after T = ceil(RTT_avg x thresholdMilli / 1000)
 *    cycles ("the timeout duration is inherently the product of the average RTT and
 *    the threshold", 3.4): the timer fires in cycle send + T, unless a matching
 *    reply's first beat arrives in that very cycle (that reply, RTT = T, decides
 *    instead). Any reply later than T has RTT_last > RTT_avg x threshold, so the
 *    timeout only anticipates the verdict the ratio would give. A reply that arrives
 *    after its timeout (before the next heartbeat leaves) is still a sample, a
 *    second one of the same heartbeat: RTT > T, so fail-safe stays on.
 *
 * Only one heartbeat per entry is outstanding. A slot that comes while the previous
 * monitoring heartbeat still awaits its reply or timeout (only when T exceeds the
 * interval) is held and the heartbeat leaves as soon as the verdict is in. A slot that
 * comes while the previous heartbeat of the entry has not even left (tx backpressure)
 * is skipped and counted as drop.heartbeatTxFull.
 *
 * Kinds (heartbeatTable.kind):
 * - host: ICMP echo to the host OS / hypervisor (targetIp, or nicConfig.hostIp when
 *   targetIp is 0). Its failure puts every registered service in fail-safe (3.4: "the
 *   fail-safe mode is automatically activated for all registered services"); the
 *   registered services are the service IDs of every valid heartbeat entry, the host
 *   entries' own included;
 * - icmp: ICMP echo to the service VM;
 * - udp: a UDP datagram to targetIp:udpPort carrying the payload bytes;
 * - raw: the user-defined message of Fig. 5 (e.g. a request that makes the service
 *   answer with an error message, 3.4): the payload bytes as the UDP payload to
 *   targetIp:udpPort, exactly as udp; the kinds differ only in how the control plane
 *   shows them. A whole user-built frame is not supported: its reply could not be
 *   matched.
 * ICMP echo data is the payload bytes as well (none when payloadLength is 0).
 *
 * Heartbeats are real packets from the pool: Ethernet from nicConfig.nicMac to
 * targetMac (broadcast when targetMac is 0: the host stack accepts a unicast IP in an
 * L2 broadcast), IPv4 from nicConfig.relayIp, TTL 64, DF, IPv4 ident = sequence.
 * ICMP identifier and UDP source port are HEARTBEAT_PORT_BASE + entry, so the
 * classifier can route replies here and the manager can tell entries apart (keep the
 * relay port range of nicConfig clear of them); ICMP sequence counts per entry. A reply
 * matches when it comes from the entry's targetIp (ICMP echo reply with the entry's
 * identifier and current sequence; UDP from udpPort to the entry's port, which carries
 * no sequence) while its heartbeat is outstanding or late; anything else is counted in
 * `unmatchedReplies` and released.
 * tuser: srcPort = srcForHostEgress(dmaPort) (the lookup sends it to the host),
 * flags = FLAG_FROM_HEARTBEAT, serviceId = the entry's. The send time is the cycle
 * the first beat is accepted on `tx`; a reply's time is the cycle its first beat
 * arrives on `rx` (RTT = the difference, no other pipeline latency). The model reads
 * the reply's header bytes in that first cycle; RTL would see the ICMP identifier
 * one beat later, which changes when a bit flips by a cycle but no verdict.
 *
 * Fail-safe per service ID s (failsafeMode entry s):
 *   mode on -> 1 (forced), mode off -> 0, auto (or the unused code 3) ->
 *   (a non-host entry of s is in fail-safe) OR (s is registered AND a host entry is in fail-safe).
 * It is driven on `failsafeActive` (set in evaluate, latched in commit) and written to
 * failsafeMode.active and to heartbeatTable.failsafeActive of every entry of s.
 *
 * Host writes: a changed heartbeatTable or heartbeatPayload entry restarts that entry
 * (learning, status cleared, first heartbeat leaves one cycle after the write is
 * visible); a nicConfig change that moves hostIp restarts the host entries that follow
 * it; a failsafeMode write takes effect in the cycle it becomes visible. The manager
 * wakes itself there through the tables' write listeners; between heartbeats it sleeps
 * until its next timer, so an 80 M-cycle interval costs a handful of evaluated cycles.
 */
import { counterIndex, enumValue } from '../regs/register-map.ts';
import type { CounterBank, TableMemory } from '../regs/table-memory.ts';
import type { AxisChannel } from '../sim/channel.ts';
import { ClockedModule, IDLE, type TraceSignal } from '../sim/module.ts';
import type { Packet, PacketPool } from '../sim/packet.ts';
import type { RegisteredVector } from '../sim/registered-vector.ts';
import { EthernetView, EtherType, ETHERNET_HEADER_LEN, ETHERNET_MIN_FRAME_LEN } from '../wire/ethernet.ts';
import { IcmpType, IcmpView, ICMP_HEADER_LEN } from '../wire/icmp.ts';
import { IpProtocol, Ipv4View, IPV4_HEADER_LEN } from '../wire/ipv4.ts';
import { HeaderParser, PacketKind } from '../wire/parse.ts';
import { UdpView, UDP_HEADER_LEN } from '../wire/udp.ts';
import { FLAG_FROM_HEARTBEAT, srcForHostEgress, type NicEvent, type NicEventSink } from './fatriot-tuser.ts';

/** ICMP identifier and UDP source port of heartbeat entry e: HEARTBEAT_PORT_BASE + e. */
export const HEARTBEAT_PORT_BASE = 0xf000;

export function heartbeatSourcePort(entry: number): number {
  return HEARTBEAT_PORT_BASE + entry;
}

/** Entry index of a heartbeat ICMP identifier or UDP port, or -1 outside the range of `depth` entries. */
export function heartbeatEntryOfPort(port: number, depth: number): number {
  const e = port - HEARTBEAT_PORT_BASE;
  return e >= 0 && e < depth ? e : -1;
}

export interface HeartbeatRegisters {
  heartbeatTable: TableMemory;
  heartbeatPayload: TableMemory;
  failsafeMode: TableMemory;
  nicConfig: TableMemory;
}

export interface HeartbeatManagerOptions {
  /** DMA virtual port of the host the heartbeats go to (default 0: dma0). */
  dmaPort?: number;
}

/** Where an entry's heartbeat is on the tx side. */
const TX_IDLE = 0;
const TX_QUEUED = 1;
const TX_OFFERING = 2;

const PHASE_LEARNING = 0;
const PHASE_MONITORING = 1;

const MAX_U32 = 0xffffffff;

export class HeartbeatManager extends ClockedModule {
  /** Runs among train-running cores through a TrainBridge (it keeps the AXI4-Stream rules). */
  override readonly bridgesTrains = true;

  /** Its input is consumed at once: tready is high in every cycle. */
  override bridgeInputAlwaysReady(): boolean {
    return true;
  }
  readonly depth: number;
  /** Replies on rx that matched no outstanding heartbeat (stale, wrong sequence, unknown port). */
  unmatchedReplies = 0;

  private readonly rx: AxisChannel;
  private readonly tx: AxisChannel;
  private readonly pool: PacketPool;
  private readonly hb: TableMemory;
  private readonly payload: TableMemory;
  private readonly mode: TableMemory;
  private readonly nic: TableMemory;
  private readonly counters: CounterBank;
  private readonly failsafeActive: RegisteredVector;
  private readonly events: NicEventSink | null;
  private readonly srcPort: number;
  readonly coreHz: number;

  // Field indices, resolved once.
  private readonly fServiceId: number;
  private readonly fKind: number;
  private readonly fValid: number;
  private readonly fTargetIp: number;
  private readonly fTargetMacLo: number;
  private readonly fTargetMacHi: number;
  private readonly fUdpPort: number;
  private readonly fInterval: number;
  private readonly fThreshold: number;
  private readonly fLearn: number;
  private readonly fPayloadLength: number;
  private readonly fRttAvg: number;
  private readonly fRttLast: number;
  private readonly fSamples: number;
  private readonly fState: number;
  private readonly fEntryFailsafe: number;
  private readonly fRatio: number;
  private readonly fLastSample: number;
  private readonly fMode: number;
  private readonly fModeActive: number;
  private readonly fRelayIp: number;
  private readonly fNicMacLo: number;
  private readonly fNicMacHi: number;
  private readonly fHostIp: number;

  private readonly kindHost: number;
  private readonly kindIcmp: number;
  private readonly stateLearning: number;
  private readonly stateNormal: number;
  private readonly stateFailsafe: number;
  private readonly modeOn: number;
  private readonly modeOff: number;

  private readonly cSent: number;
  private readonly cReplies: number;
  private readonly cTimeouts: number;
  private readonly cActivations: number;
  private readonly cDeactivations: number;
  private readonly cTxFull: number;

  // Versions last seen (-1: never), so host writes are picked up once.
  private readonly seenEntryVersion: Float64Array;
  private readonly seenPayloadVersion: Float64Array;
  private seenHbVersion = -1;
  private seenPayloadTableVersion = -1;
  private seenModeVersion = -1;
  private seenNicVersion = -1;

  // Per entry: configuration cached at (re)start, and the state registers.
  private readonly active: Uint8Array;
  private readonly kind: Uint8Array;
  private readonly serviceOf: Uint16Array;
  private readonly intervalCycles: Float64Array;
  private readonly thresholdMilli: Float64Array;
  private readonly learnTarget: Float64Array;
  /** Target IPv4 as configured (0 for a host entry that follows nicConfig.hostIp). */
  private readonly configuredIp: Float64Array;
  /** Target IPv4 heartbeats go to and replies must come from. */
  private readonly targetIp: Float64Array;
  private readonly udpPort: Uint16Array;
  private readonly phase: Uint8Array;
  /** Bumped on every restart, so a heartbeat built before it is not measured. */
  private readonly gen: Uint32Array;
  private readonly seq: Uint16Array;
  private readonly dueAt: Float64Array;
  private readonly sendDue: Uint8Array;
  private readonly txState: Uint8Array;
  private readonly outstanding: Uint8Array;
  /** A timed-out heartbeat whose late reply still counts (until the next one leaves). */
  private readonly lateEligible: Uint8Array;
  private readonly sendCycle: Float64Array;
  private readonly deadline: Float64Array;
  private readonly learnSum: Float64Array;
  private readonly learnCount: Float64Array;
  private readonly rttAvg: Float64Array;
  private readonly timeoutCycles: Float64Array;
  private readonly samples: Float64Array;
  private readonly verdict: Uint8Array;

  // Per service ID.
  private readonly services: number;
  private readonly effective: Uint8Array;
  private readonly ownVerdict: Uint8Array;
  private readonly registered: Uint8Array;
  private verdictDirty = false;
  private configChanged = false;

  // tx: a queue of entry indices, at most one place per entry; the packet on offer.
  private readonly txQueue: Int16Array;
  private txHead = 0;
  private txCount = 0;
  private offer: Packet | null = null;
  private offerEntry = -1;
  private offerGen = 0;
  private offerBeat = 0;
  /** Beats of `offer`, kept here: a consumer may free it in the cycle its last beat moves (see DualQueue.mirrorBeats). */
  private offerBeats = 0;

  private readonly parser = new HeaderParser();
  private readonly eth = new EthernetView();
  private readonly ip = new Ipv4View();
  private readonly icmp = new IcmpView();
  private readonly udp = new UdpView();

  constructor(
    name: string,
    rx: AxisChannel,
    tx: AxisChannel,
    pool: PacketPool,
    regs: HeartbeatRegisters,
    counters: CounterBank,
    failsafeActive: RegisteredVector,
    coreHz: number,
    events: NicEventSink | null,
    options: HeartbeatManagerOptions = {},
  ) {
    super(name);
    this.rx = this.input(rx);
    this.tx = this.output(tx);
    this.pool = pool;
    this.hb = regs.heartbeatTable;
    this.payload = regs.heartbeatPayload;
    this.mode = regs.failsafeMode;
    this.nic = regs.nicConfig;
    this.counters = counters;
    this.failsafeActive = failsafeActive;
    this.coreHz = coreHz;
    this.events = events;
    this.srcPort = srcForHostEgress(options.dmaPort ?? 0);
    if (this.payload.depth < this.hb.depth) throw new RangeError('heartbeatPayload has fewer entries than heartbeatTable');
    if (failsafeActive.value.length !== this.mode.depth) {
      throw new RangeError(`failsafeActive has ${failsafeActive.value.length} bits, failsafeMode ${this.mode.depth} entries`);
    }

    const hb = this.hb;
    this.fServiceId = hb.fieldIndex('serviceId');
    this.fKind = hb.fieldIndex('kind');
    this.fValid = hb.fieldIndex('valid');
    this.fTargetIp = hb.fieldIndex('targetIp');
    this.fTargetMacLo = hb.fieldIndex('targetMacLo');
    this.fTargetMacHi = hb.fieldIndex('targetMacHi');
    this.fUdpPort = hb.fieldIndex('udpPort');
    this.fInterval = hb.fieldIndex('intervalCycles');
    this.fThreshold = hb.fieldIndex('thresholdMilli');
    this.fLearn = hb.fieldIndex('learnSamples');
    this.fPayloadLength = hb.fieldIndex('payloadLength');
    this.fRttAvg = hb.fieldIndex('rttAvgCycles');
    this.fRttLast = hb.fieldIndex('rttLastCycles');
    this.fSamples = hb.fieldIndex('samples');
    this.fState = hb.fieldIndex('state');
    this.fEntryFailsafe = hb.fieldIndex('failsafeActive');
    this.fRatio = hb.fieldIndex('ratioMilli');
    this.fLastSample = hb.fieldIndex('lastSampleCycle');
    this.fMode = this.mode.fieldIndex('mode');
    this.fModeActive = this.mode.fieldIndex('active');
    this.fRelayIp = this.nic.fieldIndex('relayIp');
    this.fNicMacLo = this.nic.fieldIndex('nicMacLo');
    this.fNicMacHi = this.nic.fieldIndex('nicMacHi');
    this.fHostIp = this.nic.fieldIndex('hostIp');

    this.kindHost = enumValue(hb.spec, 'kind', 'host');
    this.kindIcmp = enumValue(hb.spec, 'kind', 'icmp');
    this.stateLearning = enumValue(hb.spec, 'state', 'learning');
    this.stateNormal = enumValue(hb.spec, 'state', 'normal');
    this.stateFailsafe = enumValue(hb.spec, 'state', 'failsafe');
    this.modeOn = enumValue(this.mode.spec, 'mode', 'on');
    this.modeOff = enumValue(this.mode.spec, 'mode', 'off');

    this.cSent = counterIndex('event.heartbeatsSent');
    this.cReplies = counterIndex('event.heartbeatReplies');
    this.cTimeouts = counterIndex('event.heartbeatTimeouts');
    this.cActivations = counterIndex('event.failsafeActivations');
    this.cDeactivations = counterIndex('event.failsafeDeactivations');
    this.cTxFull = counterIndex('drop.heartbeatTxFull');

    const n = hb.depth;
    this.depth = n;
    this.seenEntryVersion = new Float64Array(n).fill(-1);
    this.seenPayloadVersion = new Float64Array(n).fill(-1);
    this.active = new Uint8Array(n);
    this.kind = new Uint8Array(n);
    this.serviceOf = new Uint16Array(n);
    this.intervalCycles = new Float64Array(n);
    this.thresholdMilli = new Float64Array(n);
    this.learnTarget = new Float64Array(n);
    this.configuredIp = new Float64Array(n);
    this.targetIp = new Float64Array(n);
    this.udpPort = new Uint16Array(n);
    this.phase = new Uint8Array(n);
    this.gen = new Uint32Array(n);
    this.seq = new Uint16Array(n);
    this.dueAt = new Float64Array(n).fill(IDLE);
    this.sendDue = new Uint8Array(n);
    this.txState = new Uint8Array(n);
    this.outstanding = new Uint8Array(n);
    this.lateEligible = new Uint8Array(n);
    this.sendCycle = new Float64Array(n);
    this.deadline = new Float64Array(n).fill(IDLE);
    this.learnSum = new Float64Array(n);
    this.learnCount = new Float64Array(n);
    this.rttAvg = new Float64Array(n);
    this.timeoutCycles = new Float64Array(n);
    this.samples = new Float64Array(n);
    this.verdict = new Uint8Array(n);
    this.txQueue = new Int16Array(n);

    this.services = this.mode.depth;
    this.effective = new Uint8Array(this.services);
    this.ownVerdict = new Uint8Array(this.services);
    this.registered = new Uint8Array(this.services);

    this.hb.onHostWrite(this.onTableWrite);
    this.payload.onHostWrite(this.onTableWrite);
    this.mode.onHostWrite(this.onTableWrite);
    this.nic.onHostWrite(this.onTableWrite);
  }

  private readonly onTableWrite = (_entry: number, visibleCycle: number): void => {
    this.wakeAt(visibleCycle);
  };

  override reset(): void {
    // Replies are consumed at once (a heartbeat reply is rare and short).
    this.rx.ready = this.rx.nextReady = true;
  }

  evaluate(cycle: number): void {
    this.configChanged = false;
    this.applyHostWrites(cycle);
    this.advanceTx(cycle);
    this.receive(cycle);
    this.fireTimeouts(cycle);
    this.startDueHeartbeats(cycle);
    this.driveTx(cycle);
    if (this.verdictDirty) this.updateFailsafe(cycle);
  }

  commit(cycle: number): number {
    this.failsafeActive.commit();
    let next = IDLE;
    for (let e = 0; e < this.depth; e++) {
      if (this.active[e] === 0) continue;
      // Offer the heartbeat one cycle ahead, so its first beat is accepted in the slot.
      const drive = this.dueAt[e]! - 1;
      if (drive < next) next = drive;
      if (this.outstanding[e] === 1 && this.phase[e] === PHASE_MONITORING && this.deadline[e]! < next) next = this.deadline[e]!;
    }
    return next <= cycle ? cycle + 1 : next;
  }

  override traceSignals(): TraceSignal[] {
    return [
      { name: 'tx_queue', width: 8, read: () => this.txCount },
      {
        name: 'outstanding',
        width: 8,
        read: () => {
          let k = 0;
          for (let e = 0; e < this.depth; e++) k += this.outstanding[e]!;
          return k;
        },
      },
    ];
  }

  /** Timeout T of an entry in cycles (0 while learning): ceil(RTT_avg x thresholdMilli / 1000). */
  timeoutCyclesOf(entry: number): number {
    return this.timeoutCycles[entry]!;
  }

  // ---- host writes -------------------------------------------------------

  private applyHostWrites(cycle: number): void {
    const hb = this.hb;
    const pl = this.payload;
    if (hb.version !== this.seenHbVersion || pl.version !== this.seenPayloadTableVersion) {
      this.seenHbVersion = hb.version;
      this.seenPayloadTableVersion = pl.version;
      for (let e = 0; e < this.depth; e++) {
        const v = hb.entryVersion[e]!;
        const pv = pl.entryVersion[e]!;
        if (v !== this.seenEntryVersion[e] || pv !== this.seenPayloadVersion[e]) {
          this.seenEntryVersion[e] = v;
          this.seenPayloadVersion[e] = pv;
          this.restart(e, cycle);
        }
      }
    }
    if (this.nic.version !== this.seenNicVersion) {
      this.seenNicVersion = this.nic.version;
      const hostIp = this.nic.get(0, this.fHostIp);
      for (let e = 0; e < this.depth; e++) {
        if (this.active[e] === 1 && this.kind[e] === this.kindHost && this.configuredIp[e] === 0 && this.targetIp[e] !== hostIp) {
          this.restart(e, cycle);
        }
      }
    }
    if (this.mode.version !== this.seenModeVersion) {
      this.seenModeVersion = this.mode.version;
      this.verdictDirty = true;
      this.configChanged = true;
    }
  }

  /** (Re)starts entry e from its table contents: learning, status cleared. */
  private restart(e: number, cycle: number): void {
    const hb = this.hb;
    this.gen[e] = (this.gen[e]! + 1) >>> 0;
    const interval = hb.get(e, this.fInterval);
    const on = hb.get(e, this.fValid) === 1 && interval > 0;
    this.active[e] = on ? 1 : 0;
    this.kind[e] = hb.get(e, this.fKind);
    this.serviceOf[e] = hb.get(e, this.fServiceId);
    this.intervalCycles[e] = interval;
    this.thresholdMilli[e] = hb.get(e, this.fThreshold);
    this.learnTarget[e] = Math.max(1, hb.get(e, this.fLearn));
    const ip = hb.get(e, this.fTargetIp);
    this.configuredIp[e] = ip;
    this.targetIp[e] = ip === 0 && this.kind[e] === this.kindHost ? this.nic.get(0, this.fHostIp) : ip;
    this.udpPort[e] = hb.get(e, this.fUdpPort);
    this.phase[e] = PHASE_LEARNING;
    this.outstanding[e] = 0;
    this.lateEligible[e] = 0;
    this.sendDue[e] = 0;
    this.deadline[e] = IDLE;
    this.learnSum[e] = 0;
    this.learnCount[e] = 0;
    this.rttAvg[e] = 0;
    this.timeoutCycles[e] = 0;
    this.samples[e] = 0;
    this.verdict[e] = 0;
    hb.set(e, this.fRttAvg, 0);
    hb.set(e, this.fRttLast, 0);
    hb.set(e, this.fSamples, 0);
    hb.set(e, this.fState, this.stateLearning);
    hb.set(e, this.fRatio, 0);
    hb.set(e, this.fLastSample, 0);
    hb.set(e, this.fEntryFailsafe, 0);
    if (!on) this.dueAt[e] = IDLE;
    else if (this.txState[e] === TX_IDLE) this.dueAt[e] = cycle + 1;
    else {
      // A queued heartbeat is built when it reaches the head, so it already uses the new
      // configuration; one on offer was built before and is not measured: the first
      // heartbeat of the new configuration follows it.
      if (this.txState[e] === TX_OFFERING) this.sendDue[e] = 1;
      this.dueAt[e] = cycle + 1 + interval;
    }
    this.verdictDirty = true;
    this.configChanged = true;
  }

  // ---- tx ----------------------------------------------------------------

  private advanceTx(cycle: number): void {
    const tx = this.tx;
    if (!(tx.valid && tx.ready)) return;
    const e = this.offerEntry;
    const current = this.gen[e] === this.offerGen && this.active[e] === 1;
    if (this.offerBeat === 0 && current) {
      // Fatriot 3.4: RTT is measured from the heartbeat's departure.
      this.sendCycle[e] = cycle;
      this.outstanding[e] = 1;
      this.lateEligible[e] = 0;
      this.deadline[e] = this.phase[e] === PHASE_MONITORING ? cycle + this.timeoutCycles[e]! : IDLE;
      this.counters.values[this.cSent]!++;
    }
    if (++this.offerBeat === this.offerBeats) {
      // The last beat hands the packet to the consumer.
      this.offer = null;
      this.offerEntry = -1;
      this.txState[e] = TX_IDLE;
      if (this.sendDue[e] === 1 && !current) {
        this.sendDue[e] = 0;
        this.requestSend(e, false);
      }
    }
  }

  private startDueHeartbeats(cycle: number): void {
    for (let e = 0; e < this.depth; e++) {
      if (this.active[e] === 0 || this.dueAt[e]! > cycle + 1) continue;
      let due = this.dueAt[e]! + this.intervalCycles[e]!;
      if (due <= cycle + 1) due = cycle + 1 + this.intervalCycles[e]!;
      this.dueAt[e] = due;
      this.requestSend(e, true);
    }
  }

  /** A heartbeat for entry e should leave now (a slot came, or what held it is resolved). */
  private requestSend(e: number, atSlot: boolean): void {
    if (this.txState[e] !== TX_IDLE) {
      if (this.sendDue[e] === 1) return;
      // The previous heartbeat of this entry has not left yet (tx backpressure).
      if (atSlot) this.counters.values[this.cTxFull]!++;
      return;
    }
    if (this.outstanding[e] === 1) {
      if (this.phase[e] === PHASE_MONITORING) {
        this.sendDue[e] = 1;
        return;
      }
      // Learning has no timeout: an unanswered learning heartbeat is given up.
      this.outstanding[e] = 0;
    }
    this.sendDue[e] = 0;
    this.txState[e] = TX_QUEUED;
    this.txQueue[(this.txHead + this.txCount) % this.depth] = e;
    this.txCount++;
  }

  private driveTx(cycle: number): void {
    while (this.offer === null && this.txCount > 0) {
      const e = this.txQueue[this.txHead]!;
      this.txHead = (this.txHead + 1) % this.depth;
      this.txCount--;
      if (this.active[e] === 0) {
        this.txState[e] = TX_IDLE;
        continue;
      }
      this.offer = this.buildHeartbeat(e, cycle);
      this.offerBeats = this.offer.beats;
      this.offerEntry = e;
      this.offerGen = this.gen[e]!;
      this.offerBeat = 0;
      this.txState[e] = TX_OFFERING;
    }
    if (this.offer === null) this.tx.release();
    else this.tx.drive(this.offer, this.offerBeat);
  }

  private buildHeartbeat(e: number, cycle: number): Packet {
    const hb = this.hb;
    const nic = this.nic;
    const isIcmp = this.kind[e] === this.kindHost || this.kind[e] === this.kindIcmp;
    const payloadLength = Math.min(hb.get(e, this.fPayloadLength), this.payload.wordsPerEntry * 4);
    const l4Length = (isIcmp ? ICMP_HEADER_LEN : UDP_HEADER_LEN) + payloadLength;
    const ipLength = IPV4_HEADER_LEN + l4Length;
    const length = Math.max(ETHERNET_MIN_FRAME_LEN, ETHERNET_HEADER_LEN + ipLength);
    const p = this.pool.take(length);
    const d = p.data;
    d.fill(0, 0, length);
    const seq = (this.seq[e]! + 1) & 0xffff;
    this.seq[e] = seq;

    const macHi = hb.get(e, this.fTargetMacHi);
    const macLo = hb.get(e, this.fTargetMacLo);
    if (macHi === 0 && macLo === 0) d.fill(0xff, 0, 6);
    else writeMac(d, 0, macHi, macLo);
    writeMac(d, 6, nic.get(0, this.fNicMacHi), nic.get(0, this.fNicMacLo));
    this.eth.reset(d, 0).etherType = EtherType.Ipv4;

    const src = nic.get(0, this.fRelayIp);
    const dst = this.targetIp[e]!;
    const ip = this.ip.reset(d, ETHERNET_HEADER_LEN);
    ip.version = 4;
    ip.ihl = IPV4_HEADER_LEN / 4;
    ip.totalLength = ipLength;
    ip.ident = seq;
    ip.dontFragment = true;
    ip.ttl = 64;
    ip.protocol = isIcmp ? IpProtocol.Icmp : IpProtocol.Udp;
    ip.srcAddr = src;
    ip.dstAddr = dst;
    ip.fillChecksum();

    const l4 = ETHERNET_HEADER_LEN + IPV4_HEADER_LEN;
    const payloadAt = l4 + (isIcmp ? ICMP_HEADER_LEN : UDP_HEADER_LEN);
    const words = this.payload.words;
    const base = e * this.payload.wordsPerEntry;
    // heartbeatPayload: byte i in word i/4, network order within the word.
    for (let i = 0; i < payloadLength; i++) d[payloadAt + i] = (words[base + (i >> 2)]! >>> (24 - 8 * (i & 3))) & 0xff;
    if (isIcmp) {
      const icmp = this.icmp.reset(d, l4);
      icmp.type = IcmpType.EchoRequest;
      icmp.code = 0;
      icmp.identifier = heartbeatSourcePort(e);
      icmp.sequence = seq;
      icmp.fillChecksum(l4Length);
    } else {
      const udp = this.udp.reset(d, l4);
      udp.srcPort = heartbeatSourcePort(e);
      udp.dstPort = this.udpPort[e]!;
      udp.length = l4Length;
      udp.fillChecksum(src, dst);
    }

    p.srcPort = this.srcPort;
    p.flags = FLAG_FROM_HEARTBEAT;
    p.serviceId = this.serviceOf[e]!;
    p.ingressCycle = cycle + 1;
    p.tag = seq;
    return p;
  }

  // ---- rx ----------------------------------------------------------------

  private receive(cycle: number): void {
    const rx = this.rx;
    if (!(rx.valid && rx.ready)) return;
    const p = rx.packet!;
    if (rx.beat === 0) this.matchReply(p, cycle);
    if (rx.beat >= p.beats - 1) this.pool.release(p);
  }

  private matchReply(p: Packet, cycle: number): void {
    const ps = this.parser;
    const kind = ps.parse(p.data, p.length);
    let e = -1;
    if (kind === PacketKind.Ipv4Icmp && ps.icmpType === IcmpType.EchoReply) {
      e = heartbeatEntryOfPort(ps.icmpId, this.depth);
      if (e >= 0 && (this.kind[e] !== this.kindHost && this.kind[e] !== this.kindIcmp)) e = -1;
      if (e >= 0 && ps.icmpSeq !== this.seq[e]) e = -1;
    } else if (kind === PacketKind.Ipv4Udp) {
      e = heartbeatEntryOfPort(ps.dstPort, this.depth);
      if (e >= 0 && (this.kind[e] === this.kindHost || this.kind[e] === this.kindIcmp || ps.srcPort !== this.udpPort[e])) e = -1;
    }
    if (e < 0 || this.active[e] === 0 || ps.srcIp !== this.targetIp[e] || (this.outstanding[e] === 0 && this.lateEligible[e] === 0)) {
      this.unmatchedReplies++;
      return;
    }
    this.outstanding[e] = 0;
    this.lateEligible[e] = 0;
    this.deadline[e] = IDLE;
    this.counters.values[this.cReplies]!++;
    this.sample(e, cycle - this.sendCycle[e]!, false, cycle);
  }

  private fireTimeouts(cycle: number): void {
    for (let e = 0; e < this.depth; e++) {
      if (this.outstanding[e] === 0 || this.phase[e] !== PHASE_MONITORING || this.deadline[e]! > cycle) continue;
      this.outstanding[e] = 0;
      this.lateEligible[e] = 1;
      this.deadline[e] = IDLE;
      this.counters.values[this.cTimeouts]!++;
      this.sample(e, cycle - this.sendCycle[e]!, true, cycle);
    }
  }

  /** One RTT sample (a reply, or a timeout with rtt = T) of entry e in `cycle`. */
  private sample(e: number, rtt: number, timedOut: boolean, cycle: number): void {
    const hb = this.hb;
    this.samples[e]!++;
    hb.set(e, this.fSamples, Math.min(this.samples[e]!, MAX_U32));
    hb.set(e, this.fRttLast, Math.min(rtt, MAX_U32));
    hb.set(e, this.fLastSample, cycle);
    let ratio = 0;
    if (this.phase[e] === PHASE_LEARNING) {
      this.learnSum[e]! += rtt;
      if (++this.learnCount[e]! >= this.learnTarget[e]!) {
        const avg = Math.max(1, Math.floor(this.learnSum[e]! / this.learnCount[e]!));
        this.rttAvg[e] = avg;
        // Fatriot 3.4: timeout = RTT_avg x threshold, rounded up to whole cycles.
        this.timeoutCycles[e] = Math.ceil((avg * this.thresholdMilli[e]!) / 1000);
        this.phase[e] = PHASE_MONITORING;
        hb.set(e, this.fRttAvg, Math.min(avg, MAX_U32));
        hb.set(e, this.fState, this.stateNormal);
      }
    } else {
      const avg = this.rttAvg[e]!;
      ratio = rtt / avg;
      // Exact in integers: RTT_last / RTT_avg > threshold  <=>  RTT_last x 1000 > thresholdMilli x RTT_avg.
      const over = timedOut || rtt * 1000 > this.thresholdMilli[e]! * avg ? 1 : 0;
      hb.set(e, this.fRatio, Math.min(Math.floor((rtt * 1000) / avg), MAX_U32));
      hb.set(e, this.fState, over === 1 ? this.stateFailsafe : this.stateNormal);
      if (over !== this.verdict[e]) {
        this.verdict[e] = over;
        this.verdictDirty = true;
      }
    }
    this.events?.({
      kind: 'heartbeat',
      serviceId: this.serviceOf[e]!,
      rttCycles: rtt,
      rttAvgCycles: this.rttAvg[e]!,
      ratio,
      timedOut,
      cycle,
    });
    if (this.sendDue[e] === 1) {
      this.sendDue[e] = 0;
      this.requestSend(e, false);
    }
  }

  // ---- fail-safe ---------------------------------------------------------

  private updateFailsafe(cycle: number): void {
    this.verdictDirty = false;
    const own = this.ownVerdict;
    const reg = this.registered;
    own.fill(0);
    reg.fill(0);
    let hostDown = 0;
    for (let e = 0; e < this.depth; e++) {
      if (this.active[e] === 0) continue;
      const s = this.serviceOf[e]!;
      if (s >= this.services) continue;
      reg[s] = 1;
      if (this.kind[e] === this.kindHost) hostDown |= this.verdict[e]!;
      else own[s]! |= this.verdict[e]!;
    }
    const mode = this.mode;
    for (let s = 0; s < this.services; s++) {
      const m = mode.get(s, this.fMode);
      const on = m === this.modeOn ? 1 : m === this.modeOff ? 0 : own[s]! | (reg[s]! & hostDown);
      if (on === this.effective[s]) continue;
      this.effective[s] = on;
      this.failsafeActive.set(s, on);
      this.counters.values[on === 1 ? this.cActivations : this.cDeactivations]!++;
      if (this.events !== null) {
        const cause: Extract<NicEvent, { kind: 'failsafe' }>['cause'] =
          on === 1
            ? m === this.modeOn
              ? 'forced'
              : own[s] === 1
                ? 'heartbeat'
                : 'host'
            : m === this.modeOff || this.configChanged
              ? 'cleared'
              : 'recovered';
        this.events({ kind: 'failsafe', serviceId: s, active: on === 1, cause, cycle });
      }
    }
    // Status is rewritten in full: a host clear of an entry zeroes its status bits too.
    for (let s = 0; s < this.services; s++) mode.set(s, this.fModeActive, this.effective[s]!);
    for (let e = 0; e < this.depth; e++) {
      if (this.active[e] === 1) this.hb.set(e, this.fEntryFailsafe, this.effective[this.serviceOf[e]!]!);
    }
  }
}

function writeMac(buf: Uint8Array, at: number, hi: number, lo: number): void {
  buf[at] = hi >>> 8;
  buf[at + 1] = hi;
  buf[at + 2] = lo >>> 24;
  buf[at + 3] = lo >>> 16;
  buf[at + 4] = lo >>> 8;
  buf[at + 5] = lo;
}
