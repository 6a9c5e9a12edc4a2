/** The partner-agnostic delivery engine. */
export * from './engine.ts';
export * from './jobs.ts';
export * from './policy.ts';
export * from './routing.ts';
