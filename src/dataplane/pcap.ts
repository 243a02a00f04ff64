/**
 * Classic libpcap files, written and read by hand.
 *
 * Format: https://www.tcpdump.org/manpages/pcap-savefile.5.html and
 * draft-ietf-opsawg-pcap (24-byte file header, 16-byte record header).
 * We write the nanosecond variant (magic 0xa1b23c4d) in little-endian order so a
 * capture carries exact model-cycle timestamps (SPEC 4); we read both resolutions
 * in either byte order, since tcpdump and Wireshark write microsecond files.
 */
import * as fs from 'node:fs';

/** LINKTYPE_* values from https://www.tcpdump.org/linktypes.html. */
export const LinkType = {
  Ethernet: 1,
  /** Linux netlink with the 16-byte cooked header (SPEC 5: control traffic capture). */
  Netlink: 253,
} as const;
export type LinkType = (typeof LinkType)[keyof typeof LinkType];

export const PCAP_MAGIC_MICROSECONDS = 0xa1b2c3d4;
export const PCAP_MAGIC_NANOSECONDS = 0xa1b23c4d;
export const PCAP_VERSION_MAJOR = 2;
export const PCAP_VERSION_MINOR = 4;
/** Wireshark's largest snapshot length for Ethernet (WTAP_MAX_PACKET_SIZE_STANDARD). */
export const PCAP_SNAP_LENGTH = 262144;
export const PCAP_FILE_HEADER_BYTES = 24;
export const PCAP_RECORD_HEADER_BYTES = 16;

const NS_PER_SECOND = 1_000_000_000;
const NS_PER_SECOND_BIG = 1_000_000_000n;
const MAX_U32 = 0xffffffff;

/**
 * Size of the write buffer. Records are appended here and reach the file in one
 * `writeSync` each time it fills, so the per-packet path makes no system call.
 * It is larger than the biggest record (16 + snap length), so one flush always
 * makes room.
 */
const WRITE_BUFFER_BYTES = 1 << 20;

export class PcapWriter {
  readonly path: string;
  readonly linkType: number;
  private fd: number;
  private readonly buffer: Buffer;
  private readonly view: DataView;
  private usedBytes = 0;
  /** Records written since open, for callers that report capture sizes. */
  recordCount = 0;

  /** Creates (or truncates) `path` and writes the file header. */
  static open(path: string, linkType: number): PcapWriter {
    return new PcapWriter(path, fs.openSync(path, 'w'), linkType);
  }

  private constructor(path: string, fd: number, linkType: number) {
    if (!Number.isInteger(linkType) || linkType < 0 || linkType > MAX_U32) {
      fs.closeSync(fd);
      throw new RangeError(`pcap link type must be a 32-bit unsigned integer, got ${linkType}`);
    }
    this.path = path;
    this.fd = fd;
    this.linkType = linkType;
    this.buffer = Buffer.allocUnsafe(WRITE_BUFFER_BYTES);
    this.view = new DataView(this.buffer.buffer, this.buffer.byteOffset, this.buffer.byteLength);
    const v = this.view;
    v.setUint32(0, PCAP_MAGIC_NANOSECONDS, true);
    v.setUint16(4, PCAP_VERSION_MAJOR, true);
    v.setUint16(6, PCAP_VERSION_MINOR, true);
    v.setInt32(8, 0, true); // thiszone: always 0 (pcap-savefile(5))
    v.setUint32(12, 0, true); // sigfigs: always 0
    v.setUint32(16, PCAP_SNAP_LENGTH, true);
    v.setUint32(20, linkType, true);
    this.usedBytes = PCAP_FILE_HEADER_BYTES;
  }

  get isOpen(): boolean {
    return this.fd >= 0;
  }

  /**
   * Appends one record.
   * - `length` is the frame's length on the wire (pcap orig_len).
   * - The bytes written are the first min(length, frame.length, snap length) bytes
   *   of `frame`, so a caller may pass a reused buffer larger than the frame.
   * - `timestampNs` is nanoseconds since the Unix epoch (model time for captures);
   *   a fractional number is truncated to whole nanoseconds.
   * The frame is copied before returning; the caller may reuse it at once.
   */
  write(frame: Uint8Array, length: number, timestampNs: bigint | number): void {
    if (this.fd < 0) throw new Error(`pcap writer for ${this.path} is closed`);
    let seconds: number;
    let nanoseconds: number;
    if (typeof timestampNs === 'bigint') {
      if (timestampNs < 0n) throw new RangeError(`pcap timestamp must not be negative, got ${timestampNs}`);
      seconds = Number(timestampNs / NS_PER_SECOND_BIG);
      nanoseconds = Number(timestampNs % NS_PER_SECOND_BIG);
    } else {
      const wholeNs = Math.trunc(timestampNs);
      if (!(wholeNs >= 0)) throw new RangeError(`pcap timestamp must not be negative, got ${timestampNs}`);
      seconds = Math.floor(wholeNs / NS_PER_SECOND);
      nanoseconds = wholeNs - seconds * NS_PER_SECOND;
    }
    if (seconds > MAX_U32) throw new RangeError(`pcap timestamp ${timestampNs} ns is past the 32-bit seconds field`);
    if (!(length >= 0) || length > MAX_U32) throw new RangeError(`pcap original length out of range: ${length}`);

    let capturedLength = length < frame.length ? length : frame.length;
    if (capturedLength > PCAP_SNAP_LENGTH) capturedLength = PCAP_SNAP_LENGTH;
    const originalLength = length > capturedLength ? length : capturedLength;

    if (this.usedBytes + PCAP_RECORD_HEADER_BYTES + capturedLength > WRITE_BUFFER_BYTES) this.flush();
    const v = this.view;
    const at = this.usedBytes;
    v.setUint32(at, seconds, true);
    v.setUint32(at + 4, nanoseconds, true);
    v.setUint32(at + 8, capturedLength, true);
    v.setUint32(at + 12, originalLength, true);
    const dataStart = at + PCAP_RECORD_HEADER_BYTES;
    if (capturedLength === frame.length) {
      this.buffer.set(frame, dataStart);
    } else {
      // A byte loop rather than frame.subarray(), which would allocate a view per packet.
      const buffer = this.buffer;
      for (let i = 0; i < capturedLength; i++) buffer[dataStart + i] = frame[i];
    }
    this.usedBytes = dataStart + capturedLength;
    this.recordCount++;
  }

  /** Writes buffered records to the file. Called automatically when the buffer fills and on close. */
  flush(): void {
    if (this.fd < 0) return;
    let written = 0;
    while (written < this.usedBytes) {
      written += fs.writeSync(this.fd, this.buffer, written, this.usedBytes - written);
    }
    this.usedBytes = 0;
  }

  /** Flushes and closes the file. Idempotent. */
  close(): void {
    if (this.fd < 0) return;
    try {
      this.flush();
    } finally {
      fs.closeSync(this.fd);
      this.fd = -1;
    }
  }
}

export interface PcapRecord {
  /** Seconds and fraction combined, in nanoseconds (microsecond files are scaled by 1000). */
  timestampNs: bigint;
  /** Captured bytes (incl_len of them): a view into the file's bytes, not a copy. */
  data: Uint8Array;
  /** Length of the packet on the wire (orig_len). */
  originalLength: number;
}

export type PcapErrorKind =
  | 'short-file-header'
  | 'bad-magic'
  | 'truncated-record-header'
  | 'truncated-record-data'
  | 'record-too-long';

/** What went wrong, and at which byte offset of the file. */
export interface PcapError {
  kind: PcapErrorKind;
  offset: number;
  message: string;
}

export interface PcapCapture {
  linkType: number;
  snapLength: number;
  versionMajor: number;
  versionMinor: number;
  timestampResolution: 'ns' | 'us';
  byteOrder: 'little' | 'big';
  /** Every complete record before the end of the file or the first error. */
  records: PcapRecord[];
  /** Why reading stopped before the end of the file (a truncated or damaged record), else null. */
  error: PcapError | null;
}

export type PcapParseResult = { ok: true; capture: PcapCapture } | { ok: false; error: PcapError };

/**
 * Records larger than this are taken as damage: Wireshark rejects records above its
 * largest snapshot length, and no link here carries more.
 */
const MAX_RECORD_BYTES = PCAP_SNAP_LENGTH;

/**
 * Reads records one by one from the bytes of a pcap file. Never throws on bad
 * input: construction reports a bad header through `headerError`, and `next()`
 * returns null at the end or at the first damaged record, leaving `error` set.
 */
export class PcapReader {
  readonly headerError: PcapError | null = null;
  readonly linkType: number = 0;
  readonly snapLength: number = 0;
  readonly versionMajor: number = 0;
  readonly versionMinor: number = 0;
  readonly timestampResolution: 'ns' | 'us' = 'ns';
  readonly littleEndian: boolean = true;
  error: PcapError | null = null;
  private offset = PCAP_FILE_HEADER_BYTES;
  private readonly bytes: Uint8Array;
  private readonly view: DataView;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.byteLength < PCAP_FILE_HEADER_BYTES) {
      this.headerError = {
        kind: 'short-file-header',
        offset: 0,
        message: `file has ${bytes.byteLength} bytes, a pcap file header needs ${PCAP_FILE_HEADER_BYTES}`,
      };
      this.error = this.headerError;
      return;
    }
    const magic = this.view.getUint32(0, true);
    if (magic === PCAP_MAGIC_NANOSECONDS || magic === PCAP_MAGIC_MICROSECONDS) {
      this.littleEndian = true;
    } else if (
      this.view.getUint32(0, false) === PCAP_MAGIC_NANOSECONDS ||
      this.view.getUint32(0, false) === PCAP_MAGIC_MICROSECONDS
    ) {
      this.littleEndian = false;
    } else {
      this.headerError = {
        kind: 'bad-magic',
        offset: 0,
        message: `not a classic pcap file: magic 0x${magic.toString(16).padStart(8, '0')} (little-endian read)`,
      };
      this.error = this.headerError;
      return;
    }
    const le = this.littleEndian;
    this.timestampResolution = this.view.getUint32(0, le) === PCAP_MAGIC_NANOSECONDS ? 'ns' : 'us';
    this.versionMajor = this.view.getUint16(4, le);
    this.versionMinor = this.view.getUint16(6, le);
    this.snapLength = this.view.getUint32(16, le);
    // The upper bits of the link-type field carry FCS flags (pcap-savefile(5)); the type is the low 28.
    this.linkType = this.view.getUint32(20, le) & 0x0fffffff;
  }

  /** The next record, or null at the end of the file or at the first damaged record (then `error` is set). */
  next(): PcapRecord | null {
    if (this.error !== null) return null;
    const at = this.offset;
    const total = this.bytes.byteLength;
    if (at === total) return null;
    if (at + PCAP_RECORD_HEADER_BYTES > total) {
      this.error = {
        kind: 'truncated-record-header',
        offset: at,
        message: `record header at offset ${at} cut off after ${total - at} of ${PCAP_RECORD_HEADER_BYTES} bytes`,
      };
      return null;
    }
    const le = this.littleEndian;
    const seconds = this.view.getUint32(at, le);
    const fraction = this.view.getUint32(at + 4, le);
    const capturedLength = this.view.getUint32(at + 8, le);
    const originalLength = this.view.getUint32(at + 12, le);
    if (capturedLength > MAX_RECORD_BYTES) {
      this.error = {
        kind: 'record-too-long',
        offset: at,
        message: `record at offset ${at} claims ${capturedLength} captured bytes, more than ${MAX_RECORD_BYTES}`,
      };
      return null;
    }
    const dataStart = at + PCAP_RECORD_HEADER_BYTES;
    if (dataStart + capturedLength > total) {
      this.error = {
        kind: 'truncated-record-data',
        offset: at,
        message: `record at offset ${at} needs ${capturedLength} data bytes, the file has ${total - dataStart} left`,
      };
      return null;
    }
    this.offset = dataStart + capturedLength;
    const fractionNs = this.timestampResolution === 'ns' ? BigInt(fraction) : BigInt(fraction) * 1000n;
    return {
      timestampNs: BigInt(seconds) * NS_PER_SECOND_BIG + fractionNs,
      data: this.bytes.subarray(dataStart, dataStart + capturedLength),
      originalLength,
    };
  }
}

/** Parses a whole pcap file held in memory. Never throws. */
export function parsePcap(bytes: Uint8Array): PcapParseResult {
  const reader = new PcapReader(bytes);
  if (reader.headerError !== null) return { ok: false, error: reader.headerError };
  const records: PcapRecord[] = [];
  for (let record = reader.next(); record !== null; record = reader.next()) records.push(record);
  return {
    ok: true,
    capture: {
      linkType: reader.linkType,
      snapLength: reader.snapLength,
      versionMajor: reader.versionMajor,
      versionMinor: reader.versionMinor,
      timestampResolution: reader.timestampResolution,
      byteOrder: reader.littleEndian ? 'little' : 'big',
      records,
      error: reader.error,
    },
  };
}

/**
 * Reads a pcap file. Throws a clear Error when the file cannot be read or is not a
 * classic pcap file; a truncated or damaged record is not thrown but reported in
 * `error`, with every record before it in `records`.
 */
export function readPcap(path: string): PcapCapture {
  const bytes = fs.readFileSync(path);
  const result = parsePcap(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  if (!result.ok) throw new Error(`${path}: ${result.error.message}`);
  return result.capture;
}
