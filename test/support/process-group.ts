/** Child processes started detached (their own process group), stopped as a group: SIGTERM, then SIGKILL after 3 s. */
import type { ChildProcess } from 'node:child_process';

export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function stopGroup(p: ChildProcess): Promise<void> {
  const pgid = p.pid;
  if (pgid === undefined) return;
  if (groupAlive(pgid)) process.kill(-pgid, 'SIGTERM');
  const until = Date.now() + 3000;
  while (groupAlive(pgid) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  if (groupAlive(pgid)) process.kill(-pgid, 'SIGKILL');
}
