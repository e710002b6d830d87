/**
 * The `rotation` config section (docs/rotation.md): the scheduler's bounds and the Object Group
 * policies. Per-key policies live on the keys themselves (KMIP 2.1 Rotate Automatic + Rotate
 * Interval, src/rotation/policy.ts).
 *
 *   rotation {
 *     enabled              true        the scheduler runs (KMS_ROTATION_ENABLED)
 *     checkIntervalSeconds 3600        how often it looks for due keys (KMS_ROTATION_CHECK_INTERVAL_SECONDS)
 *     warnDays             14          keys due within this many days are reported (KMS_ROTATION_WARN_DAYS)
 *     overlapDays          7           overlap for per-key policies (KMS_ROTATION_OVERLAP_DAYS)
 *     retryMinutes         60          a failed key is tried again after this (KMS_ROTATION_RETRY_MINUTES)
 *     maxPerRun            100         rotations per run at most (KMS_ROTATION_MAX_PER_RUN)
 *     leaseSeconds         300         the scheduler lease's lifetime (KMS_ROTATION_LEASE_SECONDS)
 *     maxHistory           50          last runs kept for `kms keys rotation` (KMS_ROTATION_MAX_HISTORY)
 *     policies [{objectGroup, everyDays, overlapDays}]
 *   }
 */

export interface GroupPolicy {
  readonly objectGroup: string;
  readonly everyDays: number;
  readonly overlapDays: number;
}

export interface RotationConfig {
  readonly enabled: boolean;
  readonly checkIntervalSeconds: number;
  readonly warnDays: number;
  readonly overlapDays: number;
  readonly retryMinutes: number;
  readonly maxPerRun: number;
  readonly leaseSeconds: number;
  readonly maxHistory: number;
  readonly policies: readonly GroupPolicy[];
}

export const DEFAULT_ROTATION: RotationConfig = Object.freeze({
  enabled: true,
  checkIntervalSeconds: 3600,
  warnDays: 14,
  overlapDays: 7,
  retryMinutes: 60,
  maxPerRun: 100,
  leaseSeconds: 300,
  maxHistory: 50,
  policies: [],
});

/** Most Object Group policies a config may hold. */
export const MAX_GROUP_POLICIES = 1000;
/** Longest rotation period or overlap, in days (100 years). */
export const MAX_DAYS = 36_500;

export class RotationConfigError extends Error {}

type NumberKey = Exclude<keyof RotationConfig, 'enabled' | 'policies'>;
const NUMBER_BOUNDS: Readonly<Record<NumberKey, readonly [number, number]>> = {
  checkIntervalSeconds: [1, 86_400],
  warnDays: [0, MAX_DAYS],
  overlapDays: [0, MAX_DAYS],
  retryMinutes: [1, 10_080],
  maxPerRun: [1, 100_000],
  leaseSeconds: [5, 86_400],
  maxHistory: [1, 10_000],
};

/** Environment variables for the rotation section. */
export const ROTATION_ENV_KEYS: Readonly<Record<string, Exclude<keyof RotationConfig, 'policies'>>> = {
  KMS_ROTATION_ENABLED: 'enabled',
  KMS_ROTATION_CHECK_INTERVAL_SECONDS: 'checkIntervalSeconds',
  KMS_ROTATION_WARN_DAYS: 'warnDays',
  KMS_ROTATION_OVERLAP_DAYS: 'overlapDays',
  KMS_ROTATION_RETRY_MINUTES: 'retryMinutes',
  KMS_ROTATION_MAX_PER_RUN: 'maxPerRun',
  KMS_ROTATION_LEASE_SECONDS: 'leaseSeconds',
  KMS_ROTATION_MAX_HISTORY: 'maxHistory',
};

function num(v: unknown, what: string, [lo, hi]: readonly [number, number], integer = true): number {
  const n = typeof v === 'string' && /^\d+(\.\d+)?$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < lo || n > hi) {
    throw new RotationConfigError(`${what} must be ${integer ? 'an integer' : 'a number'} from ${lo} to ${hi}`);
  }
  return n;
}

function parsePolicy(v: unknown, what: string): GroupPolicy {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new RotationConfigError(`${what} must be an object {objectGroup, everyDays, overlapDays}`);
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (k !== 'objectGroup' && k !== 'everyDays' && k !== 'overlapDays') throw new RotationConfigError(`unknown key ${what}.${k}`);
  if (typeof o.objectGroup !== 'string' || o.objectGroup === '' || o.objectGroup.length > 256)
    throw new RotationConfigError(`${what}.objectGroup must be a non-empty Object Group name (at most 256 characters)`);
  // Fractions of a day are allowed (0.5 = 12 hours), so short periods can be tried out.
  const everyDays = num(o.everyDays, `${what}.everyDays`, [1 / 24, MAX_DAYS], false);
  const overlapDays = o.overlapDays === undefined ? 0 : num(o.overlapDays, `${what}.overlapDays`, [0, MAX_DAYS], false);
  if (overlapDays > everyDays) throw new RotationConfigError(`${what}.overlapDays (${overlapDays}) must not exceed everyDays (${everyDays})`);
  return { objectGroup: o.objectGroup, everyDays, overlapDays };
}

/** Parse (part of) a rotation section over `into`; `from` names the source in errors. */
export function parseRotationConfig(v: unknown, from: string, into: Partial<RotationConfig> = {}): Partial<RotationConfig> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new RotationConfigError(`${from}: rotation must be an object`);
  const out: Record<string, unknown> = { ...into };
  try {
    for (const [k, raw] of Object.entries(v as Record<string, unknown>)) {
      if (k === 'enabled') {
        const b = raw === 'true' ? true : raw === 'false' ? false : raw;
        if (typeof b !== 'boolean') throw new RotationConfigError('rotation.enabled must be true or false');
        out.enabled = b;
      } else if (k === 'policies') {
        if (!Array.isArray(raw)) throw new RotationConfigError('rotation.policies must be a list of {objectGroup, everyDays, overlapDays}');
        if (raw.length > MAX_GROUP_POLICIES) throw new RotationConfigError(`rotation.policies holds at most ${MAX_GROUP_POLICIES} policies`);
        const policies = raw.map((p, i) => parsePolicy(p, `rotation.policies[${i}]`));
        const seen = new Set<string>();
        for (const p of policies) {
          if (seen.has(p.objectGroup)) throw new RotationConfigError(`rotation.policies: Object Group ${JSON.stringify(p.objectGroup)} has two policies`);
          seen.add(p.objectGroup);
        }
        out.policies = policies;
      } else if (Object.hasOwn(NUMBER_BOUNDS, k)) {
        out[k] = num(raw, `rotation.${k}`, NUMBER_BOUNDS[k as NumberKey]);
      } else {
        throw new RotationConfigError(`unknown key rotation.${k}`);
      }
    }
  } catch (e) {
    if (e instanceof RotationConfigError) throw new RotationConfigError(`${from}: ${e.message}`);
    throw e;
  }
  return out as Partial<RotationConfig>;
}

/** The effective section: defaults under what was configured. */
export function rotationConfigOf(c: Partial<RotationConfig> | undefined): RotationConfig {
  return { ...DEFAULT_ROTATION, ...c };
}
