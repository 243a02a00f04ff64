/**
 * Fatriot's neighbor discovery (papers/fatriot.txt 3.5, last paragraph; SPEC section 3
 * item 5). Fatriot NICs announce, over UDP, which services their host can take, with
 * the capacity and load; each NIC keeps the live backups it hears in the neighbor table,
 * which the fail-safe handler spreads fail-over traffic over. A neighbor entry silent
 * for 3 of its announcer's periods is marked not alive.
 *
 * Announcement (UDP payload, big-endian, our design; the paper gives no format):
 *
 *   offset size field
 *        0    4 magic        0x46544E44 ("FTND")
 *        4    1 version      1
 *        5    1 count        service entries that follow (0..ANNOUNCE_MAX_SERVICES)
 *        6    2 capacity     nicConfig.capacity of the announcer
 *        8    2 load         packets the announcer delivered to its host in its last period
 *       10    2 reserved     0
 *       12    4 intervalUs   the announcer's period in microseconds (0: unknown)
 *       16    4 hostIp       nicConfig.hostIp of the announcer
 *       20  8*n entries      { u16 serviceId, u16 svcPort, u32 svcIp } (svcIp 0: hostIp;
 *                            svcPort 0: the backup serves the port the client used)
 *
 * Frames: broadcast Ethernet from nicMac, IPv4 relayIp -> 255.255.255.255 with TTL 1,
 * UDP announcePort -> announcePort with its checksum, out of each nf port in
 * `announcePorts` (srcForWireEgress, FLAG_FROM_NEIGHBOR), every
 * nicConfig.announceIntervalCycles (0: silent). The services are `options.services`,
 * else the valid target-table entries (serviceId, dstIp, port 0), one per (service, IP);
 * a service whose fail-safe is active here is left out, since this host cannot take it.
 *
 * Reception: an announcement that does not parse (not UDP to announcePort, bad UDP
 * checksum, wrong magic or version, count past the payload) -> drop.announceMalformed.
 * One's own (Ethernet source nicMac) is ignored. Each entry writes neighborTable entry
 * (ip, serviceId): ip, serviceId, alive, valid, capacity, load, lastSeenCycle, svcPort,
 * and mac = the announcing NIC's Ethernet source (not its host's MAC: the fail-safe handler
 * resolves backup MACs by ARP). Service IDs above the table's 8 bits are skipped. A new
 * neighbor takes a free entry, else the not-alive one seen longest ago, else it is not
 * recorded (`neighborsNotRecorded`). Entries of services an announcer no longer lists
 * expire like silent ones. Up and down changes are NicEvents of kind 'neighbor'.
 *
 * Table writes happen in commit(), so the fail-safe handler, which reads the table in
 * evaluate(), sees a change from the next cycle whatever the evaluation order.
 */
import { coreClockHz } from '../../../hw/netfpga-spec/index.ts';
import type { AxisChannel } from '../sim/channel.ts';
import { ClockedModule, IDLE, type TraceSignal } from '../sim/module.ts';
import type { Packet, PacketPool } from '../sim/packet.ts';
import type { RegisteredVector } from '../sim/registered-vector.ts';
import { TimedRing } from '../sim/ring.ts';
import { counterIndex } from '../regs/register-map.ts';
import type { CounterBank, TableMemory } from '../regs/table-memory.ts';
import { readIpv4, readMac48, writeIpv4, writeMac48 } from '../wire/address.ts';
import { ipv4HeaderChecksum, udpChecksum, verifyUdpChecksum } from '../wire/checksum.ts';
import { EtherType } from '../wire/ethernet.ts';
import { HeaderParser, PacketKind } from '../wire/parse.ts';
import { FLAG_FROM_NEIGHBOR, srcForWireEgress, type NicEventSink } from './fatriot-tuser.ts';

export const ANNOUNCE_MAGIC = 0x46544e44;
export const ANNOUNCE_VERSION = 1;
export const ANNOUNCE_HEADER_LEN = 20;
export const ANNOUNCE_ENTRY_LEN = 8;
/** Entries in one announcement: 20 + 128 * 8 bytes stays inside a 1500-byte MTU. */
export const ANNOUNCE_MAX_SERVICES = 128;
/** Silent periods after which a neighbor is no longer alive (SPEC 3 item 5). */
export const NEIGHBOR_SILENT_PERIODS = 3;

const ETH_LEN = 14;
const IP_LEN = 20;
const UDP_LEN = 8;
const PROTO_UDP = 17;

/** A service this NIC's host can take, as announced. */
export interface AnnouncedService {
  serviceId: number;
  /** Host-order IPv4 address of the service on this host; 0 = nicConfig.hostIp. */
  ip?: number;
  /** 0 = the port the client used. */
  port?: number;
}

export interface NeighborDiscoveryRegs {
  nicConfig: TableMemory;
  neighborTable: TableMemory;
  /** Source of the announced services when `options.services` is not given. */
  targetTable?: TableMemory;
}

export interface NeighborDiscoveryOptions {
  /** Core clock, to turn the announced period (us) into cycles. Default hw/netfpga-spec's default. */
  coreHz?: number;
  /** Per service ID: services in fail-safe here are not announced. */
  failsafeActive?: RegisteredVector;
  services?: readonly AnnouncedService[];
  /** nf ports announcements leave by (default all four). */
  announcePorts?: readonly number[];
  /** Counters whose increase over a period is the announced load (default dma0..3.txPackets: packets to the host). */
  loadCounters?: readonly string[];
}

/** A parsed announcement (tests and tools; the module itself parses in place). */
export interface AnnouncementRepr {
  capacity: number;
  load: number;
  intervalUs: number;
  hostIp: number;
  services: { serviceId: number; port: number; ip: number }[];
}

/** Writes an announcement payload at `offset`; returns its length. */
export function emitAnnouncement(a: AnnouncementRepr, buf: Uint8Array, offset = 0): number {
  if (a.services.length > ANNOUNCE_MAX_SERVICES) throw new RangeError(`at most ${ANNOUNCE_MAX_SERVICES} services`);
  const v = new DataView(buf.buffer, buf.byteOffset + offset);
  v.setUint32(0, ANNOUNCE_MAGIC);
  v.setUint8(4, ANNOUNCE_VERSION);
  v.setUint8(5, a.services.length);
  v.setUint16(6, a.capacity);
  v.setUint16(8, a.load);
  v.setUint16(10, 0);
  v.setUint32(12, a.intervalUs);
  v.setUint32(16, a.hostIp);
  a.services.forEach((s, i) => {
    const o = ANNOUNCE_HEADER_LEN + i * ANNOUNCE_ENTRY_LEN;
    v.setUint16(o, s.serviceId);
    v.setUint16(o + 2, s.port);
    v.setUint32(o + 4, s.ip);
  });
  return ANNOUNCE_HEADER_LEN + a.services.length * ANNOUNCE_ENTRY_LEN;
}

/** Parses an announcement payload of `length` bytes; null when it is not one. */
export function parseAnnouncement(buf: Uint8Array, offset: number, length: number): AnnouncementRepr | null {
  if (length < ANNOUNCE_HEADER_LEN || offset + length > buf.length) return null;
  const v = new DataView(buf.buffer, buf.byteOffset + offset, length);
  if (v.getUint32(0) !== ANNOUNCE_MAGIC || v.getUint8(4) !== ANNOUNCE_VERSION) return null;
  const count = v.getUint8(5);
  if (count > ANNOUNCE_MAX_SERVICES || ANNOUNCE_HEADER_LEN + count * ANNOUNCE_ENTRY_LEN > length) return null;
  const services = [];
  for (let i = 0; i < count; i++) {
    const o = ANNOUNCE_HEADER_LEN + i * ANNOUNCE_ENTRY_LEN;
    services.push({ serviceId: v.getUint16(o), port: v.getUint16(o + 2), ip: v.getUint32(o + 4) });
  }
  return { capacity: v.getUint16(6), load: v.getUint16(8), intervalUs: v.getUint32(12), hostIp: v.getUint32(16), services };
}

export class NeighborDiscovery extends ClockedModule {
  /** Runs among train-running cores through a TrainBridge (it keeps the AXI4-Stream rules). */
  override readonly bridgesTrains = true;

  /** Its input is consumed at once: tready is high in every cycle. */
  override bridgeInputAlwaysReady(): boolean {
    return true;
  }
  private readonly rx: AxisChannel;
  private readonly tx: AxisChannel;
  private readonly pool: PacketPool;
  private readonly counters: CounterBank;
  private readonly events: NicEventSink | null;
  private readonly parser = new HeaderParser();
  private readonly coreHz: number;
  private readonly failsafeActive: RegisteredVector | null;
  private readonly services: readonly AnnouncedService[] | null;
  private readonly announcePorts: readonly number[];
  private readonly loadCounters: Int32Array;

  private readonly nicConfig: TableMemory;
  private readonly neighborTable: TableMemory;
  private readonly targetTable: TableMemory | null;
  private readonly fRelayIp: number;
  private readonly fNicMacLo: number;
  private readonly fNicMacHi: number;
  private readonly fHostIp: number;
  private readonly fAnnouncePort: number;
  private readonly fCapacity: number;
  private readonly fInterval: number;
  private readonly fNbIp: number;
  private readonly fNbServiceId: number;
  private readonly fNbAlive: number;
  private readonly fNbValid: number;
  private readonly fNbCapacity: number;
  private readonly fNbLoad: number;
  private readonly fNbLastSeen: number;
  private readonly fNbMacLo: number;
  private readonly fNbMacHi: number;
  private readonly fNbSvcPort: number;
  private readonly fTgtIp: number;
  private readonly fTgtServiceId: number;
  private readonly fTgtValid: number;

  private readonly cSent = counterIndex('event.announcementsSent');
  private readonly cReceived = counterIndex('event.announcementsReceived');
  private readonly cMalformed = counterIndex('drop.announceMalformed');
  private readonly cExpired = counterIndex('event.neighborsExpired');

  /** Per neighbor-table entry: the cycle it stops being alive (IDLE when not alive). */
  private readonly expiresAt: Float64Array;
  private readonly serviceIdMax: number;
  /** Completed rx packet, processed in this cycle's commit. */
  private rxPacket: Packet | null = null;
  private readonly txQueue = new TimedRing<Packet>(8);
  private current: Packet | null = null;
  private beat = 0;
  /** Beats of `current`, kept here: a consumer may free it in the cycle its last beat moves (see DualQueue.mirrorBeats). */
  private currentBeats = 0;
  private lastAnnounceCycle = -1;
  private lastLoadSum = 0;
  // Scratch for the announced services (no allocation per announcement).
  private readonly annId: Uint16Array;
  private readonly annPort: Uint16Array;
  private readonly annIp: Uint32Array;
  /** Announced (ip, service) pairs not recorded because the table was full of live neighbors. */
  neighborsNotRecorded = 0;

  constructor(
    name: string,
    rx: AxisChannel,
    tx: AxisChannel,
    pool: PacketPool,
    regs: NeighborDiscoveryRegs,
    counters: CounterBank,
    events: NicEventSink | null = null,
    options: NeighborDiscoveryOptions = {},
  ) {
    super(name);
    this.rx = this.input(rx);
    this.tx = this.output(tx);
    this.pool = pool;
    this.counters = counters;
    this.events = events;
    this.coreHz = options.coreHz ?? coreClockHz();
    this.failsafeActive = options.failsafeActive ?? null;
    this.services = options.services ?? null;
    this.announcePorts = options.announcePorts ?? [0, 1, 2, 3];
    this.loadCounters = Int32Array.from(
      (options.loadCounters ?? ['dma0.txPackets', 'dma1.txPackets', 'dma2.txPackets', 'dma3.txPackets']).map(counterIndex),
    );

    const nc = regs.nicConfig;
    const nb = regs.neighborTable;
    this.nicConfig = nc;
    this.neighborTable = nb;
    this.targetTable = regs.targetTable ?? null;
    this.fRelayIp = nc.fieldIndex('relayIp');
    this.fNicMacLo = nc.fieldIndex('nicMacLo');
    this.fNicMacHi = nc.fieldIndex('nicMacHi');
    this.fHostIp = nc.fieldIndex('hostIp');
    this.fAnnouncePort = nc.fieldIndex('announcePort');
    this.fCapacity = nc.fieldIndex('capacity');
    this.fInterval = nc.fieldIndex('announceIntervalCycles');
    this.fNbIp = nb.fieldIndex('ip');
    this.fNbServiceId = nb.fieldIndex('serviceId');
    this.fNbAlive = nb.fieldIndex('alive');
    this.fNbValid = nb.fieldIndex('valid');
    this.fNbCapacity = nb.fieldIndex('capacity');
    this.fNbLoad = nb.fieldIndex('load');
    this.fNbLastSeen = nb.fieldIndex('lastSeenCycle');
    this.fNbMacLo = nb.fieldIndex('macLo');
    this.fNbMacHi = nb.fieldIndex('macHi');
    this.fNbSvcPort = nb.fieldIndex('svcPort');
    const tt = this.targetTable;
    this.fTgtIp = tt === null ? -1 : tt.fieldIndex('dstIp');
    this.fTgtServiceId = tt === null ? -1 : tt.fieldIndex('serviceId');
    this.fTgtValid = tt === null ? -1 : tt.fieldIndex('valid');
    this.serviceIdMax = 2 ** nb.field(this.fNbServiceId).width - 1;
    this.expiresAt = new Float64Array(nb.depth).fill(IDLE);
    this.annId = new Uint16Array(ANNOUNCE_MAX_SERVICES);
    this.annPort = new Uint16Array(ANNOUNCE_MAX_SERVICES);
    this.annIp = new Uint32Array(ANNOUNCE_MAX_SERVICES);
    // A new interval (or the first one) takes effect when the host's write becomes visible.
    nc.onHostWrite((_entry, visibleCycle) => this.wakeAt(visibleCycle));
  }

  override reset(): void {
    this.rx.ready = this.rx.nextReady = true;
  }

  evaluate(): void {
    const tx = this.tx;
    if (tx.valid && tx.ready && ++this.beat === this.currentBeats) this.current = null;
    const rx = this.rx;
    // Announcements are processed in this cycle's commit, so rx never needs to stall.
    if (rx.valid && rx.ready && rx.beat === rx.packet!.beats - 1) this.rxPacket = rx.packet;
    if (this.current === null && this.txQueue.length > 0) {
      this.current = this.txQueue.shift();
      this.currentBeats = this.current.beats;
      this.beat = 0;
    }
    if (this.current === null) tx.release();
    else tx.drive(this.current, this.beat);
  }

  commit(cycle: number): number {
    if (this.rxPacket !== null) {
      this.receive(this.rxPacket, cycle);
      this.pool.release(this.rxPacket);
      this.rxPacket = null;
    }
    let next = IDLE;
    const nb = this.neighborTable;
    for (let e = 0; e < this.expiresAt.length; e++) {
      const t = this.expiresAt[e]!;
      if (t <= cycle) {
        this.expiresAt[e] = IDLE;
        nb.set(e, this.fNbAlive, 0);
        this.counters.values[this.cExpired]!++;
        this.events?.({ kind: 'neighbor', ip: nb.get(e, this.fNbIp), serviceId: nb.get(e, this.fNbServiceId), up: false, cycle });
      } else if (t < next) {
        next = t;
      }
    }
    const interval = this.nicConfig.get(0, this.fInterval);
    if (interval > 0) {
      const due = this.lastAnnounceCycle < 0 ? cycle : this.lastAnnounceCycle + interval;
      if (due <= cycle) {
        this.announce(cycle, interval);
        this.lastAnnounceCycle = cycle;
        next = Math.min(next, cycle + interval);
      } else {
        next = Math.min(next, due);
      }
    }
    if (this.current === null && this.txQueue.length > 0) return cycle + 1;
    return next <= cycle ? cycle + 1 : next;
  }

  // ---------------------------------------------------------------- reception

  private receive(p: Packet, cycle: number): void {
    const ps = this.parser;
    const b = p.data;
    const kind = ps.parse(b, p.length);
    const nc = this.nicConfig;
    if (kind !== PacketKind.Ipv4Udp || ps.dstPort !== nc.get(0, this.fAnnouncePort) || ps.moreFragments) {
      this.counters.values[this.cMalformed]!++;
      return;
    }
    const l4 = ps.l4Offset;
    const udpLength = (b[l4 + 4]! << 8) | b[l4 + 5]!;
    if (!verifyUdpChecksum(b, l4, udpLength, ps.srcIp, ps.dstIp)) {
      this.counters.values[this.cMalformed]!++;
      return;
    }
    const o = ps.payloadOffset;
    const length = udpLength - UDP_LEN;
    const count = b[o + 5]!;
    if (
      length < ANNOUNCE_HEADER_LEN ||
      readIpv4(b, o) !== ANNOUNCE_MAGIC ||
      b[o + 4] !== ANNOUNCE_VERSION ||
      count > ANNOUNCE_MAX_SERVICES ||
      ANNOUNCE_HEADER_LEN + count * ANNOUNCE_ENTRY_LEN > length
    ) {
      this.counters.values[this.cMalformed]!++;
      return;
    }
    const announcerMac = readMac48(b, 6);
    if (announcerMac === this.nicMac48()) return;
    this.counters.values[this.cReceived]!++;
    const capacity = (b[o + 6]! << 8) | b[o + 7]!;
    const load = (b[o + 8]! << 8) | b[o + 9]!;
    const intervalUs = readIpv4(b, o + 12);
    const hostIp = readIpv4(b, o + 16);
    let periodCycles = Math.round((intervalUs * this.coreHz) / 1e6);
    if (periodCycles === 0) periodCycles = this.nicConfig.get(0, this.fInterval);
    const expires = periodCycles === 0 ? IDLE : cycle + NEIGHBOR_SILENT_PERIODS * periodCycles;
    const nb = this.neighborTable;
    for (let i = 0; i < count; i++) {
      const at = o + ANNOUNCE_HEADER_LEN + i * ANNOUNCE_ENTRY_LEN;
      const serviceId = (b[at]! << 8) | b[at + 1]!;
      if (serviceId > this.serviceIdMax) continue;
      const svcPort = (b[at + 2]! << 8) | b[at + 3]!;
      const svcIp = readIpv4(b, at + 4);
      const ip = svcIp !== 0 ? svcIp : hostIp;
      const e = this.entryFor(ip, serviceId);
      if (e < 0) {
        this.neighborsNotRecorded++;
        continue;
      }
      const wasAlive = nb.get(e, this.fNbValid) === 1 && nb.get(e, this.fNbAlive) === 1;
      nb.set(e, this.fNbIp, ip);
      nb.set(e, this.fNbServiceId, serviceId);
      nb.set(e, this.fNbValid, 1);
      nb.set(e, this.fNbAlive, 1);
      nb.set(e, this.fNbCapacity, capacity);
      nb.set(e, this.fNbLoad, load);
      nb.set(e, this.fNbLastSeen, cycle);
      nb.set(e, this.fNbMacHi, Math.floor(announcerMac / 0x100000000));
      nb.set(e, this.fNbMacLo, announcerMac % 0x100000000);
      nb.set(e, this.fNbSvcPort, svcPort);
      this.expiresAt[e] = expires;
      if (!wasAlive) this.events?.({ kind: 'neighbor', ip, serviceId, up: true, cycle });
    }
  }

  /** The entry of (ip, serviceId), else a free one, else the not-alive one seen longest ago; -1 if none. */
  private entryFor(ip: number, serviceId: number): number {
    const nb = this.neighborTable;
    let free = -1;
    let stale = -1;
    for (let e = 0; e < nb.depth; e++) {
      if (nb.get(e, this.fNbValid) !== 1) {
        if (free < 0) free = e;
        continue;
      }
      if (nb.get(e, this.fNbIp) === ip && nb.get(e, this.fNbServiceId) === serviceId) return e;
      if (nb.get(e, this.fNbAlive) !== 1 && (stale < 0 || nb.get(e, this.fNbLastSeen) < nb.get(stale, this.fNbLastSeen))) stale = e;
    }
    return free >= 0 ? free : stale;
  }

  // ---------------------------------------------------------------- announcements

  private nicMac48(): number {
    return this.nicConfig.get(0, this.fNicMacHi) * 0x100000000 + this.nicConfig.get(0, this.fNicMacLo);
  }

  /** Fills the scratch arrays with the services to announce; returns how many. */
  private collectServices(): number {
    let n = 0;
    if (this.services !== null) {
      for (const s of this.services) n = this.addService(n, s.serviceId, (s.ip ?? 0) >>> 0, s.port ?? 0);
    } else if (this.targetTable !== null) {
      const tt = this.targetTable;
      for (let e = 0; e < tt.depth; e++) {
        if (tt.get(e, this.fTgtValid) === 1) n = this.addService(n, tt.get(e, this.fTgtServiceId), tt.get(e, this.fTgtIp), 0);
      }
    }
    return n;
  }

  /** Appends (serviceId, ip, port) unless full, in fail-safe here, or already listed; returns the new count. */
  private addService(n: number, serviceId: number, ip: number, port: number): number {
    const fa = this.failsafeActive;
    if (n === ANNOUNCE_MAX_SERVICES || (fa !== null && fa.value[serviceId] === 1)) return n;
    for (let i = 0; i < n; i++) if (this.annId[i] === serviceId && this.annIp[i] === ip) return n;
    this.annId[n] = serviceId;
    this.annIp[n] = ip;
    this.annPort[n] = port;
    return n + 1;
  }

  private announce(cycle: number, intervalCycles: number): void {
    const nc = this.nicConfig;
    const n = this.collectServices();
    let loadSum = 0;
    for (let i = 0; i < this.loadCounters.length; i++) loadSum += this.counters.values[this.loadCounters[i]!]!;
    const load = Math.min(0xffff, Math.max(0, loadSum - this.lastLoadSum));
    this.lastLoadSum = loadSum;
    const intervalUs = Math.min(0xffffffff, Math.round((intervalCycles * 1e6) / this.coreHz));
    const payloadLength = ANNOUNCE_HEADER_LEN + n * ANNOUNCE_ENTRY_LEN;
    const udpLength = UDP_LEN + payloadLength;
    const frameLength = Math.max(60, ETH_LEN + IP_LEN + udpLength);
    const relayIp = nc.get(0, this.fRelayIp);
    const port = nc.get(0, this.fAnnouncePort);
    const mac = this.nicMac48();
    for (const nf of this.announcePorts) {
      const p = this.pool.take(frameLength);
      const b = p.data;
      b.fill(0, 0, frameLength);
      writeMac48(b, 0, 0xffffffffffff);
      writeMac48(b, 6, mac);
      b[12] = EtherType.Ipv4 >>> 8;
      b[13] = EtherType.Ipv4 & 0xff;
      const l3 = ETH_LEN;
      b[l3] = 0x45;
      const totalLength = IP_LEN + udpLength;
      b[l3 + 2] = totalLength >>> 8;
      b[l3 + 3] = totalLength;
      // Link-local: TTL 1 keeps announcements on the segment.
      b[l3 + 8] = 1;
      b[l3 + 9] = PROTO_UDP;
      writeIpv4(b, l3 + 12, relayIp);
      writeIpv4(b, l3 + 16, 0xffffffff);
      const ipSum = ipv4HeaderChecksum(b, l3, IP_LEN);
      b[l3 + 10] = ipSum >>> 8;
      b[l3 + 11] = ipSum;
      const l4 = l3 + IP_LEN;
      b[l4] = port >>> 8;
      b[l4 + 1] = port;
      b[l4 + 2] = port >>> 8;
      b[l4 + 3] = port;
      b[l4 + 4] = udpLength >>> 8;
      b[l4 + 5] = udpLength;
      const o = l4 + UDP_LEN;
      writeIpv4(b, o, ANNOUNCE_MAGIC);
      b[o + 4] = ANNOUNCE_VERSION;
      b[o + 5] = n;
      const capacity = nc.get(0, this.fCapacity);
      b[o + 6] = capacity >>> 8;
      b[o + 7] = capacity;
      b[o + 8] = load >>> 8;
      b[o + 9] = load;
      writeIpv4(b, o + 12, intervalUs);
      writeIpv4(b, o + 16, nc.get(0, this.fHostIp));
      for (let i = 0; i < n; i++) {
        const at = o + ANNOUNCE_HEADER_LEN + i * ANNOUNCE_ENTRY_LEN;
        b[at] = this.annId[i]! >>> 8;
        b[at + 1] = this.annId[i]!;
        b[at + 2] = this.annPort[i]! >>> 8;
        b[at + 3] = this.annPort[i]!;
        writeIpv4(b, at + 4, this.annIp[i]!);
      }
      const c = udpChecksum(b, l4, udpLength, relayIp, 0xffffffff);
      b[l4 + 6] = c >>> 8;
      b[l4 + 7] = c;
      p.srcPort = srcForWireEgress(nf);
      p.flags = FLAG_FROM_NEIGHBOR;
      p.ingressCycle = cycle;
      this.txQueue.push(p, cycle);
      this.counters.values[this.cSent]!++;
    }
  }

  override traceSignals(): TraceSignal[] {
    return [
      {
        name: 'alive_neighbors',
        width: 8,
        read: () => {
          const nb = this.neighborTable;
          let n = 0;
          for (let e = 0; e < nb.depth; e++) if (nb.get(e, this.fNbValid) === 1 && nb.get(e, this.fNbAlive) === 1) n++;
          return n;
        },
      },
      { name: 'tx_pending', width: 8, read: () => this.txQueue.length + (this.current === null ? 0 : 1) },
    ];
  }
}
