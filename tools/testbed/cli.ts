/**
 * usage: node --import tsx tools/testbed/cli.ts [--prefix P] COMMAND
 *   up                      build the testbed and hold it until Ctrl-C (then tear down)
 *   down                    remove everything of prefix P (also after a crash)
 *   status                  JSON status
 *   delay {main|backup} MS [auto|netem|service]   processing delay on the host (prints which);
 *                           clear-delay HOST removes it
 *   hang | kill | resume HOST   SIGSTOP / SIGKILL / SIGCONT the host's echo service
 *   crash | recover HOST    host interface down / up
 */
import { parseArgs } from 'node:util';
import {
  addDelay,
  clearDelay,
  crashHost,
  recoverHost,
  stopService,
  testbedDown,
  testbedStatus,
  testbedUp,
  type HostRole,
} from './testbed.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { prefix: { type: 'string', default: 'f' }, 'state-dir': { type: 'string' } },
});
const ref = { prefix: values.prefix, ...(values['state-dir'] ? { stateDir: values['state-dir'] } : {}) };
const [command, hostArg, valueArg] = positionals;

function host(): HostRole {
  if (hostArg !== 'main' && hostArg !== 'backup') throw new Error(`host must be main or backup, got ${hostArg}`);
  return hostArg;
}

async function main(): Promise<void> {
  switch (command) {
    case 'up': {
      const testbed = await testbedUp(ref);
      const p = testbed.plan;
      console.log(
        `testbed ${p.prefix} up: ${p.tgen.netns} ${p.tgen.address} -> ${p.main.netns} ${p.main.address}:${p.echoPort}, ` +
          `${p.backup.netns} ${p.backup.address}:${p.echoPort}; Ctrl-C tears down`,
      );
      return;
    }
    case 'down':
      console.log(JSON.stringify(await testbedDown(ref)));
      return;
    case 'status':
      console.log(JSON.stringify(testbedStatus(ref), null, 2));
      return;
    case 'delay':
      console.log(addDelay(host(), Number(valueArg), ref, (positionals[3] ?? 'auto') as 'auto' | 'netem' | 'service'));
      return;
    case 'clear-delay':
      clearDelay(host(), ref);
      return;
    case 'hang':
    case 'kill':
      stopService(host(), command, ref);
      return;
    case 'resume': {
      const pid = testbedStatus(ref).processes[`echo-${host()}`]?.pid;
      if (pid === undefined) throw new Error('no echo service recorded');
      process.kill(pid, 'SIGCONT');
      return;
    }
    case 'crash':
      crashHost(host(), ref);
      return;
    case 'recover':
      recoverHost(host(), ref);
      return;
    default:
      throw new Error(`unknown command ${command ?? '(none)'}; see the header of tools/testbed/cli.ts`);
  }
}

main().catch((error: Error) => {
  console.error(error.message);
  process.exit(1);
});
