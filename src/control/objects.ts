/**
 * The control API's objects as users see them (client library, `-j` output,
 * configuration files): addresses as text, protocols and modes by name, times
 * in ns, ratios as numbers. Conversions to and from wire attributes live here
 * and only here.
 */
import { formatIpv4, formatMac, parseIpv4, parseMac } from '../pipeline/wire/address.ts';
import { FAILSAFE_MODES, HEARTBEAT_KINDS, HEARTBEAT_STATES, IPPROTO, type FailsafeMode, type HeartbeatKind, type ProtoName } from './family.ts';
import type { AttrValues } from './policy.ts';

export type Proto = ProtoName | number;

export interface Target {
  ip: string;
  proto: Proto;
  /** 0: any port (ICMP). */
  port: number;
  svcId: number;
  critical: boolean;
}
export interface TargetEntry extends Target {
  index: number;
}

export interface Heartbeat {
  svcId: number;
  kind: HeartbeatKind;
  /** Target address; omitted: the svc's target address, or the config host address for `host`. */
  target?: string;
  mac?: string;
  /** UDP destination port (kind udp). */
  port?: number;
  /** Message bytes as hex (udp payload, raw message). */
  payload?: string;
  intervalNs: number;
  /** RTT_last / RTT_avg above which fail-safe activates (Fatriot 3.4). */
  threshold: number;
  learnSamples?: number;
}
export interface HeartbeatEntry extends Heartbeat {
  index: number;
  target: string;
  learnSamples: number;
  intervalCycles: number;
  rttAvgNs: number;
  rttLastNs: number;
  samples: number;
  state: (typeof HEARTBEAT_STATES)[number] | string;
  ratio: number;
  failsafeActive: boolean;
}

export interface Service {
  ip: string;
  proto: Proto;
  /** 0: any port. */
  port: number;
  backupIp: string;
  /** 0: keep the original port. */
  backupPort: number;
}
export interface ServiceEntry extends Service {
  index: number;
}

export interface FailsafeEntry {
  svcId: number;
  mode: FailsafeMode;
  active: boolean;
}

export interface CounterEntry {
  name: string;
  group: string;
  index: number;
  value: number;
}

export interface PortEntry {
  index: number;
  name: string;
  kind: string;
  up: boolean;
  rxPackets: number;
  rxBytes: number;
  txPackets: number;
  txBytes: number;
}

export interface NeighborEntry {
  index: number;
  ip: string;
  svcId: number;
  port: number;
  mac: string;
  capacity: number;
  load: number;
  lastSeenNs: number;
  alive: boolean;
}

export interface NicConfig {
  relayIp: string;
  relayPortBase: number;
  relayPortCount: number;
  nicMac: string;
  hostIp: string;
  announcePort: number;
  capacity: number;
  announceIntervalNs: number;
}
export interface NicConfigState extends NicConfig {
  clockHz: number;
  cycle: number;
}

/** Notifications of the "events" group; `cycle` is model time, `timeUs` wall time at the server (µs since the epoch). */
export type ControlEvent =
  | { kind: 'failsafe'; svcId: number; active: boolean; cause: string; cycle: number; timeUs: number }
  | {
      kind: 'heartbeat';
      svcId: number;
      rttCycles: number;
      rttNs: number;
      rttAvgCycles: number;
      rttAvgNs: number;
      ratio: number;
      timedOut: boolean;
      cycle: number;
      timeUs: number;
    }
  | { kind: 'neighbor'; ip: string; svcId: number; up: boolean; cycle: number; timeUs: number };

export function protoNumber(p: Proto): number {
  if (typeof p === 'number') return p;
  const n = IPPROTO[p];
  if (n === undefined) throw new RangeError(`unknown protocol ${String(p)}`);
  return n;
}

export function protoName(n: number): Proto {
  for (const [k, v] of Object.entries(IPPROTO)) if (v === n) return k as ProtoName;
  return n;
}

export function hexToBytes(hex: string): Uint8Array {
  const clean = hex.replace(/^0x/i, '').replace(/[\s:]/g, '');
  if (clean.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(clean)) throw new RangeError(`not a hex byte string: ${JSON.stringify(hex)}`);
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function bytesToHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

export function thresholdToMilli(ratio: number): number {
  if (!Number.isFinite(ratio) || ratio <= 0) throw new RangeError(`threshold must be a positive ratio, got ${ratio}`);
  return Math.round(ratio * 1000);
}

const n = (v: unknown): number => (typeof v === 'number' ? v : 0);

export function targetToAttrs(t: Target): AttrValues {
  const out: AttrValues = { ip: parseIpv4(t.ip), proto: protoNumber(t.proto), port: t.port, svcId: t.svcId };
  if (t.critical) out.critical = true;
  return out;
}

export function targetFromAttrs(a: AttrValues): TargetEntry {
  return { index: n(a.index), ip: formatIpv4(n(a.ip)), proto: protoName(n(a.proto)), port: n(a.port), svcId: n(a.svcId), critical: a.critical === true };
}

export function heartbeatToAttrs(h: Heartbeat): AttrValues {
  const kind = HEARTBEAT_KINDS.indexOf(h.kind);
  if (kind < 0) throw new RangeError(`unknown heartbeat kind ${String(h.kind)}`);
  const out: AttrValues = { svcId: h.svcId, hbKind: kind, intervalNs: h.intervalNs, thresholdMilli: thresholdToMilli(h.threshold) };
  if (h.target !== undefined) out.ip = parseIpv4(h.target);
  if (h.mac !== undefined) out.mac = parseMac(h.mac);
  if (h.port !== undefined) out.port = h.port;
  if (h.payload !== undefined && h.payload !== '') out.payload = hexToBytes(h.payload);
  if (h.learnSamples !== undefined) out.learnSamples = h.learnSamples;
  return out;
}

export function heartbeatFromAttrs(a: AttrValues): HeartbeatEntry {
  const e: HeartbeatEntry = {
    index: n(a.index),
    svcId: n(a.svcId),
    kind: HEARTBEAT_KINDS[n(a.hbKind)] ?? 'icmp',
    target: formatIpv4(n(a.ip)),
    intervalNs: n(a.intervalNs),
    threshold: n(a.thresholdMilli) / 1000,
    learnSamples: n(a.learnSamples),
    intervalCycles: n(a.intervalCycles),
    rttAvgNs: n(a.rttAvgNs),
    rttLastNs: n(a.rttLastNs),
    samples: n(a.samples),
    state: HEARTBEAT_STATES[n(a.hbState)] ?? String(n(a.hbState)),
    ratio: n(a.ratioMilli) / 1000,
    failsafeActive: n(a.failsafeActive) === 1,
  };
  if (a.mac instanceof Uint8Array) e.mac = formatMac(a.mac);
  if (a.port !== undefined) e.port = n(a.port);
  if (a.payload instanceof Uint8Array) e.payload = bytesToHex(a.payload);
  return e;
}

export function serviceToAttrs(s: Service): AttrValues {
  return { ip: parseIpv4(s.ip), proto: protoNumber(s.proto), port: s.port, backupIp: parseIpv4(s.backupIp), backupPort: s.backupPort };
}

export function serviceFromAttrs(a: AttrValues): ServiceEntry {
  return {
    index: n(a.index),
    ip: formatIpv4(n(a.ip)),
    proto: protoName(n(a.proto)),
    port: n(a.port),
    backupIp: formatIpv4(n(a.backupIp)),
    backupPort: n(a.backupPort),
  };
}

export function failsafeFromAttrs(a: AttrValues): FailsafeEntry {
  return { svcId: n(a.svcId), mode: FAILSAFE_MODES[n(a.failsafeMode)] ?? 'auto', active: n(a.active) === 1 };
}

export function portFromAttrs(a: AttrValues): PortEntry {
  return {
    index: n(a.index),
    name: String(a.name ?? ''),
    kind: String(a.portKind ?? ''),
    up: n(a.linkUp) === 1,
    rxPackets: n(a.rxPackets),
    rxBytes: n(a.rxBytes),
    txPackets: n(a.txPackets),
    txBytes: n(a.txBytes),
  };
}

export function neighborFromAttrs(a: AttrValues): NeighborEntry {
  return {
    index: n(a.index),
    ip: formatIpv4(n(a.ip)),
    svcId: n(a.svcId),
    port: n(a.port),
    mac: a.mac instanceof Uint8Array ? formatMac(a.mac) : '00:00:00:00:00:00',
    capacity: n(a.capacity),
    load: n(a.load),
    lastSeenNs: n(a.lastSeenNs),
    alive: n(a.alive) === 1,
  };
}

export function configToAttrs(c: Partial<NicConfig>): AttrValues {
  const out: AttrValues = {};
  if (c.relayIp !== undefined) out.relayIp = parseIpv4(c.relayIp);
  if (c.relayPortBase !== undefined) out.relayPortBase = c.relayPortBase;
  if (c.relayPortCount !== undefined) out.relayPortCount = c.relayPortCount;
  if (c.nicMac !== undefined) out.nicMac = parseMac(c.nicMac);
  if (c.hostIp !== undefined) out.hostIp = parseIpv4(c.hostIp);
  if (c.announcePort !== undefined) out.announcePort = c.announcePort;
  if (c.capacity !== undefined) out.capacity = c.capacity;
  if (c.announceIntervalNs !== undefined) out.announceIntervalNs = c.announceIntervalNs;
  return out;
}

export function configFromAttrs(a: AttrValues): NicConfigState {
  return {
    relayIp: formatIpv4(n(a.relayIp)),
    relayPortBase: n(a.relayPortBase),
    relayPortCount: n(a.relayPortCount),
    nicMac: a.nicMac instanceof Uint8Array ? formatMac(a.nicMac) : '00:00:00:00:00:00',
    hostIp: formatIpv4(n(a.hostIp)),
    announcePort: n(a.announcePort),
    capacity: n(a.capacity),
    announceIntervalNs: n(a.announceIntervalNs),
    clockHz: n(a.clockHz),
    cycle: n(a.cycle),
  };
}
