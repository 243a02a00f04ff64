/**
 * Helpers for tests that need TAPs and network namespaces: the skip reason, unique
 * name prefixes (so parallel test files never collide), ping and link counters.
 * Packets only ever go to addresses inside namespaces the test created.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { tapUnavailableReason } from '../../src/dataplane/tap-netns.ts';

/** Null when root, /dev/net/tun and iproute2 are there; else why TAP tests skip. */
export function netnsSkipReason(needs: readonly string[] = []): string | null {
  const reason = tapUnavailableReason();
  if (reason !== null) return reason;
  for (const tool of needs) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} is not installed`;
  }
  return null;
}

let counter = 0;

/** A short lowercase prefix unique to this process and call, e.g. "tk3f2a". */
export function uniquePrefix(tag: string): string {
  const id = ((process.pid * 7 + counter++) % 36 ** 3).toString(36).padStart(3, '0');
  return `${tag}${id}`.slice(0, 8);
}

export function sh(command: string, args: readonly string[]): string {
  return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function addNetns(name: string): void {
  sh('ip', ['netns', 'add', name]);
  sh('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  sh('ip', ['netns', 'exec', name, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
}

export function delNetns(name: string): void {
  spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
}

export function listNetns(): string[] {
  return sh('ip', ['netns', 'list'])
    .split('\n')
    .map((line) => line.split(' ')[0]!)
    .filter((name) => name.length > 0);
}

export function linkNames(netns?: string): string[] {
  const args = netns === undefined ? ['-j', 'link', 'show'] : ['-n', netns, '-j', 'link', 'show'];
  return (JSON.parse(sh('ip', args)) as { ifname: string }[]).map((link) => link.ifname);
}

export interface PingResult {
  transmitted: number;
  received: number;
  /** Per-reply RTTs in microseconds, in arrival order. */
  rttUs: number[];
}

/** `ping` inside `netns`; never throws on loss. */
export function ping(
  netns: string,
  address: string,
  options: { count?: number; intervalS?: number; deadlineS?: number } = {},
): PingResult {
  const count = options.count ?? 3;
  const args = ['netns', 'exec', netns, 'ping', '-n', '-c', String(count), '-i', String(options.intervalS ?? 0.05)];
  args.push('-w', String(options.deadlineS ?? Math.ceil(count * (options.intervalS ?? 0.05) + 2)), address);
  const result = spawnSync('ip', args, { encoding: 'utf8' });
  const out = result.stdout ?? '';
  const summary = /(\d+) packets transmitted, (\d+) received/.exec(out);
  const rttUs = [...out.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]) * 1000);
  return {
    transmitted: summary ? Number(summary[1]) : 0,
    received: summary ? Number(summary[2]) : 0,
    rttUs,
  };
}

/**
 * `ping` without blocking the event loop, for tests whose NIC model runs in the test's
 * own process (the synchronous `ping` would stall it). Never rejects on loss.
 */
export function pingAsync(
  netns: string,
  address: string,
  options: { count?: number; intervalS?: number; deadlineS?: number } = {},
): Promise<PingResult> {
  const count = options.count ?? 3;
  const intervalS = options.intervalS ?? 0.05;
  const args = ['netns', 'exec', netns, 'ping', '-n', '-c', String(count), '-i', String(intervalS)];
  args.push('-w', String(options.deadlineS ?? Math.ceil(count * intervalS + 2)), address);
  return new Promise((resolve) => {
    execFile('ip', args, { encoding: 'utf8' }, (_error, stdout) => {
      const summary = /(\d+) packets transmitted, (\d+) received/.exec(stdout);
      resolve({
        transmitted: summary ? Number(summary[1]) : 0,
        received: summary ? Number(summary[2]) : 0,
        rttUs: [...stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]) * 1000),
      });
    });
  });
}

/** Kernel counters of an interface (`ip -s -j link`). */
export function linkCounters(netns: string, ifname: string): { rxPackets: number; txPackets: number; txDropped: number } {
  const [link] = JSON.parse(sh('ip', ['-n', netns, '-s', '-j', 'link', 'show', 'dev', ifname])) as {
    stats64: { rx: { packets: number }; tx: { packets: number; dropped: number } };
  }[];
  return {
    rxPackets: link!.stats64.rx.packets,
    txPackets: link!.stats64.tx.packets,
    txDropped: link!.stats64.tx.dropped,
  };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? Number.NaN : sorted[Math.floor(sorted.length / 2)]!;
}
