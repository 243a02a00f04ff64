/**
 * Fatriot's fail-safe handler (papers/fatriot.txt 3.5, Fig. 6; SPEC section 3 item 4).
 *
 * Inputs: `direct` (output queue 6: fail-safe traffic the classifier took off the wire,
 * relay replies to nicConfig.relayIp, ARP for relayIp from either side) and `mirror`
 * (clones of critical packets from the dual queue). Output: `tx`, towards fatriot_tx_mux.
 * Store and forward: both inputs hold tready high while the packet buffer has room for
 * one more beat from each; a packet is processed in the cycle its last beat is in and
 * its first beat is offered `processingLatencyCycles` later (one decision per packet).
 *
 * Relay towards the backup (a packet of a service in fail-safe; mirrored packets of
 * services not in fail-safe are dropped without a count, the host served them; packets
 * on `direct` carry the classifier's verdict and are relayed as they come):
 * - backup choice, pinned per flow: live neighbors of the service (neighborTable,
 *   valid && alive && serviceId) by rendezvous hashing of the client's 5-tuple (even
 *   and flow-consistent; port = the neighbor's svcPort, 0 keeps the port); else the
 *   service table (dst IP, protocol, dst port; an exact port beats svcPort 0; backupPort
 *   0 keeps the port); else the default backup `*` (same port); else
 *   drop.failsafeNoBackup. A flow keeps its backup until its neighbor stops being alive
 *   or (for a table choice) the host rewrites the service or default-backup table.
 * - DNAT dst -> backup ip:port; SNAT src -> nicConfig.relayIp : relay port, one relay
 *   port per flow from relayPortBase .. +relayPortCount (port 0 skipped; one space for
 *   UDP, TCP and ICMP; a flow idle for flowIdleTimeoutCycles is reclaimed), none free ->
 *   drop.relayPortsExhausted. ICMP echo requests translate the identifier instead.
 * - IPv4, UDP, TCP and ICMP checksums are adjusted incrementally (RFC 1624 eqn. 3,
 *   wire/checksum.ts); a UDP checksum of 0 stays 0. The TTL is decremented (a NAT is a
 *   layer-3 hop; option `decrementTtl`), TTL <= 1 -> drop.ttlExpired.
 * - Ethernet: src = nicConfig nicMac, dst = the backup's MAC from the ARP cache. An
 *   unresolved backup IP: one ARP request goes out of the port the packet came in on and
 *   the packet waits in a hold queue of `arpHoldPackets` (a memory of its own, so held
 *   packets never block the ARP reply that frees them); overflow, or no answer within
 *   `arpTimeoutCycles` of the request, -> drop.arpUnresolved. Static entries (option
 *   `staticArp`, or `setStaticArp` from the control plane) skip ARP and are never
 *   overwritten. The neighbor table's MAC is the announcing NIC's own MAC, not its
 *   host's, so it is not used for forwarding.
 * - Fragments -> drop.ipv4Fragment (only the first carries ports); other protocols and
 *   ICMP other than echo request -> drop.unsupportedProtocol; bad IPv4 ->
 *   drop.malformedIpv4.
 *
 * Relay back to the client (IPv4 to relayIp: UDP/TCP to a relay port, ICMP echo reply
 * with a relay identifier, from the flow's backup ip(:port)): both translations are
 * reversed, dst MAC = the client's MAC, src MAC = the MAC the client sent to (both
 * recorded per flow), out of the client's port. No mapping (no flow on that relay port,
 * or not from the flow's backup) -> drop.relayNoMapping; other ICMP (errors, echo requests
 * to relayIp) -> drop.unsupportedProtocol.
 *
 * ARP: a request for relayIp is answered in place with nicMac, towards the side it came
 * from (srcForHostEgress from a dma port, else srcForWireEgress). Senders of requests
 * and of replies addressed to relayIp are learnt (RFC 826 merge). Other ARP ->
 * drop.unsupportedProtocol.
 *
 * Ports (Fatriot 3.2 step 7, the NIC as a switch): a one-armed relay. Both the backup and
 * the client are reached through the nf port the client's packet came in on (the paper's
 * Fig. 8 testbed has traffic generator, main and backup host on one switch); replies leave
 * by the client's recorded port. ARP requests are untagged; backups must be on-link.
 */
import { coreClockHz } from '../../../hw/netfpga-spec/index.ts';
import type { AxisChannel } from '../sim/channel.ts';
import { ClockedModule, IDLE, type TraceSignal } from '../sim/module.ts';
import type { Packet, PacketPool } from '../sim/packet.ts';
import type { RegisteredVector } from '../sim/registered-vector.ts';
import { TimedRing } from '../sim/ring.ts';
import { counterIndex } from '../regs/register-map.ts';
import type { CounterBank, TableMemory } from '../regs/table-memory.ts';
import { readMac48, writeIpv4, writeMac48 } from '../wire/address.ts';
import { ArpOp } from '../wire/arp.ts';
import { checksumAdjust16, checksumAdjust32, udpChecksumAdjust16, udpChecksumAdjust32 } from '../wire/checksum.ts';
import { EtherType } from '../wire/ethernet.ts';
import { IcmpType } from '../wire/icmp.ts';
import { HeaderParser, PacketKind } from '../wire/parse.ts';
import { FLAG_FROM_FAILSAFE, srcForHostEgress, srcForWireEgress } from './fatriot-tuser.ts';

/** Packet buffer in beats (32 KiB: eight 36 Kb BRAMs). Assumed: the paper gives no size. */
export const FAILSAFE_DEFAULT_BUFFER_BEATS = 1024;
/** Parse, table lookups, rewrite with checksum adjust, output register. Assumed. */
export const FAILSAFE_DEFAULT_PROCESSING_LATENCY_CYCLES = 4;
/** Packets waiting for ARP. Assumed (Linux holds up to unres_qlen per neighbor). */
export const FAILSAFE_DEFAULT_ARP_HOLD_PACKETS = 32;
export const FAILSAFE_DEFAULT_ARP_CACHE_ENTRIES = 64;
/** Linux neigh retrans_time_ms default (Documentation/networking/ip-sysctl.rst): 1 s. */
export const FAILSAFE_DEFAULT_ARP_TIMEOUT_S = 1;
export const FAILSAFE_DEFAULT_FLOW_TABLE_ENTRIES = 4096;
/** Linux nf_conntrack_udp_timeout default: 30 s. */
export const FAILSAFE_DEFAULT_FLOW_IDLE_TIMEOUT_S = 30;

export interface FailsafeHandlerInputs {
  /** Output queue 6 of FatriotNic. */
  direct: AxisChannel;
  /** Mirror port of the dual queue. */
  mirror: AxisChannel;
}

export interface FailsafeHandlerRegs {
  serviceTable: TableMemory;
  defaultBackup: TableMemory;
  nicConfig: TableMemory;
  neighborTable: TableMemory;
}

export interface StaticArpEntry {
  /** Host-order IPv4 address. */
  ip: number;
  mac: Uint8Array;
}

export interface FailsafeHandlerOptions {
  /** Core clock, for the defaults given in seconds. Default hw/netfpga-spec's default clock. */
  coreHz?: number;
  bufferBeats?: number;
  processingLatencyCycles?: number;
  arpHoldPackets?: number;
  arpCacheEntries?: number;
  arpTimeoutCycles?: number;
  /** Backup MACs that need no ARP. */
  staticArp?: readonly StaticArpEntry[];
  /** Flows (and relay ports) held at once; rounded up to a power of two. */
  flowTableEntries?: number;
  flowIdleTimeoutCycles?: number;
  /** Decrement the TTL on both relay directions (default true). */
  decrementTtl?: boolean;
}

const ARP_FREE = 0;
const ARP_PENDING = 1;
const ARP_RESOLVED = 2;
const ARP_STATIC = 3;

const PROTO_ICMP = 1;
const PROTO_TCP = 6;
const PROTO_UDP = 17;
/** Even tuser source bits: the packet came from a MAC (nfX); odd: from the host (dmaX). */
const HOST_SRC_MASK = 0xaa;

/** murmur3 fmix32: full avalanche, so rendezvous weights and hash slots are uniform. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function flowHash(srcIp: number, dstIp: number, srcPort: number, dstPort: number, proto: number): number {
  let h = fmix32(srcIp ^ 0x9e3779b9);
  h = fmix32(h ^ dstIp);
  h = fmix32(h ^ ((srcPort << 16) | dstPort));
  return fmix32(h ^ proto);
}

/** Index of the port (0..3) of a one-hot tuser source: nfX and dmaX both give X. */
function portIndexOf(srcPortOneHot: number): number {
  const low = srcPortOneHot & 0xff & -(srcPortOneHot & 0xff);
  return low === 0 ? 0 : (31 - Math.clz32(low)) >>> 1;
}

export class FailsafeHandler extends ClockedModule {
  /** Runs among train-running cores through a TrainBridge (it keeps the AXI4-Stream rules). */
  override readonly bridgesTrains = true;
  private readonly direct: AxisChannel;
  private readonly mirror: AxisChannel;
  private readonly tx: AxisChannel;
  private readonly pool: PacketPool;
  private readonly counters: CounterBank;
  private readonly failsafeActive: RegisteredVector;
  private readonly parser = new HeaderParser();

  private readonly bufferBeats: number;
  private readonly latency: number;
  private readonly arpTimeoutCycles: number;
  private readonly flowIdleTimeoutCycles: number;
  private readonly decrementTtl: boolean;

  // Tables (read in evaluate; the bus applies host writes in its commit).
  private readonly serviceTable: TableMemory;
  private readonly defaultBackup: TableMemory;
  private readonly nicConfig: TableMemory;
  private readonly neighborTable: TableMemory;
  private readonly fSvcIp: number;
  private readonly fSvcPort: number;
  private readonly fSvcProto: number;
  private readonly fSvcValid: number;
  private readonly fBackupIp: number;
  private readonly fBackupPort: number;
  private readonly fDefIp: number;
  private readonly fDefValid: number;
  private readonly fRelayIp: number;
  private readonly fRelayPortBase: number;
  private readonly fRelayPortCount: number;
  private readonly fNicMacLo: number;
  private readonly fNicMacHi: number;
  private readonly fNbIp: number;
  private readonly fNbServiceId: number;
  private readonly fNbAlive: number;
  private readonly fNbValid: number;
  private readonly fNbSvcPort: number;

  private readonly cNoBackup = counterIndex('drop.failsafeNoBackup');
  private readonly cArpUnresolved = counterIndex('drop.arpUnresolved');
  private readonly cPortsExhausted = counterIndex('drop.relayPortsExhausted');
  private readonly cNoMapping = counterIndex('drop.relayNoMapping');
  private readonly cTtlExpired = counterIndex('drop.ttlExpired');
  private readonly cMalformed = counterIndex('drop.malformedIpv4');
  private readonly cFragment = counterIndex('drop.ipv4Fragment');
  private readonly cUnsupported = counterIndex('drop.unsupportedProtocol');
  private readonly cToBackup = counterIndex('event.relayedToBackup');
  private readonly cToClient = counterIndex('event.relayedToClient');
  private readonly cArpRequests = counterIndex('event.arpRequestsSent');
  private readonly cArpRepliesSent = counterIndex('event.arpRepliesSent');
  private readonly cArpRepliesReceived = counterIndex('event.arpRepliesReceived');

  // Output: packets ready at a cycle, and the one on tx.
  private readonly outRing: TimedRing<Packet>;
  private current: Packet | null = null;
  private beat = 0;
  /** Beats of `current`, kept here: a consumer may free it in the cycle its last beat moves (see DualQueue.mirrorBeats). */
  private currentBeats = 0;
  /** Beats in the buffer: partly received, waiting for output, being sent (not those held for ARP). */
  private beatsHeld = 0;

  // ARP cache: a small CAM searched linearly, as on the FPGA.
  private readonly arpIp: Uint32Array;
  private readonly arpMac: Float64Array;
  private readonly arpState: Uint8Array;
  /** Pending: cycle at which held packets give up; resolved: cycle learnt (for eviction). */
  private readonly arpCycle: Float64Array;
  private arpPending = 0;

  // Packets waiting for ARP, in arrival order.
  private readonly held: (Packet | null)[];
  private readonly heldIp: Uint32Array;
  private heldCount = 0;

  // Flow table: entries with stable indices, an open-addressing index over them.
  private readonly flowCapacity: number;
  private readonly flowInUse: Uint8Array;
  private readonly flowHashes: Uint32Array;
  private readonly flowClientIp: Uint32Array;
  private readonly flowSvcIp: Uint32Array;
  private readonly flowClientPort: Uint16Array;
  private readonly flowSvcPort: Uint16Array;
  private readonly flowProto: Uint8Array;
  private readonly flowRelayPort: Uint16Array;
  private readonly flowBackupIp: Uint32Array;
  private readonly flowBackupPort: Uint16Array;
  /** Neighbor-table entry the backup came from, or -1 for the service/default table. */
  private readonly flowNeighbor: Int16Array;
  /** serviceTable.version + defaultBackup.version when a table choice was made. */
  private readonly flowTablesVersion: Float64Array;
  private readonly flowClientMac: Float64Array;
  private readonly flowSvcMac: Float64Array;
  private readonly flowClientNf: Uint8Array;
  private readonly flowLastUsed: Float64Array;
  private readonly freeFlows: Int32Array;
  private freeTop = 0;
  private reclaimCursor = 0;
  private readonly slots: Int32Array;
  private readonly slotMask: number;
  /** Relay port -> flow entry, -1 when free. */
  private readonly portOwner: Int32Array;
  private portCursor = 0;
  flowCount = 0;

  // Result of selectBackup.
  private selIp = 0;
  private selPort = 0;
  private selNeighbor = -1;

  constructor(
    name: string,
    inputs: FailsafeHandlerInputs,
    tx: AxisChannel,
    pool: PacketPool,
    regs: FailsafeHandlerRegs,
    counters: CounterBank,
    failsafeActive: RegisteredVector,
    options: FailsafeHandlerOptions = {},
  ) {
    super(name);
    this.direct = this.input(inputs.direct);
    this.mirror = this.input(inputs.mirror);
    this.tx = this.output(tx);
    this.pool = pool;
    this.counters = counters;
    this.failsafeActive = failsafeActive;
    const hz = options.coreHz ?? coreClockHz();
    this.bufferBeats = options.bufferBeats ?? FAILSAFE_DEFAULT_BUFFER_BEATS;
    this.latency = Math.max(1, options.processingLatencyCycles ?? FAILSAFE_DEFAULT_PROCESSING_LATENCY_CYCLES);
    this.arpTimeoutCycles = options.arpTimeoutCycles ?? Math.round(FAILSAFE_DEFAULT_ARP_TIMEOUT_S * hz);
    this.flowIdleTimeoutCycles = options.flowIdleTimeoutCycles ?? Math.round(FAILSAFE_DEFAULT_FLOW_IDLE_TIMEOUT_S * hz);
    this.decrementTtl = options.decrementTtl ?? true;
    if (this.bufferBeats < 2) throw new RangeError('bufferBeats must be at least 2');

    this.serviceTable = regs.serviceTable;
    this.defaultBackup = regs.defaultBackup;
    this.nicConfig = regs.nicConfig;
    this.neighborTable = regs.neighborTable;
    this.fSvcIp = regs.serviceTable.fieldIndex('svcIp');
    this.fSvcPort = regs.serviceTable.fieldIndex('svcPort');
    this.fSvcProto = regs.serviceTable.fieldIndex('proto');
    this.fSvcValid = regs.serviceTable.fieldIndex('valid');
    this.fBackupIp = regs.serviceTable.fieldIndex('backupIp');
    this.fBackupPort = regs.serviceTable.fieldIndex('backupPort');
    this.fDefIp = regs.defaultBackup.fieldIndex('ip');
    this.fDefValid = regs.defaultBackup.fieldIndex('valid');
    this.fRelayIp = regs.nicConfig.fieldIndex('relayIp');
    this.fRelayPortBase = regs.nicConfig.fieldIndex('relayPortBase');
    this.fRelayPortCount = regs.nicConfig.fieldIndex('relayPortCount');
    this.fNicMacLo = regs.nicConfig.fieldIndex('nicMacLo');
    this.fNicMacHi = regs.nicConfig.fieldIndex('nicMacHi');
    this.fNbIp = regs.neighborTable.fieldIndex('ip');
    this.fNbServiceId = regs.neighborTable.fieldIndex('serviceId');
    this.fNbAlive = regs.neighborTable.fieldIndex('alive');
    this.fNbValid = regs.neighborTable.fieldIndex('valid');
    this.fNbSvcPort = regs.neighborTable.fieldIndex('svcPort');

    this.outRing = new TimedRing<Packet>(64);

    const arpEntries = options.arpCacheEntries ?? FAILSAFE_DEFAULT_ARP_CACHE_ENTRIES;
    this.arpIp = new Uint32Array(arpEntries);
    this.arpMac = new Float64Array(arpEntries);
    this.arpState = new Uint8Array(arpEntries);
    this.arpCycle = new Float64Array(arpEntries);
    const holdPackets = options.arpHoldPackets ?? FAILSAFE_DEFAULT_ARP_HOLD_PACKETS;
    this.held = new Array<Packet | null>(holdPackets).fill(null);
    this.heldIp = new Uint32Array(holdPackets);

    let cap = 1;
    while (cap < (options.flowTableEntries ?? FAILSAFE_DEFAULT_FLOW_TABLE_ENTRIES)) cap <<= 1;
    this.flowCapacity = cap;
    this.flowInUse = new Uint8Array(cap);
    this.flowHashes = new Uint32Array(cap);
    this.flowClientIp = new Uint32Array(cap);
    this.flowSvcIp = new Uint32Array(cap);
    this.flowClientPort = new Uint16Array(cap);
    this.flowSvcPort = new Uint16Array(cap);
    this.flowProto = new Uint8Array(cap);
    this.flowRelayPort = new Uint16Array(cap);
    this.flowBackupIp = new Uint32Array(cap);
    this.flowBackupPort = new Uint16Array(cap);
    this.flowNeighbor = new Int16Array(cap);
    this.flowTablesVersion = new Float64Array(cap);
    this.flowClientMac = new Float64Array(cap);
    this.flowSvcMac = new Float64Array(cap);
    this.flowClientNf = new Uint8Array(cap);
    this.flowLastUsed = new Float64Array(cap);
    this.freeFlows = new Int32Array(cap);
    for (let i = 0; i < cap; i++) this.freeFlows[i] = cap - 1 - i;
    this.freeTop = cap;
    this.slots = new Int32Array(cap * 2).fill(-1);
    this.slotMask = cap * 2 - 1;
    this.portOwner = new Int32Array(65536).fill(-1);

    for (const s of options.staticArp ?? []) this.setStaticArp(s.ip, s.mac);
  }

  override reset(): void {
    this.direct.ready = this.direct.nextReady = true;
    this.mirror.ready = this.mirror.nextReady = true;
  }

  /**
   * Control plane: a static ARP entry for `ip` (never replaced by ARP), or with `mac`
   * null, removes it. Packets held for `ip` leave at once.
   */
  setStaticArp(ip: number, mac: Uint8Array | null): void {
    ip >>>= 0;
    let a = this.arpFind(ip);
    if (mac === null) {
      if (a >= 0 && this.arpState[a] === ARP_STATIC) this.arpState[a] = ARP_FREE;
      return;
    }
    if (a < 0) a = this.arpAlloc();
    if (a < 0) throw new RangeError('ARP cache full of static and pending entries');
    if (this.arpState[a] === ARP_PENDING) this.arpPending--;
    this.arpIp[a] = ip;
    this.arpMac[a] = readMac48(mac, 0);
    this.arpState[a] = ARP_STATIC;
    const now = this.sim === null ? 0 : this.sim.now;
    this.releaseHeld(ip, this.arpMac[a]!, now);
    if (this.outRing.length > 0) this.wakeAt(now);
  }

  evaluate(cycle: number): void {
    const tx = this.tx;
    if (tx.valid && tx.ready) {
      if (++this.beat === this.currentBeats) {
        this.beatsHeld -= this.currentBeats;
        this.current = null;
      }
    }
    this.accept(this.direct, false, cycle);
    this.accept(this.mirror, true, cycle);
    if (this.arpPending > 0) this.expireArp(cycle);

    if (this.current === null && this.outRing.length > 0 && this.outRing.peekTime() <= cycle + 1) {
      this.current = this.outRing.shift();
      this.currentBeats = this.current.beats;
      this.beat = 0;
    }
    if (this.current === null) tx.release();
    else tx.drive(this.current, this.beat);

    // Registered tready: room for one more beat from each input next cycle.
    const room = this.beatsHeld + 2 <= this.bufferBeats;
    this.direct.setReady(room);
    this.mirror.setReady(room);
  }

  commit(cycle: number): number {
    let next = IDLE;
    if (this.current === null && this.outRing.length > 0) next = this.outRing.peekTime() - 1;
    if (this.arpPending > 0) {
      for (let a = 0; a < this.arpState.length; a++) {
        if (this.arpState[a] === ARP_PENDING && this.arpCycle[a]! < next) next = this.arpCycle[a]!;
      }
    }
    return next <= cycle ? cycle + 1 : next;
  }

  private accept(ch: AxisChannel, fromMirror: boolean, cycle: number): void {
    if (!(ch.valid && ch.ready)) return;
    this.beatsHeld++;
    const p = ch.packet!;
    if (ch.beat === p.beats - 1) this.handlePacket(p, fromMirror, cycle);
  }

  /** Processes one whole packet: relay it, answer or learn ARP, or drop it. */
  private handlePacket(packet: Packet, fromMirror: boolean, cycle: number): void {
    let p = packet;
    if (p.refs > 1) {
      // Shared with another queue: rewrite a copy, as hardware rewrites its own buffer.
      p = this.pool.clone(packet);
      this.pool.release(packet);
    }
    const ps = this.parser;
    const kind = ps.parse(p.data, p.length);
    if (fromMirror) {
      if (this.failsafeActive.value[p.serviceId] !== 1) {
        this.discard(p);
        return;
      }
      this.relayToBackup(p, cycle);
      return;
    }
    if (kind === PacketKind.Arp) {
      this.handleArp(p, cycle);
      return;
    }
    const isIpv4 = kind === PacketKind.Ipv4Udp || kind === PacketKind.Ipv4Tcp || kind === PacketKind.Ipv4Icmp || kind === PacketKind.Ipv4Other;
    if (isIpv4 && ps.dstIp === this.nicConfig.get(0, this.fRelayIp)) this.relayToClient(p, cycle);
    else this.relayToBackup(p, cycle);
  }

  private drop(p: Packet, counter: number): void {
    this.counters.values[counter]!++;
    this.discard(p);
  }

  private discard(p: Packet): void {
    this.beatsHeld -= p.beats;
    this.pool.release(p);
  }

  /** Common checks of both relay directions; false when the packet was dropped. */
  private relayable(p: Packet, replyDirection: boolean): boolean {
    const ps = this.parser;
    const kind = ps.kind;
    if (kind === PacketKind.Malformed) {
      this.drop(p, ps.etherType === EtherType.Ipv4 ? this.cMalformed : this.cUnsupported);
      return false;
    }
    if (kind === PacketKind.Arp || kind === PacketKind.Ipv6 || kind === PacketKind.OtherEthertype) {
      this.drop(p, this.cUnsupported);
      return false;
    }
    if (ps.fragmentOffset !== 0 || ps.moreFragments) {
      this.drop(p, this.cFragment);
      return false;
    }
    const icmpOk = kind === PacketKind.Ipv4Icmp && ps.icmpType === (replyDirection ? IcmpType.EchoReply : IcmpType.EchoRequest);
    if (kind !== PacketKind.Ipv4Udp && kind !== PacketKind.Ipv4Tcp && !icmpOk) {
      this.drop(p, this.cUnsupported);
      return false;
    }
    if (this.decrementTtl && ps.ttl <= 1) {
      this.drop(p, this.cTtlExpired);
      return false;
    }
    return true;
  }

  private relayToBackup(p: Packet, cycle: number): void {
    if (!this.relayable(p, false)) return;
    const ps = this.parser;
    const isIcmp = ps.kind === PacketKind.Ipv4Icmp;
    const proto = ps.ipProto;
    const clientIp = ps.srcIp;
    const svcIp = ps.dstIp;
    const clientPort = isIcmp ? ps.icmpId : ps.srcPort;
    const svcPort = isIcmp ? 0 : ps.dstPort;
    const hash = flowHash(clientIp, svcIp, clientPort, svcPort, proto);

    let f = this.flowFind(hash, clientIp, svcIp, clientPort, svcPort, proto);
    if (f < 0 || !this.backupStillValid(f, p.serviceId)) {
      if (!this.selectBackup(p.serviceId, svcIp, proto, svcPort, hash)) {
        this.drop(p, this.cNoBackup);
        return;
      }
      if (f < 0) {
        f = this.flowCreate(hash, clientIp, svcIp, clientPort, svcPort, proto, cycle);
        if (f < 0) {
          this.drop(p, this.cPortsExhausted);
          return;
        }
      }
      this.flowBackupIp[f] = this.selIp;
      this.flowBackupPort[f] = this.selPort;
      this.flowNeighbor[f] = this.selNeighbor;
      this.flowTablesVersion[f] = this.serviceTable.version + this.defaultBackup.version;
    }
    const b = p.data;
    const nf = portIndexOf(p.srcPort);
    this.flowLastUsed[f] = cycle;
    this.flowClientMac[f] = readMac48(b, 6);
    this.flowSvcMac[f] = readMac48(b, 0);
    this.flowClientNf[f] = nf;

    const relayPort = this.flowRelayPort[f]!;
    const backupIp = this.flowBackupIp[f]!;
    this.nat(b, this.nicConfig.get(0, this.fRelayIp), backupIp, relayPort, this.flowBackupPort[f]!, isIcmp ? relayPort : -1);
    writeMac48(b, 6, this.nicMac48());
    p.srcPort = srcForWireEgress(nf);
    p.dstPort = 0;
    p.critical = 0;
    p.flags = FLAG_FROM_FAILSAFE;

    const a = this.arpFind(backupIp);
    if (a >= 0 && this.arpState[a]! >= ARP_RESOLVED) {
      writeMac48(b, 0, this.arpMac[a]!);
      this.emit(p, this.cToBackup, cycle);
      return;
    }
    if (this.heldCount === this.held.length) {
      this.drop(p, this.cArpUnresolved);
      return;
    }
    if (a < 0 && !this.arpRequest(backupIp, nf, cycle)) {
      this.drop(p, this.cArpUnresolved);
      return;
    }
    // The hold queue is its own memory: held packets must not fill the buffer the ARP reply needs.
    this.beatsHeld -= p.beats;
    this.held[this.heldCount] = p;
    this.heldIp[this.heldCount] = backupIp;
    this.heldCount++;
  }

  private relayToClient(p: Packet, cycle: number): void {
    if (!this.relayable(p, true)) return;
    const ps = this.parser;
    const isIcmp = ps.kind === PacketKind.Ipv4Icmp;
    const relayPort = isIcmp ? ps.icmpId : ps.dstPort;
    const f = this.portOwner[relayPort]!;
    if (
      f < 0 ||
      this.flowProto[f] !== ps.ipProto ||
      this.flowBackupIp[f] !== ps.srcIp ||
      (!isIcmp && this.flowBackupPort[f] !== ps.srcPort)
    ) {
      this.drop(p, this.cNoMapping);
      return;
    }
    this.flowLastUsed[f] = cycle;
    const b = p.data;
    const clientPort = this.flowClientPort[f]!;
    this.nat(b, this.flowSvcIp[f]!, this.flowClientIp[f]!, this.flowSvcPort[f]!, clientPort, isIcmp ? clientPort : -1);
    writeMac48(b, 0, this.flowClientMac[f]!);
    writeMac48(b, 6, this.flowSvcMac[f]!);
    p.srcPort = srcForWireEgress(this.flowClientNf[f]!);
    p.dstPort = 0;
    p.critical = 0;
    p.flags = FLAG_FROM_FAILSAFE;
    this.emit(p, this.cToClient, cycle);
  }

  /**
   * Rewrites addresses and ports (or the ICMP echo identifier, when `icmpId` >= 0) of the
   * parsed packet, adjusting every checksum by RFC 1624 eqn. 3, and decrements the TTL.
   */
  private nat(b: Uint8Array, newSrcIp: number, newDstIp: number, newSrcPort: number, newDstPort: number, icmpId: number): void {
    const ps = this.parser;
    const l3 = ps.l3Offset;
    const l4 = ps.l4Offset;
    const oldSrcIp = ps.srcIp;
    const oldDstIp = ps.dstIp;
    let ipSum = (b[l3 + 10]! << 8) | b[l3 + 11]!;
    ipSum = checksumAdjust32(ipSum, oldSrcIp, newSrcIp);
    ipSum = checksumAdjust32(ipSum, oldDstIp, newDstIp);
    if (this.decrementTtl) {
      const ttlProto = (ps.ttl << 8) | ps.ipProto;
      ipSum = checksumAdjust16(ipSum, ttlProto, ttlProto - 0x100);
      b[l3 + 8] = ps.ttl - 1;
    }
    writeIpv4(b, l3 + 12, newSrcIp);
    writeIpv4(b, l3 + 16, newDstIp);
    b[l3 + 10] = ipSum >>> 8;
    b[l3 + 11] = ipSum;

    const proto = ps.ipProto;
    if (proto === PROTO_ICMP) {
      // No pseudo-header in ICMP (RFC 792): only the identifier enters the sum.
      let c = (b[l4 + 2]! << 8) | b[l4 + 3]!;
      c = checksumAdjust16(c, ps.icmpId, icmpId);
      b[l4 + 4] = icmpId >>> 8;
      b[l4 + 5] = icmpId;
      b[l4 + 2] = c >>> 8;
      b[l4 + 3] = c;
      return;
    }
    const at = proto === PROTO_UDP ? l4 + 6 : l4 + 16;
    let c = (b[at]! << 8) | b[at + 1]!;
    if (proto === PROTO_UDP) {
      c = udpChecksumAdjust32(c, oldSrcIp, newSrcIp);
      c = udpChecksumAdjust32(c, oldDstIp, newDstIp);
      c = udpChecksumAdjust16(c, ps.srcPort, newSrcPort);
      c = udpChecksumAdjust16(c, ps.dstPort, newDstPort);
    } else {
      c = checksumAdjust32(c, oldSrcIp, newSrcIp);
      c = checksumAdjust32(c, oldDstIp, newDstIp);
      c = checksumAdjust16(c, ps.srcPort, newSrcPort);
      c = checksumAdjust16(c, ps.dstPort, newDstPort);
    }
    b[l4] = newSrcPort >>> 8;
    b[l4 + 1] = newSrcPort;
    b[l4 + 2] = newDstPort >>> 8;
    b[l4 + 3] = newDstPort;
    b[at] = c >>> 8;
    b[at + 1] = c;
  }

  private emit(p: Packet, counter: number, cycle: number): void {
    this.counters.values[counter]!++;
    this.outRing.push(p, cycle + this.latency);
  }

  private nicMac48(): number {
    return this.nicConfig.get(0, this.fNicMacHi) * 0x100000000 + this.nicConfig.get(0, this.fNicMacLo);
  }

  // ---------------------------------------------------------------- backup choice

  /** A flow keeps its backup while its neighbor is alive, or while the tables are unchanged. */
  private backupStillValid(f: number, serviceId: number): boolean {
    const n = this.flowNeighbor[f]!;
    if (n < 0) return this.flowTablesVersion[f] === this.serviceTable.version + this.defaultBackup.version;
    const t = this.neighborTable;
    return (
      t.get(n, this.fNbValid) === 1 &&
      t.get(n, this.fNbAlive) === 1 &&
      t.get(n, this.fNbServiceId) === serviceId &&
      t.get(n, this.fNbIp) === this.flowBackupIp[f]
    );
  }

  /** Sets selIp/selPort/selNeighbor; false when the service has no backup at all. */
  private selectBackup(serviceId: number, svcIp: number, proto: number, svcPort: number, hash: number): boolean {
    // Fatriot 3.5: spread over the live backups of the service. Rendezvous hashing: each
    // flow takes the neighbor of highest weight(flow, neighbor), so the split is even and
    // a neighbor leaving moves only its own flows.
    const nb = this.neighborTable;
    let best = -1;
    let bestWeight = -1;
    for (let e = 0; e < nb.depth; e++) {
      if (nb.get(e, this.fNbValid) !== 1 || nb.get(e, this.fNbAlive) !== 1 || nb.get(e, this.fNbServiceId) !== serviceId) continue;
      const w = fmix32(hash ^ fmix32(nb.get(e, this.fNbIp) ^ Math.imul(nb.get(e, this.fNbSvcPort) + 1, 0x9e3779b1)));
      if (w > bestWeight) {
        bestWeight = w;
        best = e;
      }
    }
    if (best >= 0) {
      const port = nb.get(best, this.fNbSvcPort);
      this.selIp = nb.get(best, this.fNbIp);
      this.selPort = port !== 0 ? port : svcPort;
      this.selNeighbor = best;
      return true;
    }
    const st = this.serviceTable;
    let match = -1;
    for (let e = 0; e < st.depth; e++) {
      if (st.get(e, this.fSvcValid) !== 1 || st.get(e, this.fSvcIp) !== svcIp || st.get(e, this.fSvcProto) !== proto) continue;
      const port = st.get(e, this.fSvcPort);
      if (port === svcPort) {
        match = e;
        break;
      }
      if (port === 0 && match < 0) match = e;
    }
    this.selNeighbor = -1;
    if (match >= 0) {
      const port = st.get(match, this.fBackupPort);
      this.selIp = st.get(match, this.fBackupIp);
      this.selPort = port !== 0 ? port : svcPort;
      return true;
    }
    if (this.defaultBackup.get(0, this.fDefValid) === 1) {
      this.selIp = this.defaultBackup.get(0, this.fDefIp);
      this.selPort = svcPort;
      return true;
    }
    return false;
  }

  // ---------------------------------------------------------------- flow table

  private flowFind(hash: number, clientIp: number, svcIp: number, clientPort: number, svcPort: number, proto: number): number {
    const slots = this.slots;
    const mask = this.slotMask;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const f = slots[i]!;
      if (f < 0) return -1;
      if (
        this.flowHashes[f] === hash &&
        this.flowClientIp[f] === clientIp &&
        this.flowSvcIp[f] === svcIp &&
        this.flowClientPort[f] === clientPort &&
        this.flowSvcPort[f] === svcPort &&
        this.flowProto[f] === proto
      ) {
        return f;
      }
    }
  }

  private flowExpired(f: number, cycle: number): boolean {
    return this.flowLastUsed[f]! + this.flowIdleTimeoutCycles <= cycle;
  }

  /** A new flow with a relay port; -1 when entries or relay ports are exhausted. */
  private flowCreate(hash: number, clientIp: number, svcIp: number, clientPort: number, svcPort: number, proto: number, cycle: number): number {
    if (this.freeTop === 0) {
      // Reclaim an idle flow (rare: only when the table is full).
      for (let k = 0; k < this.flowCapacity && this.freeTop === 0; k++) {
        const f = this.reclaimCursor;
        this.reclaimCursor = (this.reclaimCursor + 1) & (this.flowCapacity - 1);
        if (this.flowInUse[f] === 1 && this.flowExpired(f, cycle)) this.flowRemove(f);
      }
      if (this.freeTop === 0) return -1;
    }
    const port = this.allocRelayPort(cycle);
    if (port < 0) return -1;
    const f = this.freeFlows[--this.freeTop]!;
    this.flowInUse[f] = 1;
    this.flowHashes[f] = hash;
    this.flowClientIp[f] = clientIp;
    this.flowSvcIp[f] = svcIp;
    this.flowClientPort[f] = clientPort;
    this.flowSvcPort[f] = svcPort;
    this.flowProto[f] = proto;
    this.flowRelayPort[f] = port;
    this.flowLastUsed[f] = cycle;
    this.portOwner[port] = f;
    const mask = this.slotMask;
    let i = hash & mask;
    while (this.slots[i]! >= 0) i = (i + 1) & mask;
    this.slots[i] = f;
    this.flowCount++;
    return f;
  }

  /** Next free relay port of nicConfig's range (round robin), reclaiming idle flows' ports. */
  private allocRelayPort(cycle: number): number {
    const base = this.nicConfig.get(0, this.fRelayPortBase);
    let count = this.nicConfig.get(0, this.fRelayPortCount);
    if (base + count > 65536) count = 65536 - base;
    for (let k = 0; k < count; k++) {
      const port = base + ((this.portCursor + k) % count);
      if (port === 0) continue;
      const owner = this.portOwner[port]!;
      if (owner >= 0) {
        if (!this.flowExpired(owner, cycle)) continue;
        this.flowRemove(owner);
      }
      this.portCursor = (this.portCursor + k + 1) % count;
      return port;
    }
    return -1;
  }

  /** Frees entry `f` and its relay port; backward-shift deletion keeps probe chains intact. */
  private flowRemove(f: number): void {
    const slots = this.slots;
    const mask = this.slotMask;
    let i = this.flowHashes[f]! & mask;
    while (slots[i] !== f) i = (i + 1) & mask;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const g = slots[j]!;
      if (g < 0) break;
      const k = this.flowHashes[g]! & mask;
      // g may move to the hole at i unless its home k lies cyclically in (i, j].
      const inRange = i <= j ? k > i && k <= j : k > i || k <= j;
      if (!inRange) {
        slots[i] = g;
        i = j;
      }
    }
    slots[i] = -1;
    const port = this.flowRelayPort[f]!;
    if (this.portOwner[port] === f) this.portOwner[port] = -1;
    this.flowInUse[f] = 0;
    this.freeFlows[this.freeTop++] = f;
    this.flowCount--;
  }

  // ---------------------------------------------------------------- ARP

  private arpFind(ip: number): number {
    const ips = this.arpIp;
    const st = this.arpState;
    for (let a = 0; a < ips.length; a++) if (st[a] !== ARP_FREE && ips[a] === ip) return a;
    return -1;
  }

  /** A free entry, else the resolved one learnt longest ago; -1 when all are static or pending. */
  private arpAlloc(): number {
    let victim = -1;
    for (let a = 0; a < this.arpState.length; a++) {
      const s = this.arpState[a];
      if (s === ARP_FREE) return a;
      if (s === ARP_RESOLVED && (victim < 0 || this.arpCycle[a]! < this.arpCycle[victim]!)) victim = a;
    }
    return victim;
  }

  /** Sends one ARP request for `ip` out of nf port `nf` and marks the entry pending. */
  private arpRequest(ip: number, nf: number, cycle: number): boolean {
    const a = this.arpAlloc();
    if (a < 0) return false;
    this.arpIp[a] = ip;
    this.arpState[a] = ARP_PENDING;
    this.arpCycle[a] = cycle + this.arpTimeoutCycles;
    this.arpPending++;

    const q = this.pool.take(60);
    const b = q.data;
    b.fill(0, 0, 60);
    writeMac48(b, 0, 0xffffffffffff);
    const mac = this.nicMac48();
    writeMac48(b, 6, mac);
    b[12] = EtherType.Arp >>> 8;
    b[13] = EtherType.Arp & 0xff;
    // RFC 826: htype 1 (Ethernet), ptype 0x0800, hlen 6, plen 4.
    b[15] = 1;
    b[16] = 0x08;
    b[18] = 6;
    b[19] = 4;
    b[21] = ArpOp.Request;
    writeMac48(b, 22, mac);
    writeIpv4(b, 28, this.nicConfig.get(0, this.fRelayIp));
    writeIpv4(b, 38, ip);
    q.srcPort = srcForWireEgress(nf);
    q.flags = FLAG_FROM_FAILSAFE;
    q.ingressCycle = cycle;
    this.beatsHeld += q.beats;
    this.emit(q, this.cArpRequests, cycle);
    return true;
  }

  private handleArp(p: Packet, cycle: number): void {
    const ps = this.parser;
    const relayIp = this.nicConfig.get(0, this.fRelayIp);
    if (relayIp === 0 || ps.arpTargetIp !== relayIp || (ps.arpOp !== ArpOp.Request && ps.arpOp !== ArpOp.Reply)) {
      this.drop(p, this.cUnsupported);
      return;
    }
    const b = p.data;
    const l3 = ps.l3Offset;
    const senderMac = readMac48(b, l3 + 8);
    const senderIp = ps.arpSenderIp;
    // RFC 826: a packet for us updates (or adds) its sender's translation. 0.0.0.0 is a probe.
    if (senderIp !== 0) this.learn(senderIp, senderMac, cycle);
    if (ps.arpOp === ArpOp.Reply) {
      this.counters.values[this.cArpRepliesReceived]!++;
      this.discard(p);
      return;
    }
    // Answer in place: the request's buffer becomes the reply.
    const mac = this.nicMac48();
    writeMac48(b, 0, senderMac);
    writeMac48(b, 6, mac);
    b[l3 + 6] = 0;
    b[l3 + 7] = ArpOp.Reply;
    writeMac48(b, l3 + 18, senderMac);
    writeIpv4(b, l3 + 24, senderIp);
    writeMac48(b, l3 + 8, mac);
    writeIpv4(b, l3 + 14, relayIp);
    const index = portIndexOf(p.srcPort);
    p.srcPort = (p.srcPort & HOST_SRC_MASK) !== 0 ? srcForHostEgress(index) : srcForWireEgress(index);
    p.dstPort = 0;
    p.critical = 0;
    p.flags = FLAG_FROM_FAILSAFE;
    this.emit(p, this.cArpRepliesSent, cycle);
  }

  private learn(ip: number, mac48: number, cycle: number): void {
    let a = this.arpFind(ip);
    if (a >= 0 && this.arpState[a] === ARP_STATIC) return;
    if (a < 0) a = this.arpAlloc();
    if (a < 0) return;
    if (this.arpState[a] === ARP_PENDING) this.arpPending--;
    this.arpIp[a] = ip;
    this.arpMac[a] = mac48;
    this.arpState[a] = ARP_RESOLVED;
    this.arpCycle[a] = cycle;
    this.releaseHeld(ip, mac48, cycle);
  }

  /** Sends the packets held for `ip`, in their order, now that its MAC is known. */
  private releaseHeld(ip: number, mac48: number, cycle: number): void {
    let kept = 0;
    for (let i = 0; i < this.heldCount; i++) {
      const p = this.held[i]!;
      if (this.heldIp[i] === ip) {
        writeMac48(p.data, 0, mac48);
        this.beatsHeld += p.beats;
        this.emit(p, this.cToBackup, cycle);
      } else {
        this.held[kept] = p;
        this.heldIp[kept] = this.heldIp[i]!;
        kept++;
      }
    }
    for (let i = kept; i < this.heldCount; i++) this.held[i] = null;
    this.heldCount = kept;
  }

  /** Pending entries past their deadline: their held packets are dropped, the entry freed. */
  private expireArp(cycle: number): void {
    for (let a = 0; a < this.arpState.length; a++) {
      if (this.arpState[a] !== ARP_PENDING || this.arpCycle[a]! > cycle) continue;
      this.arpState[a] = ARP_FREE;
      this.arpPending--;
      const ip = this.arpIp[a]!;
      let kept = 0;
      for (let i = 0; i < this.heldCount; i++) {
        const p = this.held[i]!;
        if (this.heldIp[i] === ip) {
          this.counters.values[this.cArpUnresolved]!++;
          this.pool.release(p);
        } else {
          this.held[kept] = p;
          this.heldIp[kept] = this.heldIp[i]!;
          kept++;
        }
      }
      for (let i = kept; i < this.heldCount; i++) this.held[i] = null;
      this.heldCount = kept;
    }
  }

  override traceSignals(): TraceSignal[] {
    return [
      { name: 'beats_held', width: 16, read: () => this.beatsHeld },
      { name: 'flows', width: 16, read: () => this.flowCount },
      { name: 'arp_held', width: 8, read: () => this.heldCount },
    ];
  }
}
