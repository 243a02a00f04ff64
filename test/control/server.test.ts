import { statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FatriotClient } from '../../src/control/client.ts';
import { fieldIndex, tableSpec } from '../../src/pipeline/regs/register-map.ts';
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
});
