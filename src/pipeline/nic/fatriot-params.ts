import { readFileSync } from 'node:fs';
import { factSchema } from '../../../hw/netfpga-spec/index.ts';
import { z } from 'zod';
import type { ClassifierParams } from '../modules/classifier.ts';
import type { DualQueueParams } from '../modules/dual-queue.ts';

const fact = factSchema;
const schema = z.object({
  meta: z.object({ description: z.string() }),
  classifier: z.object({ inputFifoDepthBits: fact, headerBeats: fact, lookupLatencyCycles: fact }),
  dualQueue: z.object({ mainDepthBits: fact, subDepthBits: fact, mirrorBacklogPackets: fact }),
});

const raw = schema.parse(JSON.parse(readFileSync(new URL('../../../hw/netfpga-spec/fatriot-modules.json', import.meta.url), 'utf8')));
const num = (f: z.infer<typeof fact>): number => f.value as number;

/** Parameters of the Fatriot modules, from hw/netfpga-spec/fatriot-modules.json (all assumed there, with reasons). */
export function fatriotModuleParams(): { classifier: ClassifierParams; dualQueue: DualQueueParams } {
  return {
    classifier: {
      inFifoDepthBits: num(raw.classifier.inputFifoDepthBits),
      headerBeats: num(raw.classifier.headerBeats),
      lookupLatencyCycles: num(raw.classifier.lookupLatencyCycles),
    },
    dualQueue: {
      mainDepthBits: num(raw.dualQueue.mainDepthBits),
      subDepthBits: num(raw.dualQueue.subDepthBits),
      mirrorBacklogPackets: num(raw.dualQueue.mirrorBacklogPackets),
    },
  };
}
