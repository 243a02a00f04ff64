/**
 * A learning Ethernet switch (IEEE 802.1D transparent bridging, without spanning tree)
 * joining the testbed's machines (Fatriot Fig. 8). Each port is a Port, typically one end
 * of a memory link.
 *
 * - Learning: the source MAC of every unicast-sourced frame is bound to its ingress port;
 *   an entry not refreshed for `ageingCycles` is forgotten (802.1D 7.9.2, 300 s).
 * - Forwarding: a known unicast destination goes out of its port (and is filtered if that
 *   is the ingress port); broadcast, multicast and unknown unicast are flooded to every
 *   other port.
 * - Timing, cut-through: a frame whose first bit arrives at cycle c starts leaving its
 *   egress port at c + latencyCycles, or as soon as that port's wire is free. Each egress
 *   port serialises frames at 10 Gb/s with the exact wire time of
 *   src/pipeline/modules/ethernet-wire.ts (preamble, FCS, padding, inter-frame gap).
 *   Frames waiting for a busy port use its buffer; beyond `egressBufferBytes` they are
 *   dropped and counted.
 * The cycle on each Port is the frame's first bit (README.md "Time on a port").
 */
import { coreClockHz, netfpgaSpec } from '../../../hw/netfpga-spec/index.ts';
import type { Port } from '../../dataplane/port.ts';
import { WireTiming } from '../../pipeline/modules/ethernet-wire.ts';
import { ClockedModule, IDLE, type TraceSignal } from '../../pipeline/sim/module.ts';
import { PacketPool, type Packet } from '../../pipeline/sim/packet.ts';
import { TimedRing } from '../../pipeline/sim/ring.ts';
import { isMulticastMac, readMac48 } from '../../pipeline/wire/address.ts';
import { ETHERNET_HEADER_LEN, ETHERNET_MAX_FRAME_LEN } from '../../pipeline/wire/ethernet.ts';
import { cyclesFromMs, cyclesFromNs, simDefaults } from './timing.ts';

export interface L2SwitchOptions {
  ports: Port[];
  coreHz?: number;
  /** First bit in to first bit out, cycles; default simDefaults.switchLatencyNs. */
  latencyCycles?: number;
  /** Default simDefaults.switchAgeingMs. */
  ageingCycles?: number;
  /** Per egress port; default simDefaults.switchEgressBufferBytes. */
  egressBufferBytes?: number;
  /** Port line rate; default the NetFPGA 10G rate. */
  lineRateBps?: number;
}

/** Per-port counters. */
export interface SwitchPortStats {
  rxFrames: number;
  rxBytes: number;
  txFrames: number;
  txBytes: number;
  /** Frames received here that were flooded (broadcast, multicast, unknown unicast). */
  flooded: number;
  /** Frames received here whose destination is learned on this same port. */
  filtered: number;
  /** Frames for this egress port dropped because its buffer was full. */
  dropBufferFull: number;
  /** Runts (shorter than an Ethernet header) and frames over 1514 bytes received here. */
  dropBadLength: number;
}

interface FdbEntry {
  port: number;
  lastSeenCycle: number;
}

export class L2Switch extends ClockedModule {
  readonly ports: readonly Port[];
  readonly coreHz: number;
  readonly latencyCycles: number;
  readonly ageingCycles: number;
  readonly egressBufferBytes: number;
  readonly timing: WireTiming;
  readonly stats: SwitchPortStats[];
  private readonly pool = new PacketPool(netfpgaSpec.axis.beatBytes.value);
  private readonly fdb = new Map<number, FdbEntry>();
  private readonly ingress: TimedRing<Packet>[];
  private readonly egress: TimedRing<Packet>[];
  private readonly egressFreeUnits: Float64Array;
  private readonly egressQueuedBytes: Float64Array;

  constructor(name: string, options: L2SwitchOptions) {
    super(name);
    this.coreHz = options.coreHz ?? coreClockHz();
    this.ports = options.ports.slice();
    this.latencyCycles = options.latencyCycles ?? cyclesFromNs(simDefaults.switchLatencyNs, this.coreHz);
    this.ageingCycles = options.ageingCycles ?? cyclesFromMs(simDefaults.switchAgeingMs, this.coreHz);
    this.egressBufferBytes = options.egressBufferBytes ?? simDefaults.switchEgressBufferBytes;
    if (!Number.isInteger(this.latencyCycles) || this.latencyCycles < 0) throw new RangeError(`latencyCycles must be an integer >= 0`);
    this.timing = new WireTiming(this.coreHz, options.lineRateBps);
    const n = this.ports.length;
    this.stats = Array.from({ length: n }, () => ({
      rxFrames: 0,
      rxBytes: 0,
      txFrames: 0,
      txBytes: 0,
      flooded: 0,
      filtered: 0,
      dropBufferFull: 0,
      dropBadLength: 0,
    }));
    this.ingress = Array.from({ length: n }, () => new TimedRing<Packet>());
    this.egress = Array.from({ length: n }, () => new TimedRing<Packet>());
    this.egressFreeUnits = new Float64Array(n);
    this.egressQueuedBytes = new Float64Array(n);
    this.ports.forEach((port, i) => port.attach((frame, cycle) => this.onFrame(i, frame, cycle)));
  }

  /** The port the MAC `mac48` (readMac48 form) is learned on at `cycle`, or -1. */
  lookup(mac: number, cycle: number = this.sim?.now ?? 0): number {
    const e = this.fdb.get(mac);
    return e !== undefined && cycle - e.lastSeenCycle < this.ageingCycles ? e.port : -1;
  }

  /** Learned entries (MAC as a 48-bit number -> port), aged ones left out. */
  fdbEntries(cycle: number = this.sim?.now ?? 0): Map<number, number> {
    const out = new Map<number, number>();
    for (const [mac, e] of this.fdb) if (cycle - e.lastSeenCycle < this.ageingCycles) out.set(mac, e.port);
    return out;
  }

  private onFrame(port: number, frame: Uint8Array, cycle: number): void {
    const st = this.stats[port]!;
    if (frame.length < ETHERNET_HEADER_LEN || frame.length > ETHERNET_MAX_FRAME_LEN) {
      st.dropBadLength++;
      return;
    }
    st.rxFrames++;
    st.rxBytes += frame.length;
    const p = this.pool.take(frame.length);
    p.data.set(frame, 0);
    p.ingressCycle = cycle;
    this.ingress[port]!.push(p, cycle);
    this.wakeAt(cycle);
  }

  evaluate(cycle: number): void {
    const n = this.ports.length;
    for (let i = 0; i < n; i++) {
      const ring = this.ingress[i]!;
      while (ring.length > 0 && ring.peekTime() <= cycle) {
        const at = ring.peekTime();
        this.forward(i, ring.shift(), at < cycle ? cycle : at);
      }
    }
    for (let e = 0; e < n; e++) {
      const ring = this.egress[e]!;
      while (ring.length > 0 && ring.peekTime() <= cycle + 1) {
        const at = ring.peekTime();
        const p = ring.shift();
        this.egressQueuedBytes[e]! -= p.length;
        const st = this.stats[e]!;
        st.txFrames++;
        st.txBytes += p.length;
        this.ports[e]!.transmit(p.data.subarray(0, p.length), at > cycle ? at : cycle + 1);
        this.pool.release(p);
      }
    }
  }

  private forward(inPort: number, p: Packet, at: number): void {
    const d = p.data;
    if (!isMulticastMac(d, 6)) {
      const src = readMac48(d, 6);
      const e = this.fdb.get(src);
      if (e === undefined) this.fdb.set(src, { port: inPort, lastSeenCycle: at });
      else {
        e.port = inPort;
        e.lastSeenCycle = at;
      }
    }
    const out = isMulticastMac(d, 0) ? -1 : this.lookup(readMac48(d, 0), at);
    if (out === inPort) {
      this.stats[inPort]!.filtered++;
      this.pool.release(p);
      return;
    }
    if (out >= 0) {
      this.enqueue(out, p, at);
      this.pool.release(p);
      return;
    }
    this.stats[inPort]!.flooded++;
    for (let e = 0; e < this.ports.length; e++) if (e !== inPort) this.enqueue(e, p, at);
    this.pool.release(p);
  }

  /** Queues `p` on egress port `e` (taking a reference) for its first bit to leave at the earliest possible cycle. */
  private enqueue(e: number, p: Packet, at: number): void {
    if (this.egressQueuedBytes[e]! + p.length > this.egressBufferBytes) {
      this.stats[e]!.dropBufferFull++;
      return;
    }
    const timing = this.timing;
    const earliest = timing.unitsAt(at + this.latencyCycles);
    const free = this.egressFreeUnits[e]!;
    const start = earliest > free ? earliest : free;
    this.egressFreeUnits[e] = start + timing.frameUnits(p.length);
    this.egressQueuedBytes[e]! += p.length;
    p.refs++;
    this.egress[e]!.push(p, timing.cycleAt(start));
  }

  commit(cycle: number): number {
    let next = IDLE;
    for (let i = 0; i < this.ports.length; i++) {
      const r = this.ingress[i]!.peekTime();
      if (r < next) next = r;
      // A frame leaving at cycle T is passed to its port from evaluate(T - 1).
      const e = this.egress[i]!.peekTime() - 1;
      if (e < next) next = e;
    }
    return next <= cycle ? cycle + 1 : next;
  }

  override traceSignals(): TraceSignal[] {
    return this.ports.map((_, i) => ({ name: `egress${i}_queued_bytes`, width: 32, read: () => this.egressQueuedBytes[i]! }));
  }
}
