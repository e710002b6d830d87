/**
 * The server's Prometheus metrics (prom-client), one registry per running server.
 *
 * Label values are bounded enumerations only: operation and result reason names come from
 * the KMIP registry (anything else is "unknown"), versions from the served list ("other"
 * otherwise), transports, protector functions and refusal reasons from fixed lists here.
 * No key material, uid, client identity or other client-supplied string is ever a label.
 *
 * Most families are fed by the code they measure (the dispatcher, the listeners, the store,
 * the protector wrapper); a few are read when scraped (cache counters, object counts,
 * certificate expiry).
 */
import { X509Certificate } from 'node:crypto';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { enumValueName, tagFromName } from '../kmip/registry.js';
import { ObjectType, State } from '../kmip/generated/enums.gen.js';
import type { TtlvNode } from '../ttlv/node.js';
import type { ObjectStore } from '../store/object-store.js';
import { RecordField, indexEnum } from '../store/index-encoding.js';
import type { KeyCacheStats } from '../hsm/caching-protector.js';

export type Transport = 'kmip' | 'https';
/**
 * tls: handshake failed or certificate refused; identity: certificate without a usable identity;
 * connection_limit: limits.maxConnections; handshake_budget: limits.maxHandshakes;
 * address_handshake_limit: limits.maxHandshakesPerAddress; handshake_timeout: limits.handshakeTimeoutMs;
 * revoked: a client certificate the client registry records as revoked (src/clients/deny-list.ts).
 */
export type RefusalReason = 'tls' | 'identity' | 'connection_limit' | 'handshake_budget' | 'address_handshake_limit' | 'handshake_timeout' | 'revoked';

const T = {
  ResponseHeader: tagFromName('ResponseHeader'),
  ProtocolVersion: tagFromName('ProtocolVersion'),
  Major: tagFromName('ProtocolVersionMajor'),
  Minor: tagFromName('ProtocolVersionMinor'),
  BatchItem: tagFromName('BatchItem'),
  Operation: tagFromName('Operation'),
  ResultStatus: tagFromName('ResultStatus'),
  ResultReason: tagFromName('ResultReason'),
};

const SERVED = new Set(['1.0', '1.1', '1.2', '1.3', '1.4', '2.0', '2.1']);

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128];

function child(n: TtlvNode | undefined, tag: number | undefined): TtlvNode | undefined {
  return n?.type === 'Structure' ? n.value.find((c) => c.tag === tag) : undefined;
}

function num(n: TtlvNode | undefined): number | undefined {
  return typeof n?.value === 'number' ? n.value : undefined;
}

/** How many objects of each type / stored state, re-counted at most this often. */
export const OBJECT_COUNT_TTL_MS = 30_000;

export interface MetricsSources {
  readonly store?: ObjectStore;
  readonly keyCache?: () => KeyCacheStats;
  /** PEM certificates whose notAfter is exported (label `cert`: server, ca). */
  readonly certificates?: Readonly<Partial<Record<'server' | 'ca', string | Buffer>>>;
  /** The client registry's certificates (src/clients/registry.ts), for kms_client_certificates_expiring. */
  readonly clientCertificates?: () => readonly { readonly notAfter: string; readonly revokedAt?: string }[];
}

/** kms_client_certificates_expiring windows (label `within`): a fixed set, never client names. */
export const CLIENT_EXPIRY_WINDOWS: readonly (readonly [string, number])[] = [
  ['expired', 0],
  ['7d', 7],
  ['30d', 30],
  ['90d', 90],
];

export class KmsMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'operation' | 'version' | 'result'>;
  private readonly latency: Histogram<'operation'>;
  private readonly batchSize: Histogram;
  private readonly connections: Gauge<'transport'>;
  private readonly handshakes: Counter<'transport'>;
  private readonly refusals: Counter<'transport' | 'reason'>;
  private readonly httpResponses: Counter<'status'>;
  private readonly storeCommit: Histogram;
  private readonly groupSize: Histogram;
  private readonly auditAppend: Histogram;
  private readonly protectorCalls: Counter<'function'>;
  private readonly protectorErrors: Counter<'function'>;
  private objectsCache: { at: number; byType: Map<string, number>; byState: Map<string, number> } | undefined;
  private readonly certificateExpiry: Gauge<'cert'>;

  constructor(sources: MetricsSources = {}, opts: { processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'kms_requests_total',
      help: 'KMIP batch items answered, by operation, protocol version and result (Success or the Result Reason)',
      labelNames: ['operation', 'version', 'result'],
      registers,
    });
    this.latency = new Histogram({
      name: 'kms_request_duration_seconds',
      help: 'Time to answer one KMIP request message (audit record durable included), by its first operation',
      labelNames: ['operation'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.batchSize = new Histogram({ name: 'kms_request_batch_items', help: 'Batch items per KMIP request message', buckets: SIZE_BUCKETS, registers });
    this.connections = new Gauge({ name: 'kms_open_connections', help: 'Client connections open now', labelNames: ['transport'], registers });
    this.handshakes = new Counter({ name: 'kms_tls_handshakes_total', help: 'TLS handshakes completed', labelNames: ['transport'], registers });
    this.refusals = new Counter({
      name: 'kms_connection_refusals_total',
      help: 'Connections or requests refused before any KMIP operation ran, by reason (tls: handshake failed; identity: certificate without a usable identity; connection_limit, handshake_budget, address_handshake_limit, handshake_timeout: the connection budgets in limits; revoked: a revoked client certificate)',
      labelNames: ['transport', 'reason'],
      registers,
    });
    this.httpResponses = new Counter({ name: 'kms_http_responses_total', help: 'HTTPS responses by status code', labelNames: ['status'], registers });
    this.storeCommit = new Histogram({
      name: 'kms_store_commit_duration_seconds',
      help: 'Time of one store write (one commit group; synced, or deferred read records under audit.readSync batched)',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.groupSize = new Histogram({ name: 'kms_store_commit_group_size', help: 'Commits written together in one store write (group commit)', buckets: SIZE_BUCKETS, registers });
    this.auditAppend = new Histogram({
      name: 'kms_audit_append_duration_seconds',
      help: "Time from the end of a request's operations until its audit records are durable",
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.protectorCalls = new Counter({
      name: 'kms_key_protector_calls_total',
      help: 'Calls into the key protector (HSM or software master key), by function',
      labelNames: ['function'],
      registers,
    });
    this.protectorErrors = new Counter({ name: 'kms_key_protector_errors_total', help: 'Key protector calls that failed, by function', labelNames: ['function'], registers });

    const cache = sources.keyCache;
    if (cache) {
      new Counter({
        name: 'kms_key_cache_hits_total',
        help: 'Unwrapped-key cache hits',
        registers,
        collect() {
          this.reset();
          this.inc(cache().hits);
        },
      });
      new Counter({
        name: 'kms_key_cache_misses_total',
        help: 'Unwrapped-key cache misses',
        registers,
        collect() {
          this.reset();
          this.inc(cache().misses);
        },
      });
      new Gauge({
        name: 'kms_key_cache_entries',
        help: 'Unwrapped keys held in the cache now',
        registers,
        collect() {
          this.set(cache().entries);
        },
      });
    }
    const store = sources.store;
    if (store) {
      const self = this;
      new Gauge({
        name: 'kms_objects',
        help: `Managed objects by object type (re-counted at most every ${OBJECT_COUNT_TTL_MS / 1000} s)`,
        labelNames: ['type'],
        registers,
        async collect() {
          const c = await self.objectCounts(store);
          this.reset();
          for (const [k, v] of c.byType) this.set({ type: k }, v);
        },
      });
      new Gauge({
        name: 'kms_objects_by_state',
        help: `Managed objects by stored lifecycle state (re-counted at most every ${OBJECT_COUNT_TTL_MS / 1000} s)`,
        labelNames: ['state'],
        registers,
        async collect() {
          const c = await self.objectCounts(store);
          this.reset();
          for (const [k, v] of c.byState) this.set({ state: k }, v);
        },
      });
    }
    const certs = sources.certificates ?? {};
    this.certificateExpiry = new Gauge({
      name: 'kms_certificate_expiry_timestamp_seconds',
      help: 'notAfter of the server certificate and of the CA, Unix seconds',
      labelNames: ['cert'],
      registers,
    });
    for (const [name, pem] of Object.entries(certs)) if (pem) this.setCertificateExpiry(name as 'server' | 'ca', pem);
    const clientCerts = sources.clientCertificates;
    if (clientCerts) {
      new Gauge({
        name: 'kms_client_certificates_expiring',
        help: 'Client certificates in the registry, not revoked, whose notAfter is within the window (expired: already past; 7d, 30d, 90d: within that many days, cumulative)',
        labelNames: ['within'],
        registers,
        collect() {
          const now = Date.now();
          const live = clientCerts()
            .filter((c) => c.revokedAt === undefined)
            .map((c) => Date.parse(c.notAfter));
          for (const [label, days] of CLIENT_EXPIRY_WINDOWS) this.set({ within: label }, live.filter((t) => t <= now + days * 86_400_000).length);
        },
      });
    }
    if (opts.processMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'kms_' });
  }

  /** The notAfter of the server certificate or the CA (again after a reload of the server certificate). */
  setCertificateExpiry(cert: 'server' | 'ca', pem: string | Buffer): void {
    try {
      this.certificateExpiry.set({ cert }, Math.floor(new Date(new X509Certificate(pem).validTo).getTime() / 1000));
    } catch {
      // An unreadable certificate has no expiry to show; the TLS layer already refused or accepted it.
    }
  }

  private async objectCounts(store: ObjectStore): Promise<{ byType: Map<string, number>; byState: Map<string, number> }> {
    const now = Date.now();
    if (this.objectsCache && now - this.objectsCache.at < OBJECT_COUNT_TTL_MS) return this.objectsCache;
    const byType = new Map<string, number>();
    const byState = new Map<string, number>();
    for (const [name, v] of Object.entries(ObjectType)) {
      const n = (await store.find({ field: RecordField.ObjectType, equals: indexEnum(v) })).length;
      if (n > 0) byType.set(name, n);
    }
    for (const [name, v] of Object.entries(State)) {
      byState.set(name, (await store.find({ field: RecordField.State, equals: indexEnum(v) })).length);
    }
    this.objectsCache = { at: now, byType, byState };
    return this.objectsCache;
  }

  /** One KMIP request message answered (any transport): `response` is what was sent back. */
  observeExchange(response: TtlvNode, seconds: number): void {
    const header = child(response, T.ResponseHeader);
    const pv = child(header, T.ProtocolVersion);
    const vtext = `${num(child(pv, T.Major)) ?? '?'}.${num(child(pv, T.Minor)) ?? '?'}`;
    const version = SERVED.has(vtext) ? vtext : 'other';
    const items = response.type === 'Structure' ? response.value.filter((c) => c.tag === T.BatchItem) : [];
    let first: string | undefined;
    for (const bi of items) {
      const op = num(child(bi, T.Operation));
      const operation = op === undefined ? 'none' : (enumValueName('Operation', op) ?? 'unknown');
      first ??= operation;
      const status = num(child(bi, T.ResultStatus));
      const reason = num(child(bi, T.ResultReason));
      const result = status === 0 ? 'Success' : reason !== undefined ? (enumValueName('ResultReason', reason) ?? 'unknown') : (enumValueName('ResultStatus', status ?? -1) ?? 'unknown');
      this.requests.inc({ operation, version, result });
    }
    this.latency.observe({ operation: first ?? 'none' }, seconds);
    this.batchSize.observe(items.length);
  }

  connectionOpened(transport: Transport): void {
    this.connections.inc({ transport });
    this.handshakes.inc({ transport });
  }

  connectionClosed(transport: Transport): void {
    this.connections.dec({ transport });
  }

  refused(transport: Transport, reason: RefusalReason): void {
    this.refusals.inc({ transport, reason });
  }

  httpResponse(status: number): void {
    this.httpResponses.inc({ status: String(status) });
  }

  storeGroupWritten(commits: number, seconds: number): void {
    this.groupSize.observe(commits);
    this.storeCommit.observe(seconds);
  }

  auditAppended(seconds: number): void {
    this.auditAppend.observe(seconds);
  }

  protectorCall(fn: 'seal' | 'open' | 'rotate' | 'destroy_kek' | 'keks', failed: boolean): void {
    this.protectorCalls.inc({ function: fn });
    if (failed) this.protectorErrors.inc({ function: fn });
  }

  /**
   * The text exposition. prom-client writes a NaN sample as `Nan` (a gauge or summary with no
   * observations yet, e.g. the event loop lag mean right after start); the exposition format spells
   * it `NaN`, and strict scrapers reject anything else.
   */
  async text(): Promise<string> {
    return (await this.registry.metrics()).replace(/ Nan$/gm, ' NaN');
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
