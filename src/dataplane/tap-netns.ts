/**
 * Setup helpers for TAP kernel ends (iproute2, run synchronously: setup is not a hot
 * path). SPEC 4: the kernel end of a dma TAP sits in its host's namespace, the kernel
 * end of an nf TAP in the namespace or bridge of whatever is on that wire.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Runs `ip ARGS...` (in namespace `netns` when given); returns stdout, throws with stderr on failure. */
export function ip(args: readonly string[], netns?: string): string {
  const argv = netns === undefined ? [...args] : ['-n', netns, ...args];
  try {
    return execFileSync('ip', argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim() ?? '';
    throw new Error(`ip ${argv.join(' ')}: ${stderr || (error as Error).message}`);
  }
}

/**
 * Moves the kernel end of TAP `name` into `netns` and optionally gives it a MAC,
 * addresses (CIDR, e.g. "10.77.1.1/24"), an MTU, and brings it up. The TAP fd in
 * this process keeps working: the fd follows the device, not the namespace.
 */
export function moveTapToNetns(
  name: string,
  netns: string,
  options: { mac?: string; addresses?: readonly string[]; mtu?: number; up?: boolean } = {},
): void {
  ip(['link', 'set', 'dev', name, 'netns', netns]);
  if (options.mac !== undefined) ip(['link', 'set', 'dev', name, 'address', options.mac], netns);
  if (options.mtu !== undefined) ip(['link', 'set', 'dev', name, 'mtu', String(options.mtu)], netns);
  for (const address of options.addresses ?? []) ip(['addr', 'add', address, 'dev', name], netns);
  if (options.up ?? true) ip(['link', 'set', 'dev', name, 'up'], netns);
}

/** Whether this process can create TAPs and namespaces; the reason why not otherwise. */
export function tapUnavailableReason(): string | null {
  if (process.platform !== 'linux') return `TAP needs Linux, this is ${process.platform}`;
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'TAP and netns need root';
  if (!existsSync('/dev/net/tun')) return '/dev/net/tun is missing';
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    return 'iproute2 (`ip`) is not installed';
  }
  return null;
}
