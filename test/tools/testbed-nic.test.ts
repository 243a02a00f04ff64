/**
 * The Fig. 8 testbed with the real NIC: every host behind a `fatriot daemon --tap`
 * process (the FatriotNic cycle model on TAP devices). Kernel ping and the UDP echo
 * service through the model, fail-over to the backup host by the NIC's relay when the
 * main service hangs or the main host crashes, and the relayed (NAT'd) frames of the
 * NICs' own pcaps checked by tshark. Packets go only between the namespaces it creates.
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FatriotClient } from '../../src/control/client.ts';
import type { ControlEvent } from '../../src/control/objects.ts';
import {
  fatriotNic,
  nicConfigFor,
  REPO_ROOT,
  RELAY_PORT_BASE,
  testbedDown,
  testbedPlan,
  testbedUp,
  type Testbed,
} from '../../tools/testbed/testbed.ts';
import { linkNames, listNetns, netnsSkipReason, ping, uniquePrefix } from '../helpers/netns.ts';
import { runTshark, tsharkSkipReason } from '../helpers/tshark.ts';

const skipReason = netnsSkipReason(['ping']);
if (skipReason !== null) console.warn(`skipping testbed tests with the real NIC: ${skipReason}`);
else if (tsharkSkipReason !== null) console.warn(`skipping the tshark check of the NICs' pcaps: ${tsharkSkipReason}`);

interface ProbeResult {
  sent: number;
  received: number;
  rttUs: (number | null)[];
  badSource: number;
}

function udpProbe(testbed: Testbed, count: number, intervalMs = 20, timeoutMs = 1000): Promise<ProbeResult> {
  const { plan } = testbed;
  return new Promise((resolve, reject) => {
    execFile(
      'ip',
      [
        'netns', 'exec', plan.tgen.netns, process.execPath, '--import', 'tsx',
        join(REPO_ROOT, 'tools/testbed/udp-probe.ts'), '--host', plan.main.address, '--port', String(plan.echoPort),
        '--count', String(count), '--interval-ms', String(intervalMs), '--timeout-ms', String(timeoutMs),
      ],
      { cwd: REPO_ROOT },
      (error, stdout) => (error ? reject(error) : resolve(JSON.parse(stdout) as ProbeResult)),
    );
  });
}

async function until(what: string, timeoutMs: number, check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function counter(client: FatriotClient, name: string): Promise<number> {
  return (await client.counters()).find((c) => c.name === name)?.value ?? 0;
}

function leftovers(prefix: string): { netns: string[]; links: string[] } {
  const plan = testbedPlan(prefix);
  const taps = [plan.main.dmaTap, plan.main.nfTap, plan.backup.dmaTap, plan.backup.nfTap];
  return { netns: listNetns().filter((ns) => ns.startsWith(prefix)), links: linkNames().filter((l) => taps.includes(l)) };
}

describe('nicConfigFor', () => {
  it('gives each NIC the relay address and MAC of the address plan, a relay port range and the announce port', () => {
    const plan = testbedPlan('f');
    expect(nicConfigFor(plan.main, plan)).toEqual({
      relayIp: '10.77.0.11',
      nicMac: '02:77:00:00:01:0a',
      hostIp: '10.77.0.10',
      relayPortBase: 40000,
      relayPortCount: 4096,
      announcePort: 7077,
      capacity: 100,
      announceIntervalNs: 0,
    });
    expect(nicConfigFor(plan.backup, plan, { announceIntervalNs: 1e9 })).toMatchObject({ relayIp: '10.77.0.21', hostIp: '10.77.0.20', announceIntervalNs: 1e9 });
    // Clear of the heartbeat manager's source ports (0xf000 + entry).
    expect(RELAY_PORT_BASE + 4096).toBeLessThanOrEqual(0xf000);
  });
});

describe.skipIf(skipReason !== null)('testbed with the real Fatriot NIC (fatriot daemon --tap)', () => {
  const prefix = uniquePrefix('tn');
  const stateDir = mkdtempSync(join(tmpdir(), 'fatriot-tn-'));
  const pcapDir = mkdtempSync(join(tmpdir(), 'fatriot-tn-pcap-'));
  const ref = { prefix, stateDir };
  let testbed: Testbed | null = null;
  let main: FatriotClient | null = null;
  let backup: FatriotClient | null = null;
  const events: ControlEvent[] = [];
  const failsafe = (svcId: number): boolean[] => events.filter((e) => e.kind === 'failsafe' && e.svcId === svcId).map((e) => (e as { active: boolean }).active);

  beforeAll(async () => {
    testbed = await testbedUp({ ...ref, nic: fatriotNic({ pcapDir }), handleSignals: false });
    main = await FatriotClient.connect(testbed.socketPath('main'));
    backup = await FatriotClient.connect(testbed.socketPath('backup'));
    main.on('event', (e) => events.push(e));
    await main.subscribe('events');
  });

  afterAll(async () => {
    main?.close();
    backup?.close();
    await testbedDown(ref);
    rmSync(stateDir, { recursive: true, force: true });
    rmSync(pcapDir, { recursive: true, force: true });
    expect(leftovers(prefix)).toEqual({ netns: [], links: [] });
  });

  it('applies the address plan to each NIC before it says ready', async () => {
    const plan = testbed!.plan;
    expect(await main!.config()).toMatchObject({ relayIp: plan.main.nicRelayAddress, nicMac: plan.main.nicRelayMac, hostIp: plan.main.address, relayPortBase: 40000, announcePort: 7077 });
    expect(await backup!.config()).toMatchObject({ relayIp: plan.backup.nicRelayAddress, hostIp: plan.backup.address });
  });

  it('carries kernel ping and the UDP echo service through the NIC model, frame for frame', async () => {
    const { plan } = testbed!;
    // ARP first, so the counted exchange below is ICMP only.
    expect(ping(plan.tgen.netns, plan.main.address, { count: 1, deadlineS: 5 }).received).toBe(1);
    const names = ['nf0.rxPackets', 'dma0.txPackets', 'dma0.rxPackets', 'nf0.txPackets'];
    const before = await Promise.all(names.map((n) => counter(main!, n)));
    const echo = ping(plan.tgen.netns, plan.main.address, { count: 5, intervalS: 0.05 });
    expect(echo.received).toBe(5);
    const after = await Promise.all(names.map((n) => counter(main!, n)));
    // Each request crossed nf0 -> dma0 and each reply dma0 -> nf0 (a stray ARP refresh may add one or two).
    after.forEach((v, i) => {
      expect(v - before[i]!).toBeGreaterThanOrEqual(5);
      expect(v - before[i]!).toBeLessThanOrEqual(7);
    });
    const udp = await udpProbe(testbed!, 10);
    expect(udp).toMatchObject({ sent: 10, received: 10, badSource: 0 });
    expect(ping(plan.tgen.netns, plan.backup.address, { count: 3, intervalS: 0.05, deadlineS: 5 }).received).toBe(3);
  });

  it('relays a hung service to the backup host and back, with the service address unchanged for the client', async () => {
    const { plan } = testbed!;
    await main!.targetAdd({ ip: plan.main.address, proto: 'udp', port: plan.echoPort, svcId: 1, critical: true });
    await main!.serviceAdd({ ip: plan.main.address, proto: 'udp', port: plan.echoPort, backupIp: plan.backup.address, backupPort: 0 });
    await main!.heartbeatAdd({ svcId: 1, kind: 'udp', target: plan.main.address, mac: plan.main.mac, port: plan.echoPort, payload: '6869', intervalNs: 100e6, threshold: 1.5, learnSamples: 3 });
    await until('the heartbeat to learn RTT_avg', 5000, async () => (await main!.heartbeats(1))[0]!.rttAvgNs > 0);
    const backupDeliveredBefore = await counter(backup!, 'dma0.txPackets');

    testbed!.stopService('main', 'hang');
    await until('fail-safe on', 3000, async () => (await main!.failsafe(1))[0]!.active);
    expect(failsafe(1)).toContain(true);
    const relayed = await udpProbe(testbed!, 10);
    expect(relayed).toMatchObject({ sent: 10, received: 10, badSource: 0 });
    // The backup host answered them: its NIC delivered at least these requests to it.
    expect((await counter(backup!, 'dma0.txPackets')) - backupDeliveredBefore).toBeGreaterThanOrEqual(10);

    await testbed!.resumeService('main');
    await until('fail-safe off after the service resumed', 5000, async () => !(await main!.failsafe(1))[0]!.active);
    expect((await udpProbe(testbed!, 5)).received).toBe(5);
  });

  it('delivers every request after detection when the main host crashes', async () => {
    const { plan } = testbed!;
    await main!.heartbeatAdd({ svcId: 2, kind: 'host', target: plan.main.address, mac: plan.main.mac, intervalNs: 100e6, threshold: 1.5, learnSamples: 3 });
    await until('the host heartbeat to learn RTT_avg', 5000, async () => (await main!.heartbeats(2))[0]!.rttAvgNs > 0);
    testbed!.crashHost('main');
    try {
      await until('fail-safe on for the service after the crash', 3000, async () => (await main!.failsafe(1))[0]!.active);
      expect(ping(plan.tgen.netns, plan.main.address, { count: 2, intervalS: 0.05, deadlineS: 1 }).received).toBe(0);
      const during = await udpProbe(testbed!, 20);
      expect(during).toMatchObject({ sent: 20, received: 20, badSource: 0 });
    } finally {
      testbed!.recoverHost('main');
    }
    await main!.flush();
  });

  it.skipIf(tsharkSkipReason !== null)('writes pcaps of the relayed traffic that tshark reads without a bad checksum', async () => {
    const { plan } = testbed!;
    // Stop the NICs so they close their captures.
    main!.close();
    backup!.close();
    main = null;
    backup = null;
    await testbed!.down();
    testbed = null;
    chmodSync(pcapDir, 0o755);
    const file = join(pcapDir, 'main', 'nf0.pcap');
    expect(existsSync(file)).toBe(true);
    const checks = ['-o', 'ip.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE'];
    for (const f of ['main/nf0.pcap', 'main/dma0.pcap', 'backup/nf0.pcap', 'backup/dma0.pcap']) {
      const bad = runTshark(join(pcapDir, f), [...checks, '-Y', 'ip.checksum.status==Bad || udp.checksum.status==Bad || icmp.checksum.status==Bad']);
      expect({ file: f, code: bad.code, stdout: bad.stdout, stderr: bad.stderr }).toEqual({ file: f, code: 0, stdout: '', stderr: '' });
    }
    // The relay: from the main NIC's relay address and port range to the backup's service, and the replies.
    const fields = ['-T', 'fields', '-e', 'ip.src', '-e', 'udp.srcport', '-e', 'ip.dst', '-e', 'udp.dstport', '-e', 'udp.checksum.status'];
    const out = runTshark(file, [...checks, '-Y', `ip.addr==${plan.main.nicRelayAddress} && udp.port==${plan.echoPort}`, ...fields]);
    expect(out.stderr).toBe('');
    const rows = out.stdout.trim().split('\n').map((l) => l.split('\t'));
    const toBackup = rows.filter((r) => r[0] === plan.main.nicRelayAddress && r[2] === plan.backup.address && r[3] === String(plan.echoPort));
    const fromBackup = rows.filter((r) => r[0] === plan.backup.address && r[2] === plan.main.nicRelayAddress);
    expect(toBackup.length).toBeGreaterThanOrEqual(30);
    expect(fromBackup.length).toBeGreaterThanOrEqual(30);
    for (const r of toBackup) expect(Number(r[1])).toBeGreaterThanOrEqual(RELAY_PORT_BASE);
    // Every UDP checksum was verified (status Good = 1), none skipped.
    expect(new Set([...toBackup, ...fromBackup].map((r) => r[4]))).toEqual(new Set(['1']));
  });
});
