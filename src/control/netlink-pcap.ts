/**
 * Control traffic as pcap with LINKTYPE_NETLINK (253), so Wireshark decodes
 * netlink and generic netlink. Each record is a 16-byte header, then the
 * netlink message (https://www.tcpdump.org/linktypes/LINKTYPE_NETLINK.html):
 *
 *   u16 packet type (unused by the format; we put the Linux cooked-capture
 *       value: 0 = to the NIC / PACKET_HOST, 4 = from the NIC / PACKET_OUTGOING)
 *   u16 ARPHRD_NETLINK (824), network order
 *   10 bytes unused
 *   u16 netlink protocol (NETLINK_GENERIC = 16), network order
 */
import { LinkType, PcapWriter } from '../dataplane/pcap.ts';
import { NETLINK_GENERIC } from './netlink.ts';

export const ARPHRD_NETLINK = 824;
export const NETLINK_PCAP_HEADER_BYTES = 16;
const PACKET_HOST = 0;
const PACKET_OUTGOING = 4;

export class NetlinkCapture {
  private readonly writer: PcapWriter;
  private readonly frame = new Uint8Array(NETLINK_PCAP_HEADER_BYTES + 65536 + 64);

  private constructor(writer: PcapWriter) {
    this.writer = writer;
  }

  static open(path: string): NetlinkCapture {
    return new NetlinkCapture(PcapWriter.open(path, LinkType.Netlink));
  }

  get recordCount(): number {
    return this.writer.recordCount;
  }

  /** Records one netlink message; `toNic` says its direction. */
  record(message: Uint8Array, toNic: boolean, timeUs: number): void {
    const f = this.frame;
    const dv = new DataView(f.buffer);
    dv.setUint16(0, toNic ? PACKET_HOST : PACKET_OUTGOING, false);
    dv.setUint16(2, ARPHRD_NETLINK, false);
    f.fill(0, 4, 14);
    dv.setUint16(14, NETLINK_GENERIC, false);
    const n = Math.min(message.length, f.length - NETLINK_PCAP_HEADER_BYTES);
    f.set(message.subarray(0, n), NETLINK_PCAP_HEADER_BYTES);
    this.writer.write(f, NETLINK_PCAP_HEADER_BYTES + n, BigInt(Math.floor(timeUs)) * 1000n);
    this.writer.flush();
  }

  close(): void {
    this.writer.close();
  }
}
