/**
 * Table memories of the Fatriot NIC and their register views.
 *
 * A TableMemory is the block RAM behind a table: `depth` entries of
 * `wordsPerEntry` 32-bit words, laid out as hw/netfpga-spec/fatriot-register-map.json
 * says. Modules read it on their hot path with `get(entry, field)` (precomputed
 * word offsets, shifts and masks; no allocation) and write their status fields
 * with `set`. The host reaches it only through the AXI-Lite bus, via an
 * IndirectTableRegisters window (ADDR/DATA/CMD/STATUS, as NetFPGA cores with
 * tables do) or, for register sets, DirectRegisters.
 *
 * Timing contract (SPEC 3: order of evaluation must not matter):
 * - the bus applies host accesses in its commit(), so a host write is seen by
 *   modules from the next cycle on (`visibleCycle`);
 * - modules read tables in evaluate() and update their own status fields in
 *   evaluate() (their own state, read by no one before the commit) or commit();
 *   the bus samples host reads in its commit().
 */
import type { RegisterBlock } from './axi-lite-bus.ts';
import { AxiLiteError } from './axi-lite-bus.ts';
import { fatriotRegisterMap, fieldIndex, type FieldSpec, type TableSpec } from './register-map.ts';

/** Called after the host changed `entry` (or every entry: -1); modules wake at `visibleCycle`. */
export type TableWriteListener = (entry: number, visibleCycle: number) => void;

export class TableMemory {
  readonly spec: TableSpec;
  readonly depth: number;
  readonly wordsPerEntry: number;
  /** depth * wordsPerEntry words; entry e starts at e * wordsPerEntry. */
  readonly words: Uint32Array;
  /** Bumped on every host write or clear, so a module can rebuild a lookup index lazily. */
  version = 0;
  /** Per entry: bumped on every host write or clear of that entry (for example, restart learning). */
  readonly entryVersion: Uint32Array;

  private readonly fieldWord: Int32Array;
  private readonly fieldShift: Uint8Array;
  private readonly fieldMask: Uint32Array;
  private readonly fieldIs64: Uint8Array;
  private readonly listeners: TableWriteListener[] = [];

  constructor(spec: TableSpec) {
    this.spec = spec;
    this.depth = spec.depth;
    this.wordsPerEntry = spec.wordsPerEntry;
    this.words = new Uint32Array(spec.depth * spec.wordsPerEntry);
    this.entryVersion = new Uint32Array(spec.depth);
    const n = spec.fields.length;
    this.fieldWord = new Int32Array(n);
    this.fieldShift = new Uint8Array(n);
    this.fieldMask = new Uint32Array(n);
    this.fieldIs64 = new Uint8Array(n);
    for (const f of spec.fields) {
      this.fieldWord[f.index] = f.word;
      this.fieldShift[f.index] = f.width === 64 ? 0 : f.lsb;
      this.fieldMask[f.index] = f.width >= 32 ? 0xffffffff : (1 << f.width) - 1;
      this.fieldIs64[f.index] = f.width === 64 ? 1 : 0;
    }
  }

  /** Field index by name; resolve once (module constructor), then use `get`. */
  fieldIndex(name: string): number {
    return fieldIndex(this.spec, name);
  }

  field(index: number): FieldSpec {
    return this.spec.fields[index]!;
  }

  /** Value of field `field` of `entry`. 64-bit fields come back as one number (exact below 2^53). */
  get(entry: number, field: number): number {
    const at = entry * this.wordsPerEntry + this.fieldWord[field]!;
    if (this.fieldIs64[field] === 1) return this.words[at + 1]! * 0x100000000 + this.words[at]!;
    return ((this.words[at]! >>> this.fieldShift[field]!) & this.fieldMask[field]!) >>> 0;
  }

  /** Hardware-side write of one field (status the module maintains); does not bump versions. */
  set(entry: number, field: number, value: number): void {
    const at = entry * this.wordsPerEntry + this.fieldWord[field]!;
    if (this.fieldIs64[field] === 1) {
      this.words[at] = value % 0x100000000;
      this.words[at + 1] = Math.floor(value / 0x100000000);
      return;
    }
    const shift = this.fieldShift[field]!;
    const mask = this.fieldMask[field]!;
    this.words[at] = ((this.words[at]! & ~(mask << shift)) | ((value & mask) << shift)) >>> 0;
  }

  /** Word `word` of `entry`. */
  word(entry: number, word: number): number {
    return this.words[entry * this.wordsPerEntry + word]!;
  }

  /** Copies `entry`'s words into `out` (no allocation). */
  readEntry(entry: number, out: Uint32Array): Uint32Array {
    const base = entry * this.wordsPerEntry;
    for (let i = 0; i < this.wordsPerEntry; i++) out[i] = this.words[base + i]!;
    return out;
  }

  /**
   * Host write of a whole entry: only the bits of rw fields change (status
   * fields the hardware maintains keep their value), then listeners run.
   */
  hostWriteEntry(entry: number, data: ArrayLike<number>, visibleCycle: number): void {
    const base = entry * this.wordsPerEntry;
    const mask = this.spec.writableMask;
    for (let i = 0; i < this.wordsPerEntry; i++) {
      const m = mask[i]!;
      this.words[base + i] = ((this.words[base + i]! & ~m) | ((data[i]! >>> 0) & m)) >>> 0;
    }
    this.touched(entry, visibleCycle);
  }

  /** Host write of one word (register sets are written word by word). */
  hostWriteWord(entry: number, word: number, value: number, visibleCycle: number): void {
    const at = entry * this.wordsPerEntry + word;
    const m = this.spec.writableMask[word]!;
    this.words[at] = ((this.words[at]! & ~m) | ((value >>> 0) & m)) >>> 0;
    this.touched(entry, visibleCycle);
  }

  /** Host clear: every word of the entry, status included, becomes 0. */
  hostClearEntry(entry: number, visibleCycle: number): void {
    this.words.fill(0, entry * this.wordsPerEntry, (entry + 1) * this.wordsPerEntry);
    this.touched(entry, visibleCycle);
  }

  /** Reset (the block's RESET register, or a module reset): all entries 0. */
  clearAll(visibleCycle: number): void {
    this.words.fill(0);
    for (let e = 0; e < this.depth; e++) this.entryVersion[e] = (this.entryVersion[e]! + 1) >>> 0;
    this.version++;
    for (const l of this.listeners) l(-1, visibleCycle);
  }

  /** Registers a listener for host writes (modules: wake at visibleCycle to pick up the change). */
  onHostWrite(listener: TableWriteListener): void {
    this.listeners.push(listener);
  }

  private touched(entry: number, visibleCycle: number): void {
    this.entryVersion[entry] = (this.entryVersion[entry]! + 1) >>> 0;
    this.version++;
    for (const l of this.listeners) l(entry, visibleCycle);
  }
}

/**
 * The indirect access window of one table: ADDR, CMD, STATUS, DATA_0..DATA_n-1
 * at the offsets of the register map's `indirectWindow`. CMD runs at once when
 * the write reaches the block, so STATUS never shows busy to a later access.
 */
export class IndirectTableRegisters implements RegisterBlock {
  readonly table: TableMemory;
  private addr = 0;
  private status = 0;
  private readonly data: Uint32Array;

  constructor(table: TableMemory) {
    if (table.spec.access !== 'indirect') throw new Error(`${table.spec.name} is a register set`);
    this.table = table;
    this.data = new Uint32Array(table.wordsPerEntry);
  }

  read(offset: number): number {
    const w = fatriotRegisterMap.window;
    if (offset === w.addrOffset) return this.addr;
    if (offset === w.statusOffset) return this.status;
    if (offset === w.cmdOffset) return 0;
    const i = (offset - w.data0Offset) / 4;
    if (Number.isInteger(i) && i >= 0 && i < this.data.length) return this.data[i]!;
    throw new AxiLiteError('DECERR', offset, `no register at offset 0x${offset.toString(16)} of ${this.table.spec.name}`);
  }

  write(offset: number, value: number, visibleCycle: number): void {
    const w = fatriotRegisterMap.window;
    value >>>= 0;
    if (offset === w.addrOffset) {
      this.addr = value;
      return;
    }
    if (offset === w.statusOffset) throw new AxiLiteError('SLVERR', offset, `${this.table.spec.name} STATUS is read-only`);
    if (offset === w.cmdOffset) {
      this.command(value, visibleCycle);
      return;
    }
    const i = (offset - w.data0Offset) / 4;
    if (Number.isInteger(i) && i >= 0 && i < this.data.length) {
      this.data[i] = value;
      return;
    }
    throw new AxiLiteError('DECERR', offset, `no register at offset 0x${offset.toString(16)} of ${this.table.spec.name}`);
  }

  private command(cmd: number, visibleCycle: number): void {
    const w = fatriotRegisterMap.window;
    const done = 1 << w.statusDone;
    const error = (1 << w.statusError) | done;
    const t = this.table;
    if (this.addr >= t.depth) {
      this.status = error;
      return;
    }
    if (cmd === w.cmdRead) {
      t.readEntry(this.addr, this.data);
      this.status = done;
    } else if (cmd === w.cmdWrite && t.spec.hostWritable) {
      t.hostWriteEntry(this.addr, this.data, visibleCycle);
      this.status = done;
    } else if (cmd === w.cmdClear && t.spec.hostWritable) {
      t.hostClearEntry(this.addr, visibleCycle);
      this.status = done;
    } else {
      this.status = error;
    }
  }
}

/** A register set (depth-1 table) mapped word by word at its offset. */
export class DirectRegisters implements RegisterBlock {
  readonly table: TableMemory;

  constructor(table: TableMemory) {
    if (table.spec.access !== 'direct') throw new Error(`${table.spec.name} is an indirect table`);
    this.table = table;
  }

  read(offset: number): number {
    return this.table.word(0, this.wordIndex(offset));
  }

  write(offset: number, value: number, visibleCycle: number): void {
    const word = this.wordIndex(offset);
    if (this.table.spec.writableMask[word] === 0) {
      throw new AxiLiteError('SLVERR', offset, `${this.table.spec.name} word ${word} is read-only`);
    }
    this.table.hostWriteWord(0, word, value, visibleCycle);
  }

  private wordIndex(offset: number): number {
    const word = offset / 4;
    if (!Number.isInteger(word) || word < 0 || word >= this.table.wordsPerEntry) {
      throw new AxiLiteError('DECERR', offset, `no register at offset 0x${offset.toString(16)} of ${this.table.spec.name}`);
    }
    return word;
  }
}

/**
 * ID, VERSION, RESET, FLIP, DEBUG of a NetFPGA core (its *_cpu_regs): every
 * block starts with them. `onReset` runs when the host writes RESET non-zero.
 */
export class StandardRegisters implements RegisterBlock {
  private flip = 0;
  private debug = 0;
  private resetValue = 0;

  constructor(
    readonly id: number,
    readonly version: number,
    private readonly onReset: (visibleCycle: number) => void = () => {},
  ) {}

  read(offset: number): number {
    const s = fatriotRegisterMap.standard;
    if (offset === s.ID) return this.id >>> 0;
    if (offset === s.VERSION) return this.version >>> 0;
    if (offset === s.RESET) return this.resetValue;
    if (offset === s.FLIP) return ~this.flip >>> 0;
    if (offset === s.DEBUG) return this.debug;
    throw new AxiLiteError('DECERR', offset, `no standard register at offset 0x${offset.toString(16)}`);
  }

  write(offset: number, value: number, visibleCycle: number): void {
    const s = fatriotRegisterMap.standard;
    value >>>= 0;
    if (offset === s.ID || offset === s.VERSION) throw new AxiLiteError('SLVERR', offset, 'ID and VERSION are read-only');
    if (offset === s.FLIP) this.flip = value;
    else if (offset === s.DEBUG) this.debug = value;
    else if (offset === s.RESET) {
      this.resetValue = value;
      if (value !== 0) this.onReset(visibleCycle);
    } else throw new AxiLiteError('DECERR', offset, `no standard register at offset 0x${offset.toString(16)}`);
  }

  /** Bytes the standard registers span from the block base. */
  static get sizeBytes(): number {
    const s = fatriotRegisterMap.standard;
    return Math.max(s.ID, s.VERSION, s.RESET, s.FLIP, s.DEBUG) + 4;
  }
}

/**
 * The Fatriot counters (SPEC 9): one Float64Array of 64-bit counts that modules
 * increment in place (`bank.values[i] += n`; exact to 2^53), indices from the
 * register map (`counterIndex('drop.outputQueueFull')`, resolved once).
 */
export class CounterBank {
  readonly values: Float64Array;

  constructor(count = fatriotRegisterMap.counters.count) {
    this.values = new Float64Array(count);
  }

  add(index: number, n: number): void {
    this.values[index] += n;
  }

  clear(): void {
    this.values.fill(0);
  }
}

/**
 * Read-only register view of a CounterBank: counter i's low word at
 * firstCounterOffset + 8i, high word at +4. Reading the low word latches the
 * high word, so a low-then-high read pair is consistent. CLEAR zeroes all.
 */
export class CounterRegisters implements RegisterBlock {
  private latchedHigh = 0;

  /**
   * `mappedAt`: the offset from the counter block's base at which this view is
   * attached (the bus hands it offsets from there).
   */
  constructor(
    readonly bank: CounterBank,
    private readonly mappedAt = 0,
  ) {}

  read(mappedOffset: number): number {
    const offset = mappedOffset + this.mappedAt;
    const c = fatriotRegisterMap.counters;
    if (offset === c.clearOffset) return 0;
    const i = this.counterAt(offset);
    const v = this.bank.values[i >> 1]!;
    if ((i & 1) === 0) {
      this.latchedHigh = Math.floor(v / 0x100000000) >>> 0;
      return v % 0x100000000;
    }
    return this.latchedHigh;
  }

  write(mappedOffset: number, value: number): void {
    const offset = mappedOffset + this.mappedAt;
    const c = fatriotRegisterMap.counters;
    if (offset === c.clearOffset) {
      if ((value & 1) !== 0) this.bank.clear();
      return;
    }
    this.counterAt(offset);
    throw new AxiLiteError('SLVERR', offset, 'counters are read-only');
  }

  /** Word index from firstCounterOffset (2 words per counter). */
  private counterAt(offset: number): number {
    const c = fatriotRegisterMap.counters;
    const i = (offset - c.firstCounterOffset) / 4;
    if (!Number.isInteger(i) || i < 0 || i >= 2 * this.bank.values.length) {
      throw new AxiLiteError('DECERR', offset, `no counter at offset 0x${offset.toString(16)}`);
    }
    return i;
  }
}
