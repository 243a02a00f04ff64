import { describe, expect, it } from 'vitest';
import {
  copyMac,
  formatIpv4,
  formatMac,
  isMulticastMac,
  macEquals,
  parseIpv4,
  parseMac,
  readIpv4,
  readMac48,
  tryParseIpv4,
  tryParseMac,
  writeIpv4,
  writeMac48,
} from '../../../src/pipeline/wire/address.ts';

describe('IPv4 addresses as host-order uint32', () => {
  it('parses dotted quads into host-order numbers', () => {
    expect(parseIpv4('10.0.0.1')).toBe(0x0a000001);
    expect(parseIpv4('192.168.0.199')).toBe(0xc0a800c7);
    expect(parseIpv4('255.255.255.255')).toBe(0xffffffff);
    expect(parseIpv4('0.0.0.0')).toBe(0);
  });

  it('formats numbers back to dotted quads', () => {
    expect(formatIpv4(0x0a000001)).toBe('10.0.0.1');
    expect(formatIpv4(0xc0a800c7)).toBe('192.168.0.199');
    expect(formatIpv4(0xffffffff)).toBe('255.255.255.255');
  });

  it('rejects malformed text: -1 from tryParseIpv4, RangeError from parseIpv4', () => {
    for (const bad of ['', '10.0.0', '10.0.0.1.2', '256.0.0.1', '10.0.0.-1', '010.0.0.1', '1.2.3.x', ' 1.2.3.4', '1..2.3']) {
      expect(tryParseIpv4(bad)).toBe(-1);
      expect(() => parseIpv4(bad)).toThrow(RangeError);
    }
  });

  it('reads and writes network byte order', () => {
    const buf = new Uint8Array(6);
    writeIpv4(buf, 1, 0xc0a80001);
    expect([...buf]).toEqual([0, 0xc0, 0xa8, 0x00, 0x01, 0]);
    expect(readIpv4(buf, 1)).toBe(0xc0a80001);
  });
});

describe('MAC addresses as six bytes', () => {
  it('parses colon and dash forms and formats lower case', () => {
    expect([...parseMac('02:00:5E:10:00:FF')]).toEqual([0x02, 0x00, 0x5e, 0x10, 0x00, 0xff]);
    expect([...parseMac('02-00-5e-10-00-ff')]).toEqual([0x02, 0x00, 0x5e, 0x10, 0x00, 0xff]);
    expect(formatMac(parseMac('02:00:5E:10:00:FF'))).toBe('02:00:5e:10:00:ff');
  });

  it('rejects malformed text', () => {
    for (const bad of ['', '02:00:00:00:00', '02:00:00:00:00:00:00', '0g:00:00:00:00:00', '002:00:00:00:00:00']) {
      expect(tryParseMac(bad)).toBeNull();
      expect(() => parseMac(bad)).toThrow(RangeError);
    }
  });

  it('converts to and from a 48-bit integer key', () => {
    const buf = new Uint8Array(8);
    writeMac48(buf, 1, 0xfedcba987654);
    expect([...buf]).toEqual([0, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0]);
    expect(readMac48(buf, 1)).toBe(0xfedcba987654);
    expect(readMac48(parseMac('ff:ff:ff:ff:ff:ff'), 0)).toBe(0xffffffffffff);
  });

  it('copies, compares, and detects the group bit', () => {
    const a = parseMac('01:00:5e:00:00:01');
    const b = new Uint8Array(7);
    copyMac(a, 0, b, 1);
    expect(macEquals(a, 0, b, 1)).toBe(true);
    b[6] = 2;
    expect(macEquals(a, 0, b, 1)).toBe(false);
    expect(isMulticastMac(a, 0)).toBe(true);
    expect(isMulticastMac(parseMac('02:00:00:00:00:01'), 0)).toBe(false);
  });
});
