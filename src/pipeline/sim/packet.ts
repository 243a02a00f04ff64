/**
 * A packet as it travels the datapath: its bytes (no preamble, no FCS) and the
 * sideband that NetFPGA carries in `tuser` on the first beat (length [15:0],
 * source port one-hot [23:16], destination port one-hot [31:24]; see
 * hw/netfpga-spec) plus the Fatriot sub-queue metadata.
 *
 * Beats are not materialised: beat i of a packet is the 32-byte window
 * data[i*32 .. i*32+32), and `tkeep` of the last beat follows from `length`.
 * Packets come from a PacketPool so the hot path allocates nothing.
 */
export class Packet {
  data: Uint8Array;
  length = 0;
  /** tuser[23:16]: one-hot source port. */
  srcPort = 0;
  /** tuser[31:24]: one-hot destination port(s). */
  dstPort = 0;
  /** Number of 32-byte beats, ceil(length / beatBytes). */
  beats = 0;
  /** Cycle its first byte entered the model (for latency measurement). */
  ingressCycle = 0;
  /** Fatriot sub-queue: mission-critical flag and service ID (Fatriot 3.3). */
  critical = 0;
  serviceId = 0;
  /** Origin marks (src/pipeline/modules/fatriot-tuser.ts FLAG_*). */
  flags = 0;
  /** Free-form tag for testbenches and generators (e.g. a sequence number). */
  tag = 0;
  /** Pool bookkeeping: how many holders must release it before it returns to the pool. */
  refs = 0;
  private view: Uint8Array | null = null;
  /** The buffer `view` was made of (`data` grows for a jumbo frame). Reading a view's `.buffer` is a slow builtin. */
  private viewOf: Uint8Array | null = null;

  constructor(capacity: number) {
    this.data = new Uint8Array(capacity);
  }

  /**
   * The frame's bytes as a view of exactly `length` bytes, for ports. The view is
   * cached per buffer and length, so a pooled packet carrying frames of a steady size
   * allocates nothing per packet.
   */
  frame(): Uint8Array {
    const v = this.view;
    if (v !== null && v.length === this.length && this.viewOf === this.data) return v;
    this.viewOf = this.data;
    return (this.view = this.data.subarray(0, this.length));
  }
}

export class PacketPool {
  private readonly free: Packet[] = [];
  private readonly capacity: number;
  readonly beatBytes: number;
  allocated = 0;
  inUse = 0;

  constructor(beatBytes: number, capacity = 2048) {
    this.beatBytes = beatBytes;
    this.capacity = capacity;
  }

  /** Takes a packet and copies `length` bytes of `frame` into it. */
  fromBytes(frame: Uint8Array, length: number, srcPort: number, cycle: number): Packet {
    const p = this.take(length);
    p.data.set(length === frame.length ? frame : frame.subarray(0, length), 0);
    p.srcPort = srcPort;
    p.ingressCycle = cycle;
    return p;
  }

  /** A packet of `length` bytes with undefined contents and cleared sideband. */
  take(length: number): Packet {
    let p = this.free.pop();
    if (p === undefined) {
      p = new Packet(Math.max(this.capacity, length));
      this.allocated++;
    } else if (p.data.length < length) {
      // Jumbo frames are rare; grow this buffer once rather than sizing every buffer for them.
      p.data = new Uint8Array(length);
    }
    p.length = length;
    p.beats = length === 0 ? 0 : Math.ceil(length / this.beatBytes);
    p.srcPort = 0;
    p.dstPort = 0;
    p.ingressCycle = 0;
    p.critical = 0;
    p.serviceId = 0;
    p.flags = 0;
    p.tag = 0;
    p.refs = 1;
    this.inUse++;
    return p;
  }

  /** A second, independent copy (a mirror in hardware duplicates the beats). */
  clone(src: Packet): Packet {
    const p = this.take(src.length);
    p.data.set(src.data.subarray(0, src.length), 0);
    p.srcPort = src.srcPort;
    p.dstPort = src.dstPort;
    p.ingressCycle = src.ingressCycle;
    p.critical = src.critical;
    p.serviceId = src.serviceId;
    p.flags = src.flags;
    p.tag = src.tag;
    return p;
  }

  release(p: Packet): void {
    if (--p.refs === 0) {
      this.inUse--;
      this.free.push(p);
    }
  }
}
