/**
 * Processes that run the model keep V8's ArrayBufferDetaching protector intact on their
 * main thread (src/pipeline/sim/jit-tuning.ts: detaching any ArrayBuffer there makes
 * every typed-array access check for it, -10% for the model): they load TypeScript
 * through tsx's ESM loader only, and neither the model nor the dataplane detaches a buffer.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../..');

/** Lines V8 prints for invalidations of the ArrayBufferDetaching protector in a node process running `script` (an ES module). */
function detachingInvalidations(script: string): number {
  const out = execFileSync(process.execPath, ['--trace-protector-invalidation', '--import', 'tsx/esm', '--input-type=module', '-e', script], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return out.split('\n').filter((l) => l.includes('ArrayBufferDetaching')).length;
}

describe('processes that run the model', () => {
  it('load TypeScript through tsx/esm only: the bench script and the CLI entry', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.bench).toMatch(/--import tsx\/esm /);
    const bin = readFileSync(join(ROOT, 'bin/fatriot.mjs'), 'utf8');
    expect(bin).toContain("from 'tsx/esm/api'");
    expect(bin).not.toMatch(/from 'tsx'|from 'tsx\/cjs'|tsx\/cjs\/api/);
  });

  it('run both NICs on memory links without detaching an ArrayBuffer', { timeout: 60_000 }, () => {
    // Whatever tsx's loader thread does shows in a process that runs nothing of ours.
    const baseline = detachingInvalidations('');
    const model = detachingInvalidations(
      [
        "const { measureThroughput } = await import('./tools/bench/model.ts');",
        "const { ReferenceNic } = await import('./src/pipeline/nic/reference-nic.ts');",
        "const { FatriotNic } = await import('./src/pipeline/nic/fatriot-nic.ts');",
        'for (const f of [() => new ReferenceNic(), () => new FatriotNic()]) {',
        '  for (const ports of ["sinks", "tap-like", "tap-bursts"]) measureThroughput(f, 60, 500, ports);',
        '  measureThroughput(f, 1514, 100);',
        '}',
      ].join('\n'),
    );
    expect(model).toBe(baseline);
    // The check itself sees a detach on the main thread.
    const detached = detachingInvalidations('const ab = new ArrayBuffer(8); structuredClone(ab, { transfer: [ab] });');
    expect(detached).toBe(baseline + 1);
  });
});
