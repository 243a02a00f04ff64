import { describe, expect, it } from 'vitest';
import { WireError, wireErrorName, WIRE_ERROR_COUNT } from '../../../src/pipeline/wire/error.ts';
import { emitIpv4Header, IpProtocol, Ipv4View, parseIpv4Header } from '../../../src/pipeline/wire/ipv4.ts';

const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));

// Classic worked example: total length 0x73 (115), DF, TTL 64, UDP, checksum 0xb861,
// 192.168.0.1 -> 192.168.0.199. Placed in a 115-byte buffer so total length is consistent.
const HEADER = hex('4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7');
function example(): Uint8Array {
  const packet = new Uint8Array(115);
  packet.set(HEADER);
  return packet;
}

describe('Ipv4View', () => {
  it('reads every field of the worked example at its fixed offset', () => {
    const view = new Ipv4View(example(), 0);
    expect(view.check(115)).toBe(WireError.Ok);
    expect(view.version).toBe(4);
    expect(view.ihl).toBe(5);
    expect(view.headerLength).toBe(20);
    expect(view.dscp).toBe(0);
    expect(view.ecn).toBe(0);
    expect(view.totalLength).toBe(115);
    expect(view.ident).toBe(0);
    expect(view.dontFragment).toBe(true);
    expect(view.moreFragments).toBe(false);
    expect(view.fragmentOffset).toBe(0);
    expect(view.isFragment).toBe(false);
    expect(view.ttl).toBe(64);
    expect(view.protocol).toBe(IpProtocol.Udp);
    expect(view.checksum).toBe(0xb861);
    expect(view.srcAddr).toBe(0xc0a80001);
    expect(view.dstAddr).toBe(0xc0a800c7);
    expect(view.payloadOffset).toBe(20);
    expect(view.payloadLength).toBe(95);
    expect(view.verifyChecksum()).toBe(true);
  });

  it('check: Truncated under 20 bytes', () => {
    expect(new Ipv4View(example(), 0).check(19)).toBe(WireError.Truncated);
  });

  it('check: BadVersion when the version nibble is not 4 (0x65)', () => {
    const packet = example();
    packet[0] = 0x65;
    expect(new Ipv4View(packet, 0).check(115)).toBe(WireError.BadVersion);
  });

  it('check: BadIhl for IHL 4 (16 bytes, below the RFC 791 minimum)', () => {
    const packet = example();
    packet[0] = 0x44;
    expect(new Ipv4View(packet, 0).check(115)).toBe(WireError.BadIhl);
  });

  it('check: Truncated when IHL says 60 bytes but 40 are present', () => {
    const packet = example();
    packet[0] = 0x4f;
    expect(new Ipv4View(packet, 0).check(40)).toBe(WireError.Truncated);
  });

  it('check: BadTotalLength when total length is under the header or over the bytes present', () => {
    const packet = example();
    expect(new Ipv4View(packet, 0).check(114)).toBe(WireError.BadTotalLength);
    packet[3] = 19;
    expect(new Ipv4View(packet, 0).check(115)).toBe(WireError.BadTotalLength);
  });

  it('check: accepts Ethernet padding beyond total length', () => {
    expect(new Ipv4View(example(), 0).check(200)).toBe(WireError.Ok);
  });

  it('setters write at fixed offsets and fillChecksum restores 0xb861', () => {
    const packet = example();
    const view = new Ipv4View(packet, 0);
    view.ttl = 1;
    view.srcAddr = 0x0a000001;
    view.dstAddr = 0xffffffff;
    view.ident = 0xbeef;
    view.moreFragments = true;
    view.fragmentOffset = 0x1abc;
    view.dontFragment = false;
    view.dscp = 46;
    view.ecn = 1;
    expect(packet.subarray(0, 20)).toEqual(hex('45b9 0073 beef 3abc 0111 b861 0a000001 ffffffff'));
    expect(view.isFragment).toBe(true);
    expect(view.verifyChecksum()).toBe(false);
    view.ttl = 64;
    view.srcAddr = 0xc0a80001;
    view.dstAddr = 0xc0a800c7;
    view.ident = 0;
    view.fragmentOffset = 0;
    view.moreFragments = false;
    view.dontFragment = true;
    view.dscp = 0;
    view.ecn = 0;
    view.checksum = 0;
    view.fillChecksum();
    expect(view.checksum).toBe(0xb861);
  });

  it('is re-pointable with reset to another buffer and offset', () => {
    const shifted = new Uint8Array(150);
    shifted.set(HEADER, 14);
    const view = new Ipv4View();
    expect(view.reset(shifted, 14).dstAddr).toBe(0xc0a800c7);
    expect(view.reset(shifted, 14).check(150 - 14)).toBe(WireError.Ok);
  });
});

describe('Ipv4Repr', () => {
  it('parses the example and emits it back byte for byte', () => {
    const parsed = parseIpv4Header(example());
    expect(parsed).toEqual({
      ok: true,
      repr: {
        srcAddr: 0xc0a80001,
        dstAddr: 0xc0a800c7,
        protocol: 17,
        ttl: 64,
        payloadLength: 95,
        ident: 0,
        dontFragment: true,
        moreFragments: false,
        fragmentOffset: 0,
        dscp: 0,
        ecn: 0,
        options: new Uint8Array(0),
      },
    });
    if (!parsed.ok) return;
    const out = new Uint8Array(20);
    expect(emitIpv4Header(parsed.repr, out)).toBe(20);
    expect(out).toEqual(HEADER);
  });

  it('carries options: IHL 6 with a 4-byte option, checksum valid', () => {
    const out = new Uint8Array(24 + 4);
    const length = emitIpv4Header(
      {
        srcAddr: 1, dstAddr: 2, protocol: 6, ttl: 9, payloadLength: 4, ident: 7,
        dontFragment: false, moreFragments: false, fragmentOffset: 0, dscp: 0, ecn: 0,
        options: Uint8Array.of(0x94, 0x04, 0x00, 0x00), // Router Alert (RFC 2113)
      },
      out,
    );
    expect(length).toBe(24);
    expect(out[0]).toBe(0x46);
    const view = new Ipv4View(out, 0);
    expect(view.totalLength).toBe(28);
    expect(view.verifyChecksum()).toBe(true);
    const parsed = parseIpv4Header(out);
    expect(parsed.ok && [...parsed.repr.options]).toEqual([0x94, 0x04, 0x00, 0x00]);
  });

  it('reports BadChecksum for a corrupted header, and check errors as they are', () => {
    const packet = example();
    packet[11] ^= 0xff;
    expect(parseIpv4Header(packet)).toEqual({ ok: false, error: WireError.BadChecksum });
    expect(parseIpv4Header(packet, 0, 10)).toEqual({ ok: false, error: WireError.Truncated });
  });
});

describe('WireError', () => {
  it('names every code and uses consecutive codes', () => {
    const codes = Object.values(WireError);
    expect(codes).toEqual([...Array(WIRE_ERROR_COUNT).keys()]);
    for (const [name, code] of Object.entries(WireError)) expect(wireErrorName(code)).toBe(name);
    expect(wireErrorName(99)).toBe('Unknown(99)');
  });
});
