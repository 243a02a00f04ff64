/**
 * The paper's evaluation environment (Fatriot section 5, Fig. 8) inside one simulator:
 *
 * ```
 *  tgen ──cable── sw:0 ┐
 *                      ├ sw:1 ──cable── main NIC nf0   [dma0] ── main host   (OS 10.0.0.10, VM 10.0.0.11)
 *                      └ sw:2 ──cable── backup NIC nf0 [dma0] ── backup host (OS 10.0.0.20, VM 10.0.0.21)
 * ```
 * One L2 segment, 10.0.0.0/24, on one learning switch; each host's NIC is a NIC, not a
 * router. Each host runs the UDP echo service on port 7007 in a VM with its own address
 * (the paper's service VMs behind Open vSwitch) and, for the Fig. 9 "Host" measurements,
 * the same echo on the host OS's address. The NICs' relay addresses (the fail-safe SNAT
 * source, SPEC 3.4) are in the plan for the NIC factory to configure.
 */
import type { Port } from '../../dataplane/port.ts';
import { createMemoryLink, type MemoryPort } from '../../dataplane/memory-link.ts';
import type { Simulator } from '../../pipeline/sim/simulator.ts';
import { coreClockHz } from '../../../hw/netfpga-spec/index.ts';
import { L2Switch } from './l2-switch.ts';
import { SimHost } from './sim-host.ts';
import { TrafficGenerator } from './traffic-generator.ts';
import { cyclesFromNs, simDefaults } from './timing.ts';
import { UdpEchoService } from './udp-echo-service.ts';

/** The address plan of the simulated Fig. 8 testbed. */
export const FIG8_PLAN = {
  prefixLength: 24,
  /** UDP echo port of every service (as tools/testbed uses). */
  servicePort: 7007,
  /** Generator's UDP source port. */
  tgenPort: 49152,
  tgen: { ip: '10.0.0.1', mac: '02:00:00:00:00:01' },
  main: {
    hostIp: '10.0.0.10',
    hostMac: '02:00:00:00:00:0a',
    serviceIp: '10.0.0.11',
    serviceMac: '02:00:00:00:00:0b',
    relayIp: '10.0.0.110',
    relayMac: '02:00:00:00:00:6e',
  },
  backup: {
    hostIp: '10.0.0.20',
    hostMac: '02:00:00:00:00:14',
    serviceIp: '10.0.0.21',
    serviceMac: '02:00:00:00:00:15',
    relayIp: '10.0.0.120',
    relayMac: '02:00:00:00:00:78',
  },
  /** Switch port of each machine. */
  switchPort: { tgen: 0, main: 1, backup: 2 },
} as const;

export type Fig8HostName = 'main' | 'backup';
export type Fig8HostPlan = (typeof FIG8_PLAN)['main'] | (typeof FIG8_PLAN)['backup'];

/** What the testbed needs of a NIC: the attach API of ReferenceNic (and FatriotNic). */
export interface AttachableNic {
  attach(ports: { nf?: (Port | null)[]; dma?: (Port | null)[] }): void;
}

export type NicFactory<N extends AttachableNic> = (name: Fig8HostName, sim: Simulator, plan: Fig8HostPlan) => N;

export interface Fig8Options<N extends AttachableNic> {
  nicFactory: NicFactory<N>;
  coreHz?: number;
  /** One-way latency of each cable (tgen and NICs to the switch); default simDefaults.cableLatencyNs. */
  cableLatencyCycles?: number;
  /** Latency of the host side links (dma0 to the host); default 0: the DMA model holds the PCIe time. */
  hostLinkLatencyCycles?: number;
  switchLatencyCycles?: number;
  /** Echo service processing delay, cycles; default simDefaults.echoServiceDelayUs. */
  serviceDelayCycles?: number;
  serviceWorkers?: number;
  /** One-way vswitch path to each VM; default simDefaults.vmPathDelayUs. */
  vmPathDelayCycles?: number;
  hostKernelDelayCycles?: number;
  guestKernelDelayCycles?: number;
}

export interface Fig8Machine<N extends AttachableNic> {
  name: Fig8HostName;
  plan: Fig8HostPlan;
  nic: N;
  host: SimHost;
  /** The echo service in the VM (own address and MAC). */
  service: UdpEchoService;
  /** The echo service on the host OS's address. */
  hostService: UdpEchoService;
  /** The NIC's wire port nf0 and its peer end at the switch. */
  nf0: MemoryPort;
  switchSide: MemoryPort;
  /** The NIC's host port dma0 and its peer end at the host. */
  dma0: MemoryPort;
  hostSide: MemoryPort;
}

export interface Fig8Testbed<N extends AttachableNic> {
  sim: Simulator;
  plan: typeof FIG8_PLAN;
  coreHz: number;
  cableLatencyCycles: number;
  switch: L2Switch;
  tgen: TrafficGenerator;
  /** The generator's port and its peer at the switch. */
  tgenPort: MemoryPort;
  tgenSwitchSide: MemoryPort;
  main: Fig8Machine<N>;
  backup: Fig8Machine<N>;
}

export function buildFig8Testbed<N extends AttachableNic>(sim: Simulator, options: Fig8Options<N>): Fig8Testbed<N> {
  const plan = FIG8_PLAN;
  const coreHz = options.coreHz ?? coreClockHz();
  const cable = options.cableLatencyCycles ?? cyclesFromNs(simDefaults.cableLatencyNs, coreHz);
  const hostLink = options.hostLinkLatencyCycles ?? 0;
  const [tgenPort, tgenSwitchSide] = createMemoryLink('tgen.eth0', 'sw.p0', { latencyCycles: cable });

  const machine = (name: Fig8HostName): Fig8Machine<N> => {
    const p = plan[name];
    const [switchSide, nf0] = createMemoryLink(`sw.p${plan.switchPort[name]}`, `${name}.nf0`, { latencyCycles: cable });
    const [dma0, hostSide] = createMemoryLink(`${name}.dma0`, `${name}.host`, { latencyCycles: hostLink });
    const nic = options.nicFactory(name, sim, p);
    nic.attach({ nf: [nf0], dma: [dma0] });
    const host = sim.add(
      new SimHost(name, {
        port: hostSide,
        ip: p.hostIp,
        mac: p.hostMac,
        prefixLength: plan.prefixLength,
        coreHz,
        kernelDelayCycles: options.hostKernelDelayCycles,
      }),
    );
    const common = { port: plan.servicePort, delayCycles: options.serviceDelayCycles, workers: options.serviceWorkers };
    const service = new UdpEchoService(host, {
      ...common,
      name: `${name}.vm.echo`,
      ip: p.serviceIp,
      mac: p.serviceMac,
      pathDelayCycles: options.vmPathDelayCycles,
      guestKernelDelayCycles: options.guestKernelDelayCycles,
    });
    const hostService = new UdpEchoService(host, { ...common, name: `${name}.os.echo` });
    return { name, plan: p, nic, host, service, hostService, nf0, switchSide, dma0, hostSide };
  };

  const main = machine('main');
  const backup = machine('backup');
  const sw = sim.add(
    new L2Switch('switch', {
      ports: [tgenSwitchSide, main.switchSide, backup.switchSide],
      coreHz,
      latencyCycles: options.switchLatencyCycles,
    }),
  );
  const tgen = sim.add(
    new TrafficGenerator('tgen', {
      port: tgenPort,
      ip: plan.tgen.ip,
      mac: plan.tgen.mac,
      prefixLength: plan.prefixLength,
      coreHz,
      srcPort: plan.tgenPort,
    }),
  );
  return {
    sim,
    plan,
    coreHz,
    cableLatencyCycles: cable,
    switch: sw,
    tgen,
    tgenPort,
    tgenSwitchSide,
    main,
    backup,
  };
}
