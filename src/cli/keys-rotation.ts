/**
 * `kms keys rotation [--run]`: the rotation policies, the keys due (or past due and not rotated,
 * with why) and the scheduler's last runs, from a RUNNING server's admin socket (src/rotation/
 * admin.ts). `--run` asks the server for a run now (under its lease). docs/rotation.md.
 */
import { requestWithProgress } from '../admin/client.js';
import { adminSocketPath } from '../folder/layout.js';
import type { KmsConfig } from '../config/config.js';
import type { RotationStatus, RunRecord } from '../rotation/scheduler.js';
import { ExitCode } from './exit-codes.js';
import type { CliIo } from './command.js';

export function formatRotation(s: RotationStatus, lastRun?: RunRecord): string {
  const lines: string[] = [];
  lines.push(`Scheduler: ${s.enabled ? `every ${s.checkIntervalSeconds} s` : 'off (rotation.enabled false)'}; warns ${s.warnDays} days ahead`);
  if (s.lease) lines.push(`Lease: held by ${s.lease.holder}, token ${s.lease.token}, until ${s.lease.expiresAt}`);
  lines.push('Policies:');
  for (const p of s.policies) lines.push(`  ${p.label.padEnd(24)} ${p.everyDays === null ? 'every Rotate Interval' : `every ${p.everyDays} days`}, overlap ${p.overlapDays} days`);
  lines.push(`Due keys: ${s.dueCount}${s.dueCount > s.due.length ? ` (first ${s.due.length} listed)` : ''}`);
  for (const d of s.due) lines.push(`  ${d.uid}  ${d.status.padEnd(8)}  due ${d.dueAt}  ${d.policy}${d.reason ? `  ${d.reason}` : ''}`);
  const runs = lastRun ? [lastRun, ...s.runs] : s.runs;
  lines.push(`Last runs: ${runs.length === 0 ? 'none yet' : ''}`);
  for (const r of runs.slice(0, 10)) {
    lines.push(
      `  ${r.started}  ${r.holder}${r.token !== undefined ? ` (token ${r.token})` : ''}  ${r.skipped ? `skipped: ${r.skipped}` : `scanned ${r.scanned}, rotated ${r.rotated.length}, completed ${r.completed.length}, failed ${r.failed.length}`}`,
    );
    for (const x of r.rotated) lines.push(`    rotated ${x.job} -> ${x.newUid} (${x.policy})`);
    for (const x of r.failed) lines.push(`    failed  ${x.job}: ${x.reason}`);
  }
  return lines.join('\n') + '\n';
}

export async function keysRotation(config: KmsConfig, opts: { run: boolean; json: boolean }, io: CliIo): Promise<number> {
  const path = adminSocketPath(config.dataDir);
  try {
    const run = opts.run ? await requestWithProgress<RunRecord, never>(path, { op: 'rotation-run' }, 'rotation run') : undefined;
    const status = await requestWithProgress<RotationStatus, never>(path, { op: 'rotation' }, 'rotation status');
    if (!status) {
      io.stderr.write(`kms keys rotation: no server is running on ${config.dataDir} (the rotation scheduler runs in the server)\n`);
      return ExitCode.Io;
    }
    io.stdout.write(opts.json ? JSON.stringify(run ? { run, status } : status, null, 2) + '\n' : formatRotation(status));
    return ExitCode.Ok;
  } catch (e) {
    io.stderr.write(`kms keys rotation: ${(e as Error).message}\n`);
    return ExitCode.Io;
  }
}
