/**
 * Register-level access to the NIC's tables, as the host driver does it over
 * PCIe: indirect reads and writes through ADDR/DATA/CMD/STATUS windows,
 * register sets word by word, 64-bit counters as low-then-high reads. Accesses
 * of one operation are issued back to back (the bus keeps their order) and
 * awaited together, so reading a whole table costs one pass of the model.
 */
import { AxiLiteError, type AxiLiteBus } from '../pipeline/regs/axi-lite-bus.ts';
import {
  counterAddress,
  fatriotRegisterMap,
  registerSetAddress,
  windowAddress,
  type TableSpec,
} from '../pipeline/regs/register-map.ts';

/** A table command reported the error bit in STATUS. */
export class TableAccessError extends Error {
  override readonly name = 'TableAccessError';
}

export class RegisterDriver {
  constructor(readonly bus: AxiLiteBus) {}

  read(address: number): Promise<number> {
    return this.bus.read(address);
  }

  write(address: number, value: number): Promise<void> {
    return this.bus.write(address, value);
  }

  async readEntry(spec: TableSpec, index: number): Promise<Uint32Array> {
    const [entry] = await this.readEntries(spec, [index]);
    return entry!;
  }

  /** Reads every entry of `spec` (or those in `indices`) in one batch. */
  async readEntries(spec: TableSpec, indices?: readonly number[]): Promise<Uint32Array[]> {
    const w = fatriotRegisterMap.window;
    const list = indices ?? Array.from({ length: spec.depth }, (_, i) => i);
    const pending: Promise<unknown>[] = [];
    const statuses: Promise<number>[] = [];
    const data: Promise<number>[][] = [];
    for (const index of list) {
      pending.push(this.bus.write(windowAddress(spec, 'ADDR'), index));
      pending.push(this.bus.write(windowAddress(spec, 'CMD'), w.cmdRead));
      statuses.push(this.bus.read(windowAddress(spec, 'STATUS')));
      const words: Promise<number>[] = [];
      for (let i = 0; i < spec.wordsPerEntry; i++) words.push(this.bus.read(windowAddress(spec, i)));
      data.push(words);
    }
    await Promise.all([...pending, ...statuses, ...data.flat()]);
    const out: Uint32Array[] = [];
    for (let k = 0; k < list.length; k++) {
      this.checkStatus(spec, list[k]!, await statuses[k]!);
      out.push(Uint32Array.from(await Promise.all(data[k]!)));
    }
    return out;
  }

  async writeEntry(spec: TableSpec, index: number, words: ArrayLike<number>): Promise<void> {
    await this.writeEntries(spec, [{ index, words }]);
  }

  /** Writes several entries in one batch, in the order given. */
  async writeEntries(spec: TableSpec, entries: readonly { index: number; words: ArrayLike<number> }[]): Promise<void> {
    const w = fatriotRegisterMap.window;
    const pending: Promise<unknown>[] = [];
    const statuses: Promise<number>[] = [];
    for (const { index, words } of entries) {
      pending.push(this.bus.write(windowAddress(spec, 'ADDR'), index));
      for (let i = 0; i < spec.wordsPerEntry; i++) pending.push(this.bus.write(windowAddress(spec, i), (words[i] ?? 0) >>> 0));
      pending.push(this.bus.write(windowAddress(spec, 'CMD'), w.cmdWrite));
      statuses.push(this.bus.read(windowAddress(spec, 'STATUS')));
    }
    await Promise.all([...pending, ...statuses]);
    for (let k = 0; k < entries.length; k++) this.checkStatus(spec, entries[k]!.index, await statuses[k]!);
  }

  async clearEntries(spec: TableSpec, indices: readonly number[]): Promise<void> {
    const w = fatriotRegisterMap.window;
    const pending: Promise<unknown>[] = [];
    const statuses: Promise<number>[] = [];
    for (const index of indices) {
      pending.push(this.bus.write(windowAddress(spec, 'ADDR'), index));
      pending.push(this.bus.write(windowAddress(spec, 'CMD'), w.cmdClear));
      statuses.push(this.bus.read(windowAddress(spec, 'STATUS')));
    }
    await Promise.all([...pending, ...statuses]);
    for (let k = 0; k < indices.length; k++) this.checkStatus(spec, indices[k]!, await statuses[k]!);
  }

  async readRegisterSet(spec: TableSpec): Promise<Uint32Array> {
    const reads: Promise<number>[] = [];
    for (let i = 0; i < spec.wordsPerEntry; i++) reads.push(this.bus.read(registerSetAddress(spec, i)));
    return Uint32Array.from(await Promise.all(reads));
  }

  /** Writes the words of a register set that hold writable bits. */
  async writeRegisterSet(spec: TableSpec, words: ArrayLike<number>): Promise<void> {
    const writes: Promise<void>[] = [];
    for (let i = 0; i < spec.wordsPerEntry; i++) {
      if (spec.writableMask[i] !== 0) writes.push(this.bus.write(registerSetAddress(spec, i), (words[i] ?? 0) >>> 0));
    }
    await Promise.all(writes);
  }

  /** All counters, each read low word first (which latches the high word). */
  async readCounters(): Promise<Float64Array> {
    const n = fatriotRegisterMap.counters.count;
    const reads: Promise<number>[] = [];
    for (let i = 0; i < n; i++) {
      reads.push(this.bus.read(counterAddress(i)));
      reads.push(this.bus.read(counterAddress(i) + 4));
    }
    const words = await Promise.all(reads);
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = words[2 * i + 1]! * 0x100000000 + words[2 * i]!;
    return out;
  }

  private checkStatus(spec: TableSpec, index: number, status: number): void {
    const w = fatriotRegisterMap.window;
    if ((status & (1 << w.statusError)) !== 0) throw new TableAccessError(`${spec.name}[${index}]: the table reported an error`);
    if ((status & (1 << w.statusDone)) === 0) throw new TableAccessError(`${spec.name}[${index}]: command did not complete`);
  }
}

export { AxiLiteError };
