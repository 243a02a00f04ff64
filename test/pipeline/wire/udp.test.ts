import { describe, expect, it } from 'vitest';
import { WireError } from '../../../src/pipeline/wire/error.ts';
import { emitUdp, parseUdp, UdpView } from '../../../src/pipeline/wire/udp.ts';

const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
const SRC = 0x0a000001;
const DST = 0x0a000002;
// 12345 -> 53, length 16, checksum 0x5649 (computed independently), payload "hello!!!".
const DATAGRAM = hex('3039 0035 0010 5649 68656c6c6f212121');

describe('UdpView (RFC 768)', () => {
  it('reads every field', () => {
    const view = new UdpView(DATAGRAM, 0);
    expect(view.check(16)).toBe(WireError.Ok);
    expect(view.srcPort).toBe(12345);
    expect(view.dstPort).toBe(53);
    expect(view.length).toBe(16);
    expect(view.checksum).toBe(0x5649);
    expect(view.payloadOffset).toBe(8);
    expect(view.payloadLength).toBe(8);
    expect(view.verifyChecksum(SRC, DST)).toBe(true);
    expect(view.verifyChecksum(SRC, DST ^ 1)).toBe(false);
  });

  it('check: Truncated under 8 bytes; BadUdpLength for a length under 8 or beyond the IP payload', () => {
    expect(new UdpView(DATAGRAM, 0).check(7)).toBe(WireError.Truncated);
    expect(new UdpView(DATAGRAM, 0).check(15)).toBe(WireError.BadUdpLength);
    const short = DATAGRAM.slice();
    short[5] = 7;
    expect(new UdpView(short, 0).check(16)).toBe(WireError.BadUdpLength);
  });

  it('setters and fillChecksum reproduce the datagram', () => {
    const buf = DATAGRAM.slice();
    buf.fill(0, 0, 8);
    const view = new UdpView(buf, 0);
    view.srcPort = 12345;
    view.dstPort = 53;
    view.length = 16;
    view.fillChecksum(SRC, DST);
    expect(buf).toEqual(DATAGRAM);
  });
});

describe('UdpRepr', () => {
  it('parses and emits byte for byte', () => {
    const parsed = parseUdp(DATAGRAM, 0, 16, SRC, DST);
    expect(parsed).toEqual({
      ok: true,
      repr: { srcPort: 12345, dstPort: 53, payload: new TextEncoder().encode('hello!!!') },
    });
    if (!parsed.ok) return;
    const out = new Uint8Array(16);
    expect(emitUdp(parsed.repr, out, 0, SRC, DST)).toBe(16);
    expect(out).toEqual(DATAGRAM);
  });

  it('emits checksum 0 when asked for none, and such a datagram parses', () => {
    const out = new Uint8Array(16);
    emitUdp({ srcPort: 1, dstPort: 2, payload: new Uint8Array(8) }, out, 0, SRC, DST, false);
    expect([out[6], out[7]]).toEqual([0, 0]);
    expect(parseUdp(out, 0, 16, 0x01020304, 0x05060708).ok).toBe(true);
  });

  it('returns BadChecksum and length errors as codes', () => {
    const corrupt = DATAGRAM.slice();
    corrupt[15] ^= 1;
    expect(parseUdp(corrupt, 0, 16, SRC, DST)).toEqual({ ok: false, error: WireError.BadChecksum });
    expect(parseUdp(DATAGRAM, 0, 12, SRC, DST)).toEqual({ ok: false, error: WireError.BadUdpLength });
  });
});
