/**
 * End to end: the `fatriot` CLI against `fatriot daemon --sim` child processes,
 * through the control socket only. Configures the paper's Fig. 5 heartbeat
 * table, reads it back with -j, saves and restores, and checks daemon start-up
 * rules. Every child is ended by its PID in afterAll.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTshark, tsharkSkipReason } from '../helpers/tshark.ts';

const BIN = join(import.meta.dirname, '../../bin/fatriot.mjs');
const dir = mkdtempSync(join(tmpdir(), 'fatriot-cli-'));
chmodSync(dir, 0o755);
const socketPath = join(dir, 'nic0.sock');
const children = new Set<ChildProcess>();

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function fatriot(args: string[], socket = socketPath): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, FATRIOT_SOCKET: socket }, timeout: 20_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

async function ok(args: string[], socket = socketPath): Promise<string> {
  const r = await fatriot(args, socket);
  if (r.code !== 0) throw new Error(`fatriot ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

async function json<T>(args: string[], socket = socketPath): Promise<T> {
  return JSON.parse(await ok(['-j', ...args], socket)) as T;
}

/** Starts `fatriot daemon` and resolves once it prints its ready line (or rejects with its stderr when it exits). */
function startDaemon(args: string[]): Promise<{ child: ChildProcess; stdout: string }> {
  const child = spawn(process.execPath, [BIN, 'daemon', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('control socket')) resolve({ child, stdout: out });
    });
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => reject(Object.assign(new Error(`daemon exited ${code}: ${err.trim()}`), { code, stderr: err })));
  });
}

function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.kill(signal);
  });
}

let daemon: ChildProcess;

beforeAll(async () => {
  daemon = (await startDaemon(['--sim', '--socket', socketPath])).child;
});

afterAll(async () => {
  for (const c of [...children]) {
    if (c.pid !== undefined) {
      try {
        process.kill(c.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

const FIG5_BATCH = `# Fatriot Fig. 5: three services, their targets, heartbeats and backups
target add 10.0.0.2 proto icmp svc 1 critical
target add 10.0.0.3 proto tcp port 8080 svc 2 critical
target add 10.0.0.2 proto udp port 7 svc 3 critical
heartbeat add svc 1 icmp interval 1s threshold 1.5
heartbeat add svc 2 raw 0800f7ff00000000 interval 5s threshold 1.5 learn 4
heartbeat add svc 3 udp 7 payload 70696e67 interval 500ms threshold 1.5
service add 10.0.0.3:8080 proto tcp backup 10.0.1.3:8080
service add 10.0.0.2:7 proto udp backup 10.0.1.2
service default backup 10.0.1.9
`;

describe('fatriot CLI against fatriot daemon --sim', () => {
  it('configures the Fig. 5 heartbeat table through the socket and reads it back with -j', async () => {
    const batch = join(dir, 'fig5.batch');
    writeFileSync(batch, FIG5_BATCH);
    await ok(['-b', batch]);
    const hb = await json<Record<string, unknown>[]>(['heartbeat', 'show']);
    expect(hb.map(({ svcId, kind, target, intervalNs, intervalCycles, threshold, learnSamples, payload, port, state }) => ({ svcId, kind, target, intervalNs, intervalCycles, threshold, learnSamples, payload, port, state }))).toEqual([
      { svcId: 1, kind: 'icmp', target: '10.0.0.2', intervalNs: 1e9, intervalCycles: 160e6, threshold: 1.5, learnSamples: 10, payload: undefined, port: undefined, state: 'learning' },
      { svcId: 2, kind: 'raw', target: '10.0.0.3', intervalNs: 5e9, intervalCycles: 800e6, threshold: 1.5, learnSamples: 4, payload: '0800f7ff00000000', port: undefined, state: 'learning' },
      { svcId: 3, kind: 'udp', target: '10.0.0.2', intervalNs: 5e8, intervalCycles: 80e6, threshold: 1.5, learnSamples: 10, payload: '70696e67', port: 7, state: 'learning' },
    ]);
    expect(await json(['target', 'show'])).toEqual([
      { index: 0, ip: '10.0.0.2', proto: 'icmp', port: 0, svcId: 1, critical: true },
      { index: 1, ip: '10.0.0.3', proto: 'tcp', port: 8080, svcId: 2, critical: true },
      { index: 2, ip: '10.0.0.2', proto: 'udp', port: 7, svcId: 3, critical: true },
    ]);
    expect(await json(['service', 'show'])).toEqual({
      services: [
        { index: 0, ip: '10.0.0.3', proto: 'tcp', port: 8080, backupIp: '10.0.1.3', backupPort: 8080 },
        { index: 1, ip: '10.0.0.2', proto: 'udp', port: 7, backupIp: '10.0.1.2', backupPort: 0 },
      ],
      defaultBackup: '10.0.1.9',
    });
  });

  it('prints aligned tables for people', async () => {
    expect(await ok(['heartbeat', 'show'])).toBe(
      [
        'svc  target    message                 interval  threshold  rtt_avg  rtt_last  ratio  state',
        '1    10.0.0.2  icmp                    1s        1.5        -        -         -      learning',
        '2    10.0.0.3  raw 0800f7ff00000000    5s        1.5        -        -         -      learning',
        '3    10.0.0.2  udp 7 payload 70696e67  500ms     1.5        -        -         -      learning',
        '',
      ].join('\n'),
    );
    expect(await ok(['failsafe', 'show'])).toBe('svc  mode  state\n1    auto  normal\n2    auto  normal\n3    auto  normal\n');
  });

  it('reports errors as one line on stderr with a non-zero exit', async () => {
    const dup = await fatriot(['target', 'add', '10.0.0.2', 'proto', 'udp', 'port', '7', 'svc', '3']);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toBe('fatriot: target 10.0.0.2 proto 17 port 7 exists (svc 3) (EEXIST)\n');
    const usage = await fatriot(['heartbeat', 'add', 'svc', '4', 'icmp', 'interval', '500', 'threshold', '1.5']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toBe('fatriot: invalid duration "500" (use e.g. 500ms, 0.1s, 200us)\n');
    const fault = await fatriot(['reg', 'read', '0x10']);
    expect(fault.code).toBe(1);
    expect(fault.stderr.split('\n')).toHaveLength(2);
    expect(fault.stderr).toMatch(/EFAULT/);
    const nosock = await fatriot(['target', 'show'], join(dir, 'none.sock'));
    expect(nosock.code).toBe(1);
    expect(nosock.stderr).toMatch(/^fatriot: cannot connect to .*none\.sock: no such socket/);
  });

  it('shows the grammar with help', async () => {
    const help = await ok(['help']);
    expect(help).toMatch(/^Usage: fatriot \[ OPTIONS \] OBJECT \{ COMMAND \| help \}/);
    expect(help).toContain('fatriot heartbeat { add | replace } svc ID { host | icmp | udp PORT [ payload HEX ] | raw HEX }');
    expect(await ok(['failsafe', 'help'])).toBe('Usage: fatriot failsafe { on | off | auto } svc ID\n       fatriot failsafe show [ svc ID ]\n');
  });

  it('stops a batch at the first failing line and names it', async () => {
    const batch = join(dir, 'bad.batch');
    writeFileSync(batch, 'failsafe on svc 3\nfailsafe on svc 999\nfailsafe on svc 2\n');
    const r = await fatriot(['-b', batch]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`fatriot: ${batch}:2: invalid service ID "999" (expected 0..255)\n`);
    expect((await json<{ svcId: number; mode: string }[]>(['failsafe', 'show'])).map((f) => [f.svcId, f.mode])).toEqual([
      [1, 'auto'],
      [2, 'auto'],
      [3, 'on'],
    ]);
  });

  it('saves and restores the whole configuration, and a bad file changes nothing', async () => {
    await ok(['config', 'set', 'relay', '10.0.0.254', 'relay-ports', '40000:1024', 'host', '10.0.0.2', 'mac', '02:fa:00:00:00:01']);
    const a = join(dir, 'a.json');
    await ok(['save', a]);
    const saved = JSON.parse(readFileSync(a, 'utf8'));
    expect(saved.heartbeats).toHaveLength(3);
    expect(saved.failsafe).toEqual([{ svcId: 3, mode: 'on' }]);
    expect(saved.nic.relayIp).toBe('10.0.0.254');

    await ok(['heartbeat', 'del', 'svc', '2']);
    await ok(['target', 'del', 'svc', '1']);
    await ok(['failsafe', 'auto', 'svc', '3']);
    await ok(['service', 'del', 'default']);

    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ ...saved, heartbeats: [...saved.heartbeats, { ...saved.heartbeats[0], svcId: 9, kind: 'udp' }] }));
    const r = await fatriot(['restore', bad]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`fatriot: ${bad}: heartbeats.3: a udp heartbeat needs a port\n`);
    const before = join(dir, 'before.json');
    await ok(['save', before]);
    expect(JSON.parse(readFileSync(before, 'utf8')).heartbeats).toHaveLength(2);

    await ok(['restore', a]);
    const b = join(dir, 'b.json');
    await ok(['save', b]);
    expect(JSON.parse(readFileSync(b, 'utf8'))).toEqual(saved);
  });

  it('refuses to start over the live socket of another daemon', async () => {
    await expect(startDaemon(['--sim', '--socket', socketPath])).rejects.toMatchObject({ code: 1, stderr: `fatriot: another fatriot daemon is serving ${socketPath}\n` });
    expect((await json<unknown[]>(['target', 'show'])).length).toBe(3);
  });

  it('replaces a stale socket file, applies --config, and removes its socket on SIGTERM', async () => {
    const stale = join(dir, 'stale.sock');
    // A socket file nobody listens on: a listener killed before it could clean up.
    const holder = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(stale)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'ignore'] });
    children.add(holder);
    await new Promise((r) => holder.stdout!.once('data', r));
    await stopChild(holder, 'SIGKILL');
    expect(existsSync(stale)).toBe(true);
    await expect(new Promise((resolve, reject) => net.connect(stale).once('connect', resolve).once('error', reject))).rejects.toMatchObject({ code: 'ECONNREFUSED' });

    const { child } = await startDaemon(['--sim', '--socket', stale, '--config', join(dir, 'a.json')]);
    const restored = await json(['heartbeat', 'show'], stale);
    expect(restored).toEqual(await json(['heartbeat', 'show']));
    expect(await stopChild(child)).toBe(0);
    expect(existsSync(stale)).toBe(false);
  });

  it('refuses a bad --config before it creates a socket', async () => {
    const bad = join(dir, 'bad2.json');
    writeFileSync(bad, '{"fatriotConfig": 1, "targets": [{"ip": "10.0.0.300", "proto": "udp", "svcId": 1}]}');
    const sock = join(dir, 'never.sock');
    await expect(startDaemon(['--sim', '--socket', sock, '--config', bad])).rejects.toMatchObject({ code: 1, stderr: `fatriot: ${bad}: targets.0.ip: not an IPv4 address\n` });
    expect(existsSync(sock)).toBe(false);
  });

  it.skipIf(tsharkSkipReason !== null)('monitor --pcap records control traffic that tshark decodes as generic netlink of family fatriot', async () => {
    const pcap = join(dir, 'control.pcap');
    const monitor = spawn(process.execPath, [BIN, 'monitor', '--pcap', pcap], { env: { ...process.env, FATRIOT_SOCKET: socketPath }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(monitor);
    await new Promise((r) => monitor.stderr!.once('data', r));
    await ok(['failsafe', 'on', 'svc', '2']);
    await ok(['reg', 'read', '0x440b0000']);
    expect(await stopChild(monitor, 'SIGINT')).toBe(0);
    const r = runTshark(pcap, ['-T', 'fields', '-E', 'separator=/s', '-e', 'netlink.hdr_type', '-e', 'genl.family_id', '-e', 'genl.cmd', '-e', 'netlink.error']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const v = runTshark(pcap, ['-V']);
    expect(v.stdout).toContain('Linux netlink (cooked header)');
    expect(v.stdout).toContain('Family: Generic (0x0010)');
    expect(v.stdout).toContain('CTRL_CMD_GETFAMILY');
    expect(v.stdout).toContain('Family ID: 0x20 (fatriot)');
    // Per frame: netlink type(s) / genl family / genl cmd / error. The monitor's own
    // GETFAMILY, NEWFAMILY, ACK and two JOIN_GROUPs (23), then per CLI run
    // GETFAMILY, NEWFAMILY, ACK, the request (FAILSAFE_SET 13; REG_READ 17 and its reply) and its ACK.
    const all = r.stdout.split('\n').filter((l) => l !== '').map((l) => l.trim().split(/\s+/).join(' '));
    // Forcing fail-safe on makes the NIC multicast one EVENT_FAILSAFE (25) to the monitor,
    // interleaved with the CLI's exchange wherever the model emits it.
    expect(all.filter((l) => l === '0x20 25')).toHaveLength(1);
    const rows = all.filter((l) => l !== '0x20 25');
    const getFamily = ['0x10', '0x10', '0x0002,0x0010 0'];
    expect(rows).toEqual([...getFamily, '0x20 23', '0x0002,0x0020 0', '0x20 23', '0x0002,0x0020 0', ...getFamily, '0x20 13', '0x0002,0x0020 0', ...getFamily, '0x20 17', '0x20 17', '0x0002,0x0020 0']);
  });
});
