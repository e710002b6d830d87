/**
 * The `console` config section: the administrators' web console at /ui/ on the HTTPS listener
 * (docs/console.md). Every limit here is named, has a default, a KMS_CONSOLE_… variable and a
 * row in docs/limits.md.
 */
export interface ConsoleConfig {
  /** Serve /ui/ (default true; it still needs an administrator's certificate or token). */
  readonly enabled?: boolean;
  /** Rows per page when the request names none (keys, audit). */
  readonly pageSize?: number;
  /** Largest page a request may ask for (?size=); more is refused with 400. */
  readonly maxPageSize?: number;
  /** Rows a CSV export of the audit trail streams at most. */
  readonly csvMaxRows?: number;
  /** Audit records a page (audit filter, key timeline, clients' last seen) reads at most, newest first. */
  readonly auditScanMax?: number;
  /** Requests per minute one identity (or, before login, one address) may make; more get 429. */
  readonly requestsPerMinute?: number;
  /** How long a token login lasts in the browser (never beyond the token's own expiry), ms. */
  readonly sessionTtlMs?: number;
  /** Token logins held at once; the oldest is dropped beyond. */
  readonly maxSessions?: number;
  /** Longest lifetime `kms admin token create` gives a token, hours. */
  readonly tokenMaxTtlHours?: number;
  /** The dashboard warns about the server and CA certificates this many days before they expire. */
  readonly certWarnDays?: number;
  /** Longest POST body (a console form) read; more gets 413. */
  readonly maxFormBytes?: number;
}

export type ConsoleSettings = Required<ConsoleConfig>;

export const DEFAULT_CONSOLE: ConsoleSettings = {
  enabled: true,
  pageSize: 25,
  maxPageSize: 200,
  csvMaxRows: 100_000,
  auditScanMax: 50_000,
  requestsPerMinute: 300,
  sessionTtlMs: 8 * 3600_000,
  maxSessions: 1000,
  tokenMaxTtlHours: 90 * 24,
  certWarnDays: 30,
  maxFormBytes: 16 * 1024,
};

/** Environment variables, one per key. */
export const CONSOLE_ENV_KEYS: Readonly<Record<string, keyof ConsoleConfig>> = {
  KMS_CONSOLE_ENABLED: 'enabled',
  KMS_CONSOLE_PAGE_SIZE: 'pageSize',
  KMS_CONSOLE_MAX_PAGE_SIZE: 'maxPageSize',
  KMS_CONSOLE_CSV_MAX_ROWS: 'csvMaxRows',
  KMS_CONSOLE_AUDIT_SCAN_MAX: 'auditScanMax',
  KMS_CONSOLE_REQUESTS_PER_MINUTE: 'requestsPerMinute',
  KMS_CONSOLE_SESSION_TTL_MS: 'sessionTtlMs',
  KMS_CONSOLE_MAX_SESSIONS: 'maxSessions',
  KMS_CONSOLE_TOKEN_MAX_TTL_HOURS: 'tokenMaxTtlHours',
  KMS_CONSOLE_CERT_WARN_DAYS: 'certWarnDays',
  KMS_CONSOLE_MAX_FORM_BYTES: 'maxFormBytes',
};

export class ConsoleConfigError extends Error {
  override readonly name = 'ConsoleConfigError';
}

/** Parse (part of) a `console` section from `from` (a file name or "environment X"), over `into`. */
export function parseConsole(v: unknown, from: string, into: ConsoleConfig = {}): ConsoleConfig {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ConsoleConfigError(`${from}: console must be an object`);
  const out: Record<string, unknown> = { ...into };
  for (const [k, raw] of Object.entries(v as Record<string, unknown>)) {
    if (!(k in DEFAULT_CONSOLE)) throw new ConsoleConfigError(`${from}: unknown key console.${k}`);
    if (k === 'enabled') {
      const b = raw === 'true' ? true : raw === 'false' ? false : raw;
      if (typeof b !== 'boolean') throw new ConsoleConfigError(`${from}: console.enabled must be true or false`);
      out[k] = b;
      continue;
    }
    const n = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : raw;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) throw new ConsoleConfigError(`${from}: console.${k} must be a positive integer`);
    out[k] = n;
  }
  const merged = { ...DEFAULT_CONSOLE, ...out };
  if (merged.pageSize > merged.maxPageSize) throw new ConsoleConfigError(`${from}: console.pageSize (${merged.pageSize}) must not exceed console.maxPageSize (${merged.maxPageSize})`);
  return out as ConsoleConfig;
}

export function consoleSettings(c: ConsoleConfig | undefined): ConsoleSettings {
  return { ...DEFAULT_CONSOLE, ...(c ?? {}) };
}

/** Lines for `kms serve --help`. */
export function consoleHelp(): string {
  const d = DEFAULT_CONSOLE;
  return [
    'Web console at /ui/ on the HTTPS port, for access.administrators (browser client',
    'certificate, or a token from `kms admin token create`); config section console,',
    'docs/console.md:',
    `  KMS_CONSOLE_ENABLED               enabled: serve /ui/ (${d.enabled})`,
    `  KMS_CONSOLE_PAGE_SIZE             pageSize: rows per page (${d.pageSize})`,
    `  KMS_CONSOLE_MAX_PAGE_SIZE         maxPageSize: largest ?size= accepted (${d.maxPageSize})`,
    `  KMS_CONSOLE_CSV_MAX_ROWS          csvMaxRows: rows of an audit CSV export (${d.csvMaxRows})`,
    `  KMS_CONSOLE_AUDIT_SCAN_MAX        auditScanMax: audit records one page reads (${d.auditScanMax})`,
    `  KMS_CONSOLE_REQUESTS_PER_MINUTE   requestsPerMinute: per identity or address (${d.requestsPerMinute})`,
    `  KMS_CONSOLE_SESSION_TTL_MS        sessionTtlMs: token login lifetime (${d.sessionTtlMs})`,
    `  KMS_CONSOLE_MAX_SESSIONS          maxSessions: token logins held (${d.maxSessions})`,
    `  KMS_CONSOLE_TOKEN_MAX_TTL_HOURS   tokenMaxTtlHours: longest token lifetime (${d.tokenMaxTtlHours})`,
    `  KMS_CONSOLE_CERT_WARN_DAYS        certWarnDays: certificate expiry warning (${d.certWarnDays})`,
    `  KMS_CONSOLE_MAX_FORM_BYTES        maxFormBytes: longest form POST read (${d.maxFormBytes})`,
  ].join('\n');
}
