import type { FrameReceiver, Port } from '../../../src/dataplane/port.ts';
import { ClockedModule, IDLE } from '../../../src/pipeline/sim/module.ts';
import { formatIpv4, formatMac } from '../../../src/pipeline/wire/address.ts';
import { parseArp } from '../../../src/pipeline/wire/arp.ts';
import { parseIcmp } from '../../../src/pipeline/wire/icmp.ts';
import { parseIpv4Header } from '../../../src/pipeline/wire/ipv4.ts';
import { parseUdp } from '../../../src/pipeline/wire/udp.ts';

export interface Seen {
  frame: Uint8Array;
  cycle: number;
}

/**
 * A scripted station on a port: sends given frames at exact cycles (first bit on the
 * port at that cycle) and records every frame that reaches it, with its cycle.
 */
export class Peer extends ClockedModule {
  readonly received: Seen[] = [];
  private readonly frames: Uint8Array[] = [];
  private readonly cycles: number[] = [];
  private next = 0;

  constructor(
    name: string,
    private readonly port: Port,
  ) {
    super(name);
    port.attach((frame, cycle) => this.received.push({ frame: frame.slice(), cycle }));
  }

  /** Sends `frame` with cycle `cycle` (>= 1, in send order). */
  send(frame: Uint8Array, cycle: number): void {
    this.frames.push(frame);
    this.cycles.push(cycle);
    this.wakeAt(cycle - 1);
  }

  evaluate(cycle: number): void {
    while (this.next < this.frames.length && this.cycles[this.next]! <= cycle + 1) {
      this.port.transmit(this.frames[this.next]!, Math.max(this.cycles[this.next]!, cycle + 1));
      this.next++;
    }
  }

  commit(): number {
    return this.next < this.frames.length ? this.cycles[this.next]! - 1 : IDLE;
  }
}

/** A port wrapper that records what crosses it, both ways, with cycles (a tcpdump on a NIC port). */
export class TapPort implements Port {
  readonly name: string;
  /** Frames the link delivered to the wrapped side. */
  readonly rx: Seen[] = [];
  /** Frames the wrapped side sent. */
  readonly tx: Seen[] = [];
  private receiver: FrameReceiver | null = null;

  constructor(readonly inner: Port) {
    this.name = inner.name;
    inner.attach((frame, cycle) => {
      this.rx.push({ frame: frame.slice(), cycle });
      this.receiver?.(frame, cycle);
    });
  }

  attach(receiver: FrameReceiver): void {
    this.receiver = receiver;
  }

  receive(frame: Uint8Array, cycle: number): void {
    this.inner.receive(frame, cycle);
  }

  transmit(frame: Uint8Array, cycle: number): void {
    this.tx.push({ frame: frame.slice(), cycle });
    this.inner.transmit(frame, cycle);
  }

  close(): void {
    this.inner.close();
  }
}

/** A frame decoded with the wire reprs (which verify every checksum), addresses as text. */
export interface Decoded {
  dstMac: string;
  srcMac: string;
  arp?: { op: number; senderMac: string; senderIp: string; targetMac: string; targetIp: string };
  ip?: { src: string; dst: string; ttl: number; protocol: number };
  icmp?: { type: number; identifier: number; sequence: number; payload: Uint8Array };
  udp?: { srcPort: number; dstPort: number; payload: Uint8Array };
  /** Why a layer failed to parse (a bad checksum included). */
  error?: string;
}

export function decode(frame: Uint8Array): Decoded {
  const out: Decoded = { dstMac: formatMac(frame, 0), srcMac: formatMac(frame, 6) };
  const etherType = (frame[12]! << 8) | frame[13]!;
  if (etherType === 0x0806) {
    const arp = parseArp(frame, 14);
    if (!arp.ok) return { ...out, error: `arp ${arp.error}` };
    const r = arp.repr;
    out.arp = { op: r.op, senderMac: formatMac(r.senderMac), senderIp: formatIpv4(r.senderIp), targetMac: formatMac(r.targetMac), targetIp: formatIpv4(r.targetIp) };
    return out;
  }
  const ip = parseIpv4Header(frame, 14);
  if (!ip.ok) return { ...out, error: `ipv4 ${ip.error}` };
  const h = ip.repr;
  out.ip = { src: formatIpv4(h.srcAddr), dst: formatIpv4(h.dstAddr), ttl: h.ttl, protocol: h.protocol };
  const l4 = 14 + 20 + h.options.length;
  if (h.protocol === 1) {
    const icmp = parseIcmp(frame, l4, h.payloadLength);
    if (!icmp.ok) return { ...out, error: `icmp ${icmp.error}` };
    out.icmp = { type: icmp.repr.type, identifier: icmp.repr.identifier, sequence: icmp.repr.sequence, payload: icmp.repr.payload };
  } else if (h.protocol === 17) {
    const udp = parseUdp(frame, l4, h.payloadLength, h.srcAddr, h.dstAddr);
    if (!udp.ok) return { ...out, error: `udp ${udp.error}` };
    out.udp = { srcPort: udp.repr.srcPort, dstPort: udp.repr.dstPort, payload: udp.repr.payload };
  }
  return out;
}
