import { describe, expect, it } from 'vitest';
import { ClockedModule, IDLE } from '../../../src/pipeline/sim/module.ts';
import { Simulator } from '../../../src/pipeline/sim/simulator.ts';
import { AxiLiteBus, AxiLiteError } from '../../../src/pipeline/regs/axi-lite-bus.ts';
import { FatriotRegisters } from '../../../src/pipeline/regs/fatriot-registers.ts';
import {
  counterAddress,
  counterIndex,
  fatriotRegisterMap,
  fieldIndex,
  packEntry,
  registerSetAddress,
  tableSpec,
  windowAddress,
} from '../../../src/pipeline/regs/register-map.ts';
import type { TableMemory } from '../../../src/pipeline/regs/table-memory.ts';

const L = fatriotRegisterMap.regWriteLatencyCycles;

/** Reads one field in evaluate() every cycle from `from` on, as a module on its hot path would. */
class Probe extends ClockedModule {
  seen: number[] = [];
  constructor(
    private readonly table: TableMemory,
    private readonly entry: number,
    private readonly field: number,
    private readonly untilCycle: number,
  ) {
    super('probe');
  }
  evaluate(cycle: number): void {
    this.seen[cycle] = this.table.get(this.entry, this.field);
  }
  commit(cycle: number): number {
    return cycle + 1 < this.untilCycle ? cycle + 1 : IDLE;
  }
}

function setup(shuffleSeed?: number) {
  const sim = new Simulator(shuffleSeed === undefined ? {} : { shuffleSeed });
  const regs = new FatriotRegisters();
  const bus = sim.add(new AxiLiteBus());
  regs.attach(bus);
  return { sim, regs, bus };
}

async function writeEntry(bus: AxiLiteBus, name: 'targetTable' | 'heartbeatTable', index: number, fields: Record<string, number>) {
  const spec = tableSpec(name);
  const words = packEntry(spec, fields);
  const writes = [bus.write(windowAddress(spec, 'ADDR'), index)];
  words.forEach((w, i) => writes.push(bus.write(windowAddress(spec, i), w)));
  writes.push(bus.write(windowAddress(spec, 'CMD'), fatriotRegisterMap.window.cmdWrite));
  return Promise.all(writes);
}

describe('AxiLiteBus', () => {
  it(`a register write reaches the table exactly regWriteLatencyCycles (${L}) cycles after it is issued`, async () => {
    for (const seed of [undefined, 7, 99]) {
      const { sim, regs, bus } = setup(seed);
      const field = fieldIndex(tableSpec('nicConfig'), 'relayIp');
      sim.runUntil(1000);
      const probe = sim.add(new Probe(regs.nicConfig, 0, field, 1020));
      const issued = sim.now;
      let resolvedAt = -1;
      const done = bus.write(registerSetAddress(tableSpec('nicConfig'), 0), 0x0a0000fe).then(() => (resolvedAt = sim.now));
      sim.runUntil(1020);
      await done;
      expect(issued).toBe(1000);
      for (let c = 1000; c < 1000 + L; c++) expect(probe.seen[c]).toBe(0);
      for (let c = 1000 + L; c < 1020; c++) expect(probe.seen[c]).toBe(0x0a0000fe);
      expect(resolvedAt).toBe(1020);
    }
  });

  it('applies accesses in issue order, one a cycle, and a read sees the preceding write', async () => {
    const { sim, bus } = setup();
    const applied: number[] = [];
    bus.observer = (_w, _a, _v, cycle) => applied.push(cycle);
    const dbg = fatriotRegisterMap.blocks.find((b) => b.name === 'classifier')!.base + fatriotRegisterMap.standard.DEBUG;
    const w = bus.write(dbg, 5);
    const r = bus.read(dbg);
    const w2 = bus.write(dbg, 6);
    const r2 = bus.read(dbg);
    sim.runUntil(100);
    await w;
    await w2;
    expect(await r).toBe(5);
    expect(await r2).toBe(6);
    expect(applied).toEqual([L - 1, L, L + 1, L + 2]);
  });

  it('writes a table entry through the indirect window and reads it back', async () => {
    const { sim, regs, bus } = setup();
    const fields = { dstIp: 0x0a000002, dstPort: 7, proto: 17, serviceId: 3, critical: 1, valid: 1 };
    const p = writeEntry(bus, 'targetTable', 5, fields);
    sim.runUntil(50);
    await p;
    const spec = tableSpec('targetTable');
    expect(regs.targetTable.get(5, fieldIndex(spec, 'serviceId'))).toBe(3);
    expect(regs.targetTable.get(5, fieldIndex(spec, 'dstIp'))).toBe(0x0a000002);
    expect(regs.targetTable.version).toBe(1);
    expect(regs.targetTable.entryVersion[5]).toBe(1);
    const status = bus.peek(windowAddress(spec, 'STATUS'));
    expect(status).toBe(1 << fatriotRegisterMap.window.statusDone);

    bus.poke(windowAddress(spec, 'ADDR'), 5);
    bus.poke(windowAddress(spec, 0), 0);
    bus.poke(windowAddress(spec, 'CMD'), fatriotRegisterMap.window.cmdRead);
    expect(bus.peek(windowAddress(spec, 0))).toBe(0x0a000002);
    expect(bus.peek(windowAddress(spec, 2))).toBe(0x80000103);

    bus.poke(windowAddress(spec, 'CMD'), fatriotRegisterMap.window.cmdClear);
    expect(regs.targetTable.get(5, fieldIndex(spec, 'valid'))).toBe(0);
    expect(regs.targetTable.version).toBe(2);
  });

  it('keeps hardware status fields when the host rewrites an entry, and clears them on clear', async () => {
    const { sim, regs, bus } = setup();
    const spec = tableSpec('heartbeatTable');
    const rttAvg = fieldIndex(spec, 'rttAvgCycles');
    regs.heartbeatTable.set(2, rttAvg, 32000);
    const p = writeEntry(bus, 'heartbeatTable', 2, { serviceId: 1, kind: 1, valid: 1, rttAvgCycles: 99 });
    sim.runUntil(50);
    await p;
    expect(regs.heartbeatTable.get(2, rttAvg)).toBe(32000);
    expect(regs.heartbeatTable.get(2, fieldIndex(spec, 'kind'))).toBe(1);
    bus.poke(windowAddress(spec, 'ADDR'), 2);
    bus.poke(windowAddress(spec, 'CMD'), fatriotRegisterMap.window.cmdClear);
    expect(regs.heartbeatTable.get(2, rttAvg)).toBe(0);
  });

  it('reports an error in STATUS for an index past the depth and for writes to a read-only table', () => {
    const { bus } = setup();
    const w = fatriotRegisterMap.window;
    const err = (1 << w.statusError) | (1 << w.statusDone);
    const t = tableSpec('targetTable');
    bus.poke(windowAddress(t, 'ADDR'), 256);
    bus.poke(windowAddress(t, 'CMD'), w.cmdWrite);
    expect(bus.peek(windowAddress(t, 'STATUS'))).toBe(err);
    const n = tableSpec('neighborTable');
    bus.poke(windowAddress(n, 'ADDR'), 0);
    bus.poke(windowAddress(n, 'CMD'), w.cmdWrite);
    expect(bus.peek(windowAddress(n, 'STATUS'))).toBe(err);
    bus.poke(windowAddress(n, 'CMD'), w.cmdRead);
    expect(bus.peek(windowAddress(n, 'STATUS'))).toBe(1 << w.statusDone);
  });

  it('answers DECERR for an unmapped address and SLVERR for a read-only register, and keeps going', async () => {
    const { sim, bus } = setup();
    const bad = bus.read(0x50000000);
    const ro = bus.write(0x44090000, 1); // ID
    const unaligned = bus.read(0x44090002);
    const good = bus.read(0x44090000);
    sim.runUntil(50);
    await expect(bad).rejects.toMatchObject({ name: 'AxiLiteError', response: 'DECERR', address: 0x50000000 });
    await expect(ro).rejects.toMatchObject({ response: 'SLVERR', address: 0x44090000 });
    await expect(unaligned).rejects.toMatchObject({ response: 'SLVERR' });
    expect(await good).toBe(0xfa710001);
    expect(() => bus.peek(0x44090200)).toThrow(AxiLiteError);
    expect(() => bus.write(0x44090010, 2 ** 32)).toThrow(RangeError);
  });

  it('implements FLIP, RESET and the counter registers', () => {
    const { regs, bus } = setup();
    const classifier = 0x44090000;
    bus.poke(classifier + fatriotRegisterMap.standard.FLIP, 0x0000ffff);
    expect(bus.peek(classifier + fatriotRegisterMap.standard.FLIP)).toBe(0xffff0000);

    regs.targetTable.set(1, 0, 123);
    let resetAt = -1;
    regs.onBlockReset('classifier', (c) => (resetAt = c));
    bus.poke(classifier + fatriotRegisterMap.standard.RESET, 1);
    expect(regs.targetTable.get(1, 0)).toBe(0);
    expect(resetAt).toBe(0);

    const i = counterIndex('drop.outputQueueFull');
    regs.counters.add(i, 2 ** 32 + 7);
    expect(bus.peek(counterAddress(i))).toBe(7);
    regs.counters.add(i, 2 ** 32); // the high word was latched by the low read
    expect(bus.peek(counterAddress(i) + 4)).toBe(1);
    expect(bus.peek(counterAddress(i))).toBe(7);
    expect(bus.peek(counterAddress(i) + 4)).toBe(2);
    expect(() => bus.poke(counterAddress(i), 0)).toThrow(/read-only/);
    bus.poke(fatriotRegisterMap.counters.base + fatriotRegisterMap.counters.clearOffset, 1);
    expect(regs.counters.values[i]).toBe(0);
  });

  it('wakes a listening module at the cycle a host write becomes visible', async () => {
    const { sim, regs, bus } = setup();
    const woken: number[] = [];
    regs.targetTable.onHostWrite((entry, visible) => woken.push(entry, visible));
    sim.runUntil(10);
    const p = writeEntry(bus, 'targetTable', 9, { valid: 1 });
    sim.runUntil(40);
    await p;
    // ADDR + 3 DATA + CMD: the CMD is the fifth access, applied at 10 + L - 1 + 4.
    expect(woken).toEqual([9, 10 + L + 4]);
  });
});
