import { describe, expect, it } from 'vitest';
import { main } from '../../src/control/cli/program.ts';

const run = async (args: string[]) => {
  const out: string[] = [];
  let err = '';
  const code = await main(['node', 'fatriot', ...args], { stdout: (l) => out.push(l), stderr: (t) => (err += t) });
  return { code, out: out.join('\n'), err };
};

describe('fatriot --help', () => {
  it('prints the same grammar as "fatriot help" and exits 0', async () => {
    const help = await run(['--help']);
    const word = await run(['help']);
    expect(help.code).toBe(0);
    expect(help.err).toBe('');
    expect(help.out).toContain('Usage: fatriot [ OPTIONS ] OBJECT { COMMAND | help }');
    expect(help.out).toContain('fatriot target { add | replace } IP proto');
    expect(help.out).toBe(word.out);
    expect((await run(['-h'])).out).toBe(word.out);
  });
});

describe('fatriot COMMAND -h', () => {
  it('shows the options of commands that have their own (experiment, daemon, testbed) and of OBJECTs, exit 0', async () => {
    for (const [args, expected] of [
      [['experiment', '-h'], '--interval <s>'],
      [['experiment', 'crash', '--help'], '--tap'],
      [['daemon', '--help'], '--reference'],
      [['testbed', '-h'], 'Usage: fatriot testbed'],
      [['target', '-h'], 'Usage: fatriot target { add | replace }'],
    ] as const) {
      const r = await run([...args]);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.err, args.join(' ')).toBe('');
      expect(r.out, args.join(' ')).toContain(expected);
    }
  });
});
