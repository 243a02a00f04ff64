import { netfpgaSpec } from '../../../hw/netfpga-spec/index.ts';
import { quietUntilOf, type Port } from '../../dataplane/port.ts';
import { frameTooLate, type AxisChannel } from '../sim/channel.ts';
import { ClockedModule, type TraceSignal } from '../sim/module.ts';
import type { Packet, PacketPool } from '../sim/packet.ts';
import { TimedRing } from '../sim/ring.ts';
import { DeferredCounts } from '../sim/deferred-counts.ts';

const dma = netfpgaSpec.dma;

/**
 * Where the DMA engine counts, per virtual port dma0..dma3, as indices into the
 * NIC's counter memory: rx = frames from the host, tx = frames to the host.
 */
export interface DmaCounterIndex {
  rxPackets: number[];
  rxBytes: number[];
  txPackets: number[];
  txBytes: number[];
  /** A frame for a virtual port with nothing attached (no host driver). */
  dropNoPort: number;
  /** A frame from the host shorter than an Ethernet header, or longer than the datapath takes. */
  dropRunt: number;
  dropOversize: number;
}

/** Shortest frame the host can hand over: an Ethernet header. */
const MIN_HOST_FRAME = 14;
/**
 * Frames from the host are padded to the Ethernet minimum (60 bytes without FCS), as
 * NIC drivers do before DMA (assumed for the SUME driver: Linux drivers pad with
 * eth_skb_pad). It matters: a one-beat packet (32 bytes or less) sends the RTL
 * input_arbiter into WR_PKT after its only beat, where it waits for a tlast that
 * only the next packet of that queue brings, stalling every port meanwhile.
 */
const PAD_HOST_FRAME = netfpgaSpec.ethernet.minFrameBytesWithFcs.value - netfpgaSpec.ethernet.fcsBytes.value;
/** Longest: what a MAC without jumbo frames sends (1518 with FCS, hw/netfpga-spec `ethernet`). */
const MAX_HOST_FRAME = netfpgaSpec.ethernet.maxFrameBytesWithFcs.value - netfpgaSpec.ethernet.fcsBytes.value;
// Read once: `.value` of the spec's fact objects (each of its own shape) is a megamorphic load per frame.
const CORE_TO_HOST_LATENCY_CYCLES = dma.coreToHostLatencyCycles.value;
const HOST_TO_CORE_LATENCY_CYCLES = dma.hostToCoreLatencyCycles.value;

/**
 * The host side of the reference NIC (nf_riffa_dma over PCIe): four virtual ports
 * dma0..dma3 multiplexed on one AXI4-Stream pair, told apart by the odd tuser bits.
 * The PCIe link (Gen2 x8 here) paces frames from the host; each direction adds the
 * DMA latency of hw/netfpga-spec (assumed there: RIFFA's own latency is not in the
 * sources). Towards the host tready stays high: the driver's ring is modelled as
 * never full (the paper's driver bottleneck is host software, outside the NIC).
 */
export class NfRiffaDma extends ClockedModule {
  override readonly wakeOnHandshakeOnly = true;
  readonly ports: (Port | null)[];
  private readonly counters: Float64Array;
  private readonly idx: DmaCounterIndex;
  private readonly out: AxisChannel;
  private readonly in: AxisChannel;
  private readonly pool: PacketPool;
  private readonly fromHost = new TimedRing<Packet>();
  private readonly toHost = new TimedRing<Packet>();
  private readonly pcieUnitsPerCycle: number;
  private readonly pcieUnitsPerByte: number;
  private pcieFreeUnits = 0;
  private current: Packet | null = null;
  private beat = 0;

  constructor(name: string, toCore: AxisChannel, fromCore: AxisChannel, pool: PacketPool, coreHz: number, counters: Float64Array, idx: DmaCounterIndex, numPorts = 4) {
    super(name);
    this.counters = counters;
    this.deferred = new DeferredCounts(counters);
    this.idx = idx;
    this.out = this.output(toCore);
    this.in = this.input(fromCore);
    this.pool = pool;
    this.ports = new Array<Port | null>(numPorts).fill(null);
    // PCIe payload rate: lanes x GT/s x 8b/10b; time in units of 1/coreHz/bytesPerSecond.
    const bytesPerSecond = (dma.pcieLanes.value * dma.pcieLinkSpeedGtps.value * 1e9 * 0.8) / 8;
    const g = gcd(bytesPerSecond, coreHz);
    this.pcieUnitsPerCycle = bytesPerSecond / g;
    this.pcieUnitsPerByte = coreHz / g;
  }

  override reset(): void {
    this.in.ready = this.in.nextReady = true;
  }

  /**
   * Attaches host port `index` (NicShell.attach). Host frames can come from any of the
   * ports; when every one is attached, their `quietUntil` promises, read now, let the
   * input arbiter look past an idle DMA (a port not attached yet promises nothing).
   */
  attachPort(index: number, port: Port): void {
    this.ports[index] = port;
    let from = Number.POSITIVE_INFINITY;
    // Frames for a port not attached are counted and dropped: only attached ones must take frames ahead.
    let ahead = true;
    for (const p of this.ports) {
      const q = quietUntilOf(p);
      if (q < from) from = q;
      if (p !== null && p !== undefined && p.takesFramesAhead !== true) ahead = false;
    }
    this.out.idleFrom = this.sim === null ? from : this.sim.idleFromWithPromise(from);
    this.deliverAhead = ahead;
  }

  /** Every attached host port takes frames ahead of their cycle (trains hand them over when their cycle is known). */
  private deliverAhead = false;
  private readonly deferred: DeferredCounts;

  override settleTrains(cycle: number): number {
    return this.deferred.settle(cycle);
  }

  /** A frame the host driver sends on virtual port `index` (dma0..dma3) at `cycle`. */
  fromHostFrame(index: number, frame: Uint8Array, cycle: number): void {
    // Trains have worked out every cycle before now: a frame handed for a past cycle
    // (no port here does that) is taken as handed now. Per cycle it is processed late.
    if (this.trains && cycle < this.sim!.now) cycle = this.sim!.now;
    const len = frame.length;
    if (len < MIN_HOST_FRAME) {
      this.counters[this.idx.dropRunt]!++;
      return;
    }
    if (len > MAX_HOST_FRAME) {
      this.counters[this.idx.dropOversize]!++;
      return;
    }
    const padded = len < PAD_HOST_FRAME ? PAD_HOST_FRAME : len;
    const p = this.pool.take(padded);
    p.data.set(frame, 0);
    if (padded > len) p.data.fill(0, len, padded);
    p.srcPort = 1 << (2 * index + 1);
    p.dstPort = 0;
    const arrival = Math.max(cycle * this.pcieUnitsPerCycle, this.pcieFreeUnits);
    this.pcieFreeUnits = arrival + padded * this.pcieUnitsPerByte;
    const ready = Math.ceil(this.pcieFreeUnits / this.pcieUnitsPerCycle) + HOST_TO_CORE_LATENCY_CYCLES;
    p.ingressCycle = ready;
    this.counters[this.idx.rxPackets[index]!]!++;
    this.counters[this.idx.rxBytes[index]!]! += len;
    this.fromHost.push(p, ready);
    // Held until the pump has posted it (a consumer must not take this input for idle).
    this.out.producerHolding = true;
    if (this.trains) {
      // Only a frame that is the first not yet posted could move before what the arbiter was promised.
      const first = this.current === null && this.fromHost.length === 1;
      if (first && Math.max(ready, this.out.lastPostedCycle + 1) < Math.max(this.promisedHorizon, this.out.idleHorizonUsed)) frameTooLate(this.name, 'a host frame', cycle);
      this.runPump();
    } else {
      this.wakeAt(ready - 1);
    }
  }

  evaluate(cycle: number): void {
    if (this.trains) {
      this.runPump();
      while (this.toHost.length > 0 && this.toHost.peekTime() <= cycle) this.deliver(this.toHost.shift(), cycle + 1);
      return;
    }
    const out = this.out;
    if (out.valid && out.ready) {
      if (++this.beat === this.current!.beats) this.current = null;
    }
    if (this.current === null && this.fromHost.length > 0 && this.fromHost.peekTime() <= cycle + 1) {
      this.current = this.fromHost.shift();
      this.beat = 0;
    }
    if (this.current === null) out.release();
    else out.drive(this.current, this.beat);

    const inCh = this.in;
    if (inCh.valid && inCh.ready && inCh.beat === inCh.packet!.beats - 1) {
      this.toHost.push(inCh.packet!, cycle + CORE_TO_HOST_LATENCY_CYCLES);
    }
    while (this.toHost.length > 0 && this.toHost.peekTime() <= cycle) this.deliver(this.toHost.shift(), cycle + 1);
  }

  /**
   * Hands `p` to its host ports, stamped `cycle`. Counters change in cycle - 1 (the
   * evaluation that delivers); a delivery ahead of time (trains, `deliverAhead`) defers them.
   */
  private deliver(p: Packet, cycle: number, ahead = false): void {
    const frame = p.frame();
    const counters = this.counters;
    for (let i = 0; i < this.ports.length; i++) {
      if ((p.dstPort & (1 << (2 * i + 1))) === 0) continue;
      const port = this.ports[i];
      if (port === null || port === undefined) {
        if (ahead) this.deferred.add(cycle - 1, this.idx.dropNoPort);
        else counters[this.idx.dropNoPort]!++;
        continue;
      }
      if (ahead) {
        this.deferred.add(cycle - 1, this.idx.txPackets[i]!, this.idx.txBytes[i]!, p.length);
      } else {
        counters[this.idx.txPackets[i]!]!++;
        counters[this.idx.txBytes[i]!]! += p.length;
      }
      port.transmit(frame, cycle);
    }
    this.pool.release(p);
  }

  commit(cycle: number): number {
    let next = this.toHost.peekTime();
    if (this.trains) return next <= cycle ? cycle + 1 : next;
    // A beat on offer is advanced by its channel's handshake, not by a timer.
    if (this.current === null && this.fromHost.length > 0) next = Math.min(next, this.fromHost.peekTime() - 1);
    return next <= cycle ? cycle + 1 : next;
  }

  override traceSignals(): TraceSignal[] {
    return [{ name: 'to_host_pending', width: 16, read: () => this.toHost.length }];
  }

  // --- Trains: frames from the host are posted beat by beat as soon as the input
  // arbiter says when each moves; frames to the host are scheduled from the cycle
  // their last beat moves.

  override canRunTrains(): boolean {
    return true;
  }

  override startTrains(): void {
    // A host frame handed over at cycle c >= now is ready no earlier than this after c.
    this.out.idleLookaheadCycles = Math.ceil((PAD_HOST_FRAME * this.pcieUnitsPerByte) / this.pcieUnitsPerCycle) + HOST_TO_CORE_LATENCY_CYCLES;
    this.sim!.declareOutsideInput(this.out);
  }

  override trainPosted(): void {
    this.runPump();
  }

  override trainAcceptable(): void {
    this.runPump();
  }

  /** Towards the host tready is always high. */
  override trainAccept(_ch: AxisChannel, _index: number, offerCycle: number): number {
    return offerCycle;
  }

  override trainHorizon(): number {
    let h: number;
    if (this.current !== null) {
      h = this.out.lastPostedCycle + 1;
    } else if (this.fromHost.length > 0) {
      h = this.fromHost.peekTime();
    } else {
      // A frame handed over from now on (at cycle >= now, and not before the ports' promise) is ready no earlier than this.
      const now = Math.max(this.sim!.now, this.out.idleFrom);
      if (now === Number.POSITIVE_INFINITY) return now;
      const arrival = Math.max(now * this.pcieUnitsPerCycle, this.pcieFreeUnits);
      h = Math.ceil((arrival + PAD_HOST_FRAME * this.pcieUnitsPerByte) / this.pcieUnitsPerCycle) + HOST_TO_CORE_LATENCY_CYCLES;
    }
    if (h <= this.out.lastPostedCycle) h = this.out.lastPostedCycle + 1;
    if (h > this.promisedHorizon) this.promisedHorizon = h;
    return h;
  }

  /** Latest horizon given to the input arbiter: no frame may be offered before it any more. */
  private promisedHorizon = Number.NEGATIVE_INFINITY;

  protected override pump(): void {
    const out = this.out;
    for (;;) {
      if (this.current === null) {
        if (this.fromHost.length === 0) break;
        this.current = this.fromHost.peek();
        this.beat = 0;
      }
      const p = this.current;
      const h = out.answered(out.consumer!.trainAccept(out, out.posted, out.offerFrom(this.beat === 0 ? this.fromHost.peekTime() : out.lastPostedCycle + 1), out.afterLast));
      if (h < 0) break;
      if (this.beat === 0) this.fromHost.shift();
      out.post(p, this.beat, h);
      if (++this.beat === p.beats) this.current = null;
    }
    out.producerHolding = this.current !== null || this.fromHost.length > 0;
    if (out.takePostsUnseen()) out.consumer!.trainPosted(out);
    const inCh = this.in;
    let first = this.toHost.length === 0;
    while (inCh.postCount > 0) {
      const p = inCh.peekPacket();
      if (inCh.peekBeat() === p.beats - 1 && this.deliverAhead) {
        // Delivered in the evaluation of cycle t = last beat + latency, stamped t + 1: hand it over now.
        this.deliver(p, inCh.peekCycle() + CORE_TO_HOST_LATENCY_CYCLES + 1, true);
      } else if (inCh.peekBeat() === p.beats - 1) {
        this.toHost.push(p, inCh.peekCycle() + CORE_TO_HOST_LATENCY_CYCLES);
        if (first) {
          this.wakeAt(this.toHost.peekTime());
          first = false;
        }
      }
      inCh.shiftPost();
    }
    this.deferred.settleSome(this.sim!.settledCycle());
  }
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}
