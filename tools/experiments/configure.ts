/**
 * Configures a Fatriot NIC of an experiment the way its host does: every table is
 * written through the AXI-Lite register map with the control plane's RegisterDriver
 * and the register map's packEntry (src/control/server.ts does the same encoding for
 * `fatriot target add` etc.), never by touching module internals. Register accesses
 * take model time (SPEC 3 item 6), so each operation runs the simulator until the bus
 * has applied it; idle time is skipped, so this costs a handful of evaluated cycles.
 */
import { RegisterDriver } from '../../src/control/driver.ts';
import { heartbeatEntryWords, serviceEntryWords, targetEntryWords } from '../../src/control/entries.ts';
import { IPPROTO } from '../../src/control/family.ts';
import type { AxiLiteBus } from '../../src/pipeline/regs/axi-lite-bus.ts';
import {
  enumValue,
  macToFields,
  packEntry,
  payloadToWords,
  tableSpec,
  unpackEntry,
  type EntryFields,
} from '../../src/pipeline/regs/register-map.ts';
import type { Simulator } from '../../src/pipeline/sim/simulator.ts';
import { parseIpv4, parseMac } from '../../src/pipeline/wire/address.ts';

/** What the configurator needs of a NIC: its simulator, its register bus and its clock. */
export interface RegisterMappedNic {
  readonly sim: Simulator;
  readonly bus: AxiLiteBus;
  readonly coreHz: number;
}

export type ProtoName = 'udp' | 'tcp' | 'icmp';
export type FailsafeModeName = 'auto' | 'on' | 'off';

export interface TargetConfig {
  ip: string;
  proto: ProtoName;
  /** 0 for ICMP. */
  port: number;
  svcId: number;
  critical: boolean;
}

export interface HeartbeatConfig {
  svcId: number;
  kind: 'host' | 'icmp' | 'udp';
  targetIp: string;
  /** Destination MAC of the heartbeats; omitted: broadcast (the heartbeat manager's rule). */
  targetMac?: string;
  /** UDP destination port (kind udp). */
  port?: number;
  payload?: Uint8Array;
  intervalS: number;
  threshold: number;
  learnSamples: number;
}

export interface ServiceConfig {
  ip: string;
  proto: ProtoName;
  port: number;
  backupIp: string;
  /** 0 keeps the original port. */
  backupPort: number;
}

export interface NicAddressConfig {
  relayIp: string;
  relayMac: string;
  hostIp: string;
  /** Relay (SNAT) ports; must stay clear of the heartbeat ports from 0xf000. */
  relayPortBase?: number;
  relayPortCount?: number;
}

export interface HeartbeatStatus {
  rttAvgCycles: number;
  rttLastCycles: number;
  samples: number;
  state: number;
  failsafeActive: boolean;
  ratioMilli: number;
}

export class NicConfigurator {
  readonly driver: RegisterDriver;
  private nextTarget = 0;
  private nextHeartbeat = 0;
  private nextService = 0;
  private readonly heartbeatIndex = new Map<number, number>();

  constructor(readonly nic: RegisterMappedNic) {
    this.driver = new RegisterDriver(nic.bus);
  }

  /** Seconds -> whole core cycles. */
  cycles(seconds: number): number {
    return Math.round(seconds * this.nic.coreHz);
  }

  async nicAddresses(c: NicAddressConfig): Promise<void> {
    const spec = tableSpec('nicConfig');
    const mac = macToFields(parseMac(c.relayMac));
    const f: EntryFields = {
      relayIp: parseIpv4(c.relayIp),
      relayPortBase: c.relayPortBase ?? 40000,
      relayPortCount: c.relayPortCount ?? 4096,
      nicMacHi: mac.hi,
      nicMacLo: mac.lo,
      hostIp: parseIpv4(c.hostIp),
    };
    await this.run(this.driver.writeRegisterSet(spec, packEntry(spec, f)));
  }

  async target(t: TargetConfig): Promise<number> {
    const spec = tableSpec('targetTable');
    const index = this.nextTarget++;
    const words = targetEntryWords({ ip: parseIpv4(t.ip), proto: IPPROTO[t.proto], port: t.port, svcId: t.svcId, critical: t.critical });
    await this.run(this.driver.writeEntry(spec, index, words));
    return index;
  }

  async heartbeat(h: HeartbeatConfig): Promise<number> {
    const spec = tableSpec('heartbeatTable');
    const payloadSpec = tableSpec('heartbeatPayload');
    const index = this.nextHeartbeat++;
    const payload = h.payload ?? new Uint8Array(0);
    const mac = h.targetMac === undefined ? { hi: 0, lo: 0 } : macToFields(parseMac(h.targetMac));
    // Payload first, the entry with its valid bit last, as the control server writes them.
    await this.run(this.driver.writeEntry(payloadSpec, index, payloadToWords(payload, payloadSpec.wordsPerEntry)));
    const words = heartbeatEntryWords({
      svcId: h.svcId,
      kind: enumValue(spec, 'kind', h.kind),
      targetIp: parseIpv4(h.targetIp),
      targetMac: mac,
      udpPort: h.port ?? 0,
      intervalCycles: this.cycles(h.intervalS),
      thresholdMilli: Math.round(h.threshold * 1000),
      learnSamples: h.learnSamples,
      payloadLength: payload.length,
    });
    await this.run(this.driver.writeEntry(spec, index, words));
    this.heartbeatIndex.set(h.svcId, index);
    return index;
  }

  async service(s: ServiceConfig): Promise<number> {
    const spec = tableSpec('serviceTable');
    const index = this.nextService++;
    const words = serviceEntryWords({ ip: parseIpv4(s.ip), proto: IPPROTO[s.proto], port: s.port, backupIp: parseIpv4(s.backupIp), backupPort: s.backupPort });
    await this.run(this.driver.writeEntry(spec, index, words));
    return index;
  }

  /** `fatriot failsafe {on | off | auto} svc ID`. */
  async failsafeMode(svcId: number, mode: FailsafeModeName): Promise<void> {
    const spec = tableSpec('failsafeMode');
    await this.run(this.driver.writeEntry(spec, svcId, packEntry(spec, { mode: enumValue(spec, 'mode', mode) })));
  }

  /** The status fields of the heartbeat entry of `svcId`, read back through the register map. */
  async heartbeatStatus(svcId: number): Promise<HeartbeatStatus> {
    const index = this.heartbeatIndex.get(svcId);
    if (index === undefined) throw new Error(`no heartbeat entry configured for svc ${svcId}`);
    const spec = tableSpec('heartbeatTable');
    const f = unpackEntry(spec, await this.run(this.driver.readEntry(spec, index)));
    return {
      rttAvgCycles: f.rttAvgCycles!,
      rttLastCycles: f.rttLastCycles!,
      samples: f.samples!,
      state: f.state!,
      failsafeActive: f.failsafeActive === 1,
      ratioMilli: f.ratioMilli!,
    };
  }

  /**
   * Runs the simulator until `op` (a batch of bus accesses) has settled. The bus
   * applies accesses at their cycles; their promises settle in microtasks, so the
   * loop yields to the event loop between steps.
   */
  async run<T>(op: Promise<T>): Promise<T> {
    let settled = false;
    const watched = op.finally(() => {
      settled = true;
    });
    // Keep the rejection observed while we step; it is rethrown by the await below.
    watched.catch(() => {});
    const bus = this.nic.bus;
    const sim = this.nic.sim;
    for (let rounds = 0; !settled; rounds++) {
      if (rounds > 10_000) throw new Error('register access did not complete');
      sim.runUntil(sim.now + bus.latencyCycles + bus.pendingCount + 1);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return watched;
  }
}
