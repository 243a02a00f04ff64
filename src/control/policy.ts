/**
 * Attribute policies as data and the one validator that enforces them
 * (STYLE.md: "attribute policies declared as data per command; validation is
 * done once, centrally", after the kernel's struct nla_policy / libmnl).
 *
 * The same definitions drive encoding, so a value that encodes always validates.
 */
import { AttrWriter, decodeString, Errno, NetlinkParseError, parseAttrs, type RawAttr } from './netlink.ts';

export type AttrKind = 'u8' | 'u16' | 'u32' | 'u64' | 'string' | 'binary' | 'flag' | 'ipv4' | 'nested';

export interface AttrDef {
  readonly id: number;
  /** Name in typed values (camelCase) and in error messages. */
  readonly name: string;
  readonly kind: AttrKind;
  /** Integer range, inclusive (u8..u64). */
  readonly min?: number;
  readonly max?: number;
  /** Byte length range of string (without NUL) and binary values. */
  readonly minLen?: number;
  readonly maxLen?: number;
  /** Attribute set inside a nested attribute; every nested attribute is optional there unless listed in nestedRequired. */
  readonly nested?: AttrSet;
  readonly nestedRequired?: readonly string[];
  readonly description?: string;
}

export interface AttrSet {
  readonly name: string;
  readonly byId: ReadonlyMap<number, AttrDef>;
  readonly byName: ReadonlyMap<string, AttrDef>;
  readonly defs: readonly AttrDef[];
}

export function attrSet(name: string, defs: AttrDef[]): AttrSet {
  const byId = new Map<number, AttrDef>();
  const byName = new Map<string, AttrDef>();
  for (const d of defs) {
    if (byId.has(d.id) || byName.has(d.name)) throw new Error(`attribute set ${name}: duplicate ${d.name}`);
    if (d.id < 1 || d.id > 0x3fff) throw new Error(`attribute set ${name}: bad id ${d.id}`);
    byId.set(d.id, d);
    byName.set(d.name, d);
  }
  return { name, byId, byName, defs };
}

/** What one message may carry: names of allowed attributes and which of them are required. */
export interface MessagePolicy {
  readonly allowed: readonly string[];
  readonly required?: readonly string[];
}

export type AttrValue = number | string | boolean | Uint8Array | AttrValues;
export interface AttrValues {
  [name: string]: AttrValue;
}

const FIXED_LENGTH: Partial<Record<AttrKind, number>> = { u8: 1, u16: 2, u32: 4, u64: 8, ipv4: 4, flag: 0 };
const KIND_MAX: Partial<Record<AttrKind, number>> = {
  u8: 0xff,
  u16: 0xffff,
  u32: 0xffffffff,
  u64: Number.MAX_SAFE_INTEGER,
  ipv4: 0xffffffff,
};

function dv(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * Parses and validates attributes against `set` and `policy`. Errors carry the
 * errno the kernel would use (-EINVAL for unknown/malformed/missing attributes,
 * -ERANGE for an integer out of its range) and the attribute's byte offset.
 */
export function validateAttrs(
  set: AttrSet,
  policy: MessagePolicy,
  buf: Uint8Array,
  baseOffset: number,
  context: string,
): AttrValues | NetlinkParseError {
  const raw = parseAttrs(buf, baseOffset);
  if (raw instanceof NetlinkParseError) return raw;
  return validateRaw(set, policy, raw, context);
}

function validateRaw(set: AttrSet, policy: MessagePolicy, raw: RawAttr[], context: string): AttrValues | NetlinkParseError {
  const out: AttrValues = {};
  const allowed = new Set(policy.allowed);
  for (const a of raw) {
    const def = set.byId.get(a.type);
    if (def === undefined) return new NetlinkParseError(Errno.EINVAL, `${context}: unknown attribute type ${a.type}`, a.offset);
    if (!allowed.has(def.name)) return new NetlinkParseError(Errno.EINVAL, `${context}: attribute ${def.name} is not valid here`, a.offset);
    if (out[def.name] !== undefined) return new NetlinkParseError(Errno.EINVAL, `${context}: attribute ${def.name} given twice`, a.offset);
    const value = decodeValue(def, a, context);
    if (value instanceof NetlinkParseError) return value;
    out[def.name] = value;
  }
  for (const name of policy.required ?? []) {
    if (out[name] === undefined) return new NetlinkParseError(Errno.EINVAL, `${context}: missing attribute ${name}`, -1);
  }
  return out;
}

function decodeValue(def: AttrDef, a: RawAttr, context: string): AttrValue | NetlinkParseError {
  const bad = (errno: number, text: string) => new NetlinkParseError(errno, `${context}: ${def.name} ${text}`, a.offset);
  if (a.nested !== (def.kind === 'nested')) return bad(Errno.EINVAL, a.nested ? 'must not be nested' : 'must be nested');
  const fixed = FIXED_LENGTH[def.kind];
  if (fixed !== undefined && a.data.length !== fixed) return bad(Errno.EINVAL, `has length ${a.data.length}, expected ${fixed}`);
  const v = dv(a.data);
  let n: number;
  switch (def.kind) {
    case 'flag':
      return true;
    case 'u8':
      n = a.data[0]!;
      break;
    case 'u16':
      n = v.getUint16(0, true);
      break;
    case 'u32':
      n = v.getUint32(0, true);
      break;
    case 'ipv4':
      return v.getUint32(0, false);
    case 'u64': {
      const big = v.getBigUint64(0, true);
      if (big > BigInt(Number.MAX_SAFE_INTEGER)) return bad(Errno.ERANGE, `= ${big} exceeds 2^53 - 1`);
      n = Number(big);
      break;
    }
    case 'string': {
      const end = a.data.indexOf(0);
      const len = end < 0 ? a.data.length : end;
      if (end >= 0 && end !== a.data.length - 1) return bad(Errno.EINVAL, 'has bytes after its NUL');
      if (len < (def.minLen ?? 0) || len > (def.maxLen ?? 0xffff)) return bad(Errno.EINVAL, `length ${len} outside [${def.minLen ?? 0}, ${def.maxLen ?? 0xffff}]`);
      const text = decodeString(a.data);
      if (!/^[\x20-\x7e]*$/.test(text)) return bad(Errno.EINVAL, 'is not printable ASCII');
      return text;
    }
    case 'binary':
      if (a.data.length < (def.minLen ?? 0) || a.data.length > (def.maxLen ?? 0xffff)) {
        return bad(Errno.EINVAL, `length ${a.data.length} outside [${def.minLen ?? 0}, ${def.maxLen ?? 0xffff}]`);
      }
      return a.data.slice();
    case 'nested': {
      const inner = parseAttrs(a.data, a.offset + 4);
      if (inner instanceof NetlinkParseError) return inner;
      const set = def.nested!;
      return validateRaw(set, { allowed: set.defs.map((d) => d.name), required: def.nestedRequired ?? [] }, inner, `${context}.${def.name}`);
    }
  }
  if ((def.min !== undefined && n < def.min) || (def.max !== undefined && n > def.max)) {
    return bad(Errno.ERANGE, `= ${n} out of range [${def.min ?? 0}, ${def.max ?? KIND_MAX[def.kind]}]`);
  }
  return n;
}

/** Thrown by encodeAttrs for a value the policy would refuse: a programming error of the sender. */
export class AttrEncodeError extends Error {
  override readonly name = 'AttrEncodeError';
}

/** Encodes `values` (names of `set`) in the order of the set's definitions. */
export function encodeAttrs(set: AttrSet, values: AttrValues): Uint8Array {
  const w = new AttrWriter();
  writeAttrs(w, set, values);
  return w.bytes();
}

function writeAttrs(w: AttrWriter, set: AttrSet, values: AttrValues): void {
  for (const name of Object.keys(values)) {
    if (!set.byName.has(name)) throw new AttrEncodeError(`attribute set ${set.name} has no ${name}`);
  }
  for (const def of set.defs) {
    const value = values[def.name];
    if (value === undefined) continue;
    const fail = (why: string): never => {
      throw new AttrEncodeError(`${set.name}.${def.name}: ${why}`);
    };
    switch (def.kind) {
      case 'flag':
        if (value !== true) fail('a flag is true or absent');
        w.flag(def.id);
        break;
      case 'u8':
      case 'u16':
      case 'u32':
      case 'u64':
      case 'ipv4': {
        if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > KIND_MAX[def.kind]!) fail(`${String(value)} is not a ${def.kind}`);
        const n = value as number;
        if ((def.min !== undefined && n < def.min) || (def.max !== undefined && n > def.max)) fail(`${n} out of range`);
        if (def.kind === 'u8') w.u8(def.id, n);
        else if (def.kind === 'u16') w.u16(def.id, n);
        else if (def.kind === 'u32') w.u32(def.id, n);
        else if (def.kind === 'u64') w.u64(def.id, n);
        else w.ipv4(def.id, n);
        break;
      }
      case 'string':
        if (typeof value !== 'string') fail('not a string');
        w.string(def.id, value as string);
        break;
      case 'binary':
        if (!(value instanceof Uint8Array)) fail('not bytes');
        w.raw(def.id, value as Uint8Array);
        break;
      case 'nested':
        if (typeof value !== 'object' || value instanceof Uint8Array) fail('not a nested value');
        w.nest(def.id, (inner) => writeAttrs(inner, def.nested!, value as AttrValues));
        break;
    }
  }
}
