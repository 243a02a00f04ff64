/**
 * The register words of the control tables' entries (hw/netfpga-spec register map),
 * built field by field in one place for the control server (netlink requests) and the
 * experiments' configurator (tools/experiments/configure.ts), which writes the same
 * entries straight through the register driver. A heartbeat's payload entry must be
 * written before its table entry (whose valid bit makes the manager use it); both
 * writers keep that order.
 */
import { packEntry, tableSpec } from '../pipeline/regs/register-map.ts';

export interface TargetEntry {
  /** Numbers as the register map holds them: an IPv4 address as an unsigned 32-bit value, IPPROTO_*. */
  ip: number;
  proto: number;
  port: number;
  svcId: number;
  critical: boolean;
}

export function targetEntryWords(e: TargetEntry): Uint32Array {
  return packEntry(tableSpec('targetTable'), {
    dstIp: e.ip,
    proto: e.proto,
    dstPort: e.port,
    serviceId: e.svcId,
    critical: e.critical ? 1 : 0,
    valid: 1,
  });
}

export interface ServiceEntry {
  ip: number;
  proto: number;
  port: number;
  backupIp: number;
  backupPort: number;
}

export function serviceEntryWords(e: ServiceEntry): Uint32Array {
  return packEntry(tableSpec('serviceTable'), {
    svcIp: e.ip,
    proto: e.proto,
    svcPort: e.port,
    valid: 1,
    backupIp: e.backupIp,
    backupPort: e.backupPort,
  });
}

export interface HeartbeatEntry {
  svcId: number;
  /** The table's `kind` enum value (host, icmp, udp, raw). */
  kind: number;
  targetIp: number;
  /** The target's MAC as the table's two fields; zeros when not given. */
  targetMac: { hi: number; lo: number };
  udpPort: number;
  intervalCycles: number;
  thresholdMilli: number;
  learnSamples: number;
  payloadLength: number;
}

export function heartbeatEntryWords(e: HeartbeatEntry): Uint32Array {
  return packEntry(tableSpec('heartbeatTable'), {
    serviceId: e.svcId,
    kind: e.kind,
    valid: 1,
    targetIp: e.targetIp,
    targetMacHi: e.targetMac.hi,
    targetMacLo: e.targetMac.lo,
    udpPort: e.udpPort,
    intervalCycles: e.intervalCycles,
    thresholdMilli: e.thresholdMilli,
    learnSamples: e.learnSamples,
    payloadLength: e.payloadLength,
  });
}
