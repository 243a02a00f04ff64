/**
 * The paper's experiments (tools/experiments) on the embedded testbed, with small runs:
 * every summary key SPEC 7 names is there with a value the run measured and that the
 * paper's figure (and the model's own timing) says it must have; the CSV, SVG, pcap and
 * VCD files beside it read back.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lineRateFramesPerSecond } from '../../hw/netfpga-spec/index.ts';
import { LinkType, readPcap } from '../../src/dataplane/pcap.ts';
import { simDefaults } from '../../src/host/sim/timing.ts';
import { runCrash } from '../../tools/experiments/crash.ts';
import { runDelay } from '../../tools/experiments/delay.ts';
import { runOverhead } from '../../tools/experiments/overhead.ts';
import { runRelay } from '../../tools/experiments/relay.ts';
import type { Summary } from '../../tools/experiments/common.ts';
import { parseVcd } from '../helpers/vcd.ts';

const root = mkdtempSync(join(tmpdir(), 'fatriot-experiments-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A small well-formedness check: every tag closes in order, no stray '<' or bare '&'. */
export function checkXml(text: string): string {
  const stack: string[] = [];
  const tag = /<!--[\s\S]*?-->|<\?[\s\S]*?\?>|<!\[CDATA\[[\s\S]*?\]\]>|<(\/?)([A-Za-z_][\w:.-]*)((?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/g;
  let root = '';
  let last = 0;
  const checkText = (t: string): void => {
    if (t.includes('<')) throw new Error(`stray '<' near ${JSON.stringify(t.slice(0, 40))}`);
    if (/&(?!(?:[A-Za-z]+|#\d+|#x[0-9a-fA-F]+);)/.test(t)) throw new Error(`bare '&' near ${JSON.stringify(t.slice(0, 40))}`);
  };
  for (let m = tag.exec(text); m !== null; m = tag.exec(text)) {
    checkText(text.slice(last, m.index));
    last = tag.lastIndex;
    if (m[2] === undefined) continue;
    if (m[1] === '/') {
      if (stack.pop() !== m[2]) throw new Error(`</${m[2]}> closes the wrong element`);
    } else if (m[4] !== '/') {
      if (stack.length === 0 && root === '') root = m[2];
      stack.push(m[2]);
    } else if (root === '') root = m[2];
  }
  checkText(text.slice(last));
  if (stack.length > 0) throw new Error(`unclosed <${stack[stack.length - 1]}>`);
  return root;
}

function csvRows(path: string): string[][] {
  return readFileSync(path, 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => l.split(','));
}

function num(s: Summary, key: string): number {
  const v = s[key];
  expect(typeof v, `${key} is a number`).toBe('number');
  return v as number;
}

function expectSvg(path: string): void {
  const text = readFileSync(path, 'utf8');
  expect(text.startsWith('<svg')).toBe(true);
  expect(checkXml(text)).toBe('svg');
}

describe('checkXml', () => {
  it('accepts nested and self-closing elements and rejects a wrong close', () => {
    expect(checkXml('<svg a="1"><g><path d="M0"/></g><text>a &amp; b</text></svg>')).toBe('svg');
    expect(() => checkXml('<svg><g></svg></g>')).toThrow(/wrong element/);
    expect(() => checkXml('<svg><g></svg>')).toThrow();
    expect(() => checkXml('<svg>a & b</svg>')).toThrow(/bare/);
  });
});

describe('overhead (Fig. 9)', () => {
  let s: Summary;
  const dir = join(root, 'overhead');
  beforeAll(async () => {
    s = await runOverhead({ outDir: dir, frames64: 2000, frames1500: 200, rttPackets: 10, vcdCycles: 400 });
  });

  it('delivers every frame offered at line rate with both NICs, Fatriot at >= 0.99 of the reference NIC', () => {
    expect(num(s, 'throughput_ratio_64B')).toBeGreaterThanOrEqual(0.99);
    expect(num(s, 'throughput_ratio_64B')).toBeLessThanOrEqual(1.01);
    expect(num(s, 'throughput_ratio_1500B')).toBeGreaterThanOrEqual(0.99);
    expect(num(s, 'throughput_ratio_1500B')).toBeLessThanOrEqual(1.01);
    expect(s.delivered_64B).toEqual({ refnic: 2000, fatriot: 2000, offered: 2000 });
    expect(s.delivered_1500B).toEqual({ refnic: 200, fatriot: 200, offered: 200 });
    // Offered at the exact 10G line rate, within the one-cycle granularity of the port.
    expect(num(s, 'offered_64B_mpps')).toBeCloseTo(lineRateFramesPerSecond(60) / 1e6, 2);
  });

  it('measures the NIC latency in whole cycles, the Fatriot path no shorter than the reference', () => {
    const ref = num(s, 'latency_cycles_refnic');
    const fat = num(s, 'latency_cycles_fatriot');
    expect(Number.isInteger(ref) && ref > 0).toBe(true);
    expect(Number.isInteger(fat)).toBe(true);
    expect(fat).toBeGreaterThanOrEqual(ref);
    expect(num(s, 'latency_cycles_refnic_1500B')).toBeGreaterThan(ref);
  });

  it('finds the VM 2 x the vswitch path further than the host OS, with either NIC (Fig. 9(b))', () => {
    for (const nic of ['refnic', 'fatriot']) {
      const host = num(s, `rtt_us_host_${nic}`);
      const vm = num(s, `rtt_us_vm_${nic}`);
      expect(vm - host).toBeCloseTo(2 * simDefaults.vmPathDelayUs, 1);
    }
    expect(s.rtt_lost).toEqual({ refnic_host: 0, refnic_vm: 0, fatriot_host: 0, fatriot_vm: 0 });
  });

  it('writes the CSVs, the SVG, pcaps that read back and a VCD that parses', () => {
    const rows = csvRows(join(dir, 'overhead.csv'));
    expect(rows[0]).toEqual(['nic', 'frame_bytes', 'offered', 'delivered', 'offered_mpps', 'delivered_mpps', 'delivered_gbps', 'delivered_line_gbps', 'latency_cycles', 'wall_s']);
    expect(rows.slice(1).map((r) => `${r[0]}/${r[1]}`)).toEqual(['reference/64', 'reference/1518', 'fatriot/64', 'fatriot/1518']);
    const rtt = csvRows(join(dir, 'overhead-rtt.csv'));
    expect(rtt.length).toBe(1 + 4 * 10);
    expectSvg(join(dir, 'overhead.svg'));
    const cap = readPcap(join(dir, 'rtt-fatriot-vm-tgen.pcap'));
    expect(cap.error).toBeNull();
    expect(cap.linkType).toBe(LinkType.Ethernet);
    expect(cap.timestampResolution).toBe('ns');
    // 10 requests, 10 replies, the generator's ARP request and its reply.
    expect(cap.records.length).toBe(22);
    const vcd = parseVcd(join(dir, 'fatriot-nic-line-rate.vcd'));
    expect(vcd.timescale).toBe('1ps');
    expect([...vcd.vars.keys()].some((k) => k.includes('classifier_to_output_queues') && k.endsWith('tvalid'))).toBe(true);
    expect((s.files as string[]).every((f) => existsSync(f))).toBe(true);
  });
});

describe('delay (Fig. 10)', () => {
  let s5: Summary;
  let s1: Summary;
  const dir5 = join(root, 'delay');
  const dir1 = join(root, 'delay-100ms');
  beforeAll(async () => {
    s5 = await runDelay({ outDir: dir5, sweepPhases: 2 });
    s1 = await runDelay({ outDir: dir1, interval: 0.1, sweepPhases: 2 });
  });

  it('has every SPEC 7 key', () => {
    for (const key of [
      'interval_s',
      'threshold',
      'fault_start_pkt',
      'fault_end_pkt',
      'failsafe_on_pkt',
      'failsafe_off_pkt',
      'detect_ms',
      'bound_ms',
      'rtt_us_baseline',
      'rtt_us_fault_with',
      'rtt_us_fault_without',
      'lost_with',
      'lost_without',
    ]) {
      expect(typeof s5[key], key).toBe('number');
      expect(typeof s1[key], key).toBe('number');
    }
    expect(s5.interval_s).toBe(0.5);
    expect(s1.interval_s).toBe(0.1);
    expect(s5.threshold).toBe(1.5);
  });

  it('activates fail-safe by packet 50 at 0.5 s, and sooner at 0.1 s', () => {
    expect(num(s5, 'failsafe_on_pkt')).toBeGreaterThanOrEqual(41);
    expect(num(s5, 'failsafe_on_pkt')).toBeLessThanOrEqual(50);
    expect(num(s1, 'failsafe_on_pkt')).toBe(41);
    expect(num(s1, 'detect_ms')).toBeLessThan(num(s5, 'detect_ms'));
    expect(s5.failsafe_activations_before_fault).toBe(0);
    expect(s5.failsafe_cause).toBe('heartbeat');
  });

  it('detects one timeout after the next heartbeat: (1 - phase) x interval + threshold x RTT_avg, within the bound', () => {
    for (const s of [s5, s1]) {
      const detect = num(s, 'detect_ms');
      const timeoutMs = (num(s, 'heartbeat_timeout_cycles') * 1e3) / 160e6;
      const expected = (1 - num(s, 'fault_phase')) * num(s, 'interval_s') * 1e3 + timeoutMs;
      // The heartbeats start a register write after the chosen cycle: a few cycles late.
      expect(detect).toBeGreaterThanOrEqual(expected);
      expect(detect - expected).toBeLessThan(0.01);
      expect(detect).toBeLessThanOrEqual(num(s, 'bound_ms'));
      expect(num(s, 'detect_ms_sweep_max')).toBeLessThanOrEqual(num(s, 'bound_ms'));
      expect(num(s, 'heartbeat_timeout_cycles')).toBe(Math.ceil(num(s, 'rtt_avg_cycles') * 1.5));
    }
  });

  it('brings the RTT back near the baseline while relayed and loses nothing; without Fatriot it stays high', () => {
    for (const s of [s5, s1]) {
      expect(num(s, 'rtt_us_fault_with')).toBeLessThanOrEqual(1.1 * num(s, 'rtt_us_baseline'));
      expect(num(s, 'rtt_us_fault_with')).toBeGreaterThan(num(s, 'rtt_us_baseline'));
      expect(num(s, 'rtt_us_fault_without')).toBeCloseTo(num(s, 'rtt_us_baseline_without') + 5000, 0);
      expect(s.lost_with).toBe(0);
      expect(s.lost_without).toBe(0);
      expect(num(s, 'rtt_us_after_recovery_with')).toBeLessThanOrEqual(1.01 * num(s, 'rtt_us_baseline'));
    }
  });

  it('turns fail-safe off at the first heartbeat after recovery', () => {
    expect(num(s5, 'failsafe_off_pkt')).toBeGreaterThanOrEqual(80);
    expect(num(s5, 'failsafe_off_pkt')).toBeLessThanOrEqual(86);
    expect(num(s5, 'failsafe_off_ms_after_recovery')).toBeLessThanOrEqual(500);
    expect(num(s1, 'failsafe_off_ms_after_recovery')).toBeLessThanOrEqual(100);
  });

  it('writes a row a packet, the SVG, pcaps of the generator and both NICs, and a VCD of the fault', () => {
    const rows = csvRows(join(dir5, 'delay.csv'));
    expect(rows[0]).toEqual(['pkt', 'send_ms', 'rtt_us_with', 'rtt_us_without', 'lost_with', 'lost_without', 'failsafe_with', 'fault']);
    expect(rows.length).toBe(101);
    expect(rows[40]![0]).toBe('40');
    expect(rows[40]![7]).toBe('1');
    expect(rows[39]![7]).toBe('0');
    const on = num(s5, 'failsafe_on_pkt');
    expect(rows[on]![6]).toBe('1');
    expect(rows[on - 1]![6]).toBe('0');
    expectSvg(join(dir5, 'delay.svg'));
    expectSvg(join(dir1, 'delay-100ms.svg'));
    const tgen = readPcap(join(dir5, 'fatriot-tgen.pcap'));
    expect(tgen.error).toBeNull();
    expect(tgen.timestampResolution).toBe('ns');
    expect(tgen.records.length).toBeGreaterThanOrEqual(200);
    // While relayed, the backup NIC sees the requests (from the main NIC's relay address).
    const backup = readPcap(join(dir5, 'fatriot-backup-nf0.pcap'));
    expect(backup.records.length).toBeGreaterThan(2 * (80 - on));
    const vcd = parseVcd(join(dir5, 'fatriot.vcd'));
    expect(vcd.vars.size).toBeGreaterThan(10);
    expect(vcd.endTime).toBeGreaterThan(0);
  });
});

describe('crash (Fig. 11)', () => {
  let s: Summary;
  const dir = join(root, 'crash');
  beforeAll(async () => {
    s = await runCrash({ outDir: dir, packets: 80 });
  });

  it('relays every request after detection with Fatriot and none is answered without it', () => {
    expect(s.crash_pkt).toBe(50);
    expect(num(s, 'delivered_ratio_with')).toBeGreaterThanOrEqual(0.99);
    expect(s.delivered_ratio_without).toBe(0);
    expect(s.delivered_ratio_without_after_crash).toBe(0);
    expect(s.lost_with_before_crash).toBe(0);
  });

  it('detects the crash within the bound and loses only what was sent before detection', () => {
    const detect = num(s, 'detect_ms');
    expect(detect).toBeGreaterThan(0);
    expect(detect).toBeLessThanOrEqual(num(s, 'bound_ms'));
    const on = num(s, 'failsafe_on_pkt');
    expect(on).toBeGreaterThan(50);
    // Packets crash_pkt .. failsafe_on_pkt - 1 went to a dead host; nothing else was lost.
    expect(s.lost_with).toBe(on - 50);
    expect(['host', 'heartbeat']).toContain(s.failsafe_cause);
    expect(s.failsafe_activations_before_crash).toBe(0);
  });

  it('writes a row a packet, the SVG, pcaps and the VCD', () => {
    const rows = csvRows(join(dir, 'crash.csv'));
    expect(rows[0]).toEqual(['pkt', 'send_ms', 'rtt_us_with', 'rtt_us_without', 'lost_with', 'lost_without', 'failsafe_with', 'host_down']);
    expect(rows.length).toBe(81);
    expect(rows.slice(51).every((r) => r[5] === '1')).toBe(true);
    expectSvg(join(dir, 'crash.svg'));
    expect(readPcap(join(dir, 'fatriot-main-nf0.pcap')).error).toBeNull();
    expect(parseVcd(join(dir, 'fatriot.vcd')).vars.size).toBeGreaterThan(10);
  });
});

describe('relay (Fig. 12)', () => {
  let s: Summary;
  const dir = join(root, 'relay');
  beforeAll(async () => {
    s = await runRelay({ outDir: dir, sizes: [60, 1514], frames1500: 300, framesPerSize: 400, latencyProbes: 10, vcdCycles: 400 });
  });

  it('relays 1500-byte frames at line rate, as fast as going direct', () => {
    const line = (lineRateFramesPerSecond(1514) * 1518 * 8) / 1e9;
    expect(num(s, 'gbps_1500B_relay')).toBeGreaterThanOrEqual(0.99 * line);
    expect(num(s, 'gbps_1500B_relay')).toBeLessThanOrEqual(line * 1.0001);
    expect(num(s, 'gbps_1500B_direct')).toBeGreaterThanOrEqual(0.99 * line);
    expect(s.delivered_1500B).toEqual({ offered: 300, direct: 300, relay: 300 });
    expect(s.relayed_by_main_1500B).toBe(300);
  });

  it('adds the main NIC and a second switch pass to the latency', () => {
    const added = num(s, 'added_latency_ns');
    const nic = num(s, 'main_nic_latency_ns_64B');
    expect(nic).toBeGreaterThan(0);
    // The extra switch pass is the assumed cut-through latency; cables add 2 x 10 ns.
    expect(added - nic).toBeGreaterThanOrEqual(simDefaults.switchLatencyNs);
    expect(added - nic).toBeLessThanOrEqual(simDefaults.switchLatencyNs + 2 * simDefaults.cableLatencyNs + 13);
    expect(num(s, 'latency_ns_64B_relay')).toBeCloseTo(num(s, 'latency_ns_64B_direct') + added, 6);
  });

  it('writes the CSV, the SVG, pcaps of the latency probes and the VCD', () => {
    const rows = csvRows(join(dir, 'relay.csv'));
    expect(rows.length).toBe(1 + 4);
    expect(rows.slice(1).map((r) => `${r[0]}/${r[1]}`)).toEqual(['direct/64', 'direct/1518', 'relay/64', 'relay/1518']);
    expectSvg(join(dir, 'relay.svg'));
    const probes = readPcap(join(dir, 'relay-1518B-backup-nf0.pcap'));
    expect(probes.error).toBeNull();
    expect(probes.records.length).toBe(10);
    expect(probes.records.every((r) => r.originalLength === 1514)).toBe(true);
    expect(parseVcd(join(dir, 'relay-line-rate.vcd')).vars.size).toBeGreaterThan(10);
  });
});
