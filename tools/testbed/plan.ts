/**
 * The testbed's address plan (tools/testbed/README.md): pure data derived from a
 * name prefix, so tests can run beside each other with different prefixes.
 *
 * Fatriot Fig. 8: a traffic generator, a main MEC host and a backup host, each host
 * behind its own Fatriot NIC. Here every machine is a network namespace, the cable
 * between them is a Linux bridge in its own namespace, and each NIC is a Node process
 * holding two TAPs: its nf0 TAP's kernel end joins the bridge, its dma0 TAP's kernel
 * end is the host's network interface. All three machines share one L2 segment,
 * 10.77.0.0/24, as they would on one switch: a NIC is no router.
 */

export type HostRole = 'main' | 'backup';

export interface HostPlan {
  role: HostRole;
  netns: string;
  /** TAP the NIC opens for its host side; its kernel end is the host's interface. */
  dmaTap: string;
  /** TAP the NIC opens for its wire side; its kernel end joins the wire bridge. */
  nfTap: string;
  mac: string;
  /** Host address without prefix length. */
  address: string;
  /** Address the host's NIC answers ARP for when it relays (SPEC 3.4); not configured on any interface. */
  nicRelayAddress: string;
  nicRelayMac: string;
}

export interface TestbedPlan {
  prefix: string;
  prefixLength: number;
  wireNetns: string;
  bridge: string;
  tgen: { netns: string; ifname: string; wirePeer: string; mac: string; address: string };
  main: HostPlan;
  backup: HostPlan;
  /** UDP echo service on both hosts (the paper's echoing VMs). */
  echoPort: number;
  /** Neighbor discovery announcements between NICs (SPEC 3.5). */
  discoveryPort: number;
}

/** Longest prefix that keeps "<prefix>m-dma0" within IFNAMSIZ - 1 = 15 bytes. */
export const MAX_PREFIX_LENGTH = 8;

export function testbedPlan(prefix = 'f'): TestbedPlan {
  if (!/^[a-z][a-z0-9]*$/.test(prefix) || prefix.length > MAX_PREFIX_LENGTH) {
    throw new Error(`testbed prefix must be 1..${MAX_PREFIX_LENGTH} lowercase letters/digits, starting with a letter`);
  }
  const host = (role: HostRole, letter: string, octet: number): HostPlan => ({
    role,
    netns: `${prefix}${role}`,
    dmaTap: `${prefix}${letter}-dma0`,
    nfTap: `${prefix}${letter}-nf0`,
    mac: `02:77:00:00:00:${octet.toString(16).padStart(2, '0')}`,
    address: `10.77.0.${octet}`,
    nicRelayAddress: `10.77.0.${octet + 1}`,
    nicRelayMac: `02:77:00:00:01:${octet.toString(16).padStart(2, '0')}`,
  });
  return {
    prefix,
    prefixLength: 24,
    wireNetns: `${prefix}wire`,
    bridge: 'br0',
    tgen: {
      netns: `${prefix}tgen`,
      ifname: 'eth0',
      wirePeer: 'tgen0',
      mac: '02:77:00:00:00:01',
      address: '10.77.0.1',
    },
    main: host('main', 'm', 10),
    backup: host('backup', 'b', 20),
    echoPort: 7007,
    discoveryPort: 7077,
  };
}

export function allNetns(plan: TestbedPlan): string[] {
  return [plan.tgen.netns, plan.main.netns, plan.backup.netns, plan.wireNetns];
}

export function allTaps(plan: TestbedPlan): string[] {
  return [plan.main.dmaTap, plan.main.nfTap, plan.backup.dmaTap, plan.backup.nfTap];
}
