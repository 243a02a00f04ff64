/**
 * The paper's claims of section 5 next to what the demo measured (SPEC 7: "a summary
 * table"). Each claim names its figure, says what it checks, shows the measured figure
 * and whether it holds; a claim whose experiment did not run or whose numbers are
 * missing does not hold.
 */
import type { Summary } from './common.ts';

export interface Claim {
  figure: string;
  claim: string;
  measured: string;
  holds: boolean;
}

/** Summaries of the demo's runs, by result folder name. */
export interface DemoSummaries {
  overhead?: Summary;
  delay?: Summary;
  'delay-100ms'?: Summary;
  crash?: Summary;
  relay?: Summary;
}

const num = (s: Summary | undefined, key: string): number | null => {
  const v = s?.[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
};

const fmt = (v: number | null, digits = 3, unit = ''): string => (v === null ? 'n/a' : `${Number(v.toFixed(digits))}${unit}`);

const all = (...xs: (number | null)[]): boolean => xs.every((x) => x !== null);

export function claimTable(s: DemoSummaries): Claim[] {
  const claims: Claim[] = [];
  const o = s.overhead;
  {
    const r64 = num(o, 'throughput_ratio_64B');
    const r1500 = num(o, 'throughput_ratio_1500B');
    claims.push({
      figure: 'Fig. 9(a)',
      claim: 'Fatriot throughput >= 0.99 x reference NIC at line rate',
      measured: `ratio 64B ${r64 === null ? 'n/a' : r64.toFixed(4)}, 1518B ${r1500 === null ? 'n/a' : r1500.toFixed(4)}`,
      holds: all(r64, r1500) && r64! >= 0.99 && r1500! >= 0.99,
    });
  }
  {
    const hostRef = num(o, 'rtt_us_host_refnic');
    const hostF = num(o, 'rtt_us_host_fatriot');
    const vmRef = num(o, 'rtt_us_vm_refnic');
    const vmF = num(o, 'rtt_us_vm_fatriot');
    const lr = num(o, 'latency_cycles_refnic');
    const lf = num(o, 'latency_cycles_fatriot');
    claims.push({
      figure: 'Fig. 9(b)',
      claim: 'RTT to host and VM as with the reference NIC (within 1%)',
      measured: `host ${fmt(hostF, 2)} vs ${fmt(hostRef, 2)} us, VM ${fmt(vmF, 2)} vs ${fmt(vmRef, 2)} us; NIC ${fmt(lf, 0)} vs ${fmt(lr, 0)} cycles`,
      holds: all(hostRef, hostF, vmRef, vmF) && hostF! <= 1.01 * hostRef! && vmF! <= 1.01 * vmRef!,
    });
  }
  const d5 = s.delay;
  const d1 = s['delay-100ms'];
  {
    const on = num(d5, 'failsafe_on_pkt');
    const start = num(d5, 'fault_start_pkt');
    claims.push({
      figure: 'Fig. 10(a)',
      claim: 'fail-safe on by packet 50 (interval 0.5 s, fault from packet 40)',
      measured: `on at packet ${fmt(on, 0)}, ${fmt(num(d5, 'detect_ms'), 1, ' ms')} after the fault`,
      holds: all(on, start) && on! > start! && on! <= 50,
    });
  }
  {
    const det5 = num(d5, 'detect_ms');
    const det1 = num(d1, 'detect_ms');
    const max5 = num(d5, 'detect_ms_sweep_max');
    const max1 = num(d1, 'detect_ms_sweep_max');
    claims.push({
      figure: 'Fig. 10(b)',
      claim: 'sooner with a 0.1 s interval',
      measured: `detect ${fmt(det1, 1)} vs ${fmt(det5, 1)} ms (worst over phases ${fmt(max1, 1)} vs ${fmt(max5, 1)} ms); packet ${fmt(num(d1, 'failsafe_on_pkt'), 0)} vs ${fmt(num(d5, 'failsafe_on_pkt'), 0)}`,
      holds: all(det5, det1) && det1! < det5! && (max1 === null || max5 === null || max1 < max5),
    });
  }
  {
    const pairs: [string, Summary | undefined][] = [
      ['0.5 s', d5],
      ['0.1 s', d1],
      ['crash', s.crash],
    ];
    const parts = pairs.map(([label, x]) => `${label}: ${fmt(num(x, 'detect_ms'), 1)} <= ${fmt(num(x, 'bound_ms'), 1)} ms`);
    const ok = pairs.every(([, x]) => {
      const det = num(x, 'detect_ms');
      const bound = num(x, 'bound_ms');
      const worst = num(x, 'detect_ms_sweep_max');
      return det !== null && bound !== null && det <= bound && (worst === null || worst <= bound);
    });
    claims.push({ figure: 'Fatriot 3.4', claim: 'detect_ms <= interval + threshold x RTT_avg + pipeline', measured: parts.join('; '), holds: ok });
  }
  {
    const base5 = num(d5, 'rtt_us_baseline');
    const with5 = num(d5, 'rtt_us_fault_with');
    const base1 = num(d1, 'rtt_us_baseline');
    const with1 = num(d1, 'rtt_us_fault_with');
    claims.push({
      figure: 'Fig. 10',
      claim: 'RTT back near baseline (within 10%) while relayed',
      measured: `${fmt(with5, 1)} / ${fmt(with1, 1)} us vs baseline ${fmt(base5, 1)} us`,
      holds: all(base5, with5, base1, with1) && with5! <= 1.1 * base5! && with1! <= 1.1 * base1!,
    });
  }
  {
    const without = num(d5, 'rtt_us_fault_without');
    const base = num(d5, 'rtt_us_baseline_without');
    const off = num(d5, 'failsafe_off_pkt');
    const end = num(d5, 'fault_end_pkt');
    claims.push({
      figure: 'Fig. 10',
      claim: 'without Fatriot RTT stays high until recovery; with it fail-safe ends after recovery',
      measured: `without: ${fmt(without, 1)} us in the fault (baseline ${fmt(base, 1)}); fail-safe off at packet ${fmt(off, 0)}`,
      holds: all(without, base, off, end) && without! > 2 * base! && off! >= end!,
    });
  }
  {
    const w = num(s.crash, 'delivered_ratio_with');
    const wo = num(s.crash, 'delivered_ratio_without');
    claims.push({
      figure: 'Fig. 11',
      claim: 'after detection: delivered >= 0.99 with Fatriot, 0 without',
      measured: `with ${w === null ? 'n/a' : w.toFixed(3)}, without ${wo === null ? 'n/a' : wo.toFixed(3)}; lost before detection ${fmt(num(s.crash, 'lost_with'), 0)}`,
      holds: all(w, wo) && w! >= 0.99 && wo! === 0,
    });
  }
  const r = s.relay;
  {
    const relay = num(r, 'gbps_1500B_relay');
    const direct = num(r, 'gbps_1500B_direct');
    const line = num(r, 'line_rate_gbps_1500B');
    claims.push({
      figure: 'Fig. 12',
      claim: 'relay through the main NIC near line rate (>= 0.99)',
      measured: `${fmt(relay, 3)} Gb/s relayed, ${fmt(direct, 3)} direct, line rate ${fmt(line, 3)} (1518B)`,
      holds: all(relay, direct, line) && relay! >= 0.99 * line! && relay! >= 0.99 * direct!,
    });
  }
  {
    const added = num(r, 'added_latency_ns');
    const nic = num(r, 'main_nic_latency_ns_64B');
    claims.push({
      figure: 'Fig. 12',
      claim: 'latency the relaying NIC adds: a few hundred ns (< 1 us)',
      measured: `${fmt(nic, 0)} ns in the main NIC; ${fmt(added, 0)} ns end to end with the 2nd switch pass (64B)`,
      holds: nic !== null && nic < 1000,
    });
  }
  return claims;
}
