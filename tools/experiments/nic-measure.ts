/**
 * Measurements of one NIC on its own, in model time (Fatriot 5.1, Fig. 9(a)): frames
 * offered back to back at 10G line rate on nf0 and delivered to the host on dma0, and
 * the cycles one frame takes from nf0 to dma0 through an idle NIC.
 *
 * Frames are UDP requests to the main service of the Fig. 8 plan, so on a Fatriot NIC
 * configured with `configureServiceTarget` every frame hits the target table as
 * mission-critical and is mirrored by the dual queue: the overhead measured is that of
 * the Fatriot path a protected service really takes.
 */
import { wireBytesPerFrame } from '../../hw/netfpga-spec/index.ts';
import { createMemoryLink } from '../../src/dataplane/memory-link.ts';
import { FIG8_PLAN } from '../../src/host/sim/fig8-testbed.ts';
import type { Port } from '../../src/dataplane/port.ts';
import { WireTiming } from '../../src/pipeline/modules/ethernet-wire.ts';
import { FatriotNic } from '../../src/pipeline/nic/fatriot-nic.ts';
import type { NicShell } from '../../src/pipeline/nic/nic-shell.ts';
import { Simulator } from '../../src/pipeline/sim/simulator.ts';
import { ClockedModule, IDLE } from '../../src/pipeline/sim/module.ts';
import { ReferenceNic } from '../../src/pipeline/nic/reference-nic.ts';
import { buildUdpFrame } from '../../src/pipeline/wire/build.ts';
import { VcdWindow, type NicKind } from './common.ts';
import { NicConfigurator } from './configure.ts';

/** Service ID of the main service in every experiment. */
export const SERVICE_ID = 1;

/** A request from the generator to the main service, `frameBytes` long without FCS. */
export function serviceRequestFrame(frameBytes: number): Uint8Array {
  const p = FIG8_PLAN;
  return buildUdpFrame({
    srcMac: p.tgen.mac,
    dstMac: p.main.serviceMac,
    srcIp: p.tgen.ip,
    dstIp: p.main.serviceIp,
    srcPort: p.tgenPort,
    dstPort: p.servicePort,
    payloadLength: frameBytes - 42,
  });
}

/** Target table entry that makes the main service mission-critical, and the NIC's own addresses. */
export async function configureServiceTarget(cfg: NicConfigurator): Promise<void> {
  const p = FIG8_PLAN;
  await cfg.nicAddresses({ relayIp: p.main.relayIp, relayMac: p.main.relayMac, hostIp: p.main.hostIp });
  await cfg.target({ ip: p.main.serviceIp, proto: 'udp', port: p.servicePort, svcId: SERVICE_ID, critical: true });
  await cfg.service({ ip: p.main.serviceIp, proto: 'udp', port: p.servicePort, backupIp: p.backup.serviceIp, backupPort: 0 });
}

/** A standalone NIC of `kind`; a Fatriot NIC comes configured with the main service as its target. */
export async function standaloneNic(kind: NicKind, options: { trains?: boolean } = {}): Promise<NicShell> {
  const sim = new Simulator(options.trains === false ? { trains: false } : {});
  if (kind === 'reference') return new ReferenceNic({ sim });
  const nic = new FatriotNic({ sim });
  await configureServiceTarget(new NicConfigurator(nic));
  return nic;
}

/**
 * Offers `count` copies of a frame back to back at 10G line rate: frame k starts
 * exactly k frame times (IFG and preamble included) after the first, and is handed to
 * the port in the first whole cycle at or after that start (src/host/sim/README.md
 * "Time on a port"), so the offered rate never drifts below line rate (re-basing each
 * frame on its whole cycle would space 64-byte frames 11 cycles apart at 160 MHz:
 * 14.55 instead of 14.88 Mpps). tools/bench uses it too.
 */
export class LineRateOffer extends ClockedModule {
  sent = 0;
  firstCycle = -1;
  lastCycle = -1;
  private startUnits = -1;
  private readonly timing: WireTiming;
  private readonly frameUnits: number;

  constructor(
    name: string,
    private readonly port: Port,
    private readonly frame: Uint8Array,
    private readonly count: number,
    coreHz: number,
  ) {
    super(name);
    this.timing = new WireTiming(coreHz);
    this.frameUnits = this.timing.frameUnits(frame.length);
  }

  private nextCycle(): number {
    return this.timing.cycleAt(this.startUnits + this.sent * this.frameUnits);
  }

  evaluate(cycle: number): void {
    if (this.sent >= this.count) return;
    if (this.startUnits < 0) this.startUnits = this.timing.unitsAt(cycle + 1);
    const at = this.nextCycle();
    if (at > cycle + 1) return;
    this.port.transmit(this.frame, at);
    if (this.firstCycle < 0) this.firstCycle = at;
    this.lastCycle = at;
    this.sent++;
  }

  commit(cycle: number): number {
    if (this.sent >= this.count) return IDLE;
    if (this.startUnits < 0) return cycle + 1;
    const next = this.nextCycle() - 1;
    return next <= cycle ? cycle + 1 : next;
  }
}

export interface LineRateResult {
  kind: NicKind;
  frameBytes: number;
  offered: number;
  delivered: number;
  /** Frames per model second over the offered span (first to last frame on nf0). */
  offeredFps: number;
  /** Frames per model second delivered to dma0 (first to last delivery). */
  deliveredFps: number;
  /** Delivered throughput counting frame bytes with FCS. */
  deliveredGbps: number;
  /** Same, counting the whole wire time of each frame (preamble, FCS, gap): 10 at line rate. */
  deliveredLineGbps: number;
  modelCycles: number;
  coreHz: number;
  wallSeconds: number;
}

/** Offers `count` frames of `frameBytes` at line rate on nf0 and measures what reaches dma0, in model time. */
export async function measureLineRate(
  kind: NicKind,
  frameBytes: number,
  count: number,
  vcd?: { path: string; maxCycles: number },
): Promise<LineRateResult> {
  // A VCD window opens after configuration: every handshake must be a registered signal then.
  const nic = await standaloneNic(kind, { trains: vcd === undefined });
  const [nf, gen] = createMemoryLink('nf0', 'generator');
  const [dma, host] = createMemoryLink('dma0', 'host');
  nic.attach({ nf: [nf], dma: [dma] });
  let delivered = 0;
  let firstDelivery = -1;
  let lastDelivery = -1;
  host.attach((_frame, cycle) => {
    delivered++;
    if (firstDelivery < 0) firstDelivery = cycle;
    lastDelivery = cycle;
  });
  const source = nic.sim.add(new LineRateOffer('line_rate_offer', gen, serviceRequestFrame(frameBytes), count, nic.coreHz));
  const start = nic.sim.now;
  const window = vcd === undefined ? null : new VcdWindow(vcd.path, nic.sim, nic.clockPeriodNs, vcd.maxCycles, `${kind}_nic`);
  window?.start();
  const t0 = process.hrtime.bigint();
  nic.sim.runUntilIdle();
  window?.stop();
  const wallSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const hz = nic.coreHz;
  const offeredFps = count > 1 && source.lastCycle > source.firstCycle ? ((count - 1) * hz) / (source.lastCycle - source.firstCycle) : 0;
  const deliveredFps = delivered > 1 && lastDelivery > firstDelivery ? ((delivered - 1) * hz) / (lastDelivery - firstDelivery) : 0;
  return {
    kind,
    frameBytes,
    offered: count,
    delivered,
    offeredFps,
    deliveredFps,
    deliveredGbps: (deliveredFps * (frameBytes + 4) * 8) / 1e9,
    deliveredLineGbps: (deliveredFps * wireBytesPerFrame(frameBytes) * 8) / 1e9,
    modelCycles: nic.sim.now - start,
    coreHz: hz,
    wallSeconds,
  };
}

/** Cycles from a frame's first bit on nf0 to its delivery at dma0, through an idle NIC of `kind`. */
export async function measureLatencyCycles(kind: NicKind, frameBytes = 60): Promise<number> {
  const nic = await standaloneNic(kind);
  const [nf, gen] = createMemoryLink('nf0', 'generator');
  const [dma, host] = createMemoryLink('dma0', 'host');
  nic.attach({ nf: [nf], dma: [dma] });
  let at = -1;
  host.attach((_frame, cycle) => {
    at = cycle;
  });
  // Let any configuration traffic settle, then send one frame into an idle NIC.
  nic.sim.runUntilIdle();
  const sentAt = nic.sim.now + 1;
  gen.transmit(serviceRequestFrame(frameBytes), sentAt);
  nic.sim.runUntilIdle();
  if (at < 0) throw new Error(`${kind} NIC: the latency probe frame was not delivered`);
  return at - sentAt;
}
