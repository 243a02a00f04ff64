import { describe, expect, it } from 'vitest';
import { checksumAdjust16 } from '../../../src/pipeline/wire/checksum.ts';
import { WireError } from '../../../src/pipeline/wire/error.ts';
import { emitIcmp, IcmpType, IcmpView, parseIcmp } from '../../../src/pipeline/wire/icmp.ts';

const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
// Echo request, id 0x1234, seq 1, "abcd"; checksum 0x2104 (computed independently).
const ECHO = hex('0800 2104 1234 0001 61626364');

describe('IcmpView (RFC 792)', () => {
  it('reads an echo request', () => {
    const view = new IcmpView(ECHO, 0);
    expect(view.check(12)).toBe(WireError.Ok);
    expect(view.type).toBe(IcmpType.EchoRequest);
    expect(view.code).toBe(0);
    expect(view.checksum).toBe(0x2104);
    expect(view.identifier).toBe(0x1234);
    expect(view.sequence).toBe(1);
    expect(view.isEcho).toBe(true);
    expect(view.payloadOffset).toBe(8);
    expect(view.verifyChecksum(12)).toBe(true);
  });

  it('check: Truncated under 8 bytes', () => {
    expect(new IcmpView(ECHO, 0).check(7)).toBe(WireError.Truncated);
  });

  it('translating the identifier with RFC 1624 eqn. 3 equals recomputation (Fatriot 3.4 relays echo on its identifier)', () => {
    const buf = ECHO.slice();
    const view = new IcmpView(buf, 0);
    view.checksum = checksumAdjust16(view.checksum, view.identifier, 0xbeef);
    view.identifier = 0xbeef;
    expect(view.verifyChecksum(12)).toBe(true);
    const expected = view.checksum;
    view.fillChecksum(12);
    expect(view.checksum).toBe(expected);
  });
});

describe('IcmpRepr', () => {
  it('parses and emits byte for byte', () => {
    const parsed = parseIcmp(ECHO);
    expect(parsed).toEqual({
      ok: true,
      repr: { type: 8, code: 0, identifier: 0x1234, sequence: 1, payload: hex('61626364') },
    });
    if (!parsed.ok) return;
    const out = new Uint8Array(12);
    expect(emitIcmp(parsed.repr, out)).toBe(12);
    expect(out).toEqual(ECHO);
  });

  it('returns Truncated and BadChecksum as codes', () => {
    expect(parseIcmp(ECHO, 0, 4)).toEqual({ ok: false, error: WireError.Truncated });
    const corrupt = ECHO.slice();
    corrupt[8] = 0;
    expect(parseIcmp(corrupt)).toEqual({ ok: false, error: WireError.BadChecksum });
  });
});
