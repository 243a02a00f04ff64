import { describe, expect, it } from 'vitest';
import {
  checksumAdjust16,
  checksumAdjust32,
  icmpChecksum,
  internetChecksum,
  internetSum,
  ipv4HeaderChecksum,
  pseudoHeaderSum,
  tcpChecksum,
  udpChecksum,
  udpChecksumAdjust16,
  udpChecksumAdjust32,
  verifyIcmpChecksum,
  verifyIpv4HeaderChecksum,
  verifyTcpChecksum,
  verifyUdpChecksum,
} from '../../../src/pipeline/wire/checksum.ts';

const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));

// 45 00 0073 0000 4000 40 11 [b861] c0a80001 c0a800c7: the classic worked example, checksum 0xb861.
const IPV4_EXAMPLE = hex('4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7');
const SRC = 0x0a000001;
const DST = 0x0a000002;

describe('internet checksum (RFC 1071)', () => {
  it('sums 00 01 f2 03 f4 f5 f6 f7 to 0xddf2 (RFC 1071 section 3 example)', () => {
    expect(internetSum(hex('0001 f203 f4f5 f6f7'), 0, 8)).toBe(0xddf2);
    expect(internetChecksum(hex('0001 f203 f4f5 f6f7'), 0, 8)).toBe(0x220d);
  });

  it('pads an odd trailing byte with zero on the right', () => {
    expect(internetSum(hex('0102 03'), 0, 3)).toBe(0x0102 + 0x0300);
  });

  it('adds end-around carries and honours an initial sum and an offset', () => {
    // 0xffff + 0xffff + 0x0001 = 0x1ffff -> 0xffff + 1 = 0x10000 -> 0x0001
    expect(internetSum(hex('ffff ffff 0001'), 0, 6)).toBe(0x0001);
    expect(internetSum(hex('aa 0001 0002'), 1, 4, 0x0010)).toBe(0x0013);
  });

  it('folds correctly over a 9000-byte jumbo payload of 0xff bytes', () => {
    expect(internetSum(new Uint8Array(9000).fill(0xff), 0, 9000)).toBe(0xffff);
    expect(internetSum(new Uint8Array(70000).fill(0x01), 0, 70000)).toBe((35000 * 0x0101) % 0xffff);
  });
});

describe('IPv4 header checksum (RFC 791)', () => {
  it('computes 0xb861 for the worked example, ignoring the stored field', () => {
    const header = IPV4_EXAMPLE.slice();
    header[10] = 0x12;
    header[11] = 0x34;
    expect(ipv4HeaderChecksum(header, 0, 20)).toBe(0xb861);
  });

  it('verifies the example and rejects a one-bit change', () => {
    expect(verifyIpv4HeaderChecksum(IPV4_EXAMPLE, 0, 20)).toBe(true);
    const corrupt = IPV4_EXAMPLE.slice();
    corrupt[8] ^= 1;
    expect(verifyIpv4HeaderChecksum(corrupt, 0, 20)).toBe(false);
  });
});

describe('UDP/TCP/ICMP checksums over the pseudo-header', () => {
  // Computed independently (Python) for these exact bytes.
  const udp = hex('3039 0035 0010 0000 68656c6c6f212121'); // 12345 -> 53, len 16, "hello!!!"
  const tcp = hex('c001 0050 00000001 00000000 5002 ffff 0000 0000'); // SYN
  const icmp = hex('0800 0000 1234 0001 61626364'); // echo request id 0x1234 seq 1 "abcd"

  it('pseudo-header sum adds src, dst, protocol and L4 length', () => {
    expect(pseudoHeaderSum(SRC, DST, 17, 16)).toBe(0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 17 + 16);
  });

  it('UDP: 0x5649 for the example; verifies once stored', () => {
    expect(udpChecksum(udp, 0, 16, SRC, DST)).toBe(0x5649);
    const filled = udp.slice();
    filled[6] = 0x56;
    filled[7] = 0x49;
    expect(verifyUdpChecksum(filled, 0, 16, SRC, DST)).toBe(true);
    expect(verifyUdpChecksum(filled, 0, 16, SRC, DST + 1)).toBe(false);
  });

  it('UDP: a stored 0 means no checksum and verifies (RFC 768)', () => {
    expect(verifyUdpChecksum(udp, 0, 16, SRC, DST)).toBe(true);
  });

  it('UDP: a computed 0 is sent as 0xFFFF (RFC 768)', () => {
    // Choose the payload word so the ones-complement sum is exactly 0xFFFF, i.e. checksum 0.
    const datagram = hex('0000 0000 000a 0000 0000');
    const partial = internetSum(datagram, 0, 10, pseudoHeaderSum(SRC, DST, 17, 10));
    const fill = ~partial & 0xffff;
    datagram[8] = fill >>> 8;
    datagram[9] = fill & 0xff;
    expect(udpChecksum(datagram, 0, 10, SRC, DST)).toBe(0xffff);
    datagram[6] = 0xff;
    datagram[7] = 0xff;
    expect(verifyUdpChecksum(datagram, 0, 10, SRC, DST)).toBe(true);
  });

  it('TCP: 0xdb8d for the example SYN; verifies once stored', () => {
    expect(tcpChecksum(tcp, 0, 20, SRC, DST)).toBe(0xdb8d);
    const filled = tcp.slice();
    filled[16] = 0xdb;
    filled[17] = 0x8d;
    expect(verifyTcpChecksum(filled, 0, 20, SRC, DST)).toBe(true);
    expect(verifyTcpChecksum(filled, 0, 20, SRC + 1, DST)).toBe(false);
  });

  it('ICMP: 0x2104 for the example echo request (no pseudo-header, RFC 792)', () => {
    expect(icmpChecksum(icmp, 0, 12)).toBe(0x2104);
    const filled = icmp.slice();
    filled[2] = 0x21;
    filled[3] = 0x04;
    expect(verifyIcmpChecksum(filled, 0, 12)).toBe(true);
    filled[11] ^= 0x80;
    expect(verifyIcmpChecksum(filled, 0, 12)).toBe(false);
  });
});

describe('incremental update, RFC 1624 eqn. 3: HC\' = ~(~HC + ~m + m\')', () => {
  it('RFC 1624 section 4 example: HC 0xDD2F, m 0x5555 -> m\' 0x3285 gives 0x0000 (eqn. 2 would give 0xFFFF)', () => {
    expect(checksumAdjust16(0xdd2f, 0x5555, 0x3285)).toBe(0x0000);
  });

  it('changing the example\'s TTL 0x40 -> 0x3f (word 0x4011 -> 0x3f11) equals recomputation', () => {
    const header = IPV4_EXAMPLE.slice();
    header[8] = 0x3f;
    expect(checksumAdjust16(0xb861, 0x4011, 0x3f11)).toBe(ipv4HeaderChecksum(header, 0, 20));
    expect(checksumAdjust16(0xb861, 0x4011, 0x3f11)).toBe(0xb961);
  });

  it('rewriting the example\'s destination 192.168.0.199 -> 10.0.0.2 equals recomputation', () => {
    const header = IPV4_EXAMPLE.slice();
    header.set([10, 0, 0, 2], 16);
    expect(checksumAdjust32(0xb861, 0xc0a800c7, 0x0a000002)).toBe(ipv4HeaderChecksum(header, 0, 20));
  });

  it('an unchanged field leaves the checksum unchanged', () => {
    expect(checksumAdjust16(0x1234, 0xabcd, 0xabcd)).toBe(0x1234);
    expect(checksumAdjust32(0x1234, 0xdeadbeef, 0xdeadbeef)).toBe(0x1234);
  });

  it('UDP: a checksum of 0 (none) stays 0 after a rewrite (RFC 768, SPEC 3.4)', () => {
    expect(udpChecksumAdjust16(0, 53, 5353)).toBe(0);
    expect(udpChecksumAdjust32(0, SRC, DST)).toBe(0);
  });

  it('UDP: an adjusted result of 0 is sent as 0xFFFF', () => {
    expect(checksumAdjust16(0xdd2f, 0x5555, 0x3285)).toBe(0);
    expect(udpChecksumAdjust16(0xdd2f, 0x5555, 0x3285)).toBe(0xffff);
    // 32-bit form: same rewrite in the low half, high half unchanged.
    expect(udpChecksumAdjust32(0xdd2f, 0x00015555, 0x00013285)).toBe(0xffff);
  });
});
