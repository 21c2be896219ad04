/**
 * Every request the hub takes, defined once: the HTTP routes validate with these schemas and the
 * TypeScript types in ../types.ts are derived from them, so the contract and its check cannot drift.
 */
export * from './access.ts';
export * from './decisions.ts';
export * from './events.ts';
export * from './fields.ts';
export * from './holds.ts';
export * from './proofs.ts';
export * from './recordings.ts';
export * from './sessions.ts';
