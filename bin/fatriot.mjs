#!/usr/bin/env node
// Entry point of the `fatriot` CLI: runs the TypeScript sources through tsx so that
// `npm ci` needs no build step.
import { register } from 'tsx/esm/api';

register();
// Before anything runs the model: V8 flags for its hot paths (src/pipeline/sim/jit-tuning.ts).
const { tuneV8ForModel } = await import('../src/pipeline/sim/jit-tuning.ts');
tuneV8ForModel();
await import('../src/control/cli/main.ts');
