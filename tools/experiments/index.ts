/**
 * The paper's experiments on the embedded testbed (Fatriot section 5; SPEC 7), by name,
 * for `fatriot experiment NAME` and `fatriot demo`.
 */
import type { ExperimentOptions, Summary } from './common.ts';
import { runCrash } from './crash.ts';
import { runDelay } from './delay.ts';
import { runOverhead } from './overhead.ts';
import { runRelay } from './relay.ts';

export { runCrash, runDelay, runOverhead, runRelay };
export type { ExperimentOptions, Summary };
export { claimTable, type Claim } from './claims.ts';

export const EXPERIMENT_NAMES = ['overhead', 'delay', 'crash', 'relay'] as const;
export type ExperimentName = (typeof EXPERIMENT_NAMES)[number];

export const EXPERIMENTS: Record<ExperimentName, { figure: string; usesInterval: boolean; run: (opts: ExperimentOptions) => Promise<Summary> }> = {
  overhead: { figure: 'Fig. 9', usesInterval: false, run: runOverhead },
  delay: { figure: 'Fig. 10', usesInterval: true, run: runDelay },
  crash: { figure: 'Fig. 11', usesInterval: true, run: runCrash },
  relay: { figure: 'Fig. 12', usesInterval: false, run: runRelay },
};

export function isExperimentName(name: string): name is ExperimentName {
  return (EXPERIMENT_NAMES as readonly string[]).includes(name);
}
