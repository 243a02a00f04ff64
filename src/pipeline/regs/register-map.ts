/**
 * The Fatriot NIC's AXI-Lite register map (SPEC 3 item 6), loaded from
 * hw/netfpga-spec/fatriot-register-map.json and validated once at import.
 *
 * This file is the one encoding of table entries shared by the driver side (the
 * control server) and the hardware side (TableMemory): `packEntry` and
 * `unpackEntry` turn a record of named integer fields into entry words and back.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';

export const TABLE_NAMES = [
  'targetTable',
  'heartbeatTable',
  'heartbeatPayload',
  'serviceTable',
  'defaultBackup',
  'failsafeMode',
  'nicConfig',
  'neighborTable',
] as const;
export type TableName = (typeof TABLE_NAMES)[number];

const hex = z
  .union([z.string().regex(/^0x[0-9a-fA-F]+$/), z.number().int().nonnegative()])
  .transform((v) => (typeof v === 'number' ? v : Number.parseInt(v.slice(2), 16)))
  .refine((v) => v <= 0xffffffff, 'address or value exceeds 32 bits');

const fieldSchema = z
  .object({
    name: z.string().regex(/^[a-zA-Z][a-zA-Z0-9]*$/),
    word: z.number().int().nonnegative(),
    lsb: z.number().int().min(0).max(31),
    width: z.number().int().min(1),
    access: z.enum(['rw', 'ro']),
    enum: z.record(z.string(), z.number().int().nonnegative()).optional(),
    format: z.enum(['ipv4']).optional(),
    description: z.string().optional(),
  })
  .refine((f) => (f.width === 64 ? f.lsb === 0 : f.lsb + f.width <= 32), {
    message: 'a field fits in one word, or is 64 bits wide starting at bit 0 of a word pair',
  });

const tableSchema = z.object({
  name: z.enum(TABLE_NAMES),
  description: z.string(),
  depth: z.number().int().min(1),
  depthAssumed: z.boolean(),
  depthReason: z.string(),
  wordsPerEntry: z.number().int().min(1),
  hostWritable: z.boolean(),
  fields: z.array(fieldSchema).min(1),
});

const placementSchema = z.object({ table: z.enum(TABLE_NAMES), offset: hex });

const blockSchema = z.object({
  name: z.string(),
  base: hex,
  size: hex,
  id: hex,
  version: z.number().int().nonnegative(),
  assumed: z.boolean(),
  source: z.string(),
  windows: z.array(placementSchema),
  registerSets: z.array(placementSchema),
});

const namedCounterSchema = z.object({
  index: z.number().int().nonnegative(),
  name: z.string().regex(/^[a-zA-Z][a-zA-Z0-9]*$/),
  description: z.string().optional(),
});

const mapSchema = z.object({
  name: z.literal('fatriot-register-map'),
  description: z.string(),
  dataWidthBits: z.literal(32),
  regWriteLatencyCycles: z.object({ value: z.number().int().min(1), assumed: z.boolean(), reason: z.string() }),
  standardRegisters: z.object({
    source: z.string(),
    registers: z.array(z.object({ name: z.string(), offset: hex, access: z.enum(['rw', 'ro']), description: z.string() })),
  }),
  indirectWindow: z.object({
    description: z.string(),
    source: z.string(),
    assumed: z.boolean(),
    reason: z.string(),
    registers: z.object({ ADDR: hex, CMD: hex, STATUS: hex, DATA_0: hex }),
    sizeBytes: hex,
    commands: z.object({ read: z.number().int(), write: z.number().int(), clear: z.number().int() }),
    statusBits: z.object({ busy: z.number().int(), done: z.number().int(), error: z.number().int() }),
  }),
  blocks: z.array(blockSchema).min(1),
  tables: z.array(tableSchema),
  counters: z.object({
    block: z.string(),
    description: z.string(),
    assumed: z.boolean(),
    reason: z.string(),
    clearOffset: hex,
    firstCounterOffset: hex,
    ports: z.array(z.string()).min(1),
    perPort: z.array(z.string()).min(1),
    portBase: z.number().int().nonnegative(),
    dropReasonBase: z.number().int().nonnegative(),
    dropReasonSlots: z.number().int().min(1),
    dropReasons: z.array(namedCounterSchema),
    eventBase: z.number().int().nonnegative(),
    eventSlots: z.number().int().min(1),
    events: z.array(namedCounterSchema),
  }),
});

export type RawRegisterMap = z.infer<typeof mapSchema>;

export interface FieldSpec {
  readonly name: string;
  /** Index of the field in `TableSpec.fields`: what TableMemory.get takes. */
  readonly index: number;
  readonly word: number;
  readonly lsb: number;
  /** 1..32, or 64 for a value over words `word` (low) and `word + 1` (high). */
  readonly width: number;
  readonly access: 'rw' | 'ro';
  readonly enumValues: Readonly<Record<string, number>> | null;
  readonly format: 'ipv4' | null;
  readonly description: string;
}

export interface TableSpec {
  readonly name: TableName;
  readonly description: string;
  readonly depth: number;
  readonly wordsPerEntry: number;
  /** False for tables only the hardware writes (neighborTable): the host may read, not write or clear. */
  readonly hostWritable: boolean;
  readonly fields: readonly FieldSpec[];
  /** Per word of an entry: the bits the host may write (union of its rw fields). */
  readonly writableMask: Uint32Array;
  /** Block that holds it and how it is reached: `indirect` (ADDR/DATA/CMD window) or `direct` (register set). */
  readonly block: string;
  readonly access: 'indirect' | 'direct';
  /** Absolute AXI-Lite address of the window or register set. */
  readonly address: number;
}

export interface BlockSpec {
  readonly name: string;
  readonly base: number;
  readonly size: number;
  readonly id: number;
  readonly version: number;
  readonly assumed: boolean;
  readonly source: string;
}

export interface CounterSpec {
  readonly name: string;
  /** Index into the counter bank (CounterBank.values). */
  readonly index: number;
  readonly group: 'port' | 'drop' | 'event';
  readonly description: string;
}

export interface CounterMapSpec {
  readonly block: string;
  readonly base: number;
  readonly clearOffset: number;
  readonly firstCounterOffset: number;
  readonly count: number;
  readonly ports: readonly string[];
  readonly perPort: readonly string[];
  readonly portBase: number;
  readonly dropReasonBase: number;
  readonly dropReasonSlots: number;
  readonly eventBase: number;
  readonly eventSlots: number;
  /** Every named counter: `nf0.rxPackets`, `drop.outputQueueFull`, `event.heartbeatsSent`. */
  readonly named: readonly CounterSpec[];
}

export interface IndirectWindowSpec {
  readonly addrOffset: number;
  readonly cmdOffset: number;
  readonly statusOffset: number;
  readonly data0Offset: number;
  readonly sizeBytes: number;
  readonly cmdRead: number;
  readonly cmdWrite: number;
  readonly cmdClear: number;
  readonly statusBusy: number;
  readonly statusDone: number;
  readonly statusError: number;
}

export interface StandardRegisterOffsets {
  readonly ID: number;
  readonly VERSION: number;
  readonly RESET: number;
  readonly FLIP: number;
  readonly DEBUG: number;
}

export interface FatriotRegisterMap {
  readonly regWriteLatencyCycles: number;
  readonly blocks: readonly BlockSpec[];
  readonly tables: Readonly<Record<TableName, TableSpec>>;
  readonly window: IndirectWindowSpec;
  readonly standard: StandardRegisterOffsets;
  readonly counters: CounterMapSpec;
  readonly raw: RawRegisterMap;
}

/** Thrown when the JSON breaks a rule the schema alone cannot state. */
export class RegisterMapError extends Error {
  override readonly name = 'RegisterMapError';
}

/** Builds the typed map from parsed JSON; exported so tests can feed broken maps. */
export function buildRegisterMap(json: unknown): FatriotRegisterMap {
  const parsed = mapSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new RegisterMapError(`register map: ${issue.path.join('.')}: ${issue.message}`);
  }
  const raw = parsed.data;
  const fail = (msg: string): never => {
    throw new RegisterMapError(`register map: ${msg}`);
  };

  const blocks: BlockSpec[] = raw.blocks.map((b) => ({
    name: b.name,
    base: b.base,
    size: b.size,
    id: b.id,
    version: b.version,
    assumed: b.assumed,
    source: b.source,
  }));
  const sortedBlocks = [...blocks].sort((a, b) => a.base - b.base);
  for (let i = 0; i < sortedBlocks.length; i++) {
    const b = sortedBlocks[i]!;
    if (b.base % 4 !== 0 || b.size % 4 !== 0) fail(`block ${b.name} is not word aligned`);
    const next = sortedBlocks[i + 1];
    if (next !== undefined && b.base + b.size > next.base) fail(`blocks ${b.name} and ${next.name} overlap`);
  }
  if (new Set(blocks.map((b) => b.name)).size !== blocks.length) fail('duplicate block name');

  const w = raw.indirectWindow;
  const window: IndirectWindowSpec = {
    addrOffset: w.registers.ADDR,
    cmdOffset: w.registers.CMD,
    statusOffset: w.registers.STATUS,
    data0Offset: w.registers.DATA_0,
    sizeBytes: w.sizeBytes,
    cmdRead: w.commands.read,
    cmdWrite: w.commands.write,
    cmdClear: w.commands.clear,
    statusBusy: w.statusBits.busy,
    statusDone: w.statusBits.done,
    statusError: w.statusBits.error,
  };

  const std: Record<string, number> = {};
  for (const r of raw.standardRegisters.registers) std[r.name] = r.offset;
  for (const n of ['ID', 'VERSION', 'RESET', 'FLIP', 'DEBUG']) if (std[n] === undefined) fail(`standard register ${n} missing`);
  const standard = std as unknown as StandardRegisterOffsets;
  const standardEnd = Math.max(...Object.values(std)) + 4;

  const placements = new Map<string, { block: (typeof raw.blocks)[number]; offset: number; access: 'indirect' | 'direct' }>();
  for (const b of raw.blocks) {
    for (const p of b.windows) {
      if (placements.has(p.table)) fail(`table ${p.table} placed twice`);
      placements.set(p.table, { block: b, offset: p.offset, access: 'indirect' });
    }
    for (const p of b.registerSets) {
      if (placements.has(p.table)) fail(`table ${p.table} placed twice`);
      placements.set(p.table, { block: b, offset: p.offset, access: 'direct' });
    }
  }

  const tables = {} as Record<TableName, TableSpec>;
  for (const t of raw.tables) {
    if (tables[t.name] !== undefined) fail(`table ${t.name} listed twice`);
    const where = placements.get(t.name) ?? fail(`table ${t.name} is in no block`);
    const writableMask = new Uint32Array(t.wordsPerEntry);
    const used = new Uint32Array(t.wordsPerEntry + 1);
    const names = new Set<string>();
    const fields: FieldSpec[] = t.fields.map((f, index) => {
      if (names.has(f.name)) fail(`${t.name}.${f.name} defined twice`);
      names.add(f.name);
      const words = f.width === 64 ? 2 : 1;
      if (f.word + words > t.wordsPerEntry) fail(`${t.name}.${f.name} lies past word ${t.wordsPerEntry - 1}`);
      for (let k = 0; k < words; k++) {
        const bits = f.width === 64 ? 0xffffffff : maskOf(f.width) << f.lsb;
        if ((used[f.word + k]! & bits) !== 0) fail(`${t.name}.${f.name} overlaps another field`);
        used[f.word + k] = (used[f.word + k]! | bits) >>> 0;
        if (f.access === 'rw') writableMask[f.word + k] = (writableMask[f.word + k]! | bits) >>> 0;
      }
      if (f.enum !== undefined) {
        for (const [k, v] of Object.entries(f.enum)) if (v > fieldMax(f.width)) fail(`${t.name}.${f.name} enum ${k} does not fit`);
      }
      return {
        name: f.name,
        index,
        word: f.word,
        lsb: f.lsb,
        width: f.width,
        access: f.access,
        enumValues: f.enum ?? null,
        format: f.format ?? null,
        description: f.description ?? '',
      };
    });
    if (!t.hostWritable && fields.some((f) => f.access === 'rw')) fail(`${t.name} is read-only but has rw fields`);
    const block = where.block;
    if (where.offset < standardEnd) fail(`${t.name} overlaps the standard registers of ${block.name}`);
    const bytes = where.access === 'indirect' ? window.sizeBytes : t.wordsPerEntry * 4;
    if (where.access === 'direct' && t.depth !== 1) fail(`${t.name}: a register set has depth 1`);
    if (where.access === 'indirect' && window.data0Offset + 4 * t.wordsPerEntry > window.sizeBytes) {
      fail(`${t.name}: ${t.wordsPerEntry} DATA registers do not fit the window`);
    }
    if (where.offset + bytes > block.size) fail(`${t.name} lies past the end of ${block.name}`);
    tables[t.name] = {
      name: t.name,
      description: t.description,
      depth: t.depth,
      wordsPerEntry: t.wordsPerEntry,
      hostWritable: t.hostWritable,
      fields,
      writableMask,
      block: block.name,
      access: where.access,
      address: block.base + where.offset,
    };
  }
  for (const n of TABLE_NAMES) if (tables[n] === undefined) fail(`table ${n} missing`);
  for (const n of placements.keys()) if (tables[n as TableName] === undefined) fail(`block places unknown table ${n}`);
  checkPlacementsDisjoint(raw, tables, window);

  const c = raw.counters;
  const counterBlock = raw.blocks.find((b) => b.name === c.block) ?? fail(`counter block ${c.block} missing`);
  const portCount = c.ports.length * c.perPort.length;
  if (c.portBase + portCount > c.dropReasonBase) fail('port counters overlap drop reasons');
  if (c.dropReasonBase + c.dropReasonSlots > c.eventBase) fail('drop reasons overlap event counters');
  const count = c.eventBase + c.eventSlots;
  if (c.firstCounterOffset + 8 * count > counterBlock.size) fail('counters lie past the end of their block');
  const named: CounterSpec[] = [];
  c.ports.forEach((port, p) =>
    c.perPort.forEach((what, k) =>
      named.push({ name: `${port}.${what}`, index: c.portBase + p * c.perPort.length + k, group: 'port', description: '' }),
    ),
  );
  for (const r of c.dropReasons) {
    if (r.index >= c.dropReasonSlots) fail(`drop reason ${r.name} beyond its ${c.dropReasonSlots} slots`);
    named.push({ name: `drop.${r.name}`, index: c.dropReasonBase + r.index, group: 'drop', description: r.description ?? '' });
  }
  for (const e of c.events) {
    if (e.index >= c.eventSlots) fail(`event counter ${e.name} beyond its ${c.eventSlots} slots`);
    named.push({ name: `event.${e.name}`, index: c.eventBase + e.index, group: 'event', description: e.description ?? '' });
  }
  if (new Set(named.map((n) => n.index)).size !== named.length) fail('two counters share an index');
  if (new Set(named.map((n) => n.name)).size !== named.length) fail('two counters share a name');

  return {
    regWriteLatencyCycles: raw.regWriteLatencyCycles.value,
    blocks,
    tables,
    window,
    standard,
    counters: {
      block: c.block,
      base: counterBlock.base,
      clearOffset: c.clearOffset,
      firstCounterOffset: c.firstCounterOffset,
      count,
      ports: c.ports,
      perPort: c.perPort,
      portBase: c.portBase,
      dropReasonBase: c.dropReasonBase,
      dropReasonSlots: c.dropReasonSlots,
      eventBase: c.eventBase,
      eventSlots: c.eventSlots,
      named,
    },
    raw,
  };
}

function checkPlacementsDisjoint(raw: RawRegisterMap, tables: Record<TableName, TableSpec>, window: IndirectWindowSpec): void {
  const ranges: { name: string; start: number; end: number }[] = [];
  for (const t of Object.values(tables)) {
    const size = t.access === 'indirect' ? window.sizeBytes : t.wordsPerEntry * 4;
    ranges.push({ name: t.name, start: t.address, end: t.address + size });
  }
  const counterBlock = raw.blocks.find((b) => b.name === raw.counters.block);
  if (counterBlock !== undefined) {
    ranges.push({ name: 'counters.CLEAR', start: counterBlock.base + raw.counters.clearOffset, end: counterBlock.base + raw.counters.clearOffset + 4 });
  }
  ranges.sort((a, b) => a.start - b.start);
  for (let i = 1; i < ranges.length; i++) {
    if (ranges[i]!.start < ranges[i - 1]!.end) {
      throw new RegisterMapError(`register map: ${ranges[i - 1]!.name} and ${ranges[i]!.name} overlap`);
    }
  }
}

function maskOf(width: number): number {
  return width >= 32 ? 0xffffffff : (1 << width) - 1;
}

/** Largest value a field of `width` bits holds (64-bit fields: 2^53 - 1, what a number holds exactly). */
export function fieldMax(width: number): number {
  return width === 64 ? Number.MAX_SAFE_INTEGER : width === 32 ? 0xffffffff : maskOf(width);
}

const MAP_URL = new URL('../../../hw/netfpga-spec/fatriot-register-map.json', import.meta.url);

/** The register map of this build, validated at import. */
export const fatriotRegisterMap: FatriotRegisterMap = buildRegisterMap(JSON.parse(readFileSync(MAP_URL, 'utf8')));

export function tableSpec(name: TableName): TableSpec {
  return fatriotRegisterMap.tables[name];
}

export function blockSpec(name: string): BlockSpec {
  const b = fatriotRegisterMap.blocks.find((x) => x.name === name);
  if (b === undefined) throw new RegisterMapError(`no register block named ${name}`);
  return b;
}

/** Index of a field (for TableMemory.get); throws on an unknown name, so resolve once at construction. */
export function fieldIndex(spec: TableSpec, name: string): number {
  const f = spec.fields.find((x) => x.name === name);
  if (f === undefined) throw new RegisterMapError(`${spec.name} has no field ${name}`);
  return f.index;
}

/** Value of an enum field's symbol (`enumValue(hb, 'kind', 'udp')`); throws on unknown names. */
export function enumValue(spec: TableSpec, field: string, symbol: string): number {
  const f = spec.fields[fieldIndex(spec, field)]!;
  const v = f.enumValues?.[symbol];
  if (v === undefined) throw new RegisterMapError(`${spec.name}.${field} has no value ${symbol}`);
  return v;
}

/** Symbol of an enum field's value, or the number as text when it has none. */
export function enumName(spec: TableSpec, field: string, value: number): string {
  const f = spec.fields[fieldIndex(spec, field)]!;
  for (const [k, v] of Object.entries(f.enumValues ?? {})) if (v === value) return k;
  return String(value);
}

/** Counter bank index of a named counter (`nf0.rxPackets`, `drop.outputQueueFull`, `event.heartbeatsSent`). */
export function counterIndex(name: string): number {
  const c = fatriotRegisterMap.counters.named.find((x) => x.name === name);
  if (c === undefined) throw new RegisterMapError(`no counter named ${name}`);
  return c.index;
}

/** Index of a port's counter: `portCounterIndex('nf0', 'rxPackets')`. */
export function portCounterIndex(port: string, what: string): number {
  return counterIndex(`${port}.${what}`);
}

/** AXI-Lite address of counter `index`'s low word; the high word is at +4. */
export function counterAddress(index: number): number {
  const c = fatriotRegisterMap.counters;
  return c.base + c.firstCounterOffset + 8 * index;
}

/** Address of a window register of an indirect table: 'ADDR' | 'CMD' | 'STATUS' or DATA_i as a number i. */
export function windowAddress(spec: TableSpec, reg: 'ADDR' | 'CMD' | 'STATUS' | number): number {
  if (spec.access !== 'indirect') throw new RegisterMapError(`${spec.name} is a register set, not an indirect table`);
  const w = fatriotRegisterMap.window;
  if (typeof reg === 'number') {
    if (!Number.isInteger(reg) || reg < 0 || reg >= spec.wordsPerEntry) throw new RegisterMapError(`${spec.name} has no DATA_${reg}`);
    return spec.address + w.data0Offset + 4 * reg;
  }
  return spec.address + (reg === 'ADDR' ? w.addrOffset : reg === 'CMD' ? w.cmdOffset : w.statusOffset);
}

/** Address of word `word` of a register set (depth-1 table mapped directly). */
export function registerSetAddress(spec: TableSpec, word: number): number {
  if (spec.access !== 'direct') throw new RegisterMapError(`${spec.name} is an indirect table, not a register set`);
  if (!Number.isInteger(word) || word < 0 || word >= spec.wordsPerEntry) throw new RegisterMapError(`${spec.name} has no word ${word}`);
  return spec.address + 4 * word;
}

/** A table entry as named integer fields. Missing fields pack as 0. */
export type EntryFields = Record<string, number>;

/**
 * Packs named fields into entry words. Throws RangeError for a value that is not
 * a non-negative integer or does not fit its field, and for an unknown name.
 */
export function packEntry(spec: TableSpec, obj: EntryFields, out: Uint32Array = new Uint32Array(spec.wordsPerEntry)): Uint32Array {
  if (out.length < spec.wordsPerEntry) throw new RangeError(`${spec.name}: need ${spec.wordsPerEntry} words`);
  out.fill(0, 0, spec.wordsPerEntry);
  for (const name of Object.keys(obj)) {
    if (!spec.fields.some((f) => f.name === name)) throw new RangeError(`${spec.name} has no field ${name}`);
  }
  for (const f of spec.fields) {
    const v = obj[f.name];
    if (v === undefined) continue;
    if (!Number.isInteger(v) || v < 0 || v > fieldMax(f.width)) {
      throw new RangeError(`${spec.name}.${f.name} = ${v} does not fit ${f.width} bits`);
    }
    if (f.width === 64) {
      out[f.word] = v % 0x100000000;
      out[f.word + 1] = Math.floor(v / 0x100000000);
    } else {
      out[f.word] = (out[f.word]! | (v << f.lsb)) >>> 0;
    }
  }
  return out;
}

/** Unpacks entry words into named fields (every field of the spec). */
export function unpackEntry(spec: TableSpec, words: ArrayLike<number>): EntryFields {
  const obj: EntryFields = {};
  for (const f of spec.fields) obj[f.name] = readField(words, 0, f.word, f.lsb, f.width);
  return obj;
}

/** Reads one field at `base` (word offset of the entry) in `words`. */
export function readField(words: ArrayLike<number>, base: number, word: number, lsb: number, width: number): number {
  if (width === 64) return (words[base + word + 1]! >>> 0) * 0x100000000 + (words[base + word]! >>> 0);
  if (width === 32) return words[base + word]! >>> 0;
  return (words[base + word]! >>> lsb) & maskOf(width);
}

/** Heartbeat payload bytes -> payload entry words (network order inside a word). */
export function payloadToWords(bytes: Uint8Array, wordsPerEntry: number): Uint32Array {
  if (bytes.length > wordsPerEntry * 4) throw new RangeError(`payload of ${bytes.length} bytes exceeds ${wordsPerEntry * 4}`);
  const out = new Uint32Array(wordsPerEntry);
  for (let i = 0; i < bytes.length; i++) out[i >> 2] = (out[i >> 2]! | (bytes[i]! << (24 - 8 * (i & 3)))) >>> 0;
  return out;
}

/** Payload entry words -> the first `length` bytes. */
export function wordsToPayload(words: ArrayLike<number>, length: number, base = 0): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (words[base + (i >> 2)]! >>> (24 - 8 * (i & 3))) & 0xff;
  return out;
}

/** A 48-bit MAC as the hi (bytes 0..1) and lo (bytes 2..5) fields the tables use. */
export function macToFields(mac: Uint8Array | readonly number[]): { hi: number; lo: number } {
  return { hi: ((mac[0]! << 8) | mac[1]!) >>> 0, lo: ((mac[2]! << 24) | (mac[3]! << 16) | (mac[4]! << 8) | mac[5]!) >>> 0 };
}

export function fieldsToMac(hi: number, lo: number): Uint8Array {
  return Uint8Array.of((hi >>> 8) & 0xff, hi & 0xff, (lo >>> 24) & 0xff, (lo >>> 16) & 0xff, (lo >>> 8) & 0xff, lo & 0xff);
}
