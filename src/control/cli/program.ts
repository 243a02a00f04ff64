/**
 * The `fatriot` program: `fatriot [ OPTIONS ] OBJECT { COMMAND | help }`
 * (SPEC 5), in the grammar of iproute2's `ip`. The CLI talks only to a NIC's
 * control socket. main.ts runs it; tests build it in-process with their own output.
 *
 * Commands live in ./commands/, one file per object; every file there that
 * exports `register(program, ctx)` is loaded, so adding a subcommand
 * (experiment, demo, testbed, ...) is adding a file. Import heavy
 * dependencies inside the action, not at the top of such a file: every file is
 * loaded for every invocation.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { ControlApiError } from '../client.ts';
import { UsageError } from './args.ts';
import { CliContext, type CliIo } from './context.ts';

export type RegisterCommand = (program: Command, ctx: CliContext) => void;

const GLOBAL_USAGE = [
  'Usage: fatriot [ OPTIONS ] OBJECT { COMMAND | help }',
  '       fatriot [ -j ] [ --socket PATH ] -b FILE',
];

/** Builds the program with every command file registered. */
export async function buildProgram(io: Partial<CliIo> = {}): Promise<{ program: Command; ctx: CliContext }> {
  const program = new Command('fatriot');
  const ctx = new CliContext(program, io);
  program
    .description('Control a Fatriot NIC (emulated NetFPGA-SUME) through its netlink-style control socket')
    .option('--socket <path>', 'control socket (default: $FATRIOT_SOCKET or /run/fatriot/nic0.sock)')
    .option('-j, --json', 'JSON output')
    .option('-s, --stats', 'more statistics')
    .option('-b, --batch <file>', 'read OBJECT COMMAND lines from FILE ("-" for stdin)')
    .option('-h, --help', 'show the grammar (as "fatriot help")')
    .enablePositionalOptions()
    .helpOption(false)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => ctx.io.stdout(s.replace(/\n$/, '')),
      writeErr: (s) => ctx.io.stderr(s.startsWith('error: ') ? `fatriot: ${s.slice(7)}` : s),
    });

  const dir = new URL('./commands/', import.meta.url);
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .sort();
  for (const f of files) {
    const mod = (await import(new URL(f, dir).href)) as { register?: RegisterCommand };
    if (typeof mod.register === 'function') mod.register(program, ctx);
  }
  // Commands with options of their own (daemon, experiment, testbed...) take -h/--help as
  // commander prints it; OBJECTs answer `help`, -h and --help themselves (context.ts).
  for (const cmd of program.commands) {
    if (!ctx.objects.has(cmd.name())) cmd.helpOption('-h, --help', 'show this help');
  }

  program
    .command('help')
    .description('show the grammar')
    .argument('[object]')
    .action((name?: string) => {
      if (name !== undefined) return ctx.runObject(name, ['help']);
      ctx.io.stdout(globalUsage(program, ctx));
    });
  program.argument('[words...]').action(async (words: string[]) => {
    if (program.opts().help === true) {
      ctx.io.stdout(globalUsage(program, ctx));
      return;
    }
    if (words.length > 0) throw new UsageError(`unknown object "${words[0]}"; try "fatriot help"`);
    const batch = ctx.options.batch;
    if (batch === undefined) {
      ctx.io.stderr(`${globalUsage(program, ctx)}\n`);
      throw new UsageError('');
    }
    await runBatch(ctx, batch);
  });
  return { program, ctx };
}

export function globalUsage(program: Command, ctx: CliContext): string {
  const objects = program.commands.map((c) => c.name()).filter((n) => n !== 'help');
  return [
    ...GLOBAL_USAGE,
    `where  OBJECT := { ${objects.join(' | ')} }`,
    '       OPTIONS := { -j[son] | -s[tats] | -b[atch] FILE | --socket PATH }',
    '',
    ...[...ctx.objects.values()].map((o) => o.usage.map((l) => `  ${l}`).join('\n')),
    ...program.commands.filter((c) => !ctx.objects.has(c.name()) && c.name() !== 'help').map((c) => `  fatriot ${c.name()} ${c.usage()}`),
  ].join('\n');
}

/** `-b FILE`: one `OBJECT COMMAND ...` a line; stops at the first failing line, as `ip -batch` does. */
async function runBatch(ctx: CliContext, file: string): Promise<void> {
  const text = file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8');
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const words = lines[i]!.replace(/#.*$/, '').trim().split(/\s+/).filter((w) => w !== '');
    if (words.length === 0) continue;
    try {
      await ctx.runObject(words[0]!, words.slice(1));
    } catch (e) {
      throw new BatchLineError(`${file}:${i + 1}: ${errorText(e)}`, e);
    }
  }
}

class BatchLineError extends Error {
  constructor(
    message: string,
    readonly inner: unknown,
  ) {
    super(message);
  }
}

function errorText(e: unknown): string {
  if (e instanceof ControlApiError) return `${e.message} (${e.code})`;
  return e instanceof Error ? e.message : String(e);
}

/** Runs the CLI on `argv` (as process.argv: node, script, words...); returns the exit status. */
export async function main(argv: string[], io: Partial<CliIo> = {}): Promise<number> {
  let ctx: CliContext | null = null;
  try {
    const built = await buildProgram(io);
    ctx = built.ctx;
    await built.program.parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Commander has printed its one-line message already.
      return e.exitCode === 0 ? 0 : 2;
    }
    const inner = e instanceof BatchLineError ? e.inner : e;
    const text = errorText(e);
    if (text !== '') (ctx?.io.stderr ?? ((s: string) => process.stderr.write(s)))(`fatriot: ${text}\n`);
    return inner instanceof UsageError ? 2 : 1;
  } finally {
    await ctx?.close();
  }
}
