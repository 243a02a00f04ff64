/**
 * What every CLI command shares: the global options (iproute2's -j, -s, -b and
 * --socket), one client connection (reused across a batch), output helpers,
 * and the registry of OBJECT commands that batch mode dispatches to.
 */
import type { Command } from 'commander';
import { FatriotClient } from '../client.ts';
import { UsageError } from './args.ts';

export const DEFAULT_SOCKET_PATH = '/run/fatriot/nic0.sock';

export interface GlobalOptions {
  socket?: string;
  json?: boolean;
  stats?: boolean;
  batch?: string;
}

/** An OBJECT of `fatriot OBJECT { COMMAND | help }` that talks to the control socket. */
export interface ObjectCommand {
  readonly name: string;
  readonly summary: string;
  /** Grammar lines, shown by `fatriot OBJECT help` and in usage errors. */
  readonly usage: readonly string[];
  run(ctx: CliContext, args: string[]): Promise<void>;
}

/** Where output goes: stdout takes whole lines (newline added), stderr raw text. `stop` ends long-running commands. */
export interface CliIo {
  stdout(line: string): void;
  stderr(text: string): void;
  /** Aborting it ends `monitor` and `daemon` as SIGINT does. */
  stop: AbortSignal | null;
}

export class CliContext {
  readonly objects = new Map<string, ObjectCommand>();
  readonly io: CliIo;
  private connection: Promise<FatriotClient> | null = null;

  constructor(
    private readonly program: Command,
    io: Partial<CliIo> = {},
  ) {
    this.io = {
      stdout: io.stdout ?? ((t) => void process.stdout.write(`${t}\n`)),
      stderr: io.stderr ?? ((t) => void process.stderr.write(t)),
      stop: io.stop ?? null,
    };
  }

  stdout(line: string): void {
    this.io.stdout(line);
  }

  /** Resolves on SIGINT, SIGTERM or the io's stop signal (long-running commands wait on it). */
  waitForStop(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        process.off('SIGINT', done);
        process.off('SIGTERM', done);
        this.io.stop?.removeEventListener('abort', done);
        resolve();
      };
      process.on('SIGINT', done);
      process.on('SIGTERM', done);
      if (this.io.stop?.aborted === true) done();
      else this.io.stop?.addEventListener('abort', done);
    });
  }

  get options(): GlobalOptions {
    return this.program.opts<GlobalOptions>();
  }

  get socketPath(): string {
    return this.options.socket ?? process.env.FATRIOT_SOCKET ?? DEFAULT_SOCKET_PATH;
  }

  get json(): boolean {
    return this.options.json === true;
  }

  get stats(): boolean {
    return this.options.stats === true;
  }

  /** The connection to the NIC's control socket, opened on first use. */
  client(): Promise<FatriotClient> {
    this.connection ??= FatriotClient.connect(this.socketPath);
    return this.connection;
  }

  async close(): Promise<void> {
    const c = this.connection;
    this.connection = null;
    if (c !== null) (await c.catch(() => null))?.close();
  }

  print(text: string): void {
    if (text !== '') this.stdout(text);
  }

  printJson(value: unknown): void {
    this.stdout(JSON.stringify(value));
  }

  /**
   * Declares an OBJECT: `fatriot NAME ARGS...` and `fatriot NAME help`; the
   * words after NAME are parsed by the object itself, as iproute2 does.
   */
  defineObject(obj: ObjectCommand): void {
    this.objects.set(obj.name, obj);
    this.program
      .command(obj.name)
      .description(obj.summary)
      .argument('[args...]')
      .allowUnknownOption()
      .helpOption(false)
      .action(async (args: string[]) => {
        await this.runObject(obj.name, args);
      });
  }

  /** Runs `OBJECT ARGS...` (also the entry point of batch lines). */
  async runObject(name: string, args: string[]): Promise<void> {
    const obj = this.objects.get(name);
    if (obj === undefined) throw new UsageError(`unknown object "${name}"; try "fatriot help"`);
    if (args[0] === 'help' || args[0] === '--help' || args[0] === '-h') {
      this.stdout(usageText(obj));
      return;
    }
    await obj.run(this, args);
  }
}

export function usageText(obj: ObjectCommand): string {
  return obj.usage.map((line, i) => `${i === 0 ? 'Usage: ' : '       '}${line}`).join('\n');
}
