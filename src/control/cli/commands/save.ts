import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { applyConfig, collectConfig, loadConfigFile } from '../../config-file.ts';
import type { CliContext } from '../context.ts';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('save')
    .usage('FILE')
    .description('write the whole NIC configuration to FILE (JSON; "-" for stdout)')
    .argument('<file>')
    .action(async (file: string) => {
      const cfg = await collectConfig(await ctx.client());
      const text = `${JSON.stringify(cfg, null, 2)}\n`;
      if (file === '-') ctx.stdout(text.trimEnd());
      else writeFileSync(file, text);
    });
  program
    .command('restore')
    .usage('FILE')
    .description('replace the NIC configuration by FILE (validated completely first; a bad file changes nothing)')
    .argument('<file>')
    .action(async (file: string) => {
      const cfg = loadConfigFile(file);
      await applyConfig(await ctx.client(), cfg);
    });
}
