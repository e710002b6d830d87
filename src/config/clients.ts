/**
 * The `clients` config section: bounds and defaults of the client-certificate registry
 * (docs/clients-lifecycle.md, docs/limits.md). Each key is also a KMS_CLIENTS_* variable.
 *
 *   maxCertificates    certificates the registry holds, revoked and expired included (10000;
 *                      1 to 1000000): issue/sign beyond it is refused. It also bounds the deny
 *                      list each node keeps in memory.
 *   crlValidityHours   the CRL's nextUpdate - thisUpdate (24; 1 to 720): a CRL is regenerated
 *                      at any change and when half of it has passed.
 *   defaultDays        validity of an issued or signed certificate without --days (825; 1 to 3650)
 *   expiryWarningDays  the expiry report's default window and the start-up warning (30; 1 to 3650)
 */
export interface ClientsConfig {
  readonly maxCertificates?: number;
  readonly crlValidityHours?: number;
  readonly defaultDays?: number;
  readonly expiryWarningDays?: number;
}

export type ClientsSettings = Required<ClientsConfig>;

export const DEFAULT_CLIENTS: ClientsSettings = { maxCertificates: 10_000, crlValidityHours: 24, defaultDays: 825, expiryWarningDays: 30 };

const BOUNDS: Readonly<Record<keyof ClientsConfig, readonly [number, number]>> = {
  maxCertificates: [1, 1_000_000],
  crlValidityHours: [1, 720],
  defaultDays: [1, 3650],
  expiryWarningDays: [1, 3650],
};

export const CLIENTS_ENV_KEYS: Readonly<Record<string, keyof ClientsConfig>> = {
  KMS_CLIENTS_MAX_CERTIFICATES: 'maxCertificates',
  KMS_CLIENTS_CRL_VALIDITY_HOURS: 'crlValidityHours',
  KMS_CLIENTS_DEFAULT_DAYS: 'defaultDays',
  KMS_CLIENTS_EXPIRY_WARNING_DAYS: 'expiryWarningDays',
};

/** Check a `clients` section (values may be decimal strings, from the environment); throws Error naming the key. */
export function parseClientsSection(v: unknown, from: string, into: ClientsConfig = {}): ClientsConfig {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${from}: clients must be an object`);
  const out: Record<string, number> = { ...(into as Record<string, number>) };
  for (const [k, raw] of Object.entries(v as Record<string, unknown>)) {
    const b = (BOUNDS as Record<string, readonly [number, number]>)[k];
    if (!b) throw new Error(`${from}: unknown key clients.${k}`);
    const n = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : raw;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < b[0] || n > b[1]) throw new Error(`${from}: clients.${k} must be a whole number from ${b[0]} to ${b[1]}`);
    out[k] = n;
  }
  return out;
}

export function clientsSettings(c: ClientsConfig | undefined): ClientsSettings {
  return { ...DEFAULT_CLIENTS, ...c };
}

/** The lines `kms serve --help` shows. */
export function clientsHelp(): string {
  return [
    'Client certificates (config section clients; docs/clients-lifecycle.md):',
    `  maxCertificates    certificates the registry holds (KMS_CLIENTS_MAX_CERTIFICATES; default ${DEFAULT_CLIENTS.maxCertificates})`,
    `  crlValidityHours   GET /crl nextUpdate - thisUpdate (KMS_CLIENTS_CRL_VALIDITY_HOURS; default ${DEFAULT_CLIENTS.crlValidityHours})`,
    `  defaultDays        validity of issued/signed certificates (KMS_CLIENTS_DEFAULT_DAYS; default ${DEFAULT_CLIENTS.defaultDays})`,
    `  expiryWarningDays  expiry report window, start-up warning (KMS_CLIENTS_EXPIRY_WARNING_DAYS; default ${DEFAULT_CLIENTS.expiryWarningDays})`,
  ].join('\n');
}
