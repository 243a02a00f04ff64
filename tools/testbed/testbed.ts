/**
 * Builds, inspects, faults and tears down the Fig. 8 testbed (SPEC 4) with network
 * namespaces; the address plan is in plan.ts and README.md.
 *
 * Ownership: the process that calls `testbedUp` is the owner. It spawns the NIC
 * processes and the echo servers with a pipe on their stdin, so they exit when the
 * owner dies however it dies; it records everything it creates, before creating it,
 * in a state file, so `testbedDown` (from any process) can remove what is left after
 * a crash; and by default it tears down on SIGINT/SIGTERM. A second `up` while the
 * owner lives is refused; a state file whose owner is dead is cleaned up first.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NicConfig } from '../../src/control/objects.ts';
import { allNetns, allTaps, testbedPlan, type HostPlan, type HostRole, type TestbedPlan } from './plan.ts';

export { testbedPlan, type HostPlan, type HostRole, type TestbedPlan } from './plan.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const DEFAULT_STATE_DIR = '/run/fatriot-testbed';
const TSX_ARGS = ['--import', 'tsx'];
const READY_TIMEOUT_MS = 20_000;

/** Where a NIC's files go: the testbed's folder for this prefix (state, logs, sockets, configs). */
export interface NicLaunchContext {
  instanceDir: string;
}

/** A NIC's command line, and its control socket when it has one. */
export interface NicCommand {
  command: string;
  args: string[];
  socketPath?: string;
}

/** What the testbed runs as a host's NIC: its command line, given the host's plan. */
export type NicLauncher = (host: HostPlan, plan: TestbedPlan, context: NicLaunchContext) => NicCommand;

/** The plumbing stand-in: copies frames between the host's dma0 and nf0 TAPs. */
export const standinNic: NicLauncher = (host) => ({
  command: process.execPath,
  args: [...TSX_ARGS, join(REPO_ROOT, 'tools/testbed/standin-nic.ts'), '--dma', host.dmaTap, '--nf', host.nfTap],
});

/** Relay (SNAT) ports of the NICs: clear of Linux's ephemeral range start (32768) and of the heartbeat ports from 0xf000. */
export const RELAY_PORT_BASE = 40000;
export const RELAY_PORT_COUNT = 4096;

/**
 * The NIC settings that make a host's Fatriot NIC a good citizen of the segment
 * (README "The NICs"): the relay address and MAC of the address plan, which it answers
 * ARP for and relays from (SPEC 3.4); the host behind it (host-level heartbeat target);
 * a relay port range no host socket uses; the neighbor discovery port, silent unless
 * `announceIntervalNs` is given (SPEC 3.5).
 */
export function nicConfigFor(host: HostPlan, plan: TestbedPlan, overrides: Partial<NicConfig> = {}): NicConfig {
  return {
    relayIp: host.nicRelayAddress,
    nicMac: host.nicRelayMac,
    hostIp: host.address,
    relayPortBase: RELAY_PORT_BASE,
    relayPortCount: RELAY_PORT_COUNT,
    announcePort: plan.discoveryPort,
    capacity: 100,
    announceIntervalNs: 0,
    ...overrides,
  };
}

export interface FatriotNicOptions {
  /** `fatriot daemon --reference`: the reference NIC top, no Fatriot modules (the "without" runs). */
  reference?: boolean;
  /** Capture every port of each NIC to `<pcapDir>/<role>/<port>.pcap` (daemon --pcap). */
  pcapDir?: string;
  /** Per-host changes to nicConfigFor's settings. */
  nic?: (host: HostPlan) => Partial<NicConfig>;
}

/**
 * The real NIC: `fatriot daemon --tap` runs the FatriotNic cycle model (or the
 * reference NIC) on the host's nf0 and dma0 TAPs with the real-time driver, with its
 * control socket at `<instanceDir>/nic-<role>.sock` and its NIC settings
 * (nicConfigFor) applied from `<instanceDir>/nic-<role>.json` before it says ready.
 */
export function fatriotNic(options: FatriotNicOptions = {}): NicLauncher {
  return (host, plan, context) => {
    const socketPath = join(context.instanceDir, `nic-${host.role}.sock`);
    const args = [
      join(REPO_ROOT, 'bin/fatriot.mjs'), 'daemon', '--tap',
      '--port', `nf0=${host.nfTap}`, '--port', `dma0=${host.dmaTap}`,
      '--socket', socketPath,
    ];
    if (options.reference === true) {
      args.push('--reference');
    } else {
      const configPath = join(context.instanceDir, `nic-${host.role}.json`);
      const config = { fatriotConfig: 1, nic: nicConfigFor(host, plan, options.nic?.(host) ?? {}) };
      writeFileSync(configPath, `${JSON.stringify(config, null, 2)}\n`);
      args.push('--config', configPath);
    }
    if (options.pcapDir !== undefined) args.push('--pcap', join(options.pcapDir, host.role));
    return { command: process.execPath, args, socketPath };
  };
}

export interface TestbedRef {
  /** Name prefix of namespaces, TAPs and the state file. Default "f". */
  prefix?: string;
  /** Default /run/fatriot-testbed. */
  stateDir?: string;
}

export interface TestbedUpOptions extends TestbedRef {
  nic?: NicLauncher;
  /** Tear down on SIGINT/SIGTERM of the owner, then exit 130/143. Default true. */
  handleSignals?: boolean;
  /** Start the UDP echo services. Default true. */
  services?: boolean;
}

type ProcessRole = 'nic-main' | 'nic-backup' | 'echo-main' | 'echo-backup';

interface TestbedState {
  prefix: string;
  ownerPid: number;
  /** /proc/PID/stat start time of the owner: tells the owner from a later process that reused its PID. */
  ownerStartTicks?: number;
  createdAt: string;
  /** Namespaces created so far (recorded before each is created). */
  netns: string[];
  pids: Partial<Record<ProcessRole, number>>;
  /** Control sockets of the NICs that have one. */
  sockets?: Partial<Record<HostRole, string>>;
  ready: boolean;
}

export interface TestbedStatus {
  prefix: string;
  /** A state file exists. */
  exists: boolean;
  ready: boolean;
  ownerPid: number | null;
  ownerAlive: boolean;
  /** Which of our namespaces exist. */
  netns: string[];
  processes: Partial<Record<ProcessRole, { pid: number; alive: boolean; stopped: boolean }>>;
  /** Control sockets of the NICs (real NICs only). */
  sockets: Partial<Record<HostRole, string>>;
  plan: TestbedPlan;
}

export interface DownReport {
  killedPids: number[];
  deletedNetns: string[];
  deletedLinks: string[];
}

/**
 * Log of a detached owner (`fatriot testbed up --detach`): beside the instance folder,
 * not in it, so the owner's own clean-up of a stale state cannot unlink it.
 */
export function ownerLogPath(ref: TestbedRef): string {
  return join(ref.stateDir ?? DEFAULT_STATE_DIR, `${ref.prefix ?? 'f'}.owner.log`);
}

/** STATE_DIR/PREFIX/ holds state.json and the children's logs; down removes it. */
function instanceDir(ref: TestbedRef): string {
  return join(ref.stateDir ?? DEFAULT_STATE_DIR, ref.prefix ?? 'f');
}

function statePath(ref: TestbedRef): string {
  return join(instanceDir(ref), 'state.json');
}

function readState(ref: TestbedRef): TestbedState | null {
  const path = statePath(ref);
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as TestbedState;
  } catch {
    return null;
  }
}

function writeState(ref: TestbedRef, state: TestbedState): void {
  const path = statePath(ref);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(`${path}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(`${path}.tmp`, path);
}

function run(command: string, args: readonly string[]): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim() ?? '';
    throw new Error(`${command} ${args.join(' ')}: ${stderr || (error as Error).message}`);
  }
}

function ipIn(netns: string, args: readonly string[]): string {
  return run('ip', ['-n', netns, ...args]);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** /proc/PID/stat state: 'R', 'S', 'T' (stopped), 'Z' (zombie), or null if gone. */
function processState(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return null;
  }
}

function isAlive(pid: number): boolean {
  const state = processState(pid);
  return state !== null && state !== 'Z' && state !== 'X';
}

/** Field 22 of /proc/PID/stat (start time in clock ticks since boot), or null if gone. */
function startTicks(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
  } catch {
    return null;
  }
}

/** The recorded owner still runs (same PID and the same start time, so not a reused PID). */
function ownerAlive(state: TestbedState): boolean {
  if (!isAlive(state.ownerPid)) return false;
  return state.ownerStartTicks === undefined || startTicks(state.ownerPid) === state.ownerStartTicks;
}

/** Only signal a PID whose command line still carries our marker (the PID may have been reused). */
function isOurs(pid: number, marker: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(marker);
  } catch {
    return false;
  }
}

function listNetns(): string[] {
  return run('ip', ['netns', 'list'])
    .split('\n')
    .map((line) => line.split(' ')[0]!)
    .filter((name) => name.length > 0);
}

function linkExists(name: string): boolean {
  try {
    execFileSync('ip', ['link', 'show', 'dev', name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function waitFor(what: string, timeoutMs: number, check: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`testbed: timed out waiting for ${what}`);
    await sleep(20);
  }
}

function markerFor(prefix: string): string {
  return `--testbed-id=${prefix}`;
}

/** Spawns a child with stdin piped (it exits on EOF), logs its output, resolves when it prints "ready". */
function spawnReady(
  command: string,
  args: string[],
  logPath: string,
  what: string,
  onSpawn: (child: ChildProcess) => void,
): Promise<ChildProcess> {
  const log = createWriteStream(logPath, { flags: 'a' });
  const child = spawn(command, args, { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  onSpawn(child);
  child.stderr!.pipe(log, { end: false });
  return new Promise((resolve, reject) => {
    let output = '';
    let ready = false;
    const timer = setTimeout(() => fail(new Error(`testbed: ${what} not ready after ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
    const fail = (error: Error): void => {
      clearTimeout(timer);
      if (child.pid !== undefined && isAlive(child.pid)) child.kill('SIGKILL');
      reject(new Error(`${error.message} (log: ${logPath})`));
    };
    const onExit = (code: number | null, signal: string | null): void =>
      fail(new Error(`testbed: ${what} exited (${signal ?? code}) before ready`));
    child.once('error', fail);
    child.once('exit', onExit);
    child.stdout!.on('data', (chunk: Buffer) => {
      log.write(chunk);
      if (ready) return;
      output += chunk.toString('utf8');
      if (/^ready\b/m.test(output)) {
        ready = true;
        clearTimeout(timer);
        child.off('exit', onExit);
        child.off('error', fail);
        resolve(child);
      }
    });
  });
}

/** The running testbed as its owner sees it. */
export class Testbed {
  readonly plan: TestbedPlan;
  readonly ref: Required<TestbedRef>;
  private readonly children = new Map<ProcessRole, ChildProcess>();
  private signalHandler: ((signal: NodeJS.Signals) => void) | null = null;
  private stopping = false;
  /** Called when a NIC or echo server exits while the testbed is up (not during down). */
  onUnexpectedExit: ((role: string, code: number | null, signal: NodeJS.Signals | null) => void) | null = null;

  constructor(plan: TestbedPlan, ref: Required<TestbedRef>) {
    this.plan = plan;
    this.ref = ref;
  }

  host(role: HostRole): HostPlan {
    return this.plan[role];
  }

  /** Control socket of a host's NIC (real NICs; throws for the stand-in). */
  socketPath(role: HostRole): string {
    const path = readState(this.ref)?.sockets?.[role];
    if (path === undefined) throw new Error(`testbed "${this.plan.prefix}": the ${role} NIC has no control socket (stand-in NIC?)`);
    return path;
  }

  /** PID of a NIC or echo process (for tests and tools). */
  pid(role: ProcessRole): number | undefined {
    return readState(this.ref)?.pids[role];
  }

  /** Runs a command in a namespace and returns its stdout (throws on non-zero exit). */
  exec(netns: string, command: string, args: readonly string[]): string {
    return run('ip', ['netns', 'exec', netns, command, ...args]);
  }

  /** Processing delay on a host (SPEC 4); see the function addDelay. */
  addDelay(role: HostRole, delayMs: number, how: DelayHow = 'auto'): DelayHow {
    return addDelay(role, delayMs, this.ref, how);
  }

  clearDelay(role: HostRole): void {
    clearDelay(role, this.ref);
  }

  /** Service failure: SIGSTOP (hang) or SIGKILL (crash) the host's echo server. */
  stopService(role: HostRole, how: 'hang' | 'kill' = 'hang'): void {
    stopService(role, how, this.ref);
  }

  /** Undoes stopService: SIGCONT a hung server, or starts a new one after a kill. */
  async resumeService(role: HostRole): Promise<void> {
    const state = readState(this.ref);
    const pid = state?.pids[`echo-${role}`];
    if (pid !== undefined && isAlive(pid)) {
      process.kill(pid, 'SIGCONT');
      return;
    }
    await this.startEcho(this.plan[role]);
  }

  /** Host crash: the host's interface goes down. */
  crashHost(role: HostRole): void {
    crashHost(role, this.ref);
  }

  recoverHost(role: HostRole): void {
    recoverHost(role, this.ref);
  }

  async down(): Promise<DownReport> {
    this.stopping = true;
    this.removeSignalHandlers();
    const exited = [...this.children.values()].map(
      (child) => new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve()))),
    );
    for (const child of this.children.values()) child.stdin?.end();
    const report = await testbedDown(this.ref);
    // Our own children: wait until Node has reaped them, so no zombie outlives down().
    await Promise.race([Promise.all(exited), sleep(3000)]);
    this.children.clear();
    return report;
  }

  /** @internal used by testbedUp */
  async startNic(host: HostPlan, launcher: NicLauncher): Promise<void> {
    const role: ProcessRole = `nic-${host.role}`;
    const { command, args, socketPath } = launcher(host, this.plan, { instanceDir: instanceDir(this.ref) });
    if (socketPath !== undefined) {
      const state = readState(this.ref);
      if (state !== null) {
        state.sockets = { ...state.sockets, [host.role]: socketPath };
        writeState(this.ref, state);
      }
    }
    await spawnReady(
      command,
      [...args, markerFor(this.plan.prefix)],
      join(instanceDir(this.ref), `${role}.log`),
      `${role} (${command})`,
      (child) => this.track(role, child),
    );
  }

  /** @internal used by testbedUp */
  async startEcho(host: HostPlan): Promise<void> {
    const role: ProcessRole = `echo-${host.role}`;
    await spawnReady(
      'ip',
      [
        'netns', 'exec', host.netns, process.execPath, ...TSX_ARGS,
        join(REPO_ROOT, 'tools/testbed/udp-echo.ts'), '--port', String(this.plan.echoPort),
        '--delay-file', delayFile(this.ref, host.role),
        markerFor(this.plan.prefix),
      ],
      join(instanceDir(this.ref), `${role}.log`),
      `${role} in ${host.netns}`,
      (child) => this.track(role, child),
    );
  }

  /** @internal */
  installSignalHandlers(): void {
    const handler = (signal: NodeJS.Signals): void => {
      this.removeSignalHandlers();
      console.error(`testbed ${this.plan.prefix}: ${signal}, tearing down`);
      void this.down().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    };
    this.signalHandler = handler;
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
  }

  private removeSignalHandlers(): void {
    if (this.signalHandler === null) return;
    process.off('SIGINT', this.signalHandler);
    process.off('SIGTERM', this.signalHandler);
    this.signalHandler = null;
  }

  private track(role: ProcessRole, child: ChildProcess): void {
    this.children.set(role, child);
    child.once('exit', (code, signal) => {
      if (this.children.get(role) !== child) return;
      this.children.delete(role);
      if (!this.stopping) this.onUnexpectedExit?.(role, code, signal);
    });
    const state = readState(this.ref);
    if (state !== null && child.pid !== undefined) {
      state.pids[role] = child.pid!;
      writeState(this.ref, state);
    }
  }
}

function fullRef(ref: TestbedRef): Required<TestbedRef> {
  return { prefix: ref.prefix ?? 'f', stateDir: ref.stateDir ?? DEFAULT_STATE_DIR };
}

/**
 * Builds the testbed and returns once ping and the echo services can work:
 * namespaces, wire bridge, generator veth, NIC processes (their TAPs moved into
 * place and addressed), echo servers. On any failure it tears down what it built.
 */
export async function testbedUp(options: TestbedUpOptions = {}): Promise<Testbed> {
  const ref = fullRef(options);
  const plan = testbedPlan(ref.prefix);
  const existing = readState(ref);
  if (existing !== null) {
    if (existing.ownerPid !== process.pid && ownerAlive(existing)) {
      throw new Error(
        `testbed "${ref.prefix}" is already up (owner pid ${existing.ownerPid}); run testbed down first`,
      );
    }
    if (existing.ownerPid === process.pid) {
      throw new Error(`testbed "${ref.prefix}" is already up in this process; call down() first`);
    }
    await testbedDown(ref);
  }
  const clash = allNetns(plan).filter((ns) => listNetns().includes(ns));
  if (clash.length > 0) {
    throw new Error(`testbed "${ref.prefix}": namespaces ${clash.join(', ')} exist but are not ours; remove them or pick another prefix`);
  }

  const state: TestbedState = {
    prefix: ref.prefix,
    ownerPid: process.pid,
    ownerStartTicks: startTicks(process.pid) ?? undefined,
    createdAt: new Date().toISOString(),
    netns: [],
    pids: {},
    ready: false,
  };
  writeState(ref, state);
  const testbed = new Testbed(plan, ref);
  if (options.handleSignals ?? true) testbed.installSignalHandlers();
  try {
    for (const ns of allNetns(plan)) {
      state.netns.push(ns);
      writeState(ref, state);
      run('ip', ['netns', 'add', ns]);
      ipIn(ns, ['link', 'set', 'dev', 'lo', 'up']);
      // No IPv6: keeps router solicitations and MLD out of captures and counters.
      run('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    }
    const wire = plan.wireNetns;
    ipIn(wire, ['link', 'add', plan.bridge, 'type', 'bridge']);
    ipIn(wire, ['link', 'set', 'dev', plan.bridge, 'up']);

    const g = plan.tgen;
    ipIn(g.netns, ['link', 'add', g.ifname, 'address', g.mac, 'type', 'veth', 'peer', 'name', g.wirePeer, 'netns', wire]);
    ipIn(g.netns, ['addr', 'add', `${g.address}/${plan.prefixLength}`, 'dev', g.ifname]);
    ipIn(g.netns, ['link', 'set', 'dev', g.ifname, 'up']);
    ipIn(wire, ['link', 'set', 'dev', g.wirePeer, 'master', plan.bridge, 'up']);

    const launcher = options.nic ?? standinNic;
    const services = options.services ?? true;
    await Promise.all([
      testbed.startNic(plan.main, launcher),
      testbed.startNic(plan.backup, launcher),
    ]);
    for (const host of [plan.main, plan.backup]) {
      await waitFor(`TAPs of ${host.role} NIC`, 5000, () => linkExists(host.dmaTap) && linkExists(host.nfTap));
      run('ip', ['link', 'set', 'dev', host.nfTap, 'netns', wire]);
      ipIn(wire, ['link', 'set', 'dev', host.nfTap, 'master', plan.bridge, 'up']);
      run('ip', ['link', 'set', 'dev', host.dmaTap, 'netns', host.netns]);
      ipIn(host.netns, ['link', 'set', 'dev', host.dmaTap, 'address', host.mac]);
      ipIn(host.netns, ['addr', 'add', `${host.address}/${plan.prefixLength}`, 'dev', host.dmaTap]);
      ipIn(host.netns, ['link', 'set', 'dev', host.dmaTap, 'up']);
    }
    if (services) await Promise.all([testbed.startEcho(plan.main), testbed.startEcho(plan.backup)]);
    const done = readState(ref)!;
    done.ready = true;
    writeState(ref, done);
    return testbed;
  } catch (error) {
    await testbed.down().catch(() => undefined);
    throw error;
  }
}

/**
 * Removes everything a testbed with this prefix created: its processes (by recorded
 * PID, only if the PID still runs our command), its namespaces (which takes the
 * bridge, veths and moved TAPs with them), TAPs left in the root namespace, and the
 * state file. Safe to call when nothing is up, and from any process.
 */
export async function testbedDown(ref: TestbedRef = {}): Promise<DownReport> {
  const full = fullRef(ref);
  const plan = testbedPlan(full.prefix);
  let state = readState(full);
  const report: DownReport = { killedPids: [], deletedNetns: [], deletedLinks: [] };
  const marker = markerFor(full.prefix);

  // Another process owns it (a foreground or detached `testbed up`): ask it to tear down
  // itself (SIGTERM; it exits once done), then remove whatever it left.
  if (state !== null && state.ownerPid !== process.pid && ownerAlive(state)) {
    const owner = state.ownerPid;
    try {
      process.kill(owner, 'SIGTERM');
    } catch {
      /* gone meanwhile */
    }
    const ownerDeadline = Date.now() + 15_000;
    while (isAlive(owner) && Date.now() < ownerDeadline) await sleep(50);
    if (!isAlive(owner)) report.killedPids.push(owner);
    state = readState(full);
  }

  const pids = Object.values(state?.pids ?? {}).filter((pid) => isAlive(pid) && isOurs(pid, marker));
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGTERM');
      process.kill(pid, 'SIGCONT'); // a hung (SIGSTOPped) service must run to take SIGTERM
    } catch {
      /* already gone */
    }
  }
  const deadline = Date.now() + 2000;
  while (pids.some(isAlive) && Date.now() < deadline) await sleep(20);
  for (const pid of pids) {
    if (isAlive(pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    report.killedPids.push(pid);
  }
  await waitFor('processes to exit', 2000, () => !pids.some(isAlive)).catch(() => undefined);

  const present = new Set(listNetns());
  for (const ns of allNetns(plan)) {
    if (!present.has(ns)) continue;
    run('ip', ['netns', 'del', ns]);
    report.deletedNetns.push(ns);
  }
  for (const tap of allTaps(plan)) {
    if (!linkExists(tap)) continue;
    try {
      run('ip', ['link', 'del', 'dev', tap]);
      report.deletedLinks.push(tap);
    } catch {
      /* vanished meanwhile: its NIC process closed it */
    }
  }
  rmSync(instanceDir(full), { recursive: true, force: true });
  return report;
}

export function testbedStatus(ref: TestbedRef = {}): TestbedStatus {
  const full = fullRef(ref);
  const plan = testbedPlan(full.prefix);
  const state = readState(full);
  const present = new Set(listNetns());
  const processes: TestbedStatus['processes'] = {};
  for (const [role, pid] of Object.entries(state?.pids ?? {}) as [ProcessRole, number][]) {
    const alive = isAlive(pid) && isOurs(pid, markerFor(full.prefix));
    processes[role] = { pid, alive, stopped: alive && processState(pid) === 'T' };
  }
  return {
    prefix: full.prefix,
    exists: state !== null,
    ready: state?.ready ?? false,
    ownerPid: state?.ownerPid ?? null,
    ownerAlive: state !== null && ownerAlive(state),
    netns: allNetns(plan).filter((ns) => present.has(ns)),
    processes,
    sockets: state?.sockets ?? {},
    plan,
  };
}

function hostOf(role: HostRole, ref: TestbedRef): HostPlan {
  return testbedPlan(ref.prefix ?? 'f')[role];
}

/**
 * How a processing delay is made: `netem` delays everything the host sends (tc qdisc
 * netem on the host's interface, so ICMP and UDP replies are late alike); `service`
 * makes the host's echo server hold its replies (ICMP unaffected), for kernels built
 * without sch_netem; `auto` tries netem first.
 */
export type DelayHow = 'auto' | 'netem' | 'service';

function delayFile(ref: TestbedRef, role: HostRole): string {
  return join(instanceDir(ref), `echo-${role}.delay-ms`);
}

/** True unless tc reported that this kernel has no netem qdisc. */
let netemSupported: boolean | undefined;

export function addDelay(role: HostRole, delayMs: number, ref: TestbedRef = {}, how: DelayHow = 'auto'): DelayHow {
  if (!(delayMs >= 0) || !Number.isFinite(delayMs)) throw new RangeError(`delayMs must be >= 0, got ${delayMs}`);
  const host = hostOf(role, ref);
  if (how !== 'service' && netemSupported !== false) {
    try {
      run('ip', ['netns', 'exec', host.netns, 'tc', 'qdisc', 'replace', 'dev', host.dmaTap, 'root', 'netem', 'delay', `${delayMs}ms`]);
      netemSupported = true;
      return 'netem';
    } catch (error) {
      if (!/qdisc kind is unknown/i.test((error as Error).message)) throw error;
      netemSupported = false;
    }
  }
  if (how === 'netem') throw new Error('this kernel has no sch_netem (tc netem); use the service delay');
  setServiceDelay(role, delayMs, ref);
  return 'service';
}

function setServiceDelay(role: HostRole, delayMs: number, ref: TestbedRef): void {
  const full = fullRef(ref);
  const pid = readState(full)?.pids[`echo-${role}`];
  writeFileSync(delayFile(full, role), `${Math.round(delayMs)}\n`);
  if (pid !== undefined && isAlive(pid) && isOurs(pid, markerFor(full.prefix))) process.kill(pid, 'SIGHUP');
}

/** Removes both kinds of delay. */
export function clearDelay(role: HostRole, ref: TestbedRef = {}): void {
  const host = hostOf(role, ref);
  const qdisc = run('ip', ['netns', 'exec', host.netns, 'tc', 'qdisc', 'show', 'dev', host.dmaTap]);
  if (qdisc.includes('netem')) {
    run('ip', ['netns', 'exec', host.netns, 'tc', 'qdisc', 'del', 'dev', host.dmaTap, 'root']);
  }
  if (existsSync(delayFile(fullRef(ref), role))) setServiceDelay(role, 0, ref);
}

export function stopService(role: HostRole, how: 'hang' | 'kill' = 'hang', ref: TestbedRef = {}): void {
  const full = fullRef(ref);
  const pid = readState(full)?.pids[`echo-${role}`];
  if (pid === undefined || !isAlive(pid) || !isOurs(pid, markerFor(full.prefix))) {
    throw new Error(`testbed "${full.prefix}": no running echo service on ${role}`);
  }
  process.kill(pid, how === 'hang' ? 'SIGSTOP' : 'SIGKILL');
}

export function crashHost(role: HostRole, ref: TestbedRef = {}): void {
  const host = hostOf(role, ref);
  ipIn(host.netns, ['link', 'set', 'dev', host.dmaTap, 'down']);
}

export function recoverHost(role: HostRole, ref: TestbedRef = {}): void {
  const host = hostOf(role, ref);
  ipIn(host.netns, ['link', 'set', 'dev', host.dmaTap, 'up']);
}
