/**
 * Netlink and generic netlink framing (SPEC 5), in the layout of the Linux UAPI
 * headers include/uapi/linux/netlink.h and genetlink.h and RFC 3549 section 2.3:
 *
 *   nlmsghdr  (16 bytes, host order = little-endian here, as on x86 Linux)
 *     u32 nlmsg_len (header included) | u16 nlmsg_type | u16 nlmsg_flags | u32 nlmsg_seq | u32 nlmsg_pid
 *   genlmsghdr (4 bytes): u8 cmd | u8 version | u16 reserved
 *   attributes: u16 nla_len (header included, padding excluded) | u16 nla_type | value, padded to 4
 *
 * Decoding never throws on bad bytes: it returns a NetlinkParseError with the
 * errno the server answers and the byte offset of the culprit (extended ack).
 */

export const NLMSG_HDRLEN = 16;
export const GENL_HDRLEN = 4;
export const NLA_HDRLEN = 4;
export const NLMSG_ALIGNTO = 4;

/** Control message types (netlink.h). */
export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLMSG_OVERRUN = 4;
/** Types below this are reserved for control messages. */
export const NLMSG_MIN_TYPE = 0x10;

/** nlmsg_flags (netlink.h). */
export const NLM_F_REQUEST = 0x01;
export const NLM_F_MULTI = 0x02;
export const NLM_F_ACK = 0x04;
export const NLM_F_ECHO = 0x08;
export const NLM_F_DUMP_INTR = 0x10;
export const NLM_F_DUMP_FILTERED = 0x20;
/** Modifiers of GET requests. */
export const NLM_F_ROOT = 0x100;
export const NLM_F_MATCH = 0x200;
export const NLM_F_ATOMIC = 0x400;
export const NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH;
/** Modifiers of NEW requests. */
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
export const NLM_F_APPEND = 0x800;
/** Flags of an NLMSG_ERROR acknowledgement. */
export const NLM_F_CAPPED = 0x100;
export const NLM_F_ACK_TLVS = 0x200;

/** Attribute type flags (netlink.h). */
export const NLA_F_NESTED = 0x8000;
export const NLA_F_NET_BYTEORDER = 0x4000;
export const NLA_TYPE_MASK = ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) & 0xffff;

/** Extended-ack attributes of an NLMSG_ERROR (enum nlmsgerr_attrs). */
export const NLMSGERR_ATTR_MSG = 1;
export const NLMSGERR_ATTR_OFFS = 2;

/** Generic netlink controller (genetlink.h). */
export const GENL_ID_CTRL = 0x10;
export const CTRL_CMD_NEWFAMILY = 1;
export const CTRL_CMD_GETFAMILY = 3;
export const CTRL_ATTR_FAMILY_ID = 1;
export const CTRL_ATTR_FAMILY_NAME = 2;
export const CTRL_ATTR_VERSION = 3;
export const CTRL_ATTR_HDRSIZE = 4;
export const CTRL_ATTR_MAXATTR = 5;
export const CTRL_ATTR_MCAST_GROUPS = 7;
export const CTRL_ATTR_MCAST_GRP_NAME = 1;
export const CTRL_ATTR_MCAST_GRP_ID = 2;

/** Netlink protocol number of generic netlink (netlink.h), for LINKTYPE_NETLINK captures. */
export const NETLINK_GENERIC = 16;

/** Linux errno values (asm-generic/errno-base.h, errno.h). */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  EIO: 5,
  E2BIG: 7,
  EAGAIN: 11,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  EINVAL: 22,
  ENOSPC: 28,
  ERANGE: 34,
  EPROTO: 71,
  EMSGSIZE: 90,
  EOPNOTSUPP: 95,
  ETIMEDOUT: 110,
} as const;

const ERRNO_TEXT: Record<number, string> = {
  1: 'Operation not permitted',
  2: 'No such file or directory',
  5: 'Input/output error',
  7: 'Argument list too long',
  11: 'Resource temporarily unavailable',
  14: 'Bad address',
  16: 'Device or resource busy',
  17: 'File exists',
  19: 'No such device',
  22: 'Invalid argument',
  28: 'No space left on device',
  34: 'Numerical result out of range',
  71: 'Protocol error',
  90: 'Message too long',
  95: 'Operation not supported',
  110: 'Connection timed out',
};

/** strerror(errno) for the errno values above. */
export function strerror(errno: number): string {
  return ERRNO_TEXT[errno] ?? `Unknown error ${errno}`;
}

/** Largest message the server accepts (SPEC 9: oversize input gets an NLMSG_ERROR). */
export const NL_MAX_MESSAGE_BYTES = 64 * 1024;

export function nlmsgAlign(n: number): number {
  return (n + NLMSG_ALIGNTO - 1) & ~(NLMSG_ALIGNTO - 1);
}

export interface NlHeader {
  len: number;
  type: number;
  flags: number;
  seq: number;
  pid: number;
}

/** A netlink message: header fields and the payload after the 16-byte header. */
export interface NlMessage {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  payload: Uint8Array;
}

/** A raw attribute: type without flags, the nested flag, and its value bytes. */
export interface RawAttr {
  type: number;
  nested: boolean;
  data: Uint8Array;
  /** Offset of the attribute header from the start of the netlink message (for NLMSGERR_ATTR_OFFS). */
  offset: number;
}

export class NetlinkParseError {
  constructor(
    readonly errno: number,
    readonly message: string,
    /** Byte offset from the start of the netlink message, or -1. */
    readonly offset: number = -1,
  ) {}
}

function view(buf: Uint8Array): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

export function readHeader(buf: Uint8Array, offset = 0): NlHeader {
  const v = view(buf);
  return {
    len: v.getUint32(offset, true),
    type: v.getUint16(offset + 4, true),
    flags: v.getUint16(offset + 6, true),
    seq: v.getUint32(offset + 8, true),
    pid: v.getUint32(offset + 12, true),
  };
}

/** Encodes one netlink message; nlmsg_len covers header and payload, the buffer is padded to 4. */
export function encodeMessage(msg: NlMessage): Uint8Array {
  const len = NLMSG_HDRLEN + msg.payload.length;
  const out = new Uint8Array(nlmsgAlign(len));
  const v = view(out);
  v.setUint32(0, len, true);
  v.setUint16(4, msg.type, true);
  v.setUint16(6, msg.flags, true);
  v.setUint32(8, msg.seq >>> 0, true);
  v.setUint32(12, msg.pid >>> 0, true);
  out.set(msg.payload, NLMSG_HDRLEN);
  return out;
}

/** Decodes one whole message (exactly `nlmsg_len` bytes, or more with padding). */
export function decodeMessage(buf: Uint8Array): NlMessage | NetlinkParseError {
  if (buf.length < NLMSG_HDRLEN) return new NetlinkParseError(Errno.EINVAL, `message of ${buf.length} bytes is shorter than nlmsghdr`, 0);
  const h = readHeader(buf);
  if (h.len < NLMSG_HDRLEN) return new NetlinkParseError(Errno.EINVAL, `nlmsg_len ${h.len} is shorter than nlmsghdr`, 0);
  if (h.len > buf.length) return new NetlinkParseError(Errno.EINVAL, `nlmsg_len ${h.len} exceeds the ${buf.length} bytes given`, 0);
  return { type: h.type, flags: h.flags, seq: h.seq, pid: h.pid, payload: buf.subarray(NLMSG_HDRLEN, h.len) };
}

/**
 * Splits a byte stream into messages by nlmsg_len (the Unix-socket framing of
 * SPEC 5). Keeps partial messages across chunks; reports framing errors
 * (length below the header, above the limit) once, after which the stream is unusable.
 */
export class NetlinkFramer {
  private buf = new Uint8Array(0);
  private broken: NetlinkParseError | null = null;

  constructor(private readonly maxMessageBytes = NL_MAX_MESSAGE_BYTES) {}

  /** Appends a chunk; returns the whole messages now available (each a copy) or a framing error. */
  push(chunk: Uint8Array): { messages: Uint8Array[]; error: NetlinkParseError | null; errorHeader: NlHeader | null } {
    if (this.broken !== null) return { messages: [], error: null, errorHeader: null };
    const joined = new Uint8Array(this.buf.length + chunk.length);
    joined.set(this.buf, 0);
    joined.set(chunk, this.buf.length);
    const messages: Uint8Array[] = [];
    let at = 0;
    while (joined.length - at >= NLMSG_HDRLEN) {
      const h = readHeader(joined, at);
      if (h.len < NLMSG_HDRLEN) {
        this.broken = new NetlinkParseError(Errno.EINVAL, `nlmsg_len ${h.len} is shorter than the 16-byte header`, 0);
        this.buf = new Uint8Array(0);
        return { messages, error: this.broken, errorHeader: h };
      }
      if (h.len > this.maxMessageBytes) {
        this.broken = new NetlinkParseError(Errno.EMSGSIZE, `nlmsg_len ${h.len} exceeds the ${this.maxMessageBytes}-byte limit`, 0);
        this.buf = new Uint8Array(0);
        return { messages, error: this.broken, errorHeader: h };
      }
      // Messages sit at 4-byte aligned positions of the stream (NLMSG_ALIGN), so a
      // message is complete only with its padding.
      const padded = nlmsgAlign(h.len);
      if (joined.length - at < padded) break;
      messages.push(joined.slice(at, at + h.len));
      at += padded;
    }
    this.buf = joined.slice(at);
    return { messages, error: null, errorHeader: null };
  }

  /** Bytes held of an incomplete message. */
  get pendingBytes(): number {
    return this.buf.length;
  }
}

/** Parses a run of attributes. `baseOffset` is where `buf` starts inside the netlink message. */
export function parseAttrs(buf: Uint8Array, baseOffset: number): RawAttr[] | NetlinkParseError {
  const attrs: RawAttr[] = [];
  const v = view(buf);
  let at = 0;
  while (at < buf.length) {
    if (buf.length - at < NLA_HDRLEN) {
      return new NetlinkParseError(Errno.EINVAL, `${buf.length - at} trailing bytes are too short for an attribute`, baseOffset + at);
    }
    const len = v.getUint16(at, true);
    const rawType = v.getUint16(at + 2, true);
    if (len < NLA_HDRLEN || at + len > buf.length) {
      return new NetlinkParseError(Errno.EINVAL, `attribute ${rawType & NLA_TYPE_MASK} has bad length ${len}`, baseOffset + at);
    }
    attrs.push({
      type: rawType & NLA_TYPE_MASK,
      nested: (rawType & NLA_F_NESTED) !== 0,
      data: buf.subarray(at + NLA_HDRLEN, at + len),
      offset: baseOffset + at,
    });
    at += nlmsgAlign(len);
  }
  return attrs;
}

/** Builds attribute runs; values are written little-endian (host order) like the kernel, IPv4 in network order. */
export class AttrWriter {
  private chunks: Uint8Array[] = [];
  private length = 0;

  raw(type: number, data: Uint8Array, nested = false): this {
    const len = NLA_HDRLEN + data.length;
    const out = new Uint8Array(nlmsgAlign(len));
    const v = view(out);
    v.setUint16(0, len, true);
    v.setUint16(2, (type & NLA_TYPE_MASK) | (nested ? NLA_F_NESTED : 0), true);
    out.set(data, NLA_HDRLEN);
    this.chunks.push(out);
    this.length += out.length;
    return this;
  }

  u8(type: number, value: number): this {
    return this.raw(type, Uint8Array.of(value & 0xff));
  }

  u16(type: number, value: number): this {
    const b = new Uint8Array(2);
    view(b).setUint16(0, value, true);
    return this.raw(type, b);
  }

  u32(type: number, value: number): this {
    const b = new Uint8Array(4);
    view(b).setUint32(0, value >>> 0, true);
    return this.raw(type, b);
  }

  u64(type: number, value: number | bigint): this {
    const b = new Uint8Array(8);
    view(b).setBigUint64(0, BigInt(value), true);
    return this.raw(type, b);
  }

  /** NUL-terminated string (NLA_NUL_STRING, as genetlink family names). */
  string(type: number, value: string): this {
    const text = new TextEncoder().encode(value);
    const b = new Uint8Array(text.length + 1);
    b.set(text);
    return this.raw(type, b);
  }

  ipv4(type: number, address: number): this {
    const b = new Uint8Array(4);
    view(b).setUint32(0, address >>> 0, false);
    return this.raw(type, b);
  }

  flag(type: number): this {
    return this.raw(type, new Uint8Array(0));
  }

  nest(type: number, build: (w: AttrWriter) => void): this {
    const inner = new AttrWriter();
    build(inner);
    return this.raw(type, inner.bytes(), true);
  }

  bytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

/** Generic netlink payload: genlmsghdr then attributes. */
export function encodeGenl(cmd: number, version: number, attrs: Uint8Array): Uint8Array {
  const out = new Uint8Array(GENL_HDRLEN + attrs.length);
  out[0] = cmd;
  out[1] = version;
  out.set(attrs, GENL_HDRLEN);
  return out;
}

export interface GenlHeader {
  cmd: number;
  version: number;
}

export function decodeGenlHeader(payload: Uint8Array): GenlHeader | NetlinkParseError {
  if (payload.length < GENL_HDRLEN) {
    return new NetlinkParseError(Errno.EINVAL, `payload of ${payload.length} bytes is shorter than genlmsghdr`, NLMSG_HDRLEN);
  }
  return { cmd: payload[0]!, version: payload[1]! };
}

/**
 * NLMSG_ERROR payload (struct nlmsgerr): s32 error (0 = ACK), the original
 * request header (capped: without its payload, NLM_F_CAPPED), then extended-ack
 * TLVs (NLM_F_ACK_TLVS) with the text and the offset of the bad attribute.
 */
export function encodeError(request: NlHeader, errno: number, text: string | null, badOffset: number, pid = 0): Uint8Array {
  const tlvs = new AttrWriter();
  if (text !== null && text !== '') tlvs.string(NLMSGERR_ATTR_MSG, text);
  if (badOffset >= 0) tlvs.u32(NLMSGERR_ATTR_OFFS, badOffset);
  const tlvBytes = tlvs.bytes();
  const payload = new Uint8Array(4 + NLMSG_HDRLEN + tlvBytes.length);
  const v = view(payload);
  v.setInt32(0, errno === 0 ? 0 : -Math.abs(errno), true);
  v.setUint32(4, request.len >>> 0, true);
  v.setUint16(8, request.type, true);
  v.setUint16(10, request.flags, true);
  v.setUint32(12, request.seq >>> 0, true);
  v.setUint32(16, request.pid >>> 0, true);
  payload.set(tlvBytes, 4 + NLMSG_HDRLEN);
  return encodeMessage({
    type: NLMSG_ERROR,
    flags: NLM_F_CAPPED | (tlvBytes.length > 0 ? NLM_F_ACK_TLVS : 0),
    seq: request.seq,
    pid,
    payload,
  });
}

export interface DecodedError {
  /** 0 for an ACK, else a negative errno. */
  error: number;
  request: NlHeader;
  message: string | null;
  offset: number;
}

export function decodeError(msg: NlMessage): DecodedError | NetlinkParseError {
  if (msg.payload.length < 4 + NLMSG_HDRLEN) return new NetlinkParseError(Errno.EINVAL, 'NLMSG_ERROR shorter than struct nlmsgerr', NLMSG_HDRLEN);
  const v = view(msg.payload);
  const error = v.getInt32(0, true);
  const request = readHeader(msg.payload, 4);
  let message: string | null = null;
  let offset = -1;
  if ((msg.flags & NLM_F_ACK_TLVS) !== 0) {
    // Capped: the original payload is absent; otherwise skip it.
    const skip = (msg.flags & NLM_F_CAPPED) !== 0 ? NLMSG_HDRLEN : nlmsgAlign(request.len);
    const start = 4 + skip;
    const attrs = parseAttrs(msg.payload.subarray(Math.min(start, msg.payload.length)), NLMSG_HDRLEN + start);
    if (attrs instanceof NetlinkParseError) return attrs;
    for (const a of attrs) {
      if (a.type === NLMSGERR_ATTR_MSG) message = decodeString(a.data);
      else if (a.type === NLMSGERR_ATTR_OFFS && a.data.length === 4) offset = view(a.data).getUint32(0, true);
    }
  }
  return { error, request, message, offset };
}

/** A NUL-terminated (or plain) string attribute value. */
export function decodeString(data: Uint8Array): string {
  const end = data.indexOf(0);
  return new TextDecoder().decode(end < 0 ? data : data.subarray(0, end));
}

export function encodeDone(seq: number, pid = 0): Uint8Array {
  // NLMSG_DONE carries an int (the dump's final status, 0) as the kernel sends it.
  return encodeMessage({ type: NLMSG_DONE, flags: NLM_F_MULTI, seq, pid, payload: new Uint8Array(4) });
}
