/**
 * `fatriot testbed up | down | status` as a user runs it (child processes of
 * bin/fatriot.mjs): a detached owner with real NIC daemons, a foreground owner ended by
 * `down` from another process or by Ctrl-C, and the clean-up after a killed owner.
 * Every case checks that no namespace, TAP or process is left behind.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, testbedDown, testbedPlan, testbedStatus } from '../../tools/testbed/testbed.ts';
import { linkNames, listNetns, netnsSkipReason, ping, uniquePrefix } from '../helpers/netns.ts';

const skipReason = netnsSkipReason(['ping']);
if (skipReason !== null) console.warn(`skipping fatriot testbed CLI tests: ${skipReason}`);

const FATRIOT = join(REPO_ROOT, 'bin/fatriot.mjs');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function fatriot(args: string[], timeoutMs = 60_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [FATRIOT, ...args], { cwd: REPO_ROOT, timeout: timeoutMs }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof (error as { code?: unknown }).code === 'number' ? (error as { code: number }).code : null;
      resolve({ code, stdout, stderr });
    });
  });
}

function leftovers(prefix: string): { netns: string[]; links: string[] } {
  const plan = testbedPlan(prefix);
  const taps = [plan.main.dmaTap, plan.main.nfTap, plan.backup.dmaTap, plan.backup.nfTap];
  return { netns: listNetns().filter((ns) => ns.startsWith(prefix)), links: linkNames().filter((l) => taps.includes(l)) };
}

function alive(pid: number): boolean {
  return existsSync(`/proc/${pid}/cmdline`);
}

async function until(what: string, timeoutMs: number, check: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

describe.skipIf(skipReason !== null)('fatriot testbed (CLI)', () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'fatriot-tbcli-'));
  const prefixes: string[] = [];
  const children: ChildProcess[] = [];

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const prefix of prefixes) await testbedDown({ prefix, stateDir });
    rmSync(stateDir, { recursive: true, force: true });
    for (const prefix of prefixes) expect(leftovers(prefix)).toEqual({ netns: [], links: [] });
  });

  it('up --detach returns with the NIC daemons running, refuses a second up, and down removes everything', async () => {
    const prefix = uniquePrefix('tcd');
    prefixes.push(prefix);
    const common = ['--prefix', prefix, '--state-dir', stateDir];
    const up = await fatriot(['testbed', 'up', '--detach', ...common]);
    expect(up.stderr).toBe('');
    expect(up.code).toBe(0);
    const status = testbedStatus({ prefix, stateDir });
    expect(status).toMatchObject({ exists: true, ready: true, ownerAlive: true });
    expect(up.stdout).toContain(`owner pid ${status.ownerPid}`);
    const plan = testbedPlan(prefix);
    expect(ping(plan.tgen.netns, plan.main.address, { count: 2, intervalS: 0.05, deadlineS: 5 }).received).toBe(2);

    // The NICs are the real daemons with the address plan applied.
    const config = await fatriot(['-j', '--socket', status.sockets.main!, 'config', 'show']);
    expect(config.code).toBe(0);
    expect(JSON.parse(config.stdout)).toMatchObject({ relayIp: plan.main.nicRelayAddress, nicMac: plan.main.nicRelayMac });

    const json = await fatriot(['-j', 'testbed', 'status', ...common]);
    expect(JSON.parse(json.stdout)).toMatchObject({ prefix, ready: true, ownerPid: status.ownerPid, sockets: status.sockets });
    const text = await fatriot(['testbed', 'status', ...common]);
    expect(text.stdout).toMatch(new RegExp(`^testbed ${prefix}: up, owner pid ${status.ownerPid}`));

    for (const again of [['testbed', 'up', ...common], ['testbed', 'up', '--detach', ...common]]) {
      const second = await fatriot(again);
      expect(second.code).toBe(1);
      expect(second.stderr.trim()).toBe(`fatriot: testbed "${prefix}" is already up (owner pid ${status.ownerPid}); run testbed down first`);
    }

    const pids = [status.ownerPid!, ...Object.values(status.processes).map((p) => p!.pid)];
    const down = await fatriot(['testbed', 'down', ...common]);
    expect(down.code).toBe(0);
    expect(down.stdout).toMatch(new RegExp(`^testbed ${prefix} down: stopped pids ${status.ownerPid}`));
    expect(leftovers(prefix)).toEqual({ netns: [], links: [] });
    await until('every process of the testbed to exit', 5000, () => pids.every((pid) => !alive(pid)));
    expect(testbedStatus({ prefix, stateDir }).exists).toBe(false);
    expect((await fatriot(['testbed', 'status', ...common])).stdout.trim()).toBe(`testbed ${prefix}: down`);
  }, 120_000);

  it('a foreground up stays until down from another process, then exits 0 having removed everything', async () => {
    const prefix = uniquePrefix('tcf');
    prefixes.push(prefix);
    const common = ['--prefix', prefix, '--state-dir', stateDir];
    const owner = spawn(process.execPath, [FATRIOT, 'testbed', 'up', ...common], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(owner);
    let stdout = '';
    owner.stdout!.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    await until('the foreground testbed to be up', 60_000, () => stdout.includes(`testbed ${prefix} up:`));
    expect(testbedStatus({ prefix, stateDir })).toMatchObject({ ready: true, ownerPid: owner.pid, ownerAlive: true });
    const nicPids = Object.values(testbedStatus({ prefix, stateDir }).processes).map((p) => p!.pid);

    const down = await fatriot(['testbed', 'down', ...common]);
    expect(down.code).toBe(0);
    expect(await exitOf(owner)).toEqual({ code: 0, signal: null });
    expect(leftovers(prefix)).toEqual({ netns: [], links: [] });
    expect(nicPids.every((pid) => !alive(pid))).toBe(true);
  }, 120_000);

  it('Ctrl-C on a foreground up tears down; a SIGKILLed owner takes its NICs along and down removes the rest', async () => {
    const prefix = uniquePrefix('tck');
    prefixes.push(prefix);
    const common = ['--prefix', prefix, '--state-dir', stateDir];
    const start = async (): Promise<ChildProcess> => {
      const owner = spawn(process.execPath, [FATRIOT, 'testbed', 'up', ...common], { cwd: REPO_ROOT, stdio: 'ignore' });
      children.push(owner);
      await until('the testbed to be up', 60_000, () => testbedStatus({ prefix, stateDir }).ready && testbedStatus({ prefix, stateDir }).ownerPid === owner.pid);
      return owner;
    };

    const first = await start();
    first.kill('SIGINT');
    expect(await exitOf(first)).toEqual({ code: 0, signal: null });
    expect(leftovers(prefix)).toEqual({ netns: [], links: [] });
    expect(testbedStatus({ prefix, stateDir }).exists).toBe(false);

    const second = await start();
    const nicPids = Object.values(testbedStatus({ prefix, stateDir }).processes).map((p) => p!.pid);
    second.kill('SIGKILL');
    await exitOf(second);
    // The NIC daemons and echo servers hold the owner's pipe on stdin: they exit with it.
    await until('the children to follow their owner', 10_000, () => nicPids.every((pid) => !alive(pid)));
    expect(testbedStatus({ prefix, stateDir })).toMatchObject({ exists: true, ownerAlive: false });
    expect((await fatriot(['testbed', 'status', ...common])).stdout).toContain('owner gone (run down)');
    const down = await fatriot(['testbed', 'down', ...common]);
    expect(down.code).toBe(0);
    expect(down.stdout).toContain('deleted namespaces');
    expect(leftovers(prefix)).toEqual({ netns: [], links: [] });
  }, 120_000);

  it('rejects a bad prefix and options of the wrong command with a usage error', async () => {
    const bad = await fatriot(['testbed', 'status', '--prefix', 'Bad']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^fatriot: testbed prefix must be 1..8 lowercase/);
    const wrong = await fatriot(['testbed', 'down', '--detach', '--prefix', 'zz']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr.trim()).toBe('fatriot: --standin, --detach and --pcap go with up');
    const none = await fatriot(['testbed']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('usage: fatriot testbed { up');
  });
});
