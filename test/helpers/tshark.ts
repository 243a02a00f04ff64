/**
 * Runs tshark on capture files in tests. CI installs tshark (.ci/run); elsewhere the
 * tests that need it skip with one line saying why.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { describe } from 'vitest';

function findTshark(): string | null {
  try {
    const path = execFileSync('which', ['tshark'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return path === '' ? null : path;
  } catch {
    return null;
  }
}

/** Absolute path of tshark, or null when it is not installed. */
export const tsharkPath: string | null = findTshark();

/** Why tshark tests skip, or null when they run. */
export const tsharkSkipReason: string | null =
  tsharkPath === null ? 'tshark not found on PATH (apt-get install tshark); skipping tshark checks' : null;

export interface TsharkResult {
  stdout: string;
  stderr: string;
  /** Exit status; null when tshark was killed (for instance by the timeout). */
  code: number | null;
}

/** uid/gid of `nobody` on Debian. */
const NOBODY_ID = 65534;

/**
 * Runs `tshark -r file ...extraArgs`. Throws only when tshark is missing.
 *
 * As root (CI runs as root) tshark prints `Running as user "root" and group "root".
 * This could be dangerous.` on stderr, which would hide real warnings about the file.
 * So under root it runs as `nobody`: the file and its directories must then be
 * readable by others (mkdtemp makes 0700 directories; chmod them 0755).
 */
export function runTshark(file: string, extraArgs: string[] = [], timeoutMs = 30_000): TsharkResult {
  if (tsharkPath === null) throw new Error(tsharkSkipReason ?? 'tshark not found');
  const asRoot = process.getuid?.() === 0;
  const result = spawnSync(tsharkPath, ['-r', file, ...extraArgs], {
    encoding: 'utf8',
    timeout: timeoutMs,
    // No user profile: tshark must read the file the same way on every machine.
    env: { ...process.env, HOME: '/nonexistent', WIRESHARK_CONFIG_DIR: '/nonexistent', LC_ALL: 'C' },
    ...(asRoot ? { uid: NOBODY_ID, gid: NOBODY_ID } : {}),
  });
  // A spawn failure or the timeout shows up in stderr so the assertion message says what happened.
  const spawnError = result.error === undefined ? '' : `runTshark: ${result.error.message}\n`;
  return { stdout: result.stdout ?? '', stderr: spawnError + (result.stderr ?? ''), code: result.status };
}

/** `describe` that runs only when tshark is installed, printing the reason once when it skips. */
export function describeWithTshark(name: string, fn: () => void): void {
  if (tsharkSkipReason !== null) {
    console.warn(`[skip] ${name}: ${tsharkSkipReason}`);
    describe.skip(name, fn);
    return;
  }
  describe(name, fn);
}
