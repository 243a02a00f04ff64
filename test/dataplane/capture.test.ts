import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CapturePort } from '../../src/dataplane/capture.ts';
import { createMemoryLink } from '../../src/dataplane/memory-link.ts';
import { LinkType, PcapWriter, readPcap } from '../../src/dataplane/pcap.ts';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fatriot-capture-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function capturedOn(file: string): { ns: bigint; bytes: number[] }[] {
  return readPcap(file).records.map((r) => ({ ns: r.timestampNs, bytes: [...r.data] }));
}

describe('CapturePort', () => {
  it('records received and transmitted frames in order, at cycle x clock period, and passes them on', () => {
    const file = path.join(dir, 'nf0.pcap');
    const [nicSide, wireSide] = createMemoryLink('nf0', 'peer', { latencyCycles: 4 });
    const nf0 = new CapturePort(nicSide, PcapWriter.open(file, LinkType.Ethernet), 6.25);
    const atNic: number[][] = [];
    const atPeer: number[][] = [];
    nf0.attach((frame, cycle) => atNic.push([cycle, ...frame]));
    wireSide.attach((frame, cycle) => atPeer.push([cycle, ...frame]));

    wireSide.transmit(new Uint8Array([0xa1]), 100); // arrives at nf0 at cycle 104
    nf0.transmit(new Uint8Array([0xb1, 0xb2]), 200); // arrives at peer at cycle 204
    nf0.receive(new Uint8Array([0xc1]), 301); // straight from the link side
    nf0.close();

    expect(atNic).toEqual([[104, 0xa1], [301, 0xc1]]);
    expect(atPeer).toEqual([[204, 0xb1, 0xb2]]);
    expect(capturedOn(file)).toEqual([
      { ns: 650n, bytes: [0xa1] }, // 104 x 6.25
      { ns: 1250n, bytes: [0xb1, 0xb2] }, // 200 x 6.25
      { ns: 1881n, bytes: [0xc1] }, // 301 x 6.25 = 1881.25, rounded
    ]);
    expect(nf0.name).toBe('nf0');
  });

  it('records a frame before the synchronous reply it triggers', () => {
    const file = path.join(dir, 'echo.pcap');
    const [nicSide, wireSide] = createMemoryLink('nf1', 'echo', { latencyCycles: 1 });
    const nf1 = new CapturePort(nicSide, PcapWriter.open(file, LinkType.Ethernet), 5);
    wireSide.attach((frame, cycle) => wireSide.transmit(frame.map((x) => x + 1), cycle));
    nf1.transmit(new Uint8Array([1]), 10);
    nf1.close();
    expect(capturedOn(file)).toEqual([
      { ns: 50n, bytes: [1] }, // sent at cycle 10
      { ns: 60n, bytes: [2] }, // reached the echo at 11, answered at 11, back at 12
    ]);
  });

  it('records frames that arrive while nothing is attached to the capture port', () => {
    const file = path.join(dir, 'noattach.pcap');
    const [nicSide, wireSide] = createMemoryLink('nf2', 'peer');
    const nf2 = new CapturePort(nicSide, PcapWriter.open(file, LinkType.Ethernet), 5);
    wireSide.transmit(new Uint8Array([1, 2]), 3);
    nf2.close();
    expect(capturedOn(file)).toEqual([{ ns: 15n, bytes: [1, 2] }]);
  });

  it('closes the inner port and its own writer; with closeWriter false a shared writer stays open', () => {
    const file = path.join(dir, 'shared.pcap');
    const writer = PcapWriter.open(file, LinkType.Ethernet);
    const [a, b] = createMemoryLink('nf0', 'nf1');
    const capA = new CapturePort(a, writer, 5, { closeWriter: false });
    const capB = new CapturePort(b, writer, 5, { closeWriter: false });
    capA.transmit(new Uint8Array([1]), 1); // recorded twice: out of nf0, into nf1
    capA.close();
    expect(a.isClosed).toBe(true);
    expect(writer.isOpen).toBe(true);
    capA.transmit(new Uint8Array([9]), 2); // closed: neither recorded nor sent
    capB.close();
    expect(writer.isOpen).toBe(true);
    writer.close();
    expect(capturedOn(file)).toEqual([
      { ns: 5n, bytes: [1] },
      { ns: 5n, bytes: [1] },
    ]);

    const ownFile = path.join(dir, 'own.pcap');
    const own = PcapWriter.open(ownFile, LinkType.Ethernet);
    const [c] = createMemoryLink('nf3', 'peer');
    const capC = new CapturePort(c, own, 5);
    capC.close();
    capC.close();
    expect(own.isOpen).toBe(false);
  });

  it('rejects a clock period that is not a positive number', () => {
    const writer = PcapWriter.open(path.join(dir, 'bad.pcap'), LinkType.Ethernet);
    const [a] = createMemoryLink('a', 'b');
    expect(() => new CapturePort(a, writer, 0)).toThrow(RangeError);
    expect(() => new CapturePort(a, writer, Number.NaN)).toThrow(RangeError);
    writer.close();
  });
});
