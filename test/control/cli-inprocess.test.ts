/**
 * The CLI built in-process against a stand-in NIC's server: output of
 * `monitor` for each event kind, and the argument words of the grammar.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatDuration, parseDuration, parseIpPort, UsageError } from '../../src/control/cli/args.ts';
import { main } from '../../src/control/cli/program.ts';
import { startServer } from './helpers.ts';

let env: Awaited<ReturnType<typeof startServer>>;
beforeAll(async () => {
  env = await startServer();
});
afterAll(async () => {
  await env?.stop();
});

async function run(words: string[], stop: AbortSignal | null = null): Promise<{ code: number; out: string[]; err: string }> {
  const out: string[] = [];
  let err = '';
  const code = await main(['node', 'fatriot', '--socket', env.socketPath, ...words], { stdout: (l) => out.push(l), stderr: (t) => (err += t), stop });
  return { code, out, err };
}

describe('fatriot monitor', () => {
  it('prints each event as it happens, with its model cycle, and -j prints JSON lines', async () => {
    for (const json of [false, true]) {
      const stop = new AbortController();
      const out: string[] = [];
      let err = '';
      const done = main(['node', 'fatriot', '--socket', env.socketPath, ...(json ? ['-j'] : []), 'monitor'], {
        stdout: (l) => out.push(l),
        stderr: (t) => (err += t),
        stop: stop.signal,
      });
      await expect.poll(() => err, { timeout: 15_000 }).toContain('listening');
      await expect.poll(() => env.server.clientCount, { timeout: 15_000 }).toBe(1);
      // The JOIN_GROUP ack reached the client before "listening" was printed; events flow from here.
      env.nic.events.emit({ kind: 'heartbeat', serviceId: 1, rttCycles: 40_000, rttAvgCycles: 32_000, ratio: 1.25, timedOut: false, cycle: 160_000_000 });
      env.nic.events.emit({ kind: 'heartbeat', serviceId: 3, rttCycles: 96_000, rttAvgCycles: 32_000, ratio: 3, timedOut: true, cycle: 240_000_000 });
      env.nic.events.emit({ kind: 'failsafe', serviceId: 3, active: true, cause: 'heartbeat', cycle: 240_000_001 });
      env.nic.events.emit({ kind: 'neighbor', ip: 0x0a000102, serviceId: 3, up: true, cycle: 250_000_000 });
      await expect.poll(() => out.length, { timeout: 15_000 }).toBe(4);
      stop.abort();
      expect(await done).toBe(0);
      if (!json) {
        expect(out).toEqual([
          '[cycle 160000000] heartbeat svc 1 rtt 250us ratio 1.250',
          '[cycle 240000000] heartbeat svc 3 rtt timeout ratio 3.000',
          '[cycle 240000001] failsafe svc 3 on (heartbeat)',
          '[cycle 250000000] neighbor 10.0.1.2 svc 3 up',
        ]);
      } else {
        const events = out.map((l) => JSON.parse(l));
        expect(events.map((e) => e.kind)).toEqual(['heartbeat', 'heartbeat', 'failsafe', 'neighbor']);
        expect(events[0]).toMatchObject({ svcId: 1, rttNs: 250_000, rttAvgNs: 200_000, ratio: 1.25, timedOut: false, cycle: 160_000_000 });
      }
      await expect.poll(() => env.server.clientCount, { timeout: 15_000 }).toBe(0);
    }
  });

  it('runs object commands in-process with exit codes 0, 1 (failure) and 2 (usage)', async () => {
    expect(await run(['target', 'add', '10.0.0.2', 'proto', 'tcp', 'port', '80', 'svc', '5'])).toEqual({ code: 0, out: [], err: '' });
    expect((await run(['-j', 'target', 'show'])).out).toEqual(['[{"index":0,"ip":"10.0.0.2","proto":"tcp","port":80,"svcId":5,"critical":false}]']);
    expect(await run(['heartbeat', 'del', 'svc', '5'])).toEqual({ code: 1, out: [], err: 'fatriot: no heartbeat for svc 5 (ENOENT)\n' });
    expect(await run(['target', 'add', '10.0.0.2', 'proto', 'sctp', 'svc', '5'])).toEqual({ code: 2, out: [], err: 'fatriot: invalid protocol "sctp" (udp, tcp or icmp)\n' });
    expect((await run([])).code).toBe(2);
    expect((await run(['heartbeat', 'add', 'svc', '5', 'host', 'interval', '1s', 'threshold', '2'])).err).toBe(
      'fatriot: a host heartbeat needs a target: give one or set the config host address (EINVAL)\n',
    );
  });
});

describe('grammar words', () => {
  it('parses durations with units into ns', () => {
    expect(parseDuration('500ms')).toBe(500_000_000);
    expect(parseDuration('0.1s')).toBe(100_000_000);
    expect(parseDuration('200us')).toBe(200_000);
    expect(parseDuration('5s')).toBe(5_000_000_000);
    expect(parseDuration('6.25ns')).toBe(6);
    for (const bad of ['500', '1m', '-1s', '0s', 's', '1.s', '1e3ms']) expect(() => parseDuration(bad)).toThrow(UsageError);
  });

  it('formats durations back to short words', () => {
    expect([1e9, 5e8, 2e5, 250_000, 1.5e9, 6, 0].map(formatDuration)).toEqual(['1s', '500ms', '200us', '250us', '1.5s', '6ns', '0']);
  });

  it('parses IP[:PORT]', () => {
    expect(parseIpPort('10.0.0.2:7')).toEqual({ ip: '10.0.0.2', port: 7 });
    expect(parseIpPort('10.0.0.2')).toEqual({ ip: '10.0.0.2', port: 0 });
    expect(() => parseIpPort('10.0.0.2:0')).toThrow(UsageError);
    expect(() => parseIpPort('10.0.0.256:7')).toThrow(UsageError);
  });
});
