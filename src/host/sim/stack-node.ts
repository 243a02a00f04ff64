/**
 * The clocked shell shared by the simulated hosts and the traffic generator: one Port,
 * one or more NetStacks behind it, a packet pool, and an event queue that makes every
 * delay a timer (so an idle host costs nothing, SPEC 3).
 *
 * Timing rules (README.md "Time on a port"):
 * - A frame received on the port with cycle c is handled in evaluate(c).
 * - An event due at logical cycle T is handled in evaluate(T - 1), so that a frame it
 *   sends can be passed to the port with cycle T (a module transmitting during
 *   evaluate(t) must pass t + 1 or later). An event that could not run that early runs
 *   at the next evaluated cycle t with logical time t + 1.
 * Events never depend on the order in which the simulator evaluates modules: frames
 * from other modules always arrive for a later cycle than the one being evaluated.
 */
import { netfpgaSpec } from '../../../hw/netfpga-spec/index.ts';
import type { Port } from '../../dataplane/port.ts';
import { ClockedModule, IDLE, type TraceSignal } from '../../pipeline/sim/module.ts';
import { PacketPool, type Packet } from '../../pipeline/sim/packet.ts';
import { TimedRing } from '../../pipeline/sim/ring.ts';
import { isMulticastMac, readMac48 } from '../../pipeline/wire/address.ts';
import { verifyIcmpChecksum, verifyUdpChecksum } from '../../pipeline/wire/checksum.ts';
import { ETHERNET_MAX_FRAME_LEN } from '../../pipeline/wire/ethernet.ts';
import { IcmpType } from '../../pipeline/wire/icmp.ts';
import { WireError } from '../../pipeline/wire/error.ts';
import { HeaderParser, PacketKind } from '../../pipeline/wire/parse.ts';
import { EventQueue } from './event-queue.ts';
import { makeIcmpEchoReply, NetStack, type Neighbor, type StackOwner } from './net-stack.ts';

/** Event kinds of the shell; subclasses number theirs from EV_USER. */
export const EV_TX = 1;
export const EV_STACK_RX = 2;
export const EV_NEIGHBOR_TIMER = 3;
export const EV_USER = 16;

/** Counters of the shell (per port, before any stack). */
export interface NodeStats {
  rxFrames: number;
  rxBytes: number;
  txFrames: number;
  txBytes: number;
  /** Frames that arrived while the node was down (crashed host). */
  dropDown: number;
  /** Frames no stack wanted: another unicast MAC, a multicast group, a VLAN tag, unparsable. */
  dropNotForUs: number;
  dropOversize: number;
}

export abstract class StackNode extends ClockedModule implements StackOwner {
  readonly port: Port;
  readonly coreHz: number;
  readonly pool: PacketPool;
  readonly stacks: NetStack[] = [];
  readonly nodeStats: NodeStats = { rxFrames: 0, rxBytes: 0, txFrames: 0, txBytes: 0, dropDown: 0, dropNotForUs: 0, dropOversize: 0 };
  protected readonly events = new EventQueue<object>();
  protected readonly parser = new HeaderParser({ verifyIpv4Checksum: true });
  private readonly rx = new TimedRing<Packet>();
  /** False while the node is crashed: nothing is received, nothing runs. */
  protected alive = true;

  constructor(name: string, port: Port, coreHz: number) {
    super(name);
    this.port = port;
    this.coreHz = coreHz;
    this.pool = new PacketPool(netfpgaSpec.axis.beatBytes.value);
    port.attach(this.onPortFrame);
  }

  /** Adds a stack behind the port. */
  protected addStack(stack: NetStack): NetStack {
    stack.bind(this, this.stacks.length);
    this.stacks.push(stack);
    return stack;
  }

  /** The simulator's present: the first cycle not yet evaluated. */
  get now(): number {
    return this.sim?.now ?? 0;
  }

  private readonly onPortFrame = (frame: Uint8Array, cycle: number): void => {
    if (!this.alive) {
      this.nodeStats.dropDown++;
      return;
    }
    if (frame.length > ETHERNET_MAX_FRAME_LEN) {
      this.nodeStats.dropOversize++;
      return;
    }
    this.nodeStats.rxFrames++;
    this.nodeStats.rxBytes += frame.length;
    const p = this.pool.take(frame.length);
    p.data.set(frame, 0);
    p.ingressCycle = cycle;
    this.rx.push(p, cycle);
    this.wakeAt(cycle);
  };

  /** Schedules an event due at logical cycle `time` (see the timing rules above). */
  protected schedule(time: number, kind: number, a: number, b: number, c: number, ref: object | null): void {
    this.events.push(time - 1, time, kind, a, b, c, ref);
    this.wakeAt(time - 1);
  }

  evaluate(cycle: number): void {
    const rx = this.rx;
    while (rx.length > 0 && rx.peekTime() <= cycle) {
      const c = rx.peekTime();
      this.onReceive(rx.shift(), c < cycle ? cycle : c);
    }
    const events = this.events;
    while (events.minKey() <= cycle) {
      events.pop();
      const t = events.time > cycle ? events.time : cycle + 1;
      this.onEvent(events.kind, events.a, events.b, events.c, events.ref, t);
    }
  }

  commit(cycle: number): number {
    const next = Math.min(this.rx.peekTime(), this.events.minKey());
    if (next === Number.POSITIVE_INFINITY) return IDLE;
    return next <= cycle ? cycle + 1 : next;
  }

  override traceSignals(): TraceSignal[] {
    return [{ name: 'pending_events', width: 16, read: () => this.events.length }];
  }

  /** A frame from the port, at cycle `at`. The default hands it to the stacks its destination MAC selects. */
  protected onReceive(p: Packet, at: number): void {
    const d = p.data;
    const stacks = this.stacks;
    if (isMulticastMac(d, 0)) {
      if (readMac48(d, 0) !== 0xffffffffffff) {
        this.nodeStats.dropNotForUs++;
        this.pool.release(p);
        return;
      }
      // Broadcast reaches every stack (the vswitch floods it to the VMs).
      let first = true;
      for (let i = 0; i < stacks.length; i++) {
        const s = stacks[i]!;
        if (!s.up) continue;
        const q = first ? p : this.pool.clone(p);
        first = false;
        this.schedule(at + s.pathDelayCycles + s.kernelDelayCycles, EV_STACK_RX, i, 0, s.epoch, q);
      }
      if (first) this.pool.release(p);
      return;
    }
    const dst = readMac48(d, 0);
    for (let i = 0; i < stacks.length; i++) {
      const s = stacks[i]!;
      if (s.mac48 === dst) {
        this.schedule(at + s.pathDelayCycles + s.kernelDelayCycles, EV_STACK_RX, i, 0, s.epoch, p);
        return;
      }
    }
    this.nodeStats.dropNotForUs++;
    this.pool.release(p);
  }

  /** Runs an event at logical cycle `t`. Subclasses handle their own kinds and pass the rest here. */
  protected onEvent(kind: number, a: number, b: number, c: number, ref: object | null, t: number): void {
    switch (kind) {
      case EV_TX:
        this.transmitNow(ref as Packet, t);
        return;
      case EV_STACK_RX: {
        const s = this.stacks[a]!;
        const p = ref as Packet;
        if (c !== s.epoch || !s.up) {
          s.stats.dropDown++;
          this.pool.release(p);
          return;
        }
        this.stackReceive(s, p, t);
        return;
      }
      case EV_NEIGHBOR_TIMER:
        this.stacks[a]!.onNeighborTimer(ref as Neighbor, b, t);
        return;
      default:
        throw new Error(`${this.name}: unknown event kind ${kind}`);
    }
  }

  /** Puts a frame on the port with cycle `t` and frees it. Subclasses may pace it. */
  protected transmitNow(p: Packet, t: number): void {
    this.nodeStats.txFrames++;
    this.nodeStats.txBytes += p.length;
    this.port.transmit(p.data.subarray(0, p.length), t);
    this.pool.release(p);
  }

  /** A frame for stack `s`, after the stack's kernel delay, at logical cycle `t`. */
  protected stackReceive(s: NetStack, p: Packet, t: number): void {
    const parser = this.parser;
    const kind = parser.parse(p.data, p.length);
    const unicast = (p.data[0]! & 1) === 0;
    if (parser.vlanId !== -1) {
      s.stats.dropNotForUs++;
      this.pool.release(p);
      return;
    }
    if (kind === PacketKind.Arp) {
      s.receiveArp(p.data, parser.l3Offset, unicast, t);
      this.pool.release(p);
      return;
    }
    if (kind === PacketKind.Malformed && parser.error === WireError.BadChecksum) {
      s.stats.dropBadChecksum++;
      this.pool.release(p);
      return;
    }
    // Fragments are not reassembled: the experiments send single-frame datagrams.
    if (parser.dstIp !== s.ip || (kind !== PacketKind.Ipv4Icmp && kind !== PacketKind.Ipv4Udp) || parser.moreFragments) {
      s.stats.dropNotForUs++;
      this.pool.release(p);
      return;
    }
    const d = p.data;
    if (kind === PacketKind.Ipv4Icmp) {
      if (!verifyIcmpChecksum(d, parser.l4Offset, parser.l4Length)) {
        s.stats.dropBadChecksum++;
        this.pool.release(p);
        return;
      }
      if (parser.icmpType !== IcmpType.EchoRequest || !s.answersIcmpEcho) {
        this.onIcmp(s, p, t);
        return;
      }
      s.stats.rxIcmpEcho++;
      // The kernel's delay was spent before this event: the reply leaves now.
      makeIcmpEchoReply(p, parser, s);
      s.sendIpv4(p, t);
      return;
    }
    const udpLength = (d[parser.l4Offset + 4]! << 8) | d[parser.l4Offset + 5]!;
    if (!verifyUdpChecksum(d, parser.l4Offset, udpLength, parser.srcIp, parser.dstIp)) {
      s.stats.dropBadChecksum++;
      this.pool.release(p);
      return;
    }
    s.stats.rxUdp++;
    const handler = s.udpHandlers.get(parser.dstPort);
    if (handler === undefined) {
      s.stats.dropNoService++;
      this.pool.release(p);
      return;
    }
    handler.deliverUdp(s, p, t);
  }

  /** ICMP other than an echo request this stack answers; dropped unless a subclass wants it. */
  protected onIcmp(s: NetStack, p: Packet, _t: number): void {
    s.stats.dropNotForUs++;
    this.pool.release(p);
  }

  stackOutput(stack: NetStack, packet: Packet, time: number): void {
    this.schedule(time + stack.pathDelayCycles, EV_TX, stack.index, 0, stack.epoch, packet);
  }

  scheduleNeighborTimer(stack: NetStack, neighbor: Neighbor, gen: number, time: number): void {
    this.schedule(time, EV_NEIGHBOR_TIMER, stack.index, gen, 0, neighbor);
  }

  /** Drops everything in flight (crash): queued events, received frames, neighbour tables. */
  protected dropEverything(): void {
    this.events.clear((kind, ref) => {
      if (kind === EV_TX || kind === EV_STACK_RX) this.pool.release(ref as Packet);
      else this.dropEventRef(kind, ref);
    });
    while (this.rx.length > 0) this.pool.release(this.rx.shift());
    for (const s of this.stacks) {
      s.flush();
      s.epoch++;
    }
  }

  /** Frees what a subclass event holds when everything is dropped. */
  protected dropEventRef(_kind: number, _ref: object | null): void {}
}
