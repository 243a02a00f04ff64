/** Entry of the `fatriot` CLI (bin/fatriot.mjs imports this file). */
import { main } from './program.ts';

process.exitCode = await main(process.argv);
