/**
 * Argument words of the iproute2-style grammar: durations, addresses,
 * IP[:PORT], hex bytes, integers, and a reader that walks KEYWORD VALUE pairs.
 */
import { tryParseIpv4, tryParseMac, formatMac } from '../../pipeline/wire/address.ts';

/** Bad command line: printed as one line, exit status 2 (usage) rather than 1 (failure). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const DURATION_UNITS_NS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, ms: 1e6, s: 1e9 };

/** "500ms", "0.1s", "200us", "5s", "250ns" -> nanoseconds (integer). A unit is required. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s)$/.exec(text.trim());
  if (m === null) throw new UsageError(`invalid duration "${text}" (use e.g. 500ms, 0.1s, 200us)`);
  const ns = Math.round(Number(m[1]) * DURATION_UNITS_NS[m[2]!]!);
  if (!Number.isSafeInteger(ns) || ns <= 0) throw new UsageError(`duration "${text}" is out of range`);
  return ns;
}

/** Nanoseconds -> the shortest exact-ish text: 1s, 500ms, 200us, 1.5s, 6.25ns. */
export function formatDuration(ns: number): string {
  if (ns === 0) return '0';
  const units: [string, number][] = [
    ['s', 1e9],
    ['ms', 1e6],
    ['us', 1e3],
  ];
  for (const [unit, size] of units) {
    if (ns >= size) return `${trimNumber(ns / size)}${unit}`;
  }
  return `${trimNumber(ns)}ns`;
}

function trimNumber(v: number): string {
  return String(Math.round(v * 1000) / 1000);
}

export function parseIp(text: string, what = 'address'): string {
  if (tryParseIpv4(text) < 0) throw new UsageError(`invalid IPv4 ${what} "${text}"`);
  return text;
}

export function parseMacText(text: string): string {
  const m = tryParseMac(text);
  if (m === null) throw new UsageError(`invalid MAC address "${text}"`);
  return formatMac(m);
}

/** "10.0.0.2:7" or "10.0.0.2" -> address and port (0 when absent). */
export function parseIpPort(text: string): { ip: string; port: number } {
  const i = text.lastIndexOf(':');
  if (i < 0) return { ip: parseIp(text), port: 0 };
  return { ip: parseIp(text.slice(0, i)), port: parseInteger(text.slice(i + 1), 'port', 1, 65535) };
}

/** Decimal or 0x-hex integer in [min, max]. */
export function parseInteger(text: string, what: string, min: number, max: number): number {
  const t = text.trim();
  const v = /^0x[0-9a-f]+$/i.test(t) ? Number.parseInt(t.slice(2), 16) : /^\d+$/.test(t) ? Number(t) : Number.NaN;
  if (!Number.isSafeInteger(v) || v < min || v > max) throw new UsageError(`invalid ${what} "${text}" (expected ${min}..${max})`);
  return v;
}

export function parseRatio(text: string, what = 'threshold'): number {
  const v = /^\d+(\.\d+)?$/.test(text) ? Number(text) : Number.NaN;
  if (!(v > 0) || v > 1000) throw new UsageError(`invalid ${what} "${text}" (a ratio such as 1.5)`);
  return v;
}

export function parseHexBytes(text: string, maxBytes: number): string {
  const clean = text.replace(/^0x/i, '').replace(/:/g, '');
  if (clean.length === 0 || clean.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(clean)) throw new UsageError(`invalid hex bytes "${text}"`);
  if (clean.length / 2 > maxBytes) throw new UsageError(`${clean.length / 2} bytes exceed the ${maxBytes}-byte heartbeat message`);
  return clean.toLowerCase();
}

/** Walks the words after OBJECT COMMAND, in the manner of iproute2's NEXT_ARG(). */
export class ArgReader {
  private at = 0;
  constructor(
    private readonly words: readonly string[],
    private readonly usage: string,
  ) {}

  get done(): boolean {
    return this.at >= this.words.length;
  }

  peek(): string | undefined {
    return this.words[this.at];
  }

  next(what: string): string {
    const w = this.words[this.at++];
    if (w === undefined) throw new UsageError(`missing ${what}; usage: ${this.usage}`);
    return w;
  }

  /** Consumes `word` if it is next. */
  accept(word: string): boolean {
    if (this.words[this.at] === word) {
      this.at++;
      return true;
    }
    return false;
  }

  unknown(): never {
    throw new UsageError(`unexpected "${this.words[this.at - 1] ?? this.words[this.at]}"; usage: ${this.usage}`);
  }

  end(): void {
    if (!this.done) throw new UsageError(`unexpected "${this.words[this.at]}"; usage: ${this.usage}`);
  }
}
