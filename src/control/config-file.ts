/**
 * The whole configuration of a NIC as one JSON file (`fatriot save`, `fatriot
 * restore`, `fatriot daemon --config`). A file is validated completely (schema,
 * addresses, table capacities, duplicates, per-kind rules) before anything is
 * applied, so a bad file changes nothing.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { fatriotRegisterMap } from '../pipeline/regs/register-map.ts';
import { tryParseIpv4, tryParseMac } from '../pipeline/wire/address.ts';
import { parseDuration } from './cli/args.ts';
import type { FatriotClient } from './client.ts';
import { FAILSAFE_MODES, HEARTBEAT_KINDS, IPPROTO, MAX_PAYLOAD_BYTES, MAX_SERVICE_ID } from './family.ts';
import type { Heartbeat, NicConfig, Service, Target } from './objects.ts';
import { protoNumber } from './objects.ts';

export const CONFIG_FILE_VERSION = 1;

const ip = z.string().refine((s) => tryParseIpv4(s) >= 0, 'not an IPv4 address');
const mac = z.string().refine((s) => tryParseMac(s) !== null, 'not a MAC address');
const port = z.number().int().min(0).max(65535);
const svcId = z.number().int().min(0).max(MAX_SERVICE_ID);
const proto = z.union([z.enum(Object.keys(IPPROTO) as [keyof typeof IPPROTO, ...(keyof typeof IPPROTO)[]]), z.number().int().min(1).max(255)]);
/** A duration as ns, or as text ("500ms") for hand-written files. */
const durationNs = z.union([z.number(), z.string()]).transform((v, ctx) => {
  if (typeof v === 'number') {
    if (Number.isSafeInteger(v) && v > 0) return v;
    ctx.addIssue({ code: 'custom', message: `${v} is not a positive whole number of ns` });
    return z.NEVER;
  }
  try {
    return parseDuration(v);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
    return z.NEVER;
  }
});
const hex = z
  .string()
  .regex(/^([0-9a-fA-F]{2})*$/, 'not hex bytes')
  .refine((s) => s.length / 2 <= MAX_PAYLOAD_BYTES, `longer than ${MAX_PAYLOAD_BYTES} bytes`);

const targetSchema = z.strictObject({ ip, proto, port: port.default(0), svcId, critical: z.boolean().default(false) });
const heartbeatSchema = z.strictObject({
  svcId,
  kind: z.enum(HEARTBEAT_KINDS),
  target: ip.optional(),
  mac: mac.optional(),
  port: port.optional(),
  payload: hex.optional(),
  intervalNs: durationNs,
  threshold: z.number().positive().max(1000),
  learnSamples: z.number().int().min(1).max(65535).optional(),
});
const serviceSchema = z.strictObject({ ip, proto, port: port.default(0), backupIp: ip, backupPort: port.default(0) });
const nicSchema = z.strictObject({
  relayIp: ip.optional(),
  relayPortBase: port.optional(),
  relayPortCount: port.optional(),
  nicMac: mac.optional(),
  hostIp: ip.optional(),
  announcePort: port.optional(),
  capacity: z.number().int().min(0).max(65535).optional(),
  announceIntervalNs: z.union([z.literal(0), durationNs]).optional(),
});

export const configFileSchema = z.strictObject({
  fatriotConfig: z.literal(CONFIG_FILE_VERSION),
  nic: nicSchema.default({}),
  targets: z.array(targetSchema).default([]),
  heartbeats: z.array(heartbeatSchema).default([]),
  services: z.array(serviceSchema).default([]),
  defaultBackup: ip.nullable().default(null),
  failsafe: z.array(z.strictObject({ svcId, mode: z.enum(FAILSAFE_MODES) })).default([]),
});

export interface FatriotConfigFile {
  fatriotConfig: typeof CONFIG_FILE_VERSION;
  nic: Partial<NicConfig>;
  targets: Target[];
  heartbeats: Heartbeat[];
  services: Service[];
  defaultBackup: string | null;
  failsafe: { svcId: number; mode: (typeof FAILSAFE_MODES)[number] }[];
}

export class ConfigFileError extends Error {
  override readonly name = 'ConfigFileError';
}

/** Validates a parsed JSON value; throws ConfigFileError with the first problem as one line. */
export function validateConfig(json: unknown, source = 'config'): FatriotConfigFile {
  const r = configFileSchema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const where = issue.path.length === 0 ? '' : `${issue.path.join('.')}: `;
    throw new ConfigFileError(`${source}: ${where}${issue.message}`);
  }
  const cfg = r.data as FatriotConfigFile;
  const fail = (msg: string): never => {
    throw new ConfigFileError(`${source}: ${msg}`);
  };
  const depth = (name: keyof typeof fatriotRegisterMap.tables) => fatriotRegisterMap.tables[name].depth;
  if (cfg.targets.length > depth('targetTable')) fail(`${cfg.targets.length} targets exceed the ${depth('targetTable')}-entry target table`);
  if (cfg.heartbeats.length > depth('heartbeatTable')) fail(`${cfg.heartbeats.length} heartbeats exceed the ${depth('heartbeatTable')}-entry heartbeat table`);
  if (cfg.services.length > depth('serviceTable')) fail(`${cfg.services.length} services exceed the ${depth('serviceTable')}-entry service table`);

  const seen = new Map<string, number>();
  cfg.targets.forEach((t, i) => {
    if (protoNumber(t.proto) === IPPROTO.icmp && t.port !== 0) fail(`targets.${i}: an icmp target has no port`);
    const key = `${t.ip}/${protoNumber(t.proto)}/${t.port}`;
    if (seen.has(key)) fail(`targets.${i}: same signature as targets.${seen.get(key)}`);
    seen.set(key, i);
  });
  const svcSeen = new Map<number, number>();
  cfg.heartbeats.forEach((h, i) => {
    if (svcSeen.has(h.svcId)) fail(`heartbeats.${i}: second heartbeat for svc ${h.svcId} (heartbeats.${svcSeen.get(h.svcId)})`);
    svcSeen.set(h.svcId, i);
    if (h.kind === 'udp' && h.port === undefined) fail(`heartbeats.${i}: a udp heartbeat needs a port`);
    if (h.kind !== 'udp' && h.port !== undefined) fail(`heartbeats.${i}: a ${h.kind} heartbeat has no port`);
    if (h.kind === 'raw' && (h.payload ?? '') === '') fail(`heartbeats.${i}: a raw heartbeat needs its payload`);
    if (h.kind === 'host' && (h.payload ?? '') !== '') fail(`heartbeats.${i}: a host heartbeat takes no payload`);
    if (h.target === undefined) {
      const hasTarget = h.kind === 'host' ? cfg.nic.hostIp !== undefined : cfg.targets.some((t) => t.svcId === h.svcId);
      if (!hasTarget) fail(`heartbeats.${i}: no target address (give "target", or ${h.kind === 'host' ? 'nic.hostIp' : `a target for svc ${h.svcId}`})`);
    }
  });
  const svcKeys = new Map<string, number>();
  cfg.services.forEach((s, i) => {
    if (protoNumber(s.proto) === IPPROTO.icmp && (s.port !== 0 || s.backupPort !== 0)) fail(`services.${i}: an icmp service has no port`);
    const key = `${s.ip}/${protoNumber(s.proto)}/${s.port}`;
    if (svcKeys.has(key)) fail(`services.${i}: same service as services.${svcKeys.get(key)}`);
    svcKeys.set(key, i);
  });
  const modes = new Set<number>();
  cfg.failsafe.forEach((f, i) => {
    if (modes.has(f.svcId)) fail(`failsafe.${i}: svc ${f.svcId} given twice`);
    modes.add(f.svcId);
  });
  const { relayPortBase, relayPortCount } = cfg.nic;
  if ((relayPortBase ?? 0) + (relayPortCount ?? 0) > 0x10000) fail('nic: relay ports run past 65535');
  return cfg;
}

/** Reads and validates a configuration file; every failure is one ConfigFileError line. */
export function loadConfigFile(path: string): FatriotConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigFileError(`${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ConfigFileError(`${path}: not JSON (${(e as Error).message})`);
  }
  return validateConfig(json, path);
}

/** Reads the NIC's whole configuration through the control API. */
export async function collectConfig(client: FatriotClient): Promise<FatriotConfigFile> {
  const c = await client.config();
  const nic: Partial<NicConfig> = {
    relayIp: c.relayIp,
    relayPortBase: c.relayPortBase,
    relayPortCount: c.relayPortCount,
    nicMac: c.nicMac,
    hostIp: c.hostIp,
    announcePort: c.announcePort,
    capacity: c.capacity,
    announceIntervalNs: c.announceIntervalNs,
  };
  const targets = (await client.targets()).map(({ ip, proto, port, svcId, critical }) => ({ ip, proto, port, svcId, critical }));
  const heartbeats = (await client.heartbeats()).map((h) => {
    const out: Heartbeat = { svcId: h.svcId, kind: h.kind, target: h.target, intervalNs: h.intervalNs, threshold: h.threshold, learnSamples: h.learnSamples };
    if (h.mac !== undefined) out.mac = h.mac;
    if (h.port !== undefined) out.port = h.port;
    if (h.payload !== undefined) out.payload = h.payload;
    return out;
  });
  const services = (await client.services()).map(({ ip, proto, port, backupIp, backupPort }) => ({ ip, proto, port, backupIp, backupPort }));
  const defaultBackup = await client.defaultBackup();
  const failsafe = (await client.failsafe()).filter((f) => f.mode !== 'auto').map(({ svcId, mode }) => ({ svcId, mode }));
  return { fatriotConfig: CONFIG_FILE_VERSION, nic, targets, heartbeats, services, defaultBackup, failsafe };
}

/** Replaces the NIC's configuration by `cfg` (validated): flush, then everything in dependency order. */
export async function applyConfig(client: FatriotClient, cfg: FatriotConfigFile): Promise<void> {
  await client.flush();
  if (Object.keys(cfg.nic).length > 0) await client.configSet(cfg.nic);
  for (const t of cfg.targets) await client.targetAdd(t);
  for (const s of cfg.services) await client.serviceAdd(s);
  if (cfg.defaultBackup !== null) await client.defaultBackupSet(cfg.defaultBackup);
  for (const h of cfg.heartbeats) await client.heartbeatAdd(h);
  for (const f of cfg.failsafe) await client.failsafeSet(f.svcId, f.mode);
}
