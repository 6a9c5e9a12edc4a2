/**
 * The demo configuration `npm start` runs without a configuration file: every partner is one of
 * this repo's simulators, so a newcomer sees the whole flow on one machine.
 *
 * OWNED BY THE ADAPTERS ENGINEER: fill `demoConfig` with the simulator partners (adapter keys from
 * bridge/src/adapters/registry.ts, base URLs under `simBaseUrl`). The engine only relies on the
 * signature: it returns a configuration file object that `parseConfig` accepts with `DEMO_ENV`.
 */
import type { ConfigFile } from './schema.ts';

/** Environment the demo's secret references resolve against (simulator secrets, not real ones). */
export const DEMO_ENV: Record<string, string> = {};

/** The demo configuration file (unresolved), pointing every partner at the simulators under `simBaseUrl`. */
export function demoConfig(_options: { simBaseUrl: string }): ConfigFile {
  return { partners: [], routes: [] };
}
