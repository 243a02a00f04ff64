/**
 * The one place for Internet checksums (RFC 1071), full and incremental (RFC 1624).
 *
 * Vocabulary: a *sum* is the 16-bit one's complement sum of 16-bit big-endian words,
 * folded with end-around carry, not yet complemented; a *checksum* is the complement of a
 * sum, as stored in a header. Sums compose: `internetSum(b, o, n, pseudoHeaderSum(...))`.
 *
 * Everything here runs per packet: plain loops over bytes, no allocation.
 */
// IANA protocol numbers, repeated here so checksum.ts imports nothing (ipv4.ts imports it).
const PROTOCOL_TCP = 6;
const PROTOCOL_UDP = 17;

/**
 * Folds a running sum below 2^32 into 16 bits with end-around carry (RFC 1071 4.1).
 * Every sum built here stays below 2^32 (internetSum folds as it goes).
 */
export function foldSum(sum: number): number {
  sum = (sum & 0xffff) + (sum >>> 16);
  return (sum & 0xffff) + (sum >>> 16);
}

/**
 * One's complement sum of `length` bytes at `offset`, added to `initial` (a sum), folded.
 * An odd trailing byte is padded with zero on the right (RFC 1071 4.1).
 */
export function internetSum(buf: Uint8Array, offset: number, length: number, initial = 0): number {
  let sum = initial;
  const end = offset + (length & ~1);
  let i = offset;
  // Fold every 16 K words so the accumulator stays below 2^31 (an int32 in optimized code).
  while (i < end) {
    const chunkEnd = Math.min(end, i + 0x8000);
    for (; i < chunkEnd; i += 2) sum += (buf[i]! << 8) | buf[i + 1]!;
    sum = (sum & 0xffff) + (sum >>> 16);
  }
  if ((length & 1) !== 0) sum += buf[offset + length - 1]! << 8;
  return foldSum(sum);
}

/** Internet checksum (complemented sum) of `length` bytes at `offset`, with a starting sum `initial`. */
export function internetChecksum(buf: Uint8Array, offset: number, length: number, initial = 0): number {
  return ~internetSum(buf, offset, length, initial) & 0xffff;
}

/**
 * Sum of the IPv4 pseudo-header (RFC 768, RFC 793 3.1): source, destination, zero,
 * protocol, and the L4 length (header plus data).
 */
export function pseudoHeaderSum(srcAddr: number, dstAddr: number, protocol: number, l4Length: number): number {
  return foldSum(
    (srcAddr >>> 16) + (srcAddr & 0xffff) + (dstAddr >>> 16) + (dstAddr & 0xffff) + (protocol & 0xff) + (l4Length & 0xffff),
  );
}

/** Sum of `length` bytes skipping the 16-bit checksum field at `offset + fieldOffset` (read as zero). */
function sumWithoutField(buf: Uint8Array, offset: number, length: number, fieldOffset: number, initial: number): number {
  const before = internetSum(buf, offset, fieldOffset, initial);
  return internetSum(buf, offset + fieldOffset + 2, length - fieldOffset - 2, before);
}

/** IPv4 header checksum over `headerLength` bytes, the checksum field (bytes 10..11) read as zero (RFC 791). */
export function ipv4HeaderChecksum(buf: Uint8Array, offset: number, headerLength: number): number {
  return ~sumWithoutField(buf, offset, headerLength, 10, 0) & 0xffff;
}

/** A header verifies when the sum over it, checksum included, is all ones (RFC 1071 "the result is all 1 bits"). */
export function verifyIpv4HeaderChecksum(buf: Uint8Array, offset: number, headerLength: number): boolean {
  return internetSum(buf, offset, headerLength) === 0xffff;
}

/**
 * UDP checksum over the pseudo-header and `udpLength` bytes at `offset`, checksum field read as zero.
 * A computed 0 is sent as 0xFFFF, since 0 means "no checksum" (RFC 768).
 */
export function udpChecksum(buf: Uint8Array, offset: number, udpLength: number, srcAddr: number, dstAddr: number): number {
  const pseudo = pseudoHeaderSum(srcAddr, dstAddr, PROTOCOL_UDP, udpLength);
  const checksum = ~sumWithoutField(buf, offset, udpLength, 6, pseudo) & 0xffff;
  return checksum === 0 ? 0xffff : checksum;
}

/** A UDP checksum field of 0 means the sender computed none; that verifies (RFC 768). */
export function verifyUdpChecksum(buf: Uint8Array, offset: number, udpLength: number, srcAddr: number, dstAddr: number): boolean {
  if (buf[offset + 6] === 0 && buf[offset + 7] === 0) return true;
  return internetSum(buf, offset, udpLength, pseudoHeaderSum(srcAddr, dstAddr, PROTOCOL_UDP, udpLength)) === 0xffff;
}

/** TCP checksum over the pseudo-header and the segment, checksum field (bytes 16..17) read as zero (RFC 793 3.1). */
export function tcpChecksum(buf: Uint8Array, offset: number, tcpLength: number, srcAddr: number, dstAddr: number): number {
  const pseudo = pseudoHeaderSum(srcAddr, dstAddr, PROTOCOL_TCP, tcpLength);
  return ~sumWithoutField(buf, offset, tcpLength, 16, pseudo) & 0xffff;
}

export function verifyTcpChecksum(buf: Uint8Array, offset: number, tcpLength: number, srcAddr: number, dstAddr: number): boolean {
  return internetSum(buf, offset, tcpLength, pseudoHeaderSum(srcAddr, dstAddr, PROTOCOL_TCP, tcpLength)) === 0xffff;
}

/** ICMP checksum over the whole message, no pseudo-header (RFC 792), checksum field (bytes 2..3) read as zero. */
export function icmpChecksum(buf: Uint8Array, offset: number, icmpLength: number): number {
  return ~sumWithoutField(buf, offset, icmpLength, 2, 0) & 0xffff;
}

export function verifyIcmpChecksum(buf: Uint8Array, offset: number, icmpLength: number): boolean {
  return internetSum(buf, offset, icmpLength) === 0xffff;
}

/**
 * Incremental update for one rewritten 16-bit word, RFC 1624 eqn. 3:
 *   HC' = ~(~HC + ~m + m')
 * Eqn. 3 (unlike eqn. 2, HC' = HC - ~m - m') never yields 0xFFFF where a full
 * recomputation would give 0x0000, so the result equals recomputing from scratch.
 */
export function checksumAdjust16(hc: number, old16: number, new16: number): number {
  const sum = (~hc & 0xffff) + (~old16 & 0xffff) + (new16 & 0xffff);
  return ~foldSum(sum) & 0xffff;
}

/** RFC 1624 eqn. 3 for a rewritten 32-bit field (an IPv4 address): both 16-bit halves at once. */
export function checksumAdjust32(hc: number, old32: number, new32: number): number {
  const sum =
    (~hc & 0xffff) +
    (~(old32 >>> 16) & 0xffff) +
    (~old32 & 0xffff) +
    (new32 >>> 16) +
    (new32 & 0xffff);
  return ~foldSum(sum) & 0xffff;
}

/**
 * RFC 1624 eqn. 3 for a UDP checksum field: 0 (no checksum, RFC 768) stays 0, and a
 * result of 0 is sent as 0xFFFF. Eqn. 3 treats a stored 0xFFFF as the zero it stands for.
 */
export function udpChecksumAdjust16(hc: number, old16: number, new16: number): number {
  if (hc === 0) return 0;
  const adjusted = checksumAdjust16(hc, old16, new16);
  return adjusted === 0 ? 0xffff : adjusted;
}

/** `udpChecksumAdjust16` for a 32-bit field (pseudo-header addresses). */
export function udpChecksumAdjust32(hc: number, old32: number, new32: number): number {
  if (hc === 0) return 0;
  const adjusted = checksumAdjust32(hc, old32, new32);
  return adjusted === 0 ? 0xffff : adjusted;
}
