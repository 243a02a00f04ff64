import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { LinkType, PcapWriter, parsePcap, readPcap } from '../../src/dataplane/pcap.ts';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fatriot-pcap-prop-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const recordArb = fc.record({
  data: fc.uint8Array({ maxLength: 2000 }),
  timestampNs: fc.bigInt({ min: 0n, max: 4_294_967_295_999_999_999n }),
});

it('pcap write then read returns every frame and ns timestamp unchanged', () => {
  const file = path.join(dir, 'prop.pcap');
  fc.assert(
    fc.property(fc.array(recordArb, { maxLength: 40 }), fc.constantFrom(LinkType.Ethernet, LinkType.Netlink), (records, linkType) => {
      const writer = PcapWriter.open(file, linkType);
      for (const r of records) writer.write(r.data, r.data.length, r.timestampNs);
      writer.close();
      const capture = readPcap(file);
      expect(capture.error).toBeNull();
      expect(capture.linkType).toBe(linkType);
      expect(capture.records.length).toBe(records.length);
      capture.records.forEach((got, i) => {
        expect(got.timestampNs).toBe(records[i]!.timestampNs);
        expect(got.originalLength).toBe(records[i]!.data.length);
        expect(Buffer.compare(got.data, records[i]!.data)).toBe(0);
      });
    }),
    { seed: 42, numRuns: 100 },
  );
});

it('parsePcap never throws on any bytes, and every record it returns lies inside the input', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (tail, withHeader) => {
      const header = withHeader ? [0x4d, 0x3c, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 1, 0, 0, 0] : [];
      const bytes = new Uint8Array([...header, ...tail]);
      const result = parsePcap(bytes);
      if (!result.ok) return;
      let consumed = 24;
      for (const r of result.capture.records) consumed += 16 + r.data.length;
      expect(consumed).toBeLessThanOrEqual(bytes.length);
      expect(result.capture.error === null).toBe(consumed === bytes.length);
    }),
    { seed: 42, numRuns: 500 },
  );
});
