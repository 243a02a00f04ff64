// Builds the optional TAP addon (tap_addon.c) at `npm ci` time. Never fails the install:
// without a compiler, Node headers or Linux, TapPort falls back to its koffi backend.
// Wire it up with package.json "scripts": { "install": "node src/dataplane/native/install.mjs" }.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

function warn(message) {
  console.warn(`fatriot: TAP addon not built (${message}); TAP ports will use koffi`);
  process.exit(0);
}

if (process.platform !== 'linux') warn(`platform ${process.platform}`);
if (process.env.FATRIOT_SKIP_ADDON) warn('FATRIOT_SKIP_ADDON is set');
// npm exports the path of its bundled node-gyp to lifecycle scripts.
const gyp = process.env.npm_config_node_gyp;
const [command, args] =
  gyp && existsSync(gyp) ? [process.execPath, [gyp, 'rebuild']] : ['node-gyp', ['rebuild']];
const result = spawnSync(command, args, { cwd: here, stdio: ['ignore', 'inherit', 'inherit'] });
if (result.error) warn(result.error.message);
if (result.status !== 0) warn(`node-gyp exited with ${result.status}`);
