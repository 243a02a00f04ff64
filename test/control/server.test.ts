import { statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FatriotClient } from '../../src/control/client.ts';
import { counterIndex, fieldIndex, tableSpec } from '../../src/pipeline/regs/register-map.ts';
import type { ControlEvent } from '../../src/control/objects.ts';
import type { TapRecord } from '../../src/control/client.ts';
import { decodeMessage, type NlMessage } from '../../src/control/netlink.ts';
import { connect, startServer } from './helpers.ts';

let env: Awaited<ReturnType<typeof startServer>>;
let client: FatriotClient;

beforeAll(async () => {
  env = await startServer();
  client = await connect(env.socketPath);
});
afterAll(async () => {
  client?.close();
  await env?.stop();
});

describe('control server over the register map', () => {
  it('creates its socket with mode 0660', () => {
    expect(statSync(env.socketPath).mode & 0o777).toBe(0o660);
    expect(statSync(env.socketPath).isSocket()).toBe(true);
  });

  it('adds, lists and deletes targets, and the table memory holds them', async () => {
    await client.targetAdd({ ip: '10.0.0.2', proto: 'udp', port: 7, svcId: 3, critical: true });
    await client.targetAdd({ ip: '10.0.0.2', proto: 'icmp', port: 0, svcId: 1, critical: false });
    expect(await client.targets()).toEqual([
      { index: 0, ip: '10.0.0.2', proto: 'udp', port: 7, svcId: 3, critical: true },
      { index: 1, ip: '10.0.0.2', proto: 'icmp', port: 0, svcId: 1, critical: false },
    ]);
    const t = env.nic.regs.targetTable;
    expect(t.get(0, fieldIndex(tableSpec('targetTable'), 'dstIp'))).toBe(0x0a000002);
    expect(t.get(0, fieldIndex(tableSpec('targetTable'), 'serviceId'))).toBe(3);
    await expect(client.targetAdd({ ip: '10.0.0.2', proto: 'udp', port: 7, svcId: 4, critical: false })).rejects.toMatchObject({ code: 'EEXIST' });
    await client.targetAdd({ ip: '10.0.0.2', proto: 'udp', port: 7, svcId: 4, critical: false }, { replace: true });
    expect((await client.targets(4)).map((x) => x.index)).toEqual([0]);
    await client.targetDel({ svcId: 4 });
    await expect(client.targetDel({ svcId: 4 })).rejects.toMatchObject({ code: 'ENOENT', errno: 2 });
    expect(await client.targets()).toHaveLength(1);
  });

  it('converts heartbeat intervals to cycles of the model clock and back', async () => {
    await client.heartbeatAdd({ svcId: 1, kind: 'icmp', intervalNs: 1e9, threshold: 1.5 });
    const [hb] = await client.heartbeats();
    expect(hb).toMatchObject({ svcId: 1, kind: 'icmp', target: '10.0.0.2', intervalNs: 1e9, threshold: 1.5, learnSamples: 10, state: 'learning' });
    expect(hb!.intervalCycles).toBe(env.nic.clockHz);
  });

  it('reads and writes registers, with EFAULT for an unmapped address', async () => {
    expect(await client.regRead(0x44090000)).toBe(0xfa710001);
    await client.regWrite(0x44090010, 0x1234);
    expect(await client.regRead(0x44090010)).toBe(0x1234);
    await expect(client.regRead(0x10)).rejects.toMatchObject({ code: 'EFAULT' });
    await expect(client.regWrite(0x44090000, 1)).rejects.toMatchObject({ code: 'EINVAL' });
  });

  it('keeps services and the default backup, and refuses duplicates', async () => {
    await client.serviceAdd({ ip: '10.0.0.2', proto: 'udp', port: 7, backupIp: '10.0.1.2', backupPort: 7007 });
    await client.serviceAdd({ ip: '10.0.0.2', proto: 'icmp', port: 0, backupIp: '10.0.1.2', backupPort: 0 });
    await expect(client.serviceAdd({ ip: '10.0.0.2', proto: 'udp', port: 7, backupIp: '10.0.1.3', backupPort: 0 })).rejects.toMatchObject({ code: 'EEXIST' });
    await expect(client.serviceAdd({ ip: '10.0.0.2', proto: 'icmp', port: 5, backupIp: '10.0.1.3', backupPort: 0 })).rejects.toMatchObject({
      code: 'EINVAL',
      message: 'an ICMP service has no port',
    });
    expect(await client.defaultBackup()).toBeNull();
    await client.defaultBackupSet('10.0.1.9');
    expect(await client.defaultBackup()).toBe('10.0.1.9');
    expect(await client.services()).toEqual([
      { index: 0, ip: '10.0.0.2', proto: 'udp', port: 7, backupIp: '10.0.1.2', backupPort: 7007 },
      { index: 1, ip: '10.0.0.2', proto: 'icmp', port: 0, backupIp: '10.0.1.2', backupPort: 0 },
    ]);
    await client.serviceDel({ ip: '10.0.0.2', proto: 'icmp' });
    expect((await client.services()).map((s) => s.proto)).toEqual(['udp']);
  });

  it('forces fail-safe per service and reports the active state the hardware holds', async () => {
    await client.failsafeSet(7, 'on');
    env.nic.regs.failsafeMode.set(7, fieldIndex(tableSpec('failsafeMode'), 'active'), 1);
    expect(await client.failsafe(7)).toEqual([{ svcId: 7, mode: 'on', active: true }]);
    await client.failsafeSet(7, 'auto');
    // The host write keeps the read-only active bit the handler maintains.
    expect(await client.failsafe(7)).toEqual([{ svcId: 7, mode: 'auto', active: true }]);
    const all = await client.failsafe();
    // svc 1 has a target and a heartbeat; svc 7 is forced or active.
    expect(all.map((f) => f.svcId)).toEqual([1, 7]);
  });

  it('reads 64-bit counters and per-port counters through the counter block', async () => {
    const bank = env.nic.regs.counters;
    bank.add(counterIndex('drop.outputQueueFull'), 2 ** 40 + 3);
    bank.add(counterIndex('nf1.rxPackets'), 12);
    bank.add(counterIndex('nf1.rxBytes'), 12 * 64);
    const counters = await client.counters();
    expect(counters.find((c) => c.name === 'drop.outputQueueFull')).toEqual({ name: 'drop.outputQueueFull', group: 'drop', index: 32, value: 2 ** 40 + 3 });
    const nf1 = (await client.ports()).find((p) => p.name === 'nf1');
    expect(nf1).toEqual({ index: 1, name: 'nf1', kind: 'mac', up: true, rxPackets: 12, rxBytes: 768, txPackets: 0, txBytes: 0 });
  });

  it('lists neighbors the discovery module wrote, with lastSeen in ns of model time', async () => {
    const t = env.nic.regs.neighborTable;
    const f = (n: string) => fieldIndex(tableSpec('neighborTable'), n);
    t.set(4, f('ip'), 0x0a000105);
    t.set(4, f('serviceId'), 3);
    t.set(4, f('alive'), 1);
    t.set(4, f('valid'), 1);
    t.set(4, f('capacity'), 100);
    t.set(4, f('load'), 25);
    t.set(4, f('lastSeenCycle'), 160_000_000 * 3);
    t.set(4, f('svcPort'), 7);
    t.set(4, f('macHi'), 0x0200);
    t.set(4, f('macLo'), 0x00000105);
    expect(await client.neighbors()).toEqual([
      { index: 4, ip: '10.0.1.5', svcId: 3, port: 7, mac: '02:00:00:00:01:05', capacity: 100, load: 25, lastSeenNs: 3e9, alive: true },
    ]);
  });

  it('sets and reads the NIC configuration', async () => {
    await client.configSet({ relayIp: '10.0.0.254', relayPortBase: 40000, relayPortCount: 1024, nicMac: '02:fa:00:00:00:01', hostIp: '10.0.0.2', announceIntervalNs: 1e9 });
    const c = await client.config();
    expect(c).toMatchObject({ relayIp: '10.0.0.254', relayPortBase: 40000, relayPortCount: 1024, nicMac: '02:fa:00:00:00:01', hostIp: '10.0.0.2', announceIntervalNs: 1e9, clockHz: 160e6 });
    expect(c.cycle).toBeGreaterThan(0);
    await expect(client.configSet({ relayPortBase: 65000, relayPortCount: 1000 })).rejects.toMatchObject({ code: 'ERANGE' });
  });

  it('forwards NIC events to members of the events group only', async () => {
    const other = await connect(env.socketPath);
    const listener = await connect(env.socketPath);
    await listener.subscribe('events');
    const got: ControlEvent[] = [];
    const notGot: ControlEvent[] = [];
    listener.on('event', (e) => got.push(e));
    other.on('event', (e) => notGot.push(e));
    env.nic.events.emit({ kind: 'heartbeat', serviceId: 3, rttCycles: 96_000, rttAvgCycles: 32_000, ratio: 3, timedOut: true, cycle: 1234 });
    env.nic.events.emit({ kind: 'failsafe', serviceId: 3, active: true, cause: 'heartbeat', cycle: 1240 });
    env.nic.events.emit({ kind: 'neighbor', ip: 0x0a000105, serviceId: 3, up: false, cycle: 1300 });
    await expect.poll(() => got.length, { timeout: 15_000 }).toBe(3);
    expect(got.map((e) => ({ ...e, timeUs: 0 }))).toEqual([
      { kind: 'heartbeat', svcId: 3, rttCycles: 96_000, rttNs: 600_000, rttAvgCycles: 32_000, rttAvgNs: 200_000, ratio: 3, timedOut: true, cycle: 1234, timeUs: 0 },
      { kind: 'failsafe', svcId: 3, active: true, cause: 'heartbeat', cycle: 1240, timeUs: 0 },
      { kind: 'neighbor', ip: '10.0.1.5', svcId: 3, up: false, cycle: 1300, timeUs: 0 },
    ]);
    expect(Math.abs(got[0]!.timeUs / 1000 - Date.now())).toBeLessThan(5000);
    await listener.unsubscribe('events');
    env.nic.events.emit({ kind: 'failsafe', serviceId: 3, active: false, cause: 'recovered', cycle: 2000 });
    await other.regRead(0x44090004);
    await listener.regRead(0x44090004);
    expect(got).toHaveLength(3);
    expect(notGot).toHaveLength(0);
    other.close();
    listener.close();
  });

  it('copies every client request and answer to members of the tap group', async () => {
    const monitor = await connect(env.socketPath);
    await monitor.subscribe('tap');
    const taps: TapRecord[] = [];
    monitor.on('tap', (t) => taps.push(t));
    await client.regRead(0x44090000);
    await expect.poll(() => taps.length, { timeout: 15_000 }).toBe(3);
    const msgs = taps.map((t) => decodeMessage(t.message) as NlMessage);
    expect(taps.map((t) => t.direction)).toEqual([0, 1, 1]);
    expect(msgs.map((m) => m.type)).toEqual([0x20, 0x20, 2]);
    expect(new Set(msgs.map((m) => m.seq)).size).toBe(1);
    monitor.close();
  });

  it('flushes every host-written table', async () => {
    await client.flush();
    expect(await client.targets()).toEqual([]);
    expect(await client.heartbeats()).toEqual([]);
    expect(await client.services()).toEqual([]);
    expect(await client.defaultBackup()).toBeNull();
    expect((await client.failsafe()).filter((f) => f.mode !== 'auto')).toEqual([]);
    expect((await client.config()).relayIp).toBe('10.0.0.254');
  });

  it('serves many clients at once, each in its own request order', async () => {
    const clients = await Promise.all(Array.from({ length: 8 }, () => connect(env.socketPath)));
    await Promise.all(clients.map((c, i) => c.targetAdd({ ip: `10.9.0.${i + 1}`, proto: 'tcp', port: 80, svcId: 100 + i, critical: false })));
    const lists = await Promise.all(clients.map((c, i) => c.targets(100 + i)));
    lists.forEach((l, i) => expect(l.map((t) => t.ip)).toEqual([`10.9.0.${i + 1}`]));
    expect(new Set(lists.map((l) => l[0]!.index)).size).toBe(8);
    for (const c of clients) c.close();
    await client.flush();
  });
});
