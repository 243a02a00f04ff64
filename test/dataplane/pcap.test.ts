import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  LinkType,
  PCAP_SNAP_LENGTH,
  PcapReader,
  PcapWriter,
  parsePcap,
  readPcap,
} from '../../src/dataplane/pcap.ts';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fatriot-pcap-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function frameOf(length: number, seed: number): Uint8Array {
  const frame = new Uint8Array(length);
  for (let i = 0; i < length; i++) frame[i] = (i * 31 + seed * 7) & 0xff;
  return frame;
}

/** Hand-made pcap bytes: header fields and records in the given byte order and resolution. */
function buildPcap(
  littleEndian: boolean,
  magic: number,
  linkType: number,
  records: { seconds: number; fraction: number; data: number[]; originalLength: number }[],
): Uint8Array {
  const size = 24 + records.reduce((n, r) => n + 16 + r.data.length, 0);
  const bytes = new Uint8Array(size);
  const v = new DataView(bytes.buffer);
  v.setUint32(0, magic, littleEndian);
  v.setUint16(4, 2, littleEndian);
  v.setUint16(6, 4, littleEndian);
  v.setUint32(16, 65535, littleEndian);
  v.setUint32(20, linkType, littleEndian);
  let at = 24;
  for (const r of records) {
    v.setUint32(at, r.seconds, littleEndian);
    v.setUint32(at + 4, r.fraction, littleEndian);
    v.setUint32(at + 8, r.data.length, littleEndian);
    v.setUint32(at + 12, r.originalLength, littleEndian);
    bytes.set(r.data, at + 16);
    at += 16 + r.data.length;
  }
  return bytes;
}

describe('PcapWriter', () => {
  it('writes the nanosecond file header with magic, version 2.4, snaplen 262144 and the link type', () => {
    const file = path.join(dir, 'header.pcap');
    PcapWriter.open(file, LinkType.Netlink).close();
    const bytes = fs.readFileSync(file);
    expect(bytes.length).toBe(24);
    expect([...bytes]).toEqual([
      0x4d, 0x3c, 0xb2, 0xa1, // magic 0xa1b23c4d, little-endian
      0x02, 0x00, 0x04, 0x00, // version 2.4
      0x00, 0x00, 0x00, 0x00, // thiszone
      0x00, 0x00, 0x00, 0x00, // sigfigs
      0x00, 0x00, 0x04, 0x00, // snaplen 262144
      0xfd, 0x00, 0x00, 0x00, // LINKTYPE_NETLINK 253
    ]);
    expect(LinkType).toEqual({ Ethernet: 1, Netlink: 253 });
  });

  it('writes each record header at the right offsets: seconds, nanoseconds, incl_len, orig_len', () => {
    const file = path.join(dir, 'record.pcap');
    const writer = PcapWriter.open(file, LinkType.Ethernet);
    writer.write(new Uint8Array([0xaa, 0xbb, 0xcc]), 3, 1_700_000_000_123_456_789n);
    writer.close();
    const v = new DataView(new Uint8Array(fs.readFileSync(file)).buffer);
    expect(v.getUint32(20, true)).toBe(1);
    expect(v.getUint32(24, true)).toBe(1_700_000_000);
    expect(v.getUint32(28, true)).toBe(123_456_789);
    expect(v.getUint32(32, true)).toBe(3);
    expect(v.getUint32(36, true)).toBe(3);
    expect([...new Uint8Array(v.buffer, 40)]).toEqual([0xaa, 0xbb, 0xcc]);
  });

  it('round-trips bytes, lengths and nanosecond timestamps given as bigint or number', () => {
    const file = path.join(dir, 'roundtrip.pcap');
    const writer = PcapWriter.open(file, LinkType.Ethernet);
    const frames = [frameOf(60, 1), frameOf(1514, 2), frameOf(0, 3), frameOf(9018, 4)];
    const timestamps = [0n, 999_999_999n, 1_000_000_000n, 4_294_967_295_999_999_999n];
    frames.forEach((f, i) => writer.write(f, f.length, timestamps[i]!));
    writer.write(frameOf(64, 5), 64, 6.25 * 1_000_003); // 6250018.75 ns, truncated to whole ns
    writer.write(frameOf(64, 6), 64, 2 ** 52); // largest exact integer range of a number: 52 days in ns
    writer.close();
    expect(writer.recordCount).toBe(6);

    const capture = readPcap(file);
    expect(capture.error).toBeNull();
    expect(capture.linkType).toBe(LinkType.Ethernet);
    expect(capture.timestampResolution).toBe('ns');
    expect(capture.byteOrder).toBe('little');
    expect(capture.snapLength).toBe(PCAP_SNAP_LENGTH);
    expect([capture.versionMajor, capture.versionMinor]).toEqual([2, 4]);
    expect(capture.records.map((r) => r.timestampNs)).toEqual([...timestamps, 6_250_018n, 2n ** 52n]);
    frames.forEach((f, i) => {
      expect(capture.records[i]!.data).toEqual(f);
      expect(capture.records[i]!.originalLength).toBe(f.length);
    });
    expect(capture.records[4]!.data).toEqual(frameOf(64, 5));
  });

  it('writes only the first `length` bytes of a reused larger buffer', () => {
    const file = path.join(dir, 'reused.pcap');
    const writer = PcapWriter.open(file, LinkType.Ethernet);
    const buffer = frameOf(2048, 9);
    writer.write(buffer, 60, 1);
    writer.write(buffer, 1514, 2);
    writer.close();
    const { records } = readPcap(file);
    expect(records.map((r) => [r.data.length, r.originalLength])).toEqual([[60, 60], [1514, 1514]]);
    expect(records[0]!.data).toEqual(buffer.subarray(0, 60));
    expect(records[1]!.data).toEqual(buffer.subarray(0, 1514));
  });

  it('records the wire length as orig_len when the frame holds fewer bytes, and cuts at the snap length', () => {
    const file = path.join(dir, 'snap.pcap');
    const writer = PcapWriter.open(file, LinkType.Ethernet);
    writer.write(frameOf(40, 1), 1514, 10);
    const jumbo = frameOf(PCAP_SNAP_LENGTH + 1000, 2);
    writer.write(jumbo, jumbo.length, 20);
    writer.close();
    const { records, error } = readPcap(file);
    expect(error).toBeNull();
    expect(records[0]!.data).toEqual(frameOf(40, 1));
    expect(records[0]!.originalLength).toBe(1514);
    expect(records[1]!.data.length).toBe(PCAP_SNAP_LENGTH);
    expect(Buffer.compare(records[1]!.data, jumbo.subarray(0, PCAP_SNAP_LENGTH))).toBe(0);
    expect(records[1]!.originalLength).toBe(PCAP_SNAP_LENGTH + 1000);
  });

  it('buffers records in memory and reaches the file only when 1 MiB fills or on close', () => {
    const file = path.join(dir, 'batch.pcap');
    const writer = PcapWriter.open(file, LinkType.Ethernet);
    const frame = frameOf(1000, 3);
    for (let i = 0; i < 100; i++) writer.write(frame, frame.length, i);
    expect(fs.statSync(file).size).toBe(0); // not even the header yet: no system call per packet

    // 24 + 1032 * 1016 = 1048536 bytes fit in 1 MiB; record 1033 does not and flushes the first 1032.
    for (let i = 100; i < 1032; i++) writer.write(frame, frame.length, i);
    expect(fs.statSync(file).size).toBe(0);
    writer.write(frame, frame.length, 1032);
    expect(fs.statSync(file).size).toBe(24 + 1032 * 1016);
    for (let i = 1033; i < 3000; i++) writer.write(frame, frame.length, i);
    writer.close();
    expect(fs.statSync(file).size).toBe(24 + 3000 * 1016);

    const { records, error } = readPcap(file);
    expect(error).toBeNull();
    expect(records.length).toBe(3000);
    expect(records.every((r, i) => r.timestampNs === BigInt(i) && r.data.length === 1000)).toBe(true);
    expect(records[2999]!.data).toEqual(frame);
  });

  it('close is idempotent and write after close throws', () => {
    const file = path.join(dir, 'closed.pcap');
    const writer = PcapWriter.open(file, LinkType.Ethernet);
    writer.close();
    writer.close();
    expect(writer.isOpen).toBe(false);
    expect(() => writer.write(new Uint8Array(60), 60, 0)).toThrow(/closed/);
  });

  it('rejects negative timestamps and seconds past 32 bits', () => {
    const writer = PcapWriter.open(path.join(dir, 'range.pcap'), LinkType.Ethernet);
    expect(() => writer.write(new Uint8Array(1), 1, -1)).toThrow(RangeError);
    expect(() => writer.write(new Uint8Array(1), 1, -1n)).toThrow(RangeError);
    expect(() => writer.write(new Uint8Array(1), 1, 4_294_967_296n * 1_000_000_000n)).toThrow(RangeError);
    expect(writer.recordCount).toBe(0);
    writer.close();
  });
});

describe('PcapReader', () => {
  const data = [0x01, 0x02, 0x03, 0x04, 0x05];
  const records = [
    { seconds: 10, fraction: 250, data, originalLength: 5 },
    { seconds: 11, fraction: 999_999, data: [0xff], originalLength: 64 },
  ];

  it('reads little- and big-endian microsecond files, scaling the fraction to ns', () => {
    for (const littleEndian of [true, false]) {
      const result = parsePcap(buildPcap(littleEndian, 0xa1b2c3d4, 1, records));
      expect(result.ok).toBe(true);
      if (!result.ok) return;
      const c = result.capture;
      expect([c.timestampResolution, c.byteOrder, c.linkType, c.snapLength]).toEqual([
        'us',
        littleEndian ? 'little' : 'big',
        1,
        65535,
      ]);
      expect(c.records.map((r) => [r.timestampNs, [...r.data], r.originalLength])).toEqual([
        [10_000_250_000n, data, 5],
        [11_999_999_000n, [0xff], 64],
      ]);
      expect(c.error).toBeNull();
    }
  });

  it('reads big-endian nanosecond files', () => {
    const result = parsePcap(buildPcap(false, 0xa1b23c4d, 253, records));
    expect(result.ok && result.capture.linkType).toBe(253);
    expect(result.ok && result.capture.records.map((r) => r.timestampNs)).toEqual([10_000_000_250n, 11_000_999_999n]);
  });

  it('takes the link type from the low 28 bits, ignoring the FCS flag bits', () => {
    const result = parsePcap(buildPcap(true, 0xa1b23c4d, 0x1000_0000 | 1, []));
    expect(result.ok && result.capture.linkType).toBe(1);
  });

  it('returns typed errors for a short header and a bad magic without throwing', () => {
    expect(parsePcap(new Uint8Array(10))).toEqual({
      ok: false,
      error: { kind: 'short-file-header', offset: 0, message: expect.stringContaining('10 bytes') },
    });
    const garbage = new TextEncoder().encode('this is not a pcap file at all');
    expect(parsePcap(garbage)).toEqual({
      ok: false,
      error: { kind: 'bad-magic', offset: 0, message: expect.stringContaining('0x73696874') },
    });
  });

  it('stops at a truncated record header or data, keeping the records before it', () => {
    const whole = buildPcap(true, 0xa1b23c4d, 1, records); // record 2 header at 45, data at 61, end 62
    const cutHeader = parsePcap(whole.subarray(0, 50));
    expect(cutHeader.ok && cutHeader.capture.records.length).toBe(1);
    expect(cutHeader.ok && cutHeader.capture.error).toEqual({
      kind: 'truncated-record-header',
      offset: 45,
      message: expect.stringContaining('5 of 16'),
    });
    const cutData = parsePcap(whole.subarray(0, 61));
    expect(cutData.ok && cutData.capture.records.length).toBe(1);
    expect(cutData.ok && cutData.capture.error?.kind).toBe('truncated-record-data');
    expect(cutData.ok && cutData.capture.error?.offset).toBe(45);
  });

  it('reports a record whose captured length is absurd instead of reading past it', () => {
    const bytes = buildPcap(true, 0xa1b23c4d, 1, records);
    new DataView(bytes.buffer).setUint32(24 + 8, 0x7fffffff, true);
    const result = parsePcap(bytes);
    expect(result.ok && result.capture.records).toEqual([]);
    expect(result.ok && result.capture.error?.kind).toBe('record-too-long');
  });

  it('reads record by record and returns null at the end', () => {
    const reader = new PcapReader(buildPcap(true, 0xa1b2c3d4, 1, records));
    expect(reader.headerError).toBeNull();
    expect(reader.next()?.timestampNs).toBe(10_000_250_000n);
    expect(reader.next()?.originalLength).toBe(64);
    expect(reader.next()).toBeNull();
    expect(reader.next()).toBeNull();
    expect(reader.error).toBeNull();
  });

  it('readPcap throws a clear error naming the file when it is not a pcap file', () => {
    const file = path.join(dir, 'not.pcap');
    fs.writeFileSync(file, 'garbage garbage garbage garbage');
    expect(() => readPcap(file)).toThrow(`${file}: not a classic pcap file`);
  });
});
