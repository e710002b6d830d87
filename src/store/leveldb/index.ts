export { LevelStore, type LevelStoreOptions, type CheckReport } from './level-store.js';
export { SCHEMA_VERSION, Sublevel, MetaKey } from './layout.js';
