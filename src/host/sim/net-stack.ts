/**
 * One IPv4 network stack on one Ethernet interface, as a Linux host has it: its address,
 * its MAC, the neighbour (ARP) table with Linux's states and timers, and the rules for
 * answering ARP. A stack owns no clock and no port: its owner (a SimHost or the traffic
 * generator) delivers frames to it, runs its timers and puts its frames on the wire.
 *
 * Neighbour behaviour follows net/core/neighbour.c and net/ipv4/arp.c:
 * - sending to an unknown address creates an INCOMPLETE entry, queues the packet
 *   (unres_qlen, oldest dropped first), broadcasts a request at once and again every
 *   retrans_time until mcast_solicit requests went unanswered; then the entry FAILS and
 *   its queue is dropped;
 * - a reply (or any ARP from that address) makes the entry valid and flushes the queue;
 *   a unicast reply makes it REACHABLE, a broadcast one or a request only STALE;
 * - a REACHABLE entry turns STALE base_reachable_time after its last confirmation;
 *   sending on a STALE entry uses it and arms DELAY; delay_first_probe_time later
 *   PROBE sends ucast_solicit unicast requests, retrans_time apart, to the cached MAC,
 *   and the entry fails if none is answered;
 * - a request for our address is answered and creates or refreshes the sender's entry
 *   as STALE (neigh_event_ns); ARP from others only updates an existing entry, and may
 *   change its MAC only after locktime (arp_accept = 0, no gratuitous learning).
 */
import type { Packet, PacketPool } from '../../pipeline/sim/packet.ts';
import { IPV4_BROADCAST, readIpv4, readMac48, writeIpv4, writeMac48 } from '../../pipeline/wire/address.ts';
import { ArpOp, ARP_HTYPE_ETHERNET } from '../../pipeline/wire/arp.ts';
import { icmpChecksum, ipv4HeaderChecksum, udpChecksum } from '../../pipeline/wire/checksum.ts';
import { EtherType, ETHERNET_HEADER_LEN, ETHERNET_MIN_FRAME_LEN } from '../../pipeline/wire/ethernet.ts';
import { IcmpType } from '../../pipeline/wire/icmp.ts';
import { IPV4_HEADER_LEN } from '../../pipeline/wire/ipv4.ts';
import type { HeaderParser } from '../../pipeline/wire/parse.ts';
import { toIpv4, toMac, type Ipv4Like, type MacLike } from '../../pipeline/wire/build.ts';
import type { NeighborParams } from './timing.ts';

export const NeighborState = {
  Incomplete: 1,
  Reachable: 2,
  Stale: 3,
  Delay: 4,
  Probe: 5,
} as const;
export type NeighborStateCode = (typeof NeighborState)[keyof typeof NeighborState];

const neighborStateNames = ['none', 'incomplete', 'reachable', 'stale', 'delay', 'probe'] as const;
export type NeighborStateName = (typeof neighborStateNames)[number];

export class Neighbor {
  readonly ip: number;
  mac48 = 0;
  state: NeighborStateCode = NeighborState.Incomplete;
  /** Requests sent in the current INCOMPLETE or PROBE phase (Linux neigh->probes). */
  probes = 0;
  confirmedCycle = 0;
  updatedCycle = 0;
  /** Bumped whenever the entry's timer is re-armed or cancelled; a timer event carries it. */
  timerGen = 0;
  /** Packets waiting for resolution (INCOMPLETE only). */
  readonly queue: Packet[] = [];

  constructor(ip: number) {
    this.ip = ip;
  }
}

/** What a stack needs from its owner. */
export interface StackOwner {
  readonly pool: PacketPool;
  /** The stack hands a finished frame to its interface at logical cycle `time`. */
  stackOutput(stack: NetStack, packet: Packet, time: number): void;
  /** Runs `stack.onNeighborTimer(neighbor, gen, t)` at cycle `time`. */
  scheduleNeighborTimer(stack: NetStack, neighbor: Neighbor, gen: number, time: number): void;
  /** An entry left INCOMPLETE with a MAC. */
  neighborResolved?(stack: NetStack, neighbor: Neighbor, time: number): void;
  /** An entry failed (no answer to its requests) and was removed. */
  neighborFailed?(stack: NetStack, ip: number, time: number): void;
}

/** Receives the UDP datagrams of one bound port. */
export interface UdpHandler {
  /** A verified datagram for the bound port, in `packet`, at logical cycle `time`. The handler owns the packet. */
  deliverUdp(stack: NetStack, packet: Packet, time: number): void;
}

export interface NetStackOptions {
  name: string;
  ip: Ipv4Like;
  mac: MacLike;
  /** On-link prefix; every other destination is unreachable (the testbed is one L2 segment). Default 24. */
  prefixLength?: number;
  /** Kernel time from a frame reaching the stack to its answer leaving it, in cycles (>= 1). */
  kernelDelayCycles: number;
  /** One-way delay between the physical port and this stack (a VM's vswitch path); 0 for the host OS. */
  pathDelayCycles?: number;
  /** Whether the stack answers ICMP echo requests to its address (Linux icmp_echo_ignore_all = 0). */
  answersIcmpEcho?: boolean;
  neighbor: NeighborParams;
}

/** Counters of one stack, by reason. */
export interface NetStackStats {
  rxArp: number;
  rxIcmpEcho: number;
  rxUdp: number;
  txArpRequests: number;
  txArpReplies: number;
  txIpv4: number;
  /** Dropped because they were not for this stack's address, or not a kind it handles. */
  dropNotForUs: number;
  dropBadChecksum: number;
  /** UDP to a port nothing is bound to (Linux would answer ICMP port unreachable; the model stays silent). */
  dropNoService: number;
  dropNoRoute: number;
  /** Queued behind an unresolved entry and dropped: queue overflow or failed resolution. */
  dropUnresolved: number;
  dropDown: number;
}

export class NetStack {
  readonly name: string;
  readonly ip: number;
  readonly mac: Uint8Array;
  readonly mac48: number;
  readonly netmask: number;
  readonly kernelDelayCycles: number;
  readonly pathDelayCycles: number;
  readonly answersIcmpEcho: boolean;
  readonly params: NeighborParams;
  readonly neighbors = new Map<number, Neighbor>();
  readonly udpHandlers = new Map<number, UdpHandler>();
  readonly stats: NetStackStats = {
    rxArp: 0,
    rxIcmpEcho: 0,
    rxUdp: 0,
    txArpRequests: 0,
    txArpReplies: 0,
    txIpv4: 0,
    dropNotForUs: 0,
    dropBadChecksum: 0,
    dropNoService: 0,
    dropNoRoute: 0,
    dropUnresolved: 0,
    dropDown: 0,
  };
  /** Index in the owner's stack list (event routing). */
  index = -1;
  /** False while the interface (or the VM it belongs to) is down. */
  up = true;
  /** Bumped when the stack goes down, so work scheduled before is dropped. */
  epoch = 0;
  private owner: StackOwner | null = null;
  private ipIdent = 0;

  constructor(options: NetStackOptions) {
    if (!Number.isInteger(options.kernelDelayCycles) || options.kernelDelayCycles < 1) {
      throw new RangeError(`kernelDelayCycles must be an integer >= 1, got ${options.kernelDelayCycles}`);
    }
    const prefix = options.prefixLength ?? 24;
    this.name = options.name;
    this.ip = toIpv4(options.ip);
    this.mac = toMac(options.mac).slice();
    this.mac48 = readMac48(this.mac, 0);
    this.netmask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    this.kernelDelayCycles = options.kernelDelayCycles;
    this.pathDelayCycles = options.pathDelayCycles ?? 0;
    this.answersIcmpEcho = options.answersIcmpEcho ?? true;
    this.params = options.neighbor;
  }

  /** Called once by the owner. */
  bind(owner: StackOwner, index: number): void {
    this.owner = owner;
    this.index = index;
  }

  /** Binds a UDP port; throws if it is taken (EADDRINUSE). */
  bindUdp(port: number, handler: UdpHandler): void {
    if (this.udpHandlers.has(port)) throw new Error(`${this.name}: UDP port ${port} is already bound`);
    this.udpHandlers.set(port, handler);
  }

  /** The state of the entry for `ip` as `ip neigh` would show it at cycle `at`. */
  neighborState(ip: Ipv4Like, at: number): NeighborStateName {
    const n = this.neighbors.get(toIpv4(ip));
    if (n === undefined) return 'none';
    // A query changes nothing: the REACHABLE -> STALE expiry is only applied on use.
    const expired = n.state === NeighborState.Reachable && at >= n.confirmedCycle + this.params.reachableCycles;
    return neighborStateNames[expired ? NeighborState.Stale : n.state]!;
  }

  /** The resolved MAC of `ip` as a 48-bit number, or -1. */
  neighborMac48(ip: Ipv4Like): number {
    const n = this.neighbors.get(toIpv4(ip));
    return n === undefined || n.state === NeighborState.Incomplete ? -1 : n.mac48;
  }

  /** Starts resolving `ip` if it has no entry (as sending to it would), without queuing anything. */
  resolve(ip: number, at: number): void {
    if (this.neighbors.has(ip)) return;
    this.startIncomplete(ip, at);
  }

  /**
   * Sends an IPv4 frame (`packet` holds Ethernet + IPv4 with valid checksums); the stack
   * writes the source MAC, and the destination MAC once the next hop is resolved.
   */
  sendIpv4(packet: Packet, at: number): void {
    const owner = this.owner!;
    if (!this.up) {
      this.stats.dropDown++;
      owner.pool.release(packet);
      return;
    }
    const data = packet.data;
    const dst = readIpv4(data, ETHERNET_HEADER_LEN + 16);
    writeMac48(data, 6, this.mac48);
    if (dst === IPV4_BROADCAST || dst === ((this.ip & this.netmask) | ~this.netmask) >>> 0) {
      data.fill(0xff, 0, 6);
      this.output(packet, at);
      return;
    }
    if (((dst ^ this.ip) & this.netmask) !== 0) {
      this.stats.dropNoRoute++;
      owner.pool.release(packet);
      return;
    }
    const n = this.neighbors.get(dst);
    if (n === undefined) {
      this.startIncomplete(dst, at).queue.push(packet);
      return;
    }
    const state = this.effectiveState(n, at);
    if (state === NeighborState.Incomplete) {
      if (n.queue.length >= this.params.unresQlen) {
        owner.pool.release(n.queue.shift()!);
        this.stats.dropUnresolved++;
      }
      n.queue.push(packet);
      return;
    }
    if (state === NeighborState.Stale) {
      n.state = NeighborState.Delay;
      n.updatedCycle = at;
      this.armTimer(n, at + this.params.delayFirstProbeCycles);
    }
    writeMac48(data, 0, n.mac48);
    this.output(packet, at);
  }

  /** A timer of entry `n` fired at logical cycle `at`. */
  onNeighborTimer(n: Neighbor, gen: number, at: number): void {
    if (gen !== n.timerGen || this.neighbors.get(n.ip) !== n) return;
    const p = this.params;
    switch (n.state) {
      case NeighborState.Incomplete:
        // neigh_max_probes: probes starts at ucast_solicit for INCOMPLETE.
        if (n.probes >= p.ucastProbes + p.mcastProbes) {
          this.fail(n, at);
          return;
        }
        this.solicit(n, at, false);
        return;
      case NeighborState.Delay:
        if (at <= n.confirmedCycle + p.delayFirstProbeCycles) {
          n.state = NeighborState.Reachable;
          n.updatedCycle = at;
          return;
        }
        n.state = NeighborState.Probe;
        n.updatedCycle = at;
        n.probes = 0;
        this.solicit(n, at, true);
        return;
      case NeighborState.Probe:
        if (n.probes >= p.ucastProbes) {
          this.fail(n, at);
          return;
        }
        this.solicit(n, at, true);
        return;
      default:
        return;
    }
  }

  /**
   * An ARP packet for this stack (broadcast, or unicast to its MAC) at logical cycle `at`.
   * `frame` holds it at `l3`; `unicastToUs` tells a unicast reply from a broadcast one.
   */
  receiveArp(frame: Uint8Array, l3: number, unicastToUs: boolean, at: number): void {
    this.stats.rxArp++;
    if (!this.up) {
      this.stats.dropDown++;
      return;
    }
    const op = (frame[l3 + 6]! << 8) | frame[l3 + 7]!;
    const senderMac48 = readMac48(frame, l3 + 8);
    const senderIp = readIpv4(frame, l3 + 14);
    const targetIp = readIpv4(frame, l3 + 24);
    // RFC 5227 probes (sender 0.0.0.0) teach nothing.
    if (senderIp === 0 || senderIp === this.ip) return;
    if (op === ArpOp.Request && targetIp === this.ip) {
      this.update(senderIp, senderMac48, NeighborState.Stale, true, at, true);
      this.sendArp(ArpOp.Reply, senderMac48, senderMac48, senderIp, at);
      return;
    }
    const n = this.neighbors.get(senderIp);
    if (n === undefined) return;
    const override = at > n.updatedCycle + this.params.locktimeCycles;
    const state = op === ArpOp.Reply && unicastToUs ? NeighborState.Reachable : NeighborState.Stale;
    this.update(senderIp, senderMac48, state, override || n.state === NeighborState.Incomplete, at, false);
  }

  /** Interface down: every entry and queued packet goes (Linux neigh_ifdown). */
  flush(): void {
    const pool = this.owner?.pool;
    for (const n of this.neighbors.values()) {
      n.timerGen++;
      for (const q of n.queue) pool?.release(q);
      n.queue.length = 0;
    }
    this.neighbors.clear();
  }

  /** Next IPv4 identification value (RFC 6864: any value for atomic datagrams; a counter, as Linux). */
  nextIpIdent(): number {
    this.ipIdent = (this.ipIdent + 1) & 0xffff;
    return this.ipIdent;
  }

  private effectiveState(n: Neighbor, at: number): NeighborStateCode {
    if (n.state === NeighborState.Reachable && at >= n.confirmedCycle + this.params.reachableCycles) {
      n.state = NeighborState.Stale;
      n.updatedCycle = n.confirmedCycle + this.params.reachableCycles;
    }
    return n.state;
  }

  private startIncomplete(ip: number, at: number): Neighbor {
    const n = new Neighbor(ip);
    n.updatedCycle = at;
    n.probes = this.params.ucastProbes;
    this.neighbors.set(ip, n);
    this.solicit(n, at, false);
    return n;
  }

  /** Sends one request for `n` (broadcast, or unicast to its cached MAC) and re-arms its timer. */
  private solicit(n: Neighbor, at: number, unicast: boolean): void {
    n.probes++;
    this.sendArp(ArpOp.Request, unicast ? n.mac48 : -1, 0, n.ip, at);
    this.armTimer(n, at + this.params.retransCycles);
  }

  private armTimer(n: Neighbor, time: number): void {
    n.timerGen++;
    this.owner!.scheduleNeighborTimer(this, n, n.timerGen, time);
  }

  private fail(n: Neighbor, at: number): void {
    const pool = this.owner!.pool;
    this.stats.dropUnresolved += n.queue.length;
    for (const q of n.queue) pool.release(q);
    n.queue.length = 0;
    n.timerGen++;
    this.neighbors.delete(n.ip);
    this.owner!.neighborFailed?.(this, n.ip, at);
  }

  /** neigh_update, reduced to what ARP uses. `create` makes a missing entry (neigh_event_ns). */
  private update(ip: number, mac48: number, state: NeighborStateCode, override: boolean, at: number, create: boolean): void {
    let n = this.neighbors.get(ip);
    if (n === undefined) {
      if (!create) return;
      n = new Neighbor(ip);
      this.neighbors.set(ip, n);
    }
    const wasIncomplete = this.effectiveState(n, at) === NeighborState.Incomplete;
    if (!wasIncomplete) {
      if (mac48 !== n.mac48 && !override) return;
      // A valid entry keeps its state when a STALE update brings the same address.
      if (mac48 === n.mac48 && state === NeighborState.Stale) return;
    }
    n.mac48 = mac48;
    n.state = state;
    n.updatedCycle = at;
    if (state === NeighborState.Reachable) n.confirmedCycle = at;
    n.timerGen++;
    n.probes = 0;
    if (wasIncomplete) {
      const queue = n.queue;
      for (let i = 0; i < queue.length; i++) {
        const q = queue[i]!;
        writeMac48(q.data, 0, mac48);
        this.output(q, at);
      }
      queue.length = 0;
      this.owner!.neighborResolved?.(this, n, at);
    }
  }

  /** Builds an ARP packet and outputs it; `dstMac48` -1 means broadcast. */
  private sendArp(op: number, dstMac48: number, targetMac48: number, targetIp: number, at: number): void {
    const p = this.owner!.pool.take(ETHERNET_MIN_FRAME_LEN);
    const d = p.data;
    d.fill(0, 0, ETHERNET_MIN_FRAME_LEN);
    if (dstMac48 < 0) d.fill(0xff, 0, 6);
    else writeMac48(d, 0, dstMac48);
    writeMac48(d, 6, this.mac48);
    d[12] = EtherType.Arp >>> 8;
    d[13] = EtherType.Arp & 0xff;
    const a = ETHERNET_HEADER_LEN;
    d[a + 1] = ARP_HTYPE_ETHERNET;
    d[a + 2] = EtherType.Ipv4 >>> 8;
    d[a + 3] = EtherType.Ipv4 & 0xff;
    d[a + 4] = 6;
    d[a + 5] = 4;
    d[a + 7] = op;
    writeMac48(d, a + 8, this.mac48);
    writeIpv4(d, a + 14, this.ip);
    // Linux arp_create: the target hardware address of a request is all zeros.
    if (op === ArpOp.Reply) writeMac48(d, a + 18, targetMac48);
    writeIpv4(d, a + 24, targetIp);
    if (op === ArpOp.Request) this.stats.txArpRequests++;
    else this.stats.txArpReplies++;
    this.owner!.stackOutput(this, p, at);
  }

  private output(packet: Packet, at: number): void {
    if (packet.data[12] === EtherType.Ipv4 >>> 8 && packet.data[13] === (EtherType.Ipv4 & 0xff)) this.stats.txIpv4++;
    this.owner!.stackOutput(this, packet, at);
  }
}

/**
 * Turns a parsed, untagged IPv4 request in `p` into the header of its answer in place:
 * source = `srcIp`, destination = the request's source, no IP options, TTL 64, the given
 * identification and DF bit; moves the L4 bytes if the request carried options. Returns
 * the offset of the L4 header. Caller fills L4 and the IP checksum via `finishIpv4Reply`.
 */
function beginIpv4Reply(p: Packet, parser: HeaderParser, srcIp: number, ident: number, dontFragment: boolean, l4Length: number): number {
  const d = p.data;
  const l3 = ETHERNET_HEADER_LEN;
  const l4 = l3 + IPV4_HEADER_LEN;
  if (parser.l4Offset !== l4) d.copyWithin(l4, parser.l4Offset, parser.l4Offset + l4Length);
  const requester = parser.srcIp;
  const protocol = parser.ipProto;
  d[l3] = 0x45;
  d[l3 + 1] = 0;
  const total = IPV4_HEADER_LEN + l4Length;
  d[l3 + 2] = total >>> 8;
  d[l3 + 3] = total & 0xff;
  d[l3 + 4] = ident >>> 8;
  d[l3 + 5] = ident & 0xff;
  d[l3 + 6] = dontFragment ? 0x40 : 0;
  d[l3 + 7] = 0;
  d[l3 + 8] = 64;
  d[l3 + 9] = protocol;
  d[l3 + 10] = 0;
  d[l3 + 11] = 0;
  writeIpv4(d, l3 + 12, srcIp);
  writeIpv4(d, l3 + 16, requester);
  const end = l4 + l4Length;
  const length = end < ETHERNET_MIN_FRAME_LEN ? ETHERNET_MIN_FRAME_LEN : end;
  if (end < length) d.fill(0, end, length);
  p.length = length;
  p.beats = Math.ceil(length / 32);
  return l4;
}

function finishIpv4Reply(p: Packet): void {
  const d = p.data;
  const c = ipv4HeaderChecksum(d, ETHERNET_HEADER_LEN, IPV4_HEADER_LEN);
  d[ETHERNET_HEADER_LEN + 10] = c >>> 8;
  d[ETHERNET_HEADER_LEN + 11] = c & 0xff;
}

/** Rewrites an ICMP echo request (parsed by `parser`) into its echo reply from `stack`. */
export function makeIcmpEchoReply(p: Packet, parser: HeaderParser, stack: NetStack): void {
  const l4Length = parser.l4Length;
  const l4 = beginIpv4Reply(p, parser, stack.ip, stack.nextIpIdent(), false, l4Length);
  const d = p.data;
  d[l4] = IcmpType.EchoReply;
  d[l4 + 1] = 0;
  d[l4 + 2] = 0;
  d[l4 + 3] = 0;
  const c = icmpChecksum(d, l4, l4Length);
  d[l4 + 2] = c >>> 8;
  d[l4 + 3] = c & 0xff;
  finishIpv4Reply(p);
}

/** Rewrites a UDP datagram (parsed by `parser`) into a datagram back to its sender with the same payload. */
export function makeUdpEchoReply(p: Packet, parser: HeaderParser, stack: NetStack): void {
  const d = p.data;
  const udpLength = (d[parser.l4Offset + 4]! << 8) | d[parser.l4Offset + 5]!;
  const srcPort = parser.dstPort;
  const dstPort = parser.srcPort;
  const dstIp = parser.srcIp;
  // Linux sets DF on UDP when path MTU discovery is on (ip_no_pmtu_disc = 0).
  const l4 = beginIpv4Reply(p, parser, stack.ip, stack.nextIpIdent(), true, udpLength);
  d[l4] = srcPort >>> 8;
  d[l4 + 1] = srcPort & 0xff;
  d[l4 + 2] = dstPort >>> 8;
  d[l4 + 3] = dstPort & 0xff;
  d[l4 + 6] = 0;
  d[l4 + 7] = 0;
  const c = udpChecksum(d, l4, udpLength, stack.ip, dstIp);
  d[l4 + 6] = c >>> 8;
  d[l4 + 7] = c & 0xff;
  finishIpv4Reply(p);
}
