/**
 * `fatriot testbed { up | down | status }` (SPEC 4): the paper's Fig. 8 testbed built
 * with network namespaces on this machine (tools/testbed): a traffic generator, a main
 * and a backup MEC host with UDP echo services, each host behind its own NIC process,
 * by default the real Fatriot NIC (`fatriot daemon --tap`, one control socket each).
 *
 *   up      builds it and stays in the foreground until Ctrl-C, SIGTERM or `down`
 *           (then removes everything); --detach leaves a background owner instead
 *   down    removes everything of the prefix (namespaces, links, processes by PID),
 *           also after a crash or a killed owner
 *   status  what exists (-j: JSON)
 *
 * Needs root and /dev/net/tun. The testbed code is loaded inside the actions: every
 * command file is loaded for every `fatriot` invocation.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { UsageError } from '../args.ts';
import type { CliContext } from '../context.ts';
import { table } from '../format.ts';

const COMMANDS = ['up', 'down', 'status'] as const;
const USAGE = 'fatriot testbed { up [ --standin ] [ --detach ] [ --pcap DIR ] | down | status } [ --prefix P ] [ --state-dir DIR ]';
const FATRIOT_BIN = fileURLToPath(new URL('../../../../bin/fatriot.mjs', import.meta.url));
/** How long `up --detach` waits for the background owner to report ready. */
const DETACH_READY_TIMEOUT_MS = 60_000;

interface TestbedOpts {
  prefix: string;
  stateDir?: string;
  standin?: boolean;
  detach?: boolean;
  pcap?: string;
}

type TestbedModule = typeof import('../../../../tools/testbed/testbed.ts');

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function needRoot(): void {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new Error('testbed: needs root (network namespaces, TAP devices); run it with sudo');
  }
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('testbed')
    .usage('{ up [ --standin ] [ --detach ] [ --pcap DIR ] | down | status } [ --prefix P ] [ --state-dir DIR ]')
    .description("build, inspect or remove the paper's Fig. 8 testbed (network namespaces, real NIC processes on TAP devices)")
    .argument('[command]', COMMANDS.join(' | '))
    .option('--prefix <p>', 'name prefix of namespaces and links, 1..8 lowercase letters/digits', 'f')
    .option('--state-dir <dir>', 'where state, sockets and logs live (default /run/fatriot-testbed)')
    .option('--standin', 'up: plain frame-copying stand-ins instead of the Fatriot NIC daemons')
    .option('--detach', 'up: return once it is up and leave a background owner (remove it with down)')
    .option('--pcap <dir>', 'up: the NICs capture every port to DIR/HOST/PORT.pcap')
    .action(async (command: string | undefined, opts: TestbedOpts) => {
      if (command === undefined || !(COMMANDS as readonly string[]).includes(command)) throw new UsageError(`usage: ${USAGE}`);
      if (command !== 'up' && (opts.standin === true || opts.detach === true || opts.pcap !== undefined)) {
        throw new UsageError('--standin, --detach and --pcap go with up');
      }
      if (opts.standin === true && opts.pcap !== undefined) throw new UsageError('--pcap needs the Fatriot NICs (not --standin)');
      const tb: TestbedModule = await import('../../../../tools/testbed/testbed.ts');
      try {
        tb.testbedPlan(opts.prefix);
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
      const ref = { prefix: opts.prefix, ...(opts.stateDir === undefined ? {} : { stateDir: resolve(opts.stateDir) }) };
      if (command === 'status') return status(ctx, tb, ref);
      needRoot();
      if (command === 'down') {
        const report = await tb.testbedDown(ref);
        rmSync(tb.ownerLogPath(ref), { force: true });
        if (ctx.json) ctx.printJson(report);
        else ctx.print(`testbed ${opts.prefix} down: ${describeDown(report)}`);
        return;
      }
      if (opts.detach === true) return upDetached(ctx, tb, ref, opts);
      return upForeground(ctx, tb, ref, opts);
    });
}

function describeDown(r: { killedPids: number[]; deletedNetns: string[]; deletedLinks: string[] }): string {
  if (r.killedPids.length + r.deletedNetns.length + r.deletedLinks.length === 0) return 'nothing was left';
  const parts: string[] = [];
  if (r.killedPids.length > 0) parts.push(`stopped pids ${r.killedPids.join(' ')}`);
  if (r.deletedNetns.length > 0) parts.push(`deleted namespaces ${r.deletedNetns.join(' ')}`);
  if (r.deletedLinks.length > 0) parts.push(`deleted links ${r.deletedLinks.join(' ')}`);
  return parts.join('; ');
}

function status(ctx: CliContext, tb: TestbedModule, ref: { prefix: string; stateDir?: string }): void {
  const s = tb.testbedStatus(ref);
  if (ctx.json) {
    ctx.printJson(s);
    return;
  }
  if (!s.exists && s.netns.length === 0) {
    ctx.print(`testbed ${s.prefix}: down`);
    return;
  }
  const state = !s.exists ? 'leftovers without state (run down)' : !s.ownerAlive ? 'owner gone (run down)' : s.ready ? 'up' : 'coming up';
  ctx.print(`testbed ${s.prefix}: ${state}${s.ownerPid === null ? '' : `, owner pid ${s.ownerPid}`}`);
  ctx.print(`namespaces: ${s.netns.length === 0 ? 'none' : s.netns.join(' ')}`);
  const rows = Object.entries(s.processes).map(([role, p]) => [role, p!.pid, p!.alive ? (p!.stopped ? 'stopped' : 'running') : 'gone']);
  if (rows.length > 0) ctx.print(table(['process', 'pid', 'state'], rows));
  const p = s.plan;
  const hosts = [
    ['tgen', p.tgen.netns, p.tgen.ifname, p.tgen.address, ''],
    ['main', p.main.netns, p.main.dmaTap, `${p.main.address}:${p.echoPort}`, s.sockets.main ?? ''],
    ['backup', p.backup.netns, p.backup.dmaTap, `${p.backup.address}:${p.echoPort}`, s.sockets.backup ?? ''],
  ];
  ctx.print(table(['host', 'netns', 'interface', 'address', 'nic socket'], hosts));
}

async function upForeground(ctx: CliContext, tb: TestbedModule, ref: { prefix: string; stateDir?: string }, opts: TestbedOpts): Promise<void> {
  // Signals first: a Ctrl-C while it comes up still tears down.
  let stopReason = '';
  let wake: () => void = () => undefined;
  const stopped = new Promise<void>((r) => {
    wake = r;
  });
  const stop = (why: string): void => {
    if (stopReason === '') stopReason = why;
    wake();
  };
  void ctx.waitForStop().then(() => stop('stopped'));
  const onHup = (): void => stop('SIGHUP');
  process.on('SIGHUP', onHup);
  try {
    const nic = opts.standin === true ? tb.standinNic : tb.fatriotNic(opts.pcap === undefined ? {} : { pcapDir: resolve(opts.pcap) });
    const testbed = await tb.testbedUp({ ...ref, nic, handleSignals: false });
    testbed.onUnexpectedExit = (role, code, signal) => stop(`${role} exited (${signal ?? code})`);
    try {
      if (stopReason === '') {
        const p = testbed.plan;
        const sock = (role: 'main' | 'backup'): string => (opts.standin === true ? '' : ` (NIC: fatriot --socket ${testbed.socketPath(role)})`);
        ctx.print(
          `testbed ${p.prefix} up: ${p.tgen.netns} ${p.tgen.address} -> ${p.main.netns} ${p.main.address}:${p.echoPort}${sock('main')}, ` +
            `${p.backup.netns} ${p.backup.address}:${p.echoPort}${sock('backup')}; Ctrl-C or "fatriot testbed down --prefix ${p.prefix}" tears down`,
        );
        await stopped;
      }
    } finally {
      if (stopReason !== 'stopped' && stopReason !== '') ctx.io.stderr(`fatriot testbed: ${stopReason}, tearing down\n`);
      await testbed.down();
    }
  } finally {
    process.off('SIGHUP', onHup);
  }
}

async function upDetached(ctx: CliContext, tb: TestbedModule, ref: { prefix: string; stateDir?: string }, opts: TestbedOpts): Promise<void> {
  const before = tb.testbedStatus(ref);
  if (before.exists && before.ownerAlive) {
    throw new Error(`testbed "${ref.prefix}" is already up (owner pid ${before.ownerPid}); run testbed down first`);
  }
  const logPath = tb.ownerLogPath(ref);
  mkdirSync(dirname(logPath), { recursive: true });
  const args = [FATRIOT_BIN, 'testbed', 'up', '--prefix', ref.prefix];
  if (ref.stateDir !== undefined) args.push('--state-dir', ref.stateDir);
  if (opts.standin === true) args.push('--standin');
  if (opts.pcap !== undefined) args.push('--pcap', resolve(opts.pcap));
  const log = openSync(logPath, 'w');
  // Its own session: a Ctrl-C or a closed terminal here does not reach it; `down` does.
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  const pid = child.pid!;
  let exited: string | null = null;
  child.once('exit', (code, signal) => {
    exited = String(signal ?? code);
  });
  const deadline = Date.now() + DETACH_READY_TIMEOUT_MS;
  for (;;) {
    const s = tb.testbedStatus(ref);
    if (s.ready && s.ownerPid === pid) break;
    if (exited !== null || Date.now() > deadline) {
      if (exited === null) process.kill(pid, 'SIGTERM');
      const text = existsSync(logPath) ? readFileSync(logPath, 'utf8').trim().split('\n').slice(-5).join(' | ') : '';
      throw new Error(`testbed ${ref.prefix}: the background owner ${exited === null ? 'was not ready in time' : `exited (${exited})`}${text === '' ? '' : `: ${text}`}`);
    }
    await sleep(100);
  }
  child.unref();
  const s = tb.testbedStatus(ref);
  if (ctx.json) ctx.printJson({ ...s, ownerLog: logPath });
  else {
    ctx.print(
      `testbed ${ref.prefix} up in the background (owner pid ${pid}, log ${logPath})` +
        `${s.sockets.main === undefined ? '' : `; NICs: ${s.sockets.main} ${s.sockets.backup ?? ''}`}; "fatriot testbed down --prefix ${ref.prefix}" removes it`,
    );
  }
}
