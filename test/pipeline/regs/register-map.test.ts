import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  buildRegisterMap,
  counterAddress,
  counterIndex,
  enumValue,
  fatriotRegisterMap,
  fieldIndex,
  fieldMax,
  fieldsToMac,
  macToFields,
  packEntry,
  payloadToWords,
  RegisterMapError,
  tableSpec,
  TABLE_NAMES,
  unpackEntry,
  windowAddress,
  wordsToPayload,
} from '../../../src/pipeline/regs/register-map.ts';

const rawJson = () => JSON.parse(readFileSync(new URL('../../../hw/netfpga-spec/fatriot-register-map.json', import.meta.url), 'utf8'));

describe('fatriot register map', () => {
  it('places the reference cores at the NetFPGA-SUME base addresses', () => {
    const base = (n: string) => fatriotRegisterMap.blocks.find((b) => b.name === n)!.base;
    expect(base('inputArbiter')).toBe(0x44010000);
    expect(base('outputPortLookup')).toBe(0x44020000);
    expect(base('outputQueues')).toBe(0x44030000);
    expect(base('riffaDma')).toBe(0x44080000);
    expect(base('classifier')).toBe(0x44090000);
  });

  it('has every table with the documented layout', () => {
    const t = tableSpec('targetTable');
    expect(t.depth).toBe(256);
    expect(t.wordsPerEntry).toBe(3);
    expect(t.fields.map((f) => f.name)).toEqual(['dstIp', 'dstPort', 'proto', 'serviceId', 'critical', 'valid']);
    expect(t.address).toBe(0x44090100);
    expect(windowAddress(t, 'ADDR')).toBe(0x44090100);
    expect(windowAddress(t, 'CMD')).toBe(0x44090104);
    expect(windowAddress(t, 'STATUS')).toBe(0x44090108);
    expect(windowAddress(t, 2)).toBe(0x44090118);
    expect(() => windowAddress(t, 3)).toThrow(RegisterMapError);
    for (const n of TABLE_NAMES) expect(tableSpec(n).name).toBe(n);
    expect(tableSpec('nicConfig').access).toBe('direct');
    expect(tableSpec('neighborTable').hostWritable).toBe(false);
    expect(enumValue(tableSpec('heartbeatTable'), 'kind', 'raw')).toBe(3);
    expect(enumValue(tableSpec('failsafeMode'), 'mode', 'off')).toBe(2);
  });

  it('marks status words of the heartbeat table read-only to the host', () => {
    const hb = tableSpec('heartbeatTable');
    expect(hb.writableMask[0]).toBe(0x800003ff);
    expect(hb.writableMask[4]).toBe(0xffffffff);
    expect(hb.writableMask[8]).toBe(0);
    expect(hb.writableMask[11]).toBe(0);
  });

  it('names counters with fixed indices and room for 32 drop reasons', () => {
    const c = fatriotRegisterMap.counters;
    expect(c.dropReasonSlots).toBe(32);
    expect(counterIndex('nf0.rxPackets')).toBe(0);
    expect(counterIndex('nf1.txBytes')).toBe(7);
    expect(counterIndex('drop.outputQueueFull')).toBe(32);
    expect(counterIndex('event.heartbeatsSent')).toBe(69);
    expect(counterAddress(1)).toBe(0x440e0108);
    expect(() => counterIndex('drop.noSuchReason')).toThrow(RegisterMapError);
  });

  it('rejects overlapping fields, blocks and misplaced tables', () => {
    const a = rawJson();
    a.tables[0].fields[1].lsb = 8; // dstPort [23:8] overlaps proto [23:16]
    expect(() => buildRegisterMap(a)).toThrow(/overlaps another field/);
    const b = rawJson();
    b.blocks[9].base = '0x44090000';
    expect(() => buildRegisterMap(b)).toThrow(/overlap/);
    const c = rawJson();
    c.tables[0].wordsPerEntry = 2;
    expect(() => buildRegisterMap(c)).toThrow(/past word/);
    const d = rawJson();
    d.regWriteLatencyCycles.value = 0;
    expect(() => buildRegisterMap(d)).toThrow(RegisterMapError);
  });
});

describe('packEntry / unpackEntry', () => {
  it('packs the target table layout bit for bit', () => {
    const t = tableSpec('targetTable');
    const w = packEntry(t, { dstIp: 0x0a000002, dstPort: 7, proto: 17, serviceId: 3, critical: 1, valid: 1 });
    expect(Array.from(w)).toEqual([0x0a000002, (17 << 16) | 7, 0x80000103]);
    expect(unpackEntry(t, w)).toEqual({ dstIp: 0x0a000002, dstPort: 7, proto: 17, serviceId: 3, critical: 1, valid: 1 });
  });

  it('packs 64-bit fields over two words', () => {
    const hb = tableSpec('heartbeatTable');
    const interval = 5 * 160_000_000 + 2 ** 33;
    const w = packEntry(hb, { intervalCycles: interval });
    expect(w[4]).toBe(interval % 2 ** 32);
    expect(w[5]).toBe(2);
    expect(unpackEntry(hb, w).intervalCycles).toBe(interval);
  });

  it('refuses values that do not fit and unknown fields', () => {
    const t = tableSpec('targetTable');
    expect(() => packEntry(t, { serviceId: 256 })).toThrow(RangeError);
    expect(() => packEntry(t, { dstPort: -1 })).toThrow(RangeError);
    expect(() => packEntry(t, { dstPort: 1.5 })).toThrow(RangeError);
    expect(() => packEntry(t, { bogus: 1 })).toThrow(RangeError);
  });

  it('round-trips every field of every table (property)', () => {
    for (const name of TABLE_NAMES) {
      const spec = tableSpec(name);
      const arb = fc.record(
        Object.fromEntries(spec.fields.map((f) => [f.name, fc.integer({ min: 0, max: Math.min(fieldMax(f.width), Number.MAX_SAFE_INTEGER) })])),
      );
      fc.assert(
        fc.property(arb, (obj) => {
          expect(unpackEntry(spec, packEntry(spec, obj))).toEqual(obj);
        }),
        { seed: 42, numRuns: 200 },
      );
    }
  });

  it('stores payload bytes in network order inside words', () => {
    const w = payloadToWords(Uint8Array.of(1, 2, 3, 4, 5), 16);
    expect(w[0]).toBe(0x01020304);
    expect(w[1]).toBe(0x05000000);
    expect(Array.from(wordsToPayload(w, 5))).toEqual([1, 2, 3, 4, 5]);
    expect(() => payloadToWords(new Uint8Array(65), 16)).toThrow(RangeError);
  });

  it('splits a MAC into hi/lo fields', () => {
    const { hi, lo } = macToFields([0x02, 0x00, 0x5e, 0x10, 0x20, 0xff]);
    expect(hi).toBe(0x0200);
    expect(lo).toBe(0x5e1020ff);
    expect(Array.from(fieldsToMac(hi, lo))).toEqual([0x02, 0x00, 0x5e, 0x10, 0x20, 0xff]);
    expect(fieldIndex(tableSpec('targetTable'), 'valid')).toBe(5);
  });
});
