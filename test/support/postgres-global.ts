/**
 * vitest globalSetup: a folder for this run's shared PostgreSQL server (test/support/postgres.ts).
 * Nothing is started here: the first test file that calls `sharedPostgres()` starts the server,
 * so runs without PostgreSQL tests pay nothing. The teardown stops it and removes the folder.
 */
import type { TestProject } from 'vitest/node';
import { prepareSharedRoot, teardownSharedRoot } from './postgres.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const root = await prepareSharedRoot();
  project.provide('kmsPgRoot', root);
  return () => teardownSharedRoot(root);
}
