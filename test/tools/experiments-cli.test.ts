/**
 * `fatriot experiment` and `fatriot demo` (SPEC 7), and the claim table of the demo:
 * argument errors as one line with the right exit status, a run's summary as JSON, the
 * demo's results folder, and claims that hold or fail on the numbers they are given.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/control/cli/args.ts';
import { parseIntervalSeconds } from '../../src/control/cli/commands/experiment.ts';
import { main } from '../../src/control/cli/program.ts';
import { claimTable, type DemoSummaries } from '../../tools/experiments/claims.ts';
import { runDemo } from '../../tools/experiments/demo.ts';

const root = mkdtempSync(join(tmpdir(), 'fatriot-experiment-cli-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function run(words: string[]): Promise<{ code: number; out: string[]; err: string }> {
  const out: string[] = [];
  let err = '';
  const code = await main(['node', 'fatriot', ...words], { stdout: (l) => out.push(l), stderr: (t) => (err += t) });
  return { code, out, err };
}

describe('fatriot experiment', () => {
  it('parses the interval as seconds or as a duration', () => {
    expect(parseIntervalSeconds('0.5')).toBe(0.5);
    expect(parseIntervalSeconds('100ms')).toBe(0.1);
    expect(parseIntervalSeconds('0.1s')).toBe(0.1);
    expect(() => parseIntervalSeconds('fast')).toThrow(UsageError);
    expect(() => parseIntervalSeconds('0')).toThrow(UsageError);
  });

  it('answers an unknown experiment and a misplaced --interval with one usage line and status 2', async () => {
    const unknown = await run(['experiment', 'latency']);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toBe('fatriot: usage: fatriot experiment { overhead | delay | crash | relay } [ --out DIR ] [ --interval S ] [ --tap ]\n');
    const misplaced = await run(['experiment', 'relay', '--interval', '0.1']);
    expect(misplaced.code).toBe(2);
    expect(misplaced.err).toBe('fatriot: --interval applies to delay and crash, not relay\n');
  });

  const tapDir = new URL('../../tools/experiments/tap/', import.meta.url);
  it.skipIf(existsSync(new URL('overhead.ts', tapDir)) || existsSync(new URL('index.ts', tapDir)))(
    '--tap without a TAP version of the experiment fails with one line (skipped where tools/experiments/tap has one)',
    async () => {
      const r = await run(['experiment', 'overhead', '--tap']);
      expect(r.code).toBe(1);
      expect(r.err.split('\n').filter((l) => l !== '')).toHaveLength(1);
      expect(r.err).toMatch(
        existsSync(tapDir)
          ? /^fatriot: experiment overhead --tap: this tree has no TAP version of overhead/
          : /^fatriot: experiment overhead --tap: TAP experiments need root/,
      );
      expect(r.out).toEqual([]);
    },
  );

  it('runs one experiment into --out and prints its summary as JSON with -j', async () => {
    const out = join(root, 'crash');
    const r = await run(['-j', 'experiment', 'crash', '--out', out, '--interval', '100ms']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toHaveLength(1);
    const s = JSON.parse(r.out[0]!) as Record<string, unknown>;
    expect(s.interval_s).toBe(0.1);
    expect(s.crash_pkt).toBe(50);
    expect(s.delivered_ratio_with).toBe(1);
    expect(s.delivered_ratio_without).toBe(0);
    expect(s).toEqual(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')));
  });
});

describe('the demo', () => {
  it('runs every experiment into results/, writes claims.json and all ten claims hold', async () => {
    const out = join(root, 'results');
    const labels = new Set<string>();
    let lastFraction = 0;
    let monotonic = true;
    const result = await runDemo({
      outDir: out,
      onProgress: (f, label) => {
        if (f < lastFraction - 1e-9) monotonic = false;
        lastFraction = f;
        labels.add(label.split(':')[0]!);
      },
      overrides: {
        overhead: { frames64: 1000, frames1500: 100, rttPackets: 5, vcdCycles: 200 },
        delay: { sweepPhases: 1 },
        'delay-100ms': { sweepPhases: 1 },
        relay: { sizes: [60, 1514], frames1500: 200, framesPerSize: 200, latencyProbes: 5, vcdCycles: 200 },
      },
    });
    for (const name of ['overhead', 'delay', 'delay-100ms', 'crash', 'relay']) expect(existsSync(join(out, name, 'summary.json')), name).toBe(true);
    expect(result.claims).toHaveLength(10);
    expect(result.claims.filter((c) => !c.holds)).toEqual([]);
    const file = JSON.parse(readFileSync(join(out, 'claims.json'), 'utf8')) as { holding: number; total: number };
    expect(file.holding).toBe(10);
    expect(file.total).toBe(10);
    expect(monotonic).toBe(true);
    expect(lastFraction).toBe(1);
    expect([...labels]).toEqual(['overhead', 'delay', 'delay-100ms', 'crash', 'relay', 'demo']);
  });
});

describe('claimTable', () => {
  const good: DemoSummaries = {
    overhead: {
      throughput_ratio_64B: 1,
      throughput_ratio_1500B: 0.995,
      rtt_us_host_refnic: 31.5,
      rtt_us_host_fatriot: 31.6,
      rtt_us_vm_refnic: 231.5,
      rtt_us_vm_fatriot: 231.6,
      latency_cycles_refnic: 42,
      latency_cycles_fatriot: 50,
    },
    delay: {
      fault_start_pkt: 40,
      fault_end_pkt: 80,
      failsafe_on_pkt: 43,
      failsafe_off_pkt: 83,
      detect_ms: 250.4,
      bound_ms: 500.4,
      detect_ms_sweep_max: 437.9,
      rtt_us_baseline: 231.6,
      rtt_us_fault_with: 239.3,
      rtt_us_fault_without: 5231.5,
      rtt_us_baseline_without: 231.5,
    },
    'delay-100ms': { failsafe_on_pkt: 41, detect_ms: 50.4, bound_ms: 100.4, detect_ms_sweep_max: 87.9, rtt_us_baseline: 231.6, rtt_us_fault_with: 239 },
    crash: { detect_ms: 250, bound_ms: 500.4, delivered_ratio_with: 1, delivered_ratio_without: 0, lost_with: 3 },
    relay: { gbps_1500B_relay: 9.869, gbps_1500B_direct: 9.87, line_rate_gbps_1500B: 9.87, added_latency_ns: 981, main_nic_latency_ns_64B: 456 },
  };

  it('holds every claim on the paper-shaped numbers', () => {
    const claims = claimTable(good);
    expect(claims.map((c) => c.holds)).toEqual(Array(10).fill(true));
    expect(claims[2]!.measured).toBe('on at packet 43, 250.4 ms after the fault');
  });

  it('fails exactly the claim whose number is off, and claims with missing numbers', () => {
    const late = claimTable({ ...good, delay: { ...good.delay, failsafe_on_pkt: 51 } });
    expect(late.filter((c) => !c.holds).map((c) => c.figure)).toEqual(['Fig. 10(a)']);
    const leaky = claimTable({ ...good, crash: { ...good.crash, delivered_ratio_without: 0.2 } });
    expect(leaky.filter((c) => !c.holds).map((c) => c.figure)).toEqual(['Fig. 11']);
    const slow = claimTable({ ...good, delay: { ...good.delay, detect_ms: 40 } });
    expect(slow.filter((c) => !c.holds).map((c) => c.figure)).toEqual(['Fig. 10(b)']);
    const unbounded = claimTable({ ...good, crash: { ...good.crash, detect_ms: 600 } });
    expect(unbounded.filter((c) => !c.holds).map((c) => c.figure)).toEqual(['Fatriot 3.4']);
    const none = claimTable({});
    expect(none.every((c) => !c.holds)).toBe(true);
    expect(none[0]!.measured).toBe('ratio 64B n/a, 1518B n/a');
  });
});
