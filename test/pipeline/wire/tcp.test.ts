import { describe, expect, it } from 'vitest';
import { WireError } from '../../../src/pipeline/wire/error.ts';
import { emitTcp, parseTcp, TcpFlags, TcpView } from '../../../src/pipeline/wire/tcp.ts';

const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
const SRC = 0x0a000001;
const DST = 0x0a000002;
// SYN 49153 -> 80, seq 1, data offset 5, window 65535, checksum 0xdb8d (computed independently).
const SYN = hex('c001 0050 00000001 00000000 5002 ffff db8d 0000');

describe('TcpView (RFC 793)', () => {
  it('reads every field', () => {
    const view = new TcpView(SYN, 0);
    expect(view.check(20)).toBe(WireError.Ok);
    expect(view.srcPort).toBe(49153);
    expect(view.dstPort).toBe(80);
    expect(view.seqNumber).toBe(1);
    expect(view.ackNumber).toBe(0);
    expect(view.dataOffset).toBe(5);
    expect(view.headerLength).toBe(20);
    expect(view.flags).toBe(TcpFlags.Syn);
    expect(view.windowSize).toBe(65535);
    expect(view.checksum).toBe(0xdb8d);
    expect(view.urgentPointer).toBe(0);
    expect(view.payloadOffset).toBe(20);
    expect(view.verifyChecksum(SRC, DST, 20)).toBe(true);
  });

  it('reads 32-bit sequence numbers above 2^31 as unsigned, and the NS flag', () => {
    const buf = SYN.slice();
    const view = new TcpView(buf, 0);
    view.seqNumber = 0xfffffffe;
    view.ackNumber = 0x80000000;
    view.flags = TcpFlags.Ns | TcpFlags.Ack | TcpFlags.Fin;
    expect(view.seqNumber).toBe(0xfffffffe);
    expect(view.ackNumber).toBe(0x80000000);
    expect([buf[12], buf[13]]).toEqual([0x51, 0x11]);
    expect(view.dataOffset).toBe(5);
  });

  it('check: Truncated under 20 bytes; BadTcpOffset for offset < 5 or past the segment', () => {
    expect(new TcpView(SYN, 0).check(19)).toBe(WireError.Truncated);
    const buf = SYN.slice();
    const view = new TcpView(buf, 0);
    view.dataOffset = 4;
    expect(view.check(20)).toBe(WireError.BadTcpOffset);
    view.dataOffset = 6;
    expect(view.check(20)).toBe(WireError.BadTcpOffset);
    expect(view.check(24)).toBe(WireError.Ok);
  });
});

describe('TcpRepr', () => {
  it('parses and emits the SYN byte for byte', () => {
    const parsed = parseTcp(SYN, 0, 20, SRC, DST);
    expect(parsed).toEqual({
      ok: true,
      repr: {
        srcPort: 49153, dstPort: 80, seqNumber: 1, ackNumber: 0, flags: TcpFlags.Syn,
        windowSize: 65535, urgentPointer: 0, options: new Uint8Array(0), payload: new Uint8Array(0),
      },
    });
    if (!parsed.ok) return;
    const out = new Uint8Array(20);
    expect(emitTcp(parsed.repr, out, 0, SRC, DST)).toBe(20);
    expect(out).toEqual(SYN);
  });

  it('round-trips options (MSS 1460) and payload with a valid checksum', () => {
    const repr = {
      srcPort: 1, dstPort: 2, seqNumber: 3, ackNumber: 4, flags: TcpFlags.Ack | TcpFlags.Psh,
      windowSize: 5, urgentPointer: 0, options: hex('020405b4'), payload: hex('010203'),
    };
    const out = new Uint8Array(27);
    expect(emitTcp(repr, out, 0, SRC, DST)).toBe(27);
    expect(out[12]).toBe(0x60);
    expect(parseTcp(out, 0, 27, SRC, DST)).toEqual({ ok: true, repr });
  });

  it('returns BadChecksum as a code', () => {
    const corrupt = SYN.slice();
    corrupt[0] ^= 1;
    expect(parseTcp(corrupt, 0, 20, SRC, DST)).toEqual({ ok: false, error: WireError.BadChecksum });
  });
});
