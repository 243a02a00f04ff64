/**
 * Addresses as the hardware holds them: an IPv4 address is a uint32 in host order
 * (10.0.0.1 === 0x0a000001), a MAC is six bytes. The 48-bit number form of a MAC
 * (`readMac48`) exists for hot-path table keys, where a Uint8Array key would allocate.
 */

export const IPV4_ANY = 0;
export const IPV4_BROADCAST = 0xffffffff;

/** `parseIpv4` without exceptions: the address, or -1 when `text` is not a dotted quad. */
export function tryParseIpv4(text: string): number {
  const parts = text.split('.');
  if (parts.length !== 4) return -1;
  let value = 0;
  for (const part of parts) {
    // Decimal only, no leading zeros (inet_pton rejects "010" as ambiguous octal).
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return -1;
    const octet = Number(part);
    if (octet > 255) return -1;
    value = value * 256 + octet;
  }
  return value;
}

/** Parses a dotted quad ("10.0.0.1") into a host-order uint32; throws RangeError on bad text. */
export function parseIpv4(text: string): number {
  const value = tryParseIpv4(text);
  if (value < 0) throw new RangeError(`invalid IPv4 address: ${JSON.stringify(text)}`);
  return value;
}

export function formatIpv4(address: number): string {
  return `${(address >>> 24) & 0xff}.${(address >>> 16) & 0xff}.${(address >>> 8) & 0xff}.${address & 0xff}`;
}

/** Reads a network-order IPv4 address at `offset`. */
export function readIpv4(buf: Uint8Array, offset: number): number {
  return ((buf[offset]! << 24) | (buf[offset + 1]! << 16) | (buf[offset + 2]! << 8) | buf[offset + 3]!) >>> 0;
}

export function writeIpv4(buf: Uint8Array, offset: number, address: number): void {
  buf[offset] = address >>> 24;
  buf[offset + 1] = address >>> 16;
  buf[offset + 2] = address >>> 8;
  buf[offset + 3] = address;
}

export const MAC_BROADCAST: Readonly<Uint8Array> = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
export const MAC_ZERO: Readonly<Uint8Array> = new Uint8Array(6);

/** `parseMac` without exceptions: six bytes, or null. Accepts ':' or '-' separators. */
export function tryParseMac(text: string): Uint8Array | null {
  const parts = text.split(/[:-]/);
  if (parts.length !== 6) return null;
  const mac = new Uint8Array(6);
  for (let i = 0; i < 6; i++) {
    const part = parts[i]!;
    if (!/^[0-9a-fA-F]{1,2}$/.test(part)) return null;
    mac[i] = parseInt(part, 16);
  }
  return mac;
}

/** Parses "02:00:00:00:00:01" into six bytes; throws RangeError on bad text. */
export function parseMac(text: string): Uint8Array {
  const mac = tryParseMac(text);
  if (mac === null) throw new RangeError(`invalid MAC address: ${JSON.stringify(text)}`);
  return mac;
}

/** Formats six bytes at `offset` as lower-case "aa:bb:cc:dd:ee:ff". */
export function formatMac(buf: Uint8Array, offset = 0): string {
  let text = '';
  for (let i = 0; i < 6; i++) {
    if (i > 0) text += ':';
    text += buf[offset + i]!.toString(16).padStart(2, '0');
  }
  return text;
}

export function copyMac(src: Uint8Array, srcOffset: number, dst: Uint8Array, dstOffset: number): void {
  for (let i = 0; i < 6; i++) dst[dstOffset + i] = src[srcOffset + i]!;
}

export function macEquals(a: Uint8Array, aOffset: number, b: Uint8Array, bOffset: number): boolean {
  for (let i = 0; i < 6; i++) if (a[aOffset + i] !== b[bOffset + i]) return false;
  return true;
}

/** A MAC as a 48-bit integer (exact in a double), for integer-keyed tables. */
export function readMac48(buf: Uint8Array, offset: number): number {
  const hi = (buf[offset]! << 8) | buf[offset + 1]!;
  const lo = ((buf[offset + 2]! << 24) | (buf[offset + 3]! << 16) | (buf[offset + 4]! << 8) | buf[offset + 5]!) >>> 0;
  return hi * 0x100000000 + lo;
}

export function writeMac48(buf: Uint8Array, offset: number, mac48: number): void {
  const hi = Math.floor(mac48 / 0x100000000);
  const lo = mac48 >>> 0;
  buf[offset] = hi >>> 8;
  buf[offset + 1] = hi;
  buf[offset + 2] = lo >>> 24;
  buf[offset + 3] = lo >>> 16;
  buf[offset + 4] = lo >>> 8;
  buf[offset + 5] = lo;
}

/** Group bit (I/G) of the first octet: broadcast and multicast MACs (IEEE 802). */
export function isMulticastMac(buf: Uint8Array, offset: number): boolean {
  return (buf[offset]! & 1) === 1;
}
