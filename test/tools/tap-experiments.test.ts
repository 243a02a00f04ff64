/**
 * The paper's Fig. 10 and Fig. 11 experiments on the netns testbed through real NIC
 * processes (tools/experiments/tap), with short parameters that keep their shape:
 * 30 requests at 10/s, heartbeats every 0.1 s learning 3 samples, the delay from packet
 * 12 to 21, the crash at packet 12. Real hosts jitter, so the checks are the ones the
 * design guarantees: detection within the bound, the relayed requests answered by the
 * backup without the fault's delay, nothing lost after detection, the summary keys of
 * the simulated experiments (SPEC 7), and no namespace left behind.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCrashTap } from '../../tools/experiments/tap/crash.ts';
import { runDelayTap } from '../../tools/experiments/tap/delay.ts';
import { heartbeatStartUs, learningLeadUs } from '../../tools/experiments/tap/run.ts';
import { testbedDown } from '../../tools/testbed/testbed.ts';
import { linkNames, listNetns, netnsSkipReason, uniquePrefix } from '../helpers/netns.ts';

const skipReason = netnsSkipReason(['ping', 'tc']);
if (skipReason !== null) console.warn(`skipping TAP experiment tests: ${skipReason}`);

const DELAY_KEYS = ['interval_s', 'threshold', 'fault_start_pkt', 'fault_end_pkt', 'failsafe_on_pkt', 'failsafe_off_pkt', 'detect_ms', 'bound_ms', 'rtt_us_baseline', 'rtt_us_fault_with', 'rtt_us_fault_without', 'lost_with', 'lost_without'];
const CRASH_KEYS = ['crash_pkt', 'detect_ms', 'bound_ms', 'delivered_ratio_with', 'delivered_ratio_without', 'lost_with'];

describe('heartbeat phase of the TAP runs', () => {
  it('starts the heartbeats a whole number of intervals before the fault, phase x interval ahead of it', () => {
    // Fault at 10 s, interval 0.5 s, phase 0.5: a heartbeat leaves at 9.75 s; from 1 s on, 17 whole intervals fit.
    expect(heartbeatStartUs(10e6, 0.5, 0.5, 5, 1e6)).toBe(9.75e6 - 17 * 0.5e6);
    // Learning 5 samples needs 6 intervals before the last heartbeat ahead of the fault.
    expect(heartbeatStartUs(10e6, 0.5, 0.5, 5, 6.75e6)).toBe(6.75e6);
    expect(heartbeatStartUs(10e6, 0.5, 0.5, 5, 6.76e6)).toBeNull();
    expect(learningLeadUs(0.5, 0.5, 5)).toBe(3.25e6);
    expect(() => heartbeatStartUs(10e6, 0.5, 1, 5, 0)).toThrow(/phase/);
  });
});

describe.skipIf(skipReason !== null)('experiments on the TAP testbed (real NIC processes)', () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'fatriot-txp-'));
  const outRoot = mkdtempSync(join(tmpdir(), 'fatriot-txp-out-'));
  const prefixes: string[] = [];
  const quiet = (): void => undefined;

  afterAll(async () => {
    // A run cut short (a timeout) may still hold its testbed: remove it before its state.
    for (const prefix of prefixes) await testbedDown({ prefix, stateDir });
    rmSync(stateDir, { recursive: true, force: true });
    rmSync(outRoot, { recursive: true, force: true });
    for (const prefix of prefixes) {
      expect(listNetns().filter((ns) => ns.startsWith(prefix))).toEqual([]);
      expect(linkNames().filter((l) => l.startsWith(prefix))).toEqual([]);
    }
  });

  it('delay (Fig. 10b shape): fail-safe within the bound, the fault window served by the backup, off after recovery', async () => {
    const prefix = uniquePrefix('txd');
    prefixes.push(prefix);
    const outDir = join(outRoot, 'delay');
    const s = await runDelayTap({ outDir, interval: 0.1, packets: 30, faultStartPkt: 12, faultEndPkt: 22, learnSamples: 3, prefix, stateDir, onProgress: quiet });
    for (const k of DELAY_KEYS) expect(s, k).toHaveProperty(k);
    expect(s).toMatchObject({ interval_s: 0.1, threshold: 1.5, fault_start_pkt: 12, fault_end_pkt: 22, bad_source_replies: 0, fault_delay_ms: 50 });
    expect(['netem', 'service']).toContain(s.fault_how);
    const detect = s.detect_ms as number;
    const bound = s.bound_ms as number;
    expect(detect).toBeGreaterThanOrEqual(0);
    expect(detect).toBeLessThanOrEqual(bound);
    // bound = interval + 1.5 x RTT_avg + the pipeline's 50 cycles.
    expect(bound).toBeCloseTo(100 + 1.5 * (s.rtt_avg_us as number) / 1000 + 50 / 160e3, 2);
    expect(s.failsafe_on_pkt as number).toBeGreaterThanOrEqual(12);
    expect(s.failsafe_on_pkt as number).toBeLessThanOrEqual(14);
    expect(s.failsafe_off_pkt as number).toBeGreaterThanOrEqual(22);
    // Without Fatriot the fault window carries the 50 ms delay; relayed requests do not.
    expect(s.rtt_us_fault_without as number).toBeGreaterThan(45_000);
    expect(s.rtt_us_fault_with as number).toBeLessThan(30_000);
    expect(s.lost_with).toBe(0);
    expect(s.lost_without).toBe(0);

    const written = JSON.parse(readFileSync(join(outDir, 'summary.json'), 'utf8')) as Record<string, unknown>;
    expect(written.detect_ms).toBe(s.detect_ms);
    const csv = readFileSync(join(outDir, 'delay-tap-100ms.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe('pkt,send_ms,rtt_us_with,rtt_us_without,lost_with,lost_without,failsafe_with,fault');
    expect(csv).toHaveLength(31);
    for (const f of s.files as string[]) expect(statSync(f).size, f).toBeGreaterThan(0);
    for (const f of ['fatriot-main-nf0.pcap', 'fatriot-main-dma0.pcap', 'reference-main-nf0.pcap', 'delay-tap-100ms.svg']) {
      expect(existsSync(join(outDir, f)), f).toBe(true);
    }
  }, 120_000);

  it('crash (Fig. 11 shape): detection within the bound, every request after it delivered by the backup, none without Fatriot', async () => {
    const prefix = uniquePrefix('txc');
    prefixes.push(prefix);
    const outDir = join(outRoot, 'crash');
    const s = await runCrashTap({ outDir, interval: 0.1, packets: 30, crashPkt: 12, learnSamples: 3, prefix, stateDir, onProgress: quiet });
    for (const k of CRASH_KEYS) expect(s, k).toHaveProperty(k);
    expect(s).toMatchObject({ crash_pkt: 12, bad_source_replies: 0, delivered_ratio_before_crash_with: 1, delivered_ratio_before_crash_without: 1 });
    expect(s.detect_ms as number).toBeGreaterThanOrEqual(0);
    expect(s.detect_ms as number).toBeLessThanOrEqual(s.bound_ms as number);
    expect(s.delivered_ratio_after_detection_with as number).toBeGreaterThanOrEqual(0.99);
    // At most the requests between the crash and detection (one or two at 10/s) are lost.
    expect(s.lost_with as number).toBeLessThanOrEqual(2);
    expect(s.delivered_ratio_with as number).toBeGreaterThanOrEqual(17 / 19);
    expect(s.delivered_ratio_without as number).toBeLessThanOrEqual(1 / 19);
    expect(s.failsafe_off_after_crash).toBe(false);
    for (const f of ['summary.json', 'crash-tap-100ms.csv', 'crash-tap-100ms.svg', 'fatriot-main-nf0.pcap', 'reference-main-nf0.pcap']) {
      expect(existsSync(join(outDir, f)), f).toBe(true);
    }
  }, 120_000);
});
