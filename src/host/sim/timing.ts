/**
 * Time constants of the simulated hosts, switch and cables, and their conversion into
 * model cycles. Host-side numbers are not NetFPGA facts, so they live here rather than in
 * hw/netfpga-spec; each says where it comes from or why it is assumed.
 */
import { coreClockHz } from '../../../hw/netfpga-spec/index.ts';

/** Cycles of the core clock nearest to `ns` nanoseconds. */
export function cyclesFromNs(ns: number, coreHz: number = coreClockHz()): number {
  return Math.round((ns * coreHz) / 1e9);
}

export function cyclesFromUs(us: number, coreHz: number = coreClockHz()): number {
  return cyclesFromNs(us * 1000, coreHz);
}

export function cyclesFromMs(ms: number, coreHz: number = coreClockHz()): number {
  return cyclesFromNs(ms * 1e6, coreHz);
}

/** Microseconds of `cycles` core cycles (6.25 ns each at 160 MHz, Fatriot section 5). */
export function usFromCycles(cycles: number, coreHz: number = coreClockHz()): number {
  return (cycles * 1e6) / coreHz;
}

/** Default delays, in their natural unit; convert with the helpers above. */
export const simDefaults = {
  /**
   * assumed: a cut-through 10G switch's port-to-port latency (first bit in to first bit
   * out); datasheets of 10G cut-through switches give 0.3 to 1 us. 80 cycles at 160 MHz.
   */
  switchLatencyNs: 500,
  /** assumed: a 2 m direct-attach cable at about 5 ns/m. 2 cycles at 160 MHz. */
  cableLatencyNs: 10,
  /**
   * IEEE 802.1D-2004 7.9.2: recommended default ageing time of learned entries, 300 s.
   */
  switchAgeingMs: 300_000,
  /** assumed: per-port egress buffer of the switch (shallow-buffer 10G switches). */
  switchEgressBufferBytes: 1 << 20,
  /**
   * assumed: host kernel time from a frame reaching the driver to the answer (ARP reply,
   * ICMP echo reply) leaving it, or to a UDP datagram sitting in the socket.
   */
  hostKernelDelayUs: 10,
  /** assumed: the same inside a VM's guest kernel. */
  guestKernelDelayUs: 10,
  /**
   * assumed: one direction of the path between the NIC driver and a VM (Open vSwitch,
   * tap, virtio). Fatriot section 5.1 / Fig. 9(b): going through the VM adds about 200 us
   * of RTT, i.e. about 100 us each way.
   */
  vmPathDelayUs: 100,
  /** assumed: a user-space UDP echo (recvfrom, copy, sendto) per request. */
  echoServiceDelayUs: 20,
  /** assumed: requests a service's socket holds while its workers are busy (SO_RCVBUF of small datagrams). */
  socketBufferPackets: 256,
} as const;

/**
 * Linux neighbour (ARP) parameters, net.ipv4.neigh.default.* (Documentation/networking/
 * ip-sysctl.rst and net/ipv4/arp.c arp_tbl): retrans_time_ms 1000, mcast_solicit 3,
 * ucast_solicit 3, base_reachable_time_ms 30000, delay_first_probe_time 5 s,
 * unres_qlen 101, locktime 1 s. Linux draws the reachable time at random in
 * [0.5, 1.5) x base; the model uses the base itself so runs are reproducible.
 */
export const linuxNeighborDefaults = {
  retransMs: 1000,
  mcastProbes: 3,
  ucastProbes: 3,
  reachableMs: 30_000,
  delayFirstProbeMs: 5000,
  unresQlen: 101,
  locktimeMs: 1000,
} as const;

/** Neighbour parameters in cycles, as the stacks use them. */
export interface NeighborParams {
  retransCycles: number;
  mcastProbes: number;
  ucastProbes: number;
  reachableCycles: number;
  delayFirstProbeCycles: number;
  /** Packets queued on an unresolved entry; the oldest is dropped beyond it (Linux __neigh_event_send). */
  unresQlen: number;
  locktimeCycles: number;
}

export function linuxNeighborParams(coreHz: number = coreClockHz()): NeighborParams {
  const d = linuxNeighborDefaults;
  return {
    retransCycles: cyclesFromMs(d.retransMs, coreHz),
    mcastProbes: d.mcastProbes,
    ucastProbes: d.ucastProbes,
    reachableCycles: cyclesFromMs(d.reachableMs, coreHz),
    delayFirstProbeCycles: cyclesFromMs(d.delayFirstProbeMs, coreHz),
    unresQlen: d.unresQlen,
    locktimeCycles: cyclesFromMs(d.locktimeMs, coreHz),
  };
}
