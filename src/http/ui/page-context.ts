/**
 * What every console page gets and may throw (console.ts builds it, the page-*.ts modules read it):
 * the sources, the caller, the request and response, the settings; ConsoleError for a plain
 * HTTP error page; small helpers the pages share.
 */
import { X509Certificate } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RotationStatus } from '../../rotation/scheduler.js';
import type { KmsConfig } from '../../config/config.js';
import type { AuditKey } from '../../audit/audit-key.js';
import type { AuditTrail } from '../../audit/trail.js';
import type { KeyProtector } from '../../hsm/key-protector.js';
import type { HandlerTable, ServerServices } from '../../operations/context.js';
import type { IdentitySource } from '../../server/auth.js';
import type { HealthSources } from '../health.js';
import type { KmsMetrics } from '../metrics.js';
import type { ConsoleSettings } from '../../config/console.js';
import type { Html, page } from './html.js';
import type { VerifyOutcome } from '../../audit/verify-run.js';
import type { ClientRegistry } from '../../clients/registry.js';

export interface VerifyState {
  running: boolean;
  last?: { readonly at: string; readonly by: string; readonly outcome?: VerifyOutcome; readonly error?: string };
}

export interface ConsoleSources {
  readonly config: Pick<KmsConfig, 'dataDir' | 'audit' | 'access' | 'clientProfiles' | 'console'>;
  readonly identity: IdentitySource;
  readonly services: ServerServices;
  readonly handlers: HandlerTable;
  readonly health: HealthSources;
  readonly metrics?: KmsMetrics;
  /** The protector without cache or metrics (KEKs, description). */
  readonly protector: KeyProtector;
  readonly auditKey: AuditKey;
  readonly trail: AuditTrail;
  /** The listener's certificates (PEM), for expiry warnings. */
  readonly certificates: { readonly server: string | Buffer; readonly ca: string | Buffer };
  readonly startedAt: number;
  /** The key rotation scheduler's status (src/rotation/), for the dashboard's Key rotation card. */
  readonly rotation?: { status(): Promise<RotationStatus> };
  /** The client-certificate registry (src/clients/), for the Clients page and its actions; absent: listing only. */
  readonly clients?: ClientRegistry;
}

/** Who is asking, once authenticated. */
export interface Caller {
  readonly id: string;
  readonly via: 'certificate' | 'token';
  /** What the CSRF token is bound to. */
  readonly subject: string;
  readonly sessionId?: string;
  readonly isAdmin: boolean;
}

/** What a page handler gets. */
export interface PageContext {
  readonly src: ConsoleSources;
  readonly settings: ConsoleSettings;
  readonly caller: Caller;
  readonly csrf: string;
  readonly url: URL;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly verify: VerifyState;
  /** Form fields of a POST (already CSRF-checked). */
  readonly form: URLSearchParams;
  render(title: string, nav: Parameters<typeof page>[0]['nav'], body: Html, status?: number): void;
  redirect(location: string): void;
}

/** An HTTP status with a plain page (thrown by page handlers). */
export class ConsoleError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** Days until a PEM certificate's notAfter (negative: expired), or undefined when unreadable. */
export function certificateInfo(pem: string | Buffer): { subject: string; notAfter: string; days: number; fingerprint: string; clientAuth: boolean } | undefined {
  try {
    const c = new X509Certificate(pem);
    const notAfter = new Date(c.validTo);
    return {
      subject: c.subject.replace(/\n/g, ', '),
      notAfter: notAfter.toISOString(),
      days: Math.floor((notAfter.getTime() - Date.now()) / 86_400_000),
      fingerprint: c.fingerprint256,
      clientAuth: (c.keyUsage ?? []).includes('1.3.6.1.5.5.7.3.2'),
    };
  } catch {
    return undefined;
  }
}

/** A page-size parameter: absent → console.pageSize; above console.maxPageSize → 400. */
export function pageSizeOf(ctx: PageContext): number {
  const raw = ctx.url.searchParams.get('size');
  if (raw === null || raw === '') return ctx.settings.pageSize;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1) throw new ConsoleError(400, 'size must be a positive whole number');
  if (n > ctx.settings.maxPageSize) throw new ConsoleError(400, `size ${n} is over the limit of ${ctx.settings.maxPageSize} rows (console.maxPageSize)`);
  return n;
}
