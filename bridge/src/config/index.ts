/** The configuration file: schema, loading with path-named errors, and the demo hook. */
export * from './schema.ts';
export * from './load.ts';
export { demoConfig, DEMO_ENV } from './demo.ts';
