/**
 * The TAP path through the real NIC model, as tools/bench/tap.ts measures it:
 *   ns A - TAP - [nf0  FatriotNic  dma0] - TAP - ns B
 * with the real-time driver in this process. Kernel ping crosses it both ways, the
 * NIC's counters count every frame, and the bench returns its SPEC 8 keys measured
 * in one run next to the veth pair.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { moveTapToNetns } from '../../src/dataplane/tap-netns.ts';
import { TapPort } from '../../src/dataplane/tap.ts';
import { benchTap, nicForwarder, type NicForwarderStats } from '../../tools/bench/tap.ts';
import { addNetns, delNetns, linkNames, listNetns, netnsSkipReason, pingAsync, uniquePrefix } from '../helpers/netns.ts';

const skipReason = netnsSkipReason(['ping']);
if (skipReason !== null) console.warn(`skipping TAP NIC forwarder tests: ${skipReason}`);
const benchSkipReason = skipReason ?? netnsSkipReason(['iperf3']);
if (skipReason === null && benchSkipReason !== null) console.warn(`skipping the TAP bench test: ${benchSkipReason}`);

describe.skipIf(skipReason !== null)('the Fatriot NIC model between two TAPs', () => {
  const prefix = uniquePrefix('tf');
  const nsA = `${prefix}a`;
  const nsB = `${prefix}b`;
  const ports: TapPort[] = [];
  let cleanup: (() => void) | void = undefined;

  afterEach(() => {
    cleanup?.();
    cleanup = undefined;
    for (const p of ports.splice(0)) p.close();
    delNetns(nsA);
    delNetns(nsB);
    expect(listNetns().filter((ns) => ns.startsWith(prefix))).toEqual([]);
    expect(linkNames().filter((l) => l.startsWith(prefix))).toEqual([]);
  });

  it('forwards wire <-> host like a NIC: ping crosses nf0 -> dma0 and back, every frame counted', async () => {
    addNetns(nsA);
    addNetns(nsB);
    const a = new TapPort({ name: `${prefix}-wire` });
    ports.push(a);
    const b = new TapPort({ name: `${prefix}-host`, backend: a.backendKind });
    ports.push(b);
    moveTapToNetns(a.name, nsA, { addresses: ['10.77.102.1/24'] });
    moveTapToNetns(b.name, nsB, { addresses: ['10.77.102.2/24'] });
    const stats: NicForwarderStats = { maxLagUs: 0 };
    cleanup = nicForwarder('fatriot', stats)(a, b);

    const result = await pingAsync(nsA, '10.77.102.2', { count: 5, deadlineS: 5 });
    expect(result.received).toBe(5);
    expect(result.rttUs).toHaveLength(5);
    const fromA = a.rxFrames;
    const fromB = b.rxFrames;
    cleanup?.();
    cleanup = undefined;
    // ARP both ways plus 5 echo requests / replies; the NIC passed each frame it got.
    expect(fromA).toBeGreaterThanOrEqual(6);
    expect(fromB).toBeGreaterThanOrEqual(6);
    expect(stats.counters).toMatchObject({
      'nf0.rxPackets': fromA,
      'dma0.txPackets': fromA,
      'dma0.rxPackets': fromB,
      'nf0.txPackets': fromB,
    });
    expect(b.txFrames).toBe(fromA);
    expect(a.txFrames).toBe(fromB);
  });
});

describe.skipIf(benchSkipReason !== null)('benchTap', () => {
  it('measures the TAP path through the NIC model and the veth pair in one run, with the SPEC 8 keys', async () => {
    const r = await benchTap({ durationS: 1, pingCount: 20 });
    expect(r.forwarder).toBe('fatriot-nic');
    for (const k of ['pps_64B', 'gbps_1400B', 'rtt_us_p50', 'rtt_us_p99', 'veth_pps_64B', 'veth_rtt_us_p50'] as const) {
      expect(Number.isFinite(r[k]), k).toBe(true);
      expect(r[k], k).toBeGreaterThan(0);
    }
    expect(r.rtt_us_p99).toBeGreaterThanOrEqual(r.rtt_us_p50);
    // Maximum forwarding rates: the full-load trial is one of those they are the highest of.
    expect(r.pps_64B).toBeGreaterThanOrEqual(r.pps_64B_full_load);
    expect(r.veth_pps_64B).toBeGreaterThanOrEqual(r.veth_pps_64B_full_load);
    expect(r.pps_64B_full_load).toBeGreaterThan(0);
    // The frames really went through the model: its counters saw the blasts.
    expect(r.nic_counters!['nf0.rxPackets']).toBeGreaterThan(100);
    expect(r.nic_counters!['dma0.txPackets']).toBeGreaterThan(100);
    const id = (process.pid % 36 ** 3).toString(36);
    expect(listNetns().filter((ns) => ns.startsWith(`bt${id}`))).toEqual([]);
  });
});

describe('benchTap options', () => {
  it('refuses a fractional duration before it creates anything (iperf3 -t 0 would send forever)', async () => {
    await expect(benchTap({ durationS: 0.5 })).rejects.toThrow('durationS must be a whole number of seconds >= 1, got 0.5');
  });
});
