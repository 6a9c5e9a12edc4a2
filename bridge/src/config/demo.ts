/**
 * The demo configuration `npm start` runs without a configuration file: every partner is one of
 * this repo's simulators (bridge/src/simulators/demo-partners.ts, owned by the adapters work), so
 * a newcomer sees the whole flow on one machine. Same validation as a real file.
 */
import { DEMO_PARTNER_ENV, demoPartnersConfig } from '../simulators/demo-partners.ts';
import type { ConfigFile } from './schema.ts';

/** Environment the demo's secret references resolve against (simulator secrets, not real ones). */
export const DEMO_ENV: Record<string, string> = DEMO_PARTNER_ENV;

/** The demo configuration file (unresolved), pointing every partner at the simulators under `simBaseUrl`. */
export function demoConfig(options: { simBaseUrl: string }): ConfigFile {
  return { ...demoPartnersConfig(options) };
}
