import { describe, expect, it } from 'vitest';
import { parseMac } from '../../../src/pipeline/wire/address.ts';
import { ArpOp, ArpView, emitArp, parseArp } from '../../../src/pipeline/wire/arp.ts';
import { WireError } from '../../../src/pipeline/wire/error.ts';

const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));

// Who has 10.0.0.2? Tell 10.0.0.1 (02:00:00:00:00:01).
const REQUEST = hex('0001 0800 06 04 0001 020000000001 0a000001 000000000000 0a000002');

describe('ArpView (RFC 826, Ethernet/IPv4)', () => {
  it('reads every field of a request', () => {
    const view = new ArpView(REQUEST, 0);
    expect(view.check(28)).toBe(WireError.Ok);
    expect(view.hardwareType).toBe(1);
    expect(view.protocolType).toBe(0x0800);
    expect(view.hardwareLength).toBe(6);
    expect(view.protocolLength).toBe(4);
    expect(view.operation).toBe(ArpOp.Request);
    expect(view.senderMac48).toBe(0x020000000001);
    expect(view.senderIp).toBe(0x0a000001);
    expect(view.targetMac48).toBe(0);
    expect(view.targetIp).toBe(0x0a000002);
    expect(view.senderMacOffset).toBe(8);
    expect(view.targetMacOffset).toBe(18);
  });

  it('check: Truncated under the fixed 8 bytes or the 28-byte packet; BadArp for other types', () => {
    expect(new ArpView(REQUEST, 0).check(7)).toBe(WireError.Truncated);
    expect(new ArpView(REQUEST, 0).check(27)).toBe(WireError.Truncated);
    for (const [index, value] of [[1, 6], [2, 0x86], [4, 8], [5, 16]] as const) {
      const bad = REQUEST.slice();
      bad[index] = value;
      expect(new ArpView(bad, 0).check(28)).toBe(WireError.BadArp);
    }
  });

  it('setters turn a request into a reply in place', () => {
    const buf = REQUEST.slice();
    const view = new ArpView(buf, 0);
    view.operation = ArpOp.Reply;
    view.setTargetMac(buf, view.senderMacOffset);
    view.targetIp = view.senderIp;
    view.setSenderMac(parseMac('02:00:00:00:00:02'));
    view.senderIp = 0x0a000002;
    expect(buf).toEqual(hex('0001 0800 06 04 0002 020000000002 0a000002 020000000001 0a000001'));
  });
});

describe('ArpRepr', () => {
  it('round-trips parse and emit', () => {
    const parsed = parseArp(REQUEST);
    expect(parsed).toEqual({
      ok: true,
      repr: {
        op: 1,
        senderMac: parseMac('02:00:00:00:00:01'),
        senderIp: 0x0a000001,
        targetMac: new Uint8Array(6),
        targetIp: 0x0a000002,
      },
    });
    if (!parsed.ok) return;
    const out = new Uint8Array(28);
    expect(emitArp(parsed.repr, out)).toBe(28);
    expect(out).toEqual(REQUEST);
  });

  it('returns the error code instead of throwing', () => {
    expect(parseArp(REQUEST.subarray(0, 20))).toEqual({ ok: false, error: WireError.Truncated });
  });
});
