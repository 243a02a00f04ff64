/**
 * RFC 1624 eqn. 3, HC' = ~(~HC + ~m + m'), must equal a full recomputation for every
 * header and every rewrite the fail-safe handler does (DNAT/SNAT of addresses and ports,
 * Fatriot 3.4). Fixed seed; fast-check prints seed and counterexample on failure.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checksumAdjust16,
  checksumAdjust32,
  internetChecksum,
  ipv4HeaderChecksum,
  tcpChecksum,
  udpChecksum,
  udpChecksumAdjust16,
  udpChecksumAdjust32,
  verifyIpv4HeaderChecksum,
  verifyTcpChecksum,
  verifyUdpChecksum,
} from '../../src/pipeline/wire/checksum.ts';
import { Ipv4View } from '../../src/pipeline/wire/ipv4.ts';
import { TcpView } from '../../src/pipeline/wire/tcp.ts';
import { UdpView } from '../../src/pipeline/wire/udp.ts';

const SETTINGS = { seed: 42, numRuns: 2000 };
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u16 = fc.integer({ min: 0, max: 0xffff });

/** A random IPv4 header (random fields and options) with a valid checksum. */
const ipv4Header = fc
  .record({ ihl: fc.integer({ min: 5, max: 15 }), bytes: fc.uint8Array({ minLength: 60, maxLength: 60 }) })
  .map(({ ihl, bytes }) => {
    const header = bytes.slice(0, ihl * 4);
    header[0] = 0x40 | ihl;
    const view = new Ipv4View(header, 0);
    view.fillChecksum();
    return header;
  });

/** A NAT rewrite: new source and destination address and port. */
const rewrite = fc.record({ srcAddr: u32, dstAddr: u32, srcPort: u16, dstPort: u16 });

describe('RFC 1624 eqn. 3 incremental update equals full recomputation (property)', () => {
  it('IPv4 header: rewriting source and destination addresses (checksumAdjust32)', () => {
    fc.assert(
      fc.property(ipv4Header, rewrite, (header, to) => {
        const view = new Ipv4View(header, 0);
        let hc = view.checksum;
        hc = checksumAdjust32(hc, view.srcAddr, to.srcAddr);
        hc = checksumAdjust32(hc, view.dstAddr, to.dstAddr);
        view.srcAddr = to.srcAddr;
        view.dstAddr = to.dstAddr;
        expect(hc).toBe(ipv4HeaderChecksum(header, 0, view.headerLength));
        view.checksum = hc;
        expect(verifyIpv4HeaderChecksum(header, 0, view.headerLength)).toBe(true);
      }),
      SETTINGS,
    );
  });

  it('IPv4 header: decrementing TTL (the 16-bit word TTL|protocol, checksumAdjust16)', () => {
    fc.assert(
      fc.property(ipv4Header, fc.integer({ min: 0, max: 255 }), (header, ttl) => {
        const view = new Ipv4View(header, 0);
        const oldWord = (view.ttl << 8) | view.protocol;
        const hc = checksumAdjust16(view.checksum, oldWord, (ttl << 8) | view.protocol);
        view.ttl = ttl;
        expect(hc).toBe(ipv4HeaderChecksum(header, 0, view.headerLength));
      }),
      SETTINGS,
    );
  });

  it('UDP: addresses (pseudo-header) and ports rewritten; 0 (none) stays 0, computed 0 is 0xFFFF (RFC 768)', () => {
    fc.assert(
      fc.property(
        u32,
        u32,
        fc.uint8Array({ minLength: 8, maxLength: 300 }),
        fc.boolean(),
        rewrite,
        (srcAddr, dstAddr, datagram, withChecksum, to) => {
          const view = new UdpView(datagram, 0);
          view.length = datagram.length;
          view.checksum = 0;
          if (withChecksum) view.fillChecksum(srcAddr, dstAddr);
          let hc = view.checksum;
          hc = udpChecksumAdjust32(hc, srcAddr, to.srcAddr);
          hc = udpChecksumAdjust32(hc, dstAddr, to.dstAddr);
          hc = udpChecksumAdjust16(hc, view.srcPort, to.srcPort);
          hc = udpChecksumAdjust16(hc, view.dstPort, to.dstPort);
          view.srcPort = to.srcPort;
          view.dstPort = to.dstPort;
          if (!withChecksum) {
            expect(hc).toBe(0);
            return;
          }
          expect(hc).toBe(udpChecksum(datagram, 0, datagram.length, to.srcAddr, to.dstAddr));
          view.checksum = hc;
          expect(verifyUdpChecksum(datagram, 0, datagram.length, to.srcAddr, to.dstAddr)).toBe(true);
        },
      ),
      SETTINGS,
    );
  });

  it('TCP: addresses (pseudo-header) and ports rewritten', () => {
    fc.assert(
      fc.property(u32, u32, fc.uint8Array({ minLength: 20, maxLength: 300 }), rewrite, (srcAddr, dstAddr, segment, to) => {
        const view = new TcpView(segment, 0);
        view.fillChecksum(srcAddr, dstAddr, segment.length);
        let hc = view.checksum;
        hc = checksumAdjust32(hc, srcAddr, to.srcAddr);
        hc = checksumAdjust32(hc, dstAddr, to.dstAddr);
        hc = checksumAdjust16(hc, view.srcPort, to.srcPort);
        hc = checksumAdjust16(hc, view.dstPort, to.dstPort);
        view.srcPort = to.srcPort;
        view.dstPort = to.dstPort;
        expect(hc).toBe(tcpChecksum(segment, 0, segment.length, to.srcAddr, to.dstAddr));
        view.checksum = hc;
        expect(verifyTcpChecksum(segment, 0, segment.length, to.srcAddr, to.dstAddr)).toBe(true);
      }),
      SETTINGS,
    );
  });

  it('any data, any 16-bit word: exact whenever the new data is not all zero (RFC 1624 section 3)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 2, maxLength: 64 }).filter((d) => d.length % 2 === 0),
        fc.nat(),
        u16,
        (data, at, word) => {
          const offset = (at % (data.length / 2)) * 2;
          const oldWord = (data[offset]! << 8) | data[offset + 1]!;
          const hc = internetChecksum(data, 0, data.length);
          data[offset] = word >>> 8;
          data[offset + 1] = word & 0xff;
          const adjusted = checksumAdjust16(hc, oldWord, word);
          const full = internetChecksum(data, 0, data.length);
          if (data.some((b) => b !== 0)) {
            expect(adjusted).toBe(full);
          } else {
            // All-zero data sums to +0, whose checksum is 0xFFFF; eqn. 3 gives the other zero, 0x0000.
            expect([adjusted, full]).toEqual([0x0000, 0xffff]);
          }
        },
      ),
      SETTINGS,
    );
  });
});
