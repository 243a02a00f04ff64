import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { LinkType, PcapWriter } from '../../src/dataplane/pcap.ts';
import { describeWithTshark, runTshark } from '../helpers/tshark.ts';

/** Ethernet II frame: locally administered MACs, EtherType 0x88b5 (IEEE 802 local experimental). */
function ethernetFrame(length: number, seq: number): Uint8Array {
  const frame = new Uint8Array(length);
  frame.set([0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x88, 0xb5], 0);
  for (let i = 14; i < length; i++) frame[i] = (seq + i) & 0xff;
  return frame;
}

/** A minimal netlink message (nlmsghdr only: len 16, type NLMSG_NOOP) behind the 16-byte cooked header. */
function netlinkRecord(): Uint8Array {
  const record = new Uint8Array(32);
  const v = new DataView(record.buffer);
  v.setUint16(2, 824, false); // ARPHRD_NETLINK
  v.setUint16(14, 16, false); // NETLINK_GENERIC
  v.setUint32(16, 16, true);
  v.setUint16(20, 1, true);
  return record;
}

describeWithTshark('tshark reads what PcapWriter writes', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fatriot-tshark-'));
    fs.chmodSync(dir, 0o755); // runTshark drops root to nobody
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads an Ethernet pcap without complaint and shows every frame with its ns timestamp and length', () => {
    const file = path.join(dir, 'eth.pcap');
    const timestampsNs = [1_700_000_000_000_000_001n, 1_700_000_000_123_456_789n, 1_700_000_001_999_999_999n];
    const lengths = [60, 1514, 128];
    const writer = PcapWriter.open(file, LinkType.Ethernet);
    timestampsNs.forEach((ts, i) => writer.write(ethernetFrame(lengths[i]!, i), lengths[i]!, ts));
    writer.write(ethernetFrame(64, 9), 64, 6_250); // a model-time capture: cycle 1000 at 6.25 ns
    writer.close();

    const result = runTshark(file, ['-T', 'fields', '-e', 'frame.time_epoch', '-e', 'frame.len', '-e', 'eth.type']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout.trimEnd().split('\n')).toEqual([
      '1700000000.000000001\t60\t0x88b5',
      '1700000000.123456789\t1514\t0x88b5',
      '1700000001.999999999\t128\t0x88b5',
      '0.000006250\t64\t0x88b5',
    ]);
  });

  it('reads a netlink pcap as netlink', () => {
    const file = path.join(dir, 'netlink.pcap');
    const writer = PcapWriter.open(file, LinkType.Netlink);
    writer.write(netlinkRecord(), 32, 1_000_000_000n);
    writer.close();
    const result = runTshark(file, ['-T', 'fields', '-e', 'frame.protocols', '-e', 'frame.time_epoch']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('netlink\t1.000000000\n');
  });

  it('counts the frames of a large capture that crossed several buffer flushes', () => {
    const file = path.join(dir, 'many.pcap');
    const writer = PcapWriter.open(file, LinkType.Ethernet);
    const frame = ethernetFrame(1514, 0);
    for (let i = 0; i < 2000; i++) writer.write(frame, frame.length, BigInt(i) * 1000n);
    writer.close();
    const result = runTshark(file, ['-T', 'fields', '-e', 'frame.number']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const numbers = result.stdout.trimEnd().split('\n');
    expect(numbers.length).toBe(2000);
    expect(numbers[1999]).toBe('2000');
  });
});
