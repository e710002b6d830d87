/** Child processes started detached (their own process group), stopped as a group: SIGTERM, then SIGKILL after 3 s. */
import type { ChildProcess } from 'node:child_process';
import { stopGroup as stopProcessGroup } from '../../src/bench/servers.js';

export { groupAlive } from '../../src/bench/servers.js';

export async function stopGroup(p: ChildProcess): Promise<void> {
  if (p.pid !== undefined) await stopProcessGroup(p.pid, 3000);
}
