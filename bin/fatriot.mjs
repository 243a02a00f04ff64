#!/usr/bin/env node
// Entry point of the `fatriot` CLI: runs the TypeScript sources through tsx so that
// `npm ci` needs no build step.
import { register } from 'tsx/esm/api';

register();
await import('../src/control/cli/main.ts');
