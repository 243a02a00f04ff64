/**
 * Why a frame could not be parsed. Views return these from `check()`, reprs carry them in
 * `{ ok: false, error }`, and the header parser leaves one in `error`, so a hardware module
 * can keep one drop counter per reason (SPEC 9: "every drop is counted by reason").
 * Codes are small consecutive integers so counters can live in a typed array indexed by code.
 */
export const WireError = {
  Ok: 0,
  /** Fewer bytes than the fixed header (or than a length field says the header has). */
  Truncated: 1,
  /** IPv4 version nibble is not 4. */
  BadVersion: 2,
  /** IPv4 IHL below 5 words (RFC 791: minimum header is 20 bytes). */
  BadIhl: 3,
  /** IPv4 total length smaller than the header or larger than the bytes present. */
  BadTotalLength: 4,
  /** Non-first IPv4 fragment: carries no L4 header (RFC 791 fragment offset > 0). */
  Fragment: 5,
  /** A checksum does not verify. */
  BadChecksum: 6,
  /** UDP length field below 8 or beyond the IP payload (RFC 768). */
  BadUdpLength: 7,
  /** TCP data offset below 5 words or beyond the segment (RFC 793). */
  BadTcpOffset: 8,
  /** ARP for something other than Ethernet/IPv4 (htype 1, ptype 0x0800, hlen 6, plen 4). */
  BadArp: 9,
  /** More than one VLAN tag (QinQ, 802.1ad): not parsed, passed on as another ethertype. */
  StackedVlan: 10,
} as const;

export type WireErrorCode = (typeof WireError)[keyof typeof WireError];

/** Number of distinct codes: size of a per-reason counter array. */
export const WIRE_ERROR_COUNT = 11;

const wireErrorNames: readonly string[] = [
  'Ok',
  'Truncated',
  'BadVersion',
  'BadIhl',
  'BadTotalLength',
  'Fragment',
  'BadChecksum',
  'BadUdpLength',
  'BadTcpOffset',
  'BadArp',
  'StackedVlan',
];

/** Name of a code for counters and logs; unknown codes read as `Unknown(n)`. */
export function wireErrorName(code: number): string {
  return wireErrorNames[code] ?? `Unknown(${code})`;
}

/** Result of a repr parser: the repr, or the reason it could not be built. */
export type ParseOutcome<R> = { ok: true; repr: R } | { ok: false; error: WireErrorCode };
