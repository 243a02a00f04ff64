import { describe, expect, it } from 'vitest';
import { parseMac } from '../../../src/pipeline/wire/address.ts';
import {
  emitEthernet,
  EtherType,
  EthernetView,
  parseEthernet,
} from '../../../src/pipeline/wire/ethernet.ts';
import { WireError } from '../../../src/pipeline/wire/error.ts';

const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));

const UNTAGGED = hex('ffffffffffff 020000000001 0806');
// PCP 5, DEI 1, VID 0x123 -> TCI 0xb123; inner EtherType IPv4.
const TAGGED = hex('020000000002 020000000001 8100 b123 0800');

describe('EthernetView', () => {
  it('reads an untagged header at fixed offsets', () => {
    const view = new EthernetView(UNTAGGED, 0);
    expect(view.check(14)).toBe(WireError.Ok);
    expect(view.dstMac48).toBe(0xffffffffffff);
    expect(view.srcMac48).toBe(0x020000000001);
    expect(view.dstIsMulticast).toBe(true);
    expect(view.etherType).toBe(EtherType.Arp);
    expect(view.vlanTagged).toBe(false);
    expect(view.headerLength).toBe(14);
    expect(view.payloadEtherType).toBe(EtherType.Arp);
    expect(view.payloadOffset).toBe(14);
  });

  it('reads one 802.1Q tag: PCP, DEI, VID and the inner EtherType', () => {
    const view = new EthernetView(TAGGED, 0);
    expect(view.check(18)).toBe(WireError.Ok);
    expect(view.etherType).toBe(EtherType.Vlan);
    expect(view.vlanTagged).toBe(true);
    expect(view.vlanTci).toBe(0xb123);
    expect(view.vlanPcp).toBe(5);
    expect(view.vlanDei).toBe(true);
    expect(view.vlanId).toBe(0x123);
    expect(view.headerLength).toBe(18);
    expect(view.payloadEtherType).toBe(EtherType.Ipv4);
    expect(view.payloadOffset).toBe(18);
  });

  it('check: Truncated under 14 bytes, and under 18 bytes when tagged', () => {
    expect(new EthernetView(UNTAGGED, 0).check(13)).toBe(WireError.Truncated);
    expect(new EthernetView(TAGGED, 0).check(17)).toBe(WireError.Truncated);
    expect(new EthernetView(TAGGED, 0).check(14)).toBe(WireError.Truncated);
  });

  it('is re-pointable with reset and honours the offset', () => {
    const buf = new Uint8Array(4 + TAGGED.length);
    buf.set(TAGGED, 4);
    const view = new EthernetView();
    expect(view.reset(buf, 4).vlanId).toBe(0x123);
    expect(view.reset(UNTAGGED, 0).vlanTagged).toBe(false);
  });

  it('setters write network byte order; setting the VID keeps PCP and DEI', () => {
    const buf = TAGGED.slice();
    const view = new EthernetView(buf, 0);
    view.vlanId = 0xffe;
    expect([buf[14], buf[15]]).toEqual([0xbf, 0xfe]);
    view.payloadEtherType = EtherType.Ipv6;
    expect([buf[16], buf[17]]).toEqual([0x86, 0xdd]);
    view.setDstMac(parseMac('0a:0b:0c:0d:0e:0f'));
    view.setSrcMac(parseMac('01:02:03:04:05:06'));
    expect([...buf.subarray(0, 12)]).toEqual([10, 11, 12, 13, 14, 15, 1, 2, 3, 4, 5, 6]);
  });
});

describe('EthernetRepr', () => {
  it('parses and emits a tagged header byte for byte', () => {
    const parsed = parseEthernet(TAGGED);
    expect(parsed).toEqual({
      ok: true,
      repr: {
        dstMac: parseMac('02:00:00:00:00:02'),
        srcMac: parseMac('02:00:00:00:00:01'),
        etherType: EtherType.Ipv4,
        vlan: { id: 0x123, pcp: 5, dei: true },
      },
    });
    if (!parsed.ok) return;
    const out = new Uint8Array(18);
    expect(emitEthernet(parsed.repr, out, 0)).toBe(18);
    expect(out).toEqual(TAGGED);
  });

  it('parses an untagged header with vlan null, and reports Truncated', () => {
    const parsed = parseEthernet(UNTAGGED);
    expect(parsed.ok && parsed.repr.vlan).toBe(null);
    expect(parseEthernet(UNTAGGED, 0, 10)).toEqual({ ok: false, error: WireError.Truncated });
  });
});
