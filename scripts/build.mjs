// `npm run build`: one ESM file, dist/bridge.mjs, with every dependency inside.
import { build } from 'esbuild';

await build({
  entryPoints: ['bridge/src/server.ts'],
  outfile: 'dist/bridge.mjs',
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'esm',
  sourcemap: true,
  logLevel: 'warning',
  // CommonJS dependencies (ws, pino, json-rpc-2.0) call require(); an ESM bundle has none without this.
  banner: { js: "import { createRequire as __olbCreateRequire } from 'node:module'; const require = __olbCreateRequire(import.meta.url);" },
  // Optional native speed-ups of ws; plain JS fallbacks are used when absent.
  external: ['bufferutil', 'utf-8-validate', 'pg-native'],
});
console.log('built dist/bridge.mjs');
