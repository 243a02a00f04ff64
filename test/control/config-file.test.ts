import { describe, expect, it } from 'vitest';
import { ConfigFileError, validateConfig } from '../../src/control/config-file.ts';

const base = {
  fatriotConfig: 1,
  targets: [{ ip: '10.0.0.2', proto: 'udp', port: 7, svcId: 3, critical: true }],
  heartbeats: [{ svcId: 3, kind: 'udp', port: 7, intervalNs: 500_000_000, threshold: 1.5 }],
};

describe('configuration files', () => {
  it('fills defaults and accepts durations as words', () => {
    const cfg = validateConfig({ ...base, heartbeats: [{ svcId: 3, kind: 'icmp', intervalNs: '0.5s', threshold: 1.5 }] });
    expect(cfg.heartbeats[0]!.intervalNs).toBe(500_000_000);
    expect(cfg.services).toEqual([]);
    expect(cfg.defaultBackup).toBeNull();
    expect(cfg.targets[0]).toEqual({ ip: '10.0.0.2', proto: 'udp', port: 7, svcId: 3, critical: true });
  });

  const bad: [string, unknown, string][] = [
    ['a wrong version', { ...base, fatriotConfig: 2 }, 'cfg: fatriotConfig: Invalid input: expected 1'],
    ['an unknown key', { ...base, extra: 1 }, 'cfg: Unrecognized key: "extra"'],
    ['a bad address', { ...base, targets: [{ ...base.targets[0], ip: '10.0.0' }] }, 'cfg: targets.0.ip: not an IPv4 address'],
    ['a duplicate target', { ...base, targets: [base.targets[0], base.targets[0]] }, 'cfg: targets.1: same signature as targets.0'],
    ['two heartbeats for one service', { ...base, heartbeats: [base.heartbeats[0], base.heartbeats[0]] }, 'cfg: heartbeats.1: second heartbeat for svc 3 (heartbeats.0)'],
    ['a heartbeat without a target address', { ...base, heartbeats: [{ ...base.heartbeats[0], svcId: 4 }] }, 'cfg: heartbeats.0: no target address (give "target", or a target for svc 4)'],
    ['a bad duration', { ...base, heartbeats: [{ ...base.heartbeats[0], intervalNs: '5' }] }, 'cfg: heartbeats.0.intervalNs: invalid duration "5" (use e.g. 500ms, 0.1s, 200us)'],
    ['a service ID past 255', { ...base, failsafe: [{ svcId: 256, mode: 'on' }] }, 'cfg: failsafe.0.svcId: Too big: expected number to be <=255'],
    ['more targets than the table holds', { fatriotConfig: 1, targets: Array.from({ length: 257 }, (_, i) => ({ ip: `10.0.${i >> 8}.${i & 255}`, proto: 'tcp', port: 80, svcId: 1 })) }, 'cfg: 257 targets exceed the 256-entry target table'],
  ];
  for (const [name, json, message] of bad) {
    it(`refuses ${name} with one line`, () => {
      expect(() => validateConfig(json, 'cfg')).toThrow(ConfigFileError);
      expect(() => validateConfig(json, 'cfg')).toThrow(message);
    });
  }
});
