/**
 * The client-certificate registry: every certificate the folder's CA issued or signed for a
 * client, kept in the store's server-metadata key space (ObjectStore.meta, src/store/meta.ts),
 * so every node of a cluster sees the same registry and the same deny list:
 *
 *   clients/cert/<fingerprint hex>   ClientCertificate (JSON)
 *   clients/name/<name>              { fingerprints: [...] }: the name's certificates, oldest first;
 *                                    its revision serialises issue/sign for one name
 *   clients/crl                      { number, thisUpdate, nextUpdate, der (base64) }: the CRL
 *
 * Each change (issue, sign, revoke) is one commit: the registry entries, the regenerated CRL
 * when revocations changed, and the audit record (who, what, which certificate), all or
 * nothing. Issue/sign refuse a name that has a valid certificate (neither revoked nor expired)
 * unless `force`: then those certificates are revoked (superseded) in the same commit.
 *
 * The deny list: each process keeps every revoked certificate's fingerprint and serial in
 * memory (bounded by clients.maxCertificates), loaded at open and reloaded when the store says
 * a `clients/` key changed (`meta.watch`: this process's commits, and other nodes' when
 * clustered); a change made through this object is in the deny list before the call returns.
 * `denied()` is synchronous: the listeners ask it for every new connection.
 */
import { randomUUID, type KeyObject } from 'node:crypto';
import type { AuditEvent } from '../audit/record.js';
import type { AuditTrail } from '../audit/trail.js';
import type { CryptoPolicy } from '../policy/crypto-policy.js';
import { StoreError, type MetaEntry, type MetaOp, type ObjectStore } from '../store/object-store.js';
import { hasFolderCa, loadFolderCa, normalizeFingerprint, type IssuingCa } from './ca.js';
import { checkClientName, issueForKey, signRequest, type IssuedCertificate } from './certificates.js';
import { clientsSettings, type ClientsConfig, type ClientsSettings } from '../config/clients.js';
import { buildCrl, type RevocationReason } from './crl.js';
import { ClientsError } from './errors.js';

/** One issued or signed client certificate, as recorded (never any key). */
export interface ClientCertificate {
  readonly name: string;
  /** RFC 4514 subject. */
  readonly subject: string;
  /** Serial number, upper-case hex. */
  readonly serial: string;
  /** SHA-256 fingerprint, upper-case colon-separated hex. */
  readonly fingerprint: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly issuedAt: string;
  /** Who asked (the admin identity, "local-operator", or the CLI's operator). */
  readonly issuedBy: string;
  /** issue: for a key made by the command; sign: from a CSR. */
  readonly via: 'issue' | 'sign';
  readonly revokedAt?: string;
  readonly reason?: RevocationReason;
  readonly revokedBy?: string;
}

interface NameEntry {
  readonly fingerprints: readonly string[];
}

interface CrlEntryStored {
  readonly number: number;
  readonly thisUpdate: string;
  readonly nextUpdate: string;
  readonly der: string;
}

export const CLIENTS_PREFIX = 'clients/';
const CERT_PREFIX = 'clients/cert/';
const NAME_PREFIX = 'clients/name/';
const CRL_KEY = 'clients/crl';
const PAGE = 1000;

const certKey = (fingerprint: string) => `${CERT_PREFIX}${fingerprint.replace(/:/g, '')}`;
const nameKey = (name: string) => `${NAME_PREFIX}${name}`;
const json = (v: unknown): Uint8Array => Buffer.from(JSON.stringify(v), 'utf8');
const parse = <T>(e: MetaEntry): T => JSON.parse(Buffer.from(e.value).toString('utf8')) as T;

export interface ClientRegistryOptions {
  readonly store: ObjectStore;
  /** The data folder whose certs/ca.pem + ca.key issue, sign and sign the CRL. */
  readonly dataDir: string;
  readonly policy: CryptoPolicy;
  readonly config?: ClientsConfig;
  /** Audit records go into the same commit as the change; absent: not audited (tests, tools without a trail). */
  readonly audit?: AuditTrail;
  readonly clock?: () => number;
  /** Told when a background reload of the deny list failed (it is retried at the next change). */
  readonly onError?: (e: unknown) => void;
}

/** What issue/sign return: the new certificate, and any the name had that were superseded. */
export interface Issued {
  readonly certificate: IssuedCertificate;
  readonly record: ClientCertificate;
  readonly superseded: readonly ClientCertificate[];
}

export class ClientRegistry {
  readonly settings: ClientsSettings;
  private byFingerprint = new Map<string, ClientCertificate>();
  private revokedFingerprints = new Set<string>();
  private revokedSerials = new Map<string, ClientCertificate>();
  private reloading: Promise<void> | undefined;
  private again = false;
  private crlCache: { readonly entry: CrlEntryStored; readonly der: Uint8Array } | undefined;
  private readonly unwatch: () => void;
  private readonly changeListeners = new Set<() => void>();

  private constructor(private readonly o: ClientRegistryOptions) {
    this.settings = clientsSettings(o.config);
    this.unwatch = o.store.meta.watch(CLIENTS_PREFIX, () => {
      this.crlCache = undefined;
      void this.reload().catch((e: unknown) => o.onError?.(e));
    });
  }

  /** Open the registry over an open store: loads the deny list. */
  static async open(o: ClientRegistryOptions): Promise<ClientRegistry> {
    const r = new ClientRegistry(o);
    await r.reload();
    return r;
  }

  close(): void {
    this.unwatch();
    this.changeListeners.clear();
  }

  /**
   * `listener` runs after each reload that may have changed the deny list (a `clients/` key this
   * node or another committed): the listeners close open connections of revoked certificates.
   * Returns the unsubscribe.
   */
  onChanged(listener: () => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  private now(): number {
    return (this.o.clock ?? Date.now)();
  }

  /** Re-read every certificate record (coalesced: one reload runs, one more follows if asked meanwhile). */
  reload(): Promise<void> {
    if (this.reloading) {
      this.again = true;
      return this.reloading;
    }
    this.reloading = (async () => {
      do {
        this.again = false;
        const all = new Map<string, ClientCertificate>();
        let after: string | undefined;
        for (;;) {
          const page = await this.o.store.meta.list(CERT_PREFIX, { ...(after !== undefined && { after }), limit: PAGE });
          for (const e of page) {
            const c = parse<ClientCertificate>(e);
            all.set(c.fingerprint, c);
          }
          if (page.length < PAGE) break;
          after = page[page.length - 1]!.key;
        }
        const fps = new Set<string>();
        const serials = new Map<string, ClientCertificate>();
        for (const c of all.values()) {
          if (c.revokedAt === undefined) continue;
          fps.add(c.fingerprint);
          serials.set(c.serial, c);
        }
        this.byFingerprint = all;
        this.revokedFingerprints = fps;
        this.revokedSerials = serials;
      } while (this.again);
      for (const l of this.changeListeners) {
        try {
          l();
        } catch (e) {
          this.o.onError?.(e);
        }
      }
    })().finally(() => {
      this.reloading = undefined;
    });
    return this.reloading;
  }

  /** Every recorded certificate, by name then issue time. */
  list(): ClientCertificate[] {
    return [...this.byFingerprint.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.issuedAt < b.issuedAt ? -1 : a.issuedAt > b.issuedAt ? 1 : 0));
  }

  /** Certificates of a name, or the one with a fingerprint (any case, colons optional). */
  find(nameOrFingerprint: string): ClientCertificate[] {
    const fp = normalizeFingerprint(nameOrFingerprint);
    if (fp) {
      const c = this.byFingerprint.get(fp);
      return c ? [c] : [];
    }
    return this.list().filter((c) => c.name === nameOrFingerprint);
  }

  /** The revoked certificate matching a peer's fingerprint (or serial), if any. */
  denied(peer: { readonly fingerprint?: string; readonly serial?: string }): ClientCertificate | undefined {
    const fp = peer.fingerprint ? normalizeFingerprint(peer.fingerprint) : undefined;
    if (fp && this.revokedFingerprints.has(fp)) return this.byFingerprint.get(fp);
    const serial = peer.serial?.toUpperCase().replace(/^(00)+(?=.)/, '');
    return serial ? this.revokedSerials.get(serial) : undefined;
  }

  /** Unrevoked certificates whose notAfter is before now + days (expired ones included), soonest first. */
  expiring(days: number = this.settings.expiryWarningDays): ClientCertificate[] {
    const limit = this.now() + days * 86_400_000;
    return this.list()
      .filter((c) => c.revokedAt === undefined && Date.parse(c.notAfter) < limit)
      .sort((a, b) => Date.parse(a.notAfter) - Date.parse(b.notAfter));
  }

  private valid(c: ClientCertificate): boolean {
    return c.revokedAt === undefined && Date.parse(c.notAfter) > this.now();
  }

  private ca(): IssuingCa {
    return loadFolderCa(this.o.dataDir);
  }

  /** Issue a certificate CN=name for a public key the caller holds. */
  issue(p: { readonly name: string; readonly publicKey: KeyObject; readonly days?: number; readonly force?: boolean; readonly actor: string }): Promise<Issued> {
    return this.enrol(p.name, p.force === true, p.actor, 'issue', (ca, days) => issueForKey(ca, p.name, p.publicKey, days, this.o.policy, this.now()), p.days);
  }

  /** Sign a PKCS#10 request (PEM or DER) for client `name` (certificates.ts says what is checked). */
  sign(p: {
    readonly name: string;
    readonly csr: Uint8Array | string;
    readonly days?: number;
    readonly force?: boolean;
    readonly overrideCn?: boolean;
    readonly actor: string;
  }): Promise<Issued> {
    return this.enrol(
      p.name,
      p.force === true,
      p.actor,
      'sign',
      (ca, days) => signRequest(ca, p.name, p.csr, { days, policy: this.o.policy, overrideCn: p.overrideCn === true, now: this.now() }),
      p.days,
    );
  }

  private async enrol(
    name: string,
    force: boolean,
    actor: string,
    via: 'issue' | 'sign',
    make: (ca: IssuingCa, days: number) => IssuedCertificate,
    daysGiven: number | undefined,
  ): Promise<Issued> {
    const op = via === 'issue' ? 'ClientCertificateIssue' : 'ClientCertificateSign';
    try {
      checkClientName(name);
      const days = daysGiven ?? this.settings.defaultDays;
      if (!Number.isSafeInteger(days) || days < 1 || days > 3650) throw new ClientsError('BAD_REQUEST', 'days must be a whole number from 1 to 3650');
      await this.reload();
      if (this.byFingerprint.size >= this.settings.maxCertificates) {
        throw new ClientsError('LIMIT', `the registry holds ${this.byFingerprint.size} certificates, the limit (clients.maxCertificates) is ${this.settings.maxCertificates}`);
      }
      const nameEntry = await this.o.store.meta.get(nameKey(name));
      const had = nameEntry ? parse<NameEntry>(nameEntry).fingerprints : [];
      const live = had.map((f) => this.byFingerprint.get(f)).filter((c): c is ClientCertificate => c !== undefined && this.valid(c));
      if (live.length > 0 && !force) {
        throw new ClientsError(
          'EXISTS',
          `client ${name} has a valid certificate (${live.map((c) => c.fingerprint).join(', ')}, until ${live.map((c) => c.notAfter).join(', ')}); give --force to replace it (the old one is then revoked)`,
        );
      }
      const cert = make(this.ca(), days);
      const now = new Date(this.now()).toISOString();
      const record: ClientCertificate = {
        name,
        subject: cert.subject,
        serial: cert.facts.serialHex,
        fingerprint: cert.fingerprint,
        notBefore: cert.facts.notBefore.toISOString(),
        notAfter: cert.facts.notAfter.toISOString(),
        issuedAt: now,
        issuedBy: actor,
        via,
      };
      const superseded = live.map((c) => ({ ...c, revokedAt: now, reason: 'superseded' as const, revokedBy: actor }));
      const ops: MetaOp[] = [
        { type: 'meta-put', key: certKey(record.fingerprint), value: json(record), expectedRevision: 0 },
        { type: 'meta-put', key: nameKey(name), value: json({ fingerprints: [...had, record.fingerprint] } satisfies NameEntry), expectedRevision: nameEntry?.revision ?? 0 },
      ];
      for (const s of superseded) ops.push(await this.revisionPut(s));
      if (superseded.length > 0) ops.push(...(await this.crlOps(superseded)));
      const events = [
        this.event(
          actor,
          op,
          'Success',
          `client ${name}: certificate ${record.fingerprint} serial ${record.serial} until ${record.notAfter}${superseded.length ? `; superseded ${superseded.map((s) => s.fingerprint).join(', ')}` : ''}`,
        ),
      ];
      await this.commit(ops, events);
      return { certificate: cert, record, superseded };
    } catch (e) {
      await this.refused(actor, op, name, e);
      throw e;
    }
  }

  /** Revoke every valid certificate of a name, or the one with a fingerprint. */
  async revoke(p: { readonly target: string; readonly reason?: RevocationReason; readonly actor: string }): Promise<ClientCertificate[]> {
    const op = 'ClientCertificateRevoke';
    try {
      await this.reload();
      const found = this.find(p.target);
      if (found.length === 0) throw new ClientsError('NOT_FOUND', `no client certificate with the name or fingerprint ${JSON.stringify(p.target)}`);
      const toRevoke = found.filter((c) => c.revokedAt === undefined);
      if (toRevoke.length === 0) throw new ClientsError('NOT_FOUND', `every certificate of ${JSON.stringify(p.target)} is already revoked`);
      const now = new Date(this.now()).toISOString();
      const revoked = toRevoke.map((c) => ({ ...c, revokedAt: now, reason: p.reason ?? ('unspecified' as const), revokedBy: p.actor }));
      const ops: MetaOp[] = [];
      for (const r of revoked) ops.push(await this.revisionPut(r));
      ops.push(...(await this.crlOps(revoked)));
      const events = revoked.map((r) => this.event(p.actor, op, 'Success', `client ${r.name}: certificate ${r.fingerprint} serial ${r.serial} revoked (${r.reason})`));
      await this.commit(ops, events);
      return revoked;
    } catch (e) {
      await this.refused(p.actor, op, p.target, e);
      throw e;
    }
  }

  /** The CRL (DER): the stored one while less than half its validity has passed, else a new one (number + 1). */
  async crl(): Promise<Uint8Array> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const cached = this.crlCache;
      if (cached && this.fresh(cached.entry)) return cached.der;
      const e = await this.o.store.meta.get(CRL_KEY);
      const stored = e && parse<CrlEntryStored>(e);
      if (stored && this.fresh(stored)) {
        this.crlCache = { entry: stored, der: Buffer.from(stored.der, 'base64') };
        return this.crlCache.der;
      }
      const next = this.makeCrl(stored?.number ?? 0, []);
      try {
        await this.o.store.commit([{ type: 'meta-put', key: CRL_KEY, value: json(next), expectedRevision: e?.revision ?? 0 }]);
      } catch (err) {
        if (err instanceof StoreError && err.code === 'CONFLICT') continue; // another node made one: read it
        throw err;
      }
      this.crlCache = { entry: next, der: Buffer.from(next.der, 'base64') };
      return this.crlCache.der;
    }
    throw new ClientsError('CONFLICT', 'the CRL kept changing while it was read; try again');
  }

  /** The CRL number of the stored CRL (0: none yet). */
  async crlNumber(): Promise<number> {
    const e = await this.o.store.meta.get(CRL_KEY);
    return e ? parse<CrlEntryStored>(e).number : 0;
  }

  private fresh(c: CrlEntryStored): boolean {
    const half = (this.settings.crlValidityHours * 3_600_000) / 2;
    const now = this.now();
    return Date.parse(c.thisUpdate) <= now && now < Date.parse(c.thisUpdate) + half && Date.parse(c.nextUpdate) > now;
  }

  /** A new CRL over the revoked certificates recorded, plus `extra` (revocations in this commit). */
  private makeCrl(previous: number, extra: readonly ClientCertificate[]): CrlEntryStored {
    const now = this.now();
    const all = new Map<string, ClientCertificate>();
    for (const c of this.byFingerprint.values()) all.set(c.fingerprint, c);
    for (const c of extra) all.set(c.fingerprint, c);
    const entries = [...all.values()]
      .filter((c) => c.revokedAt !== undefined && Date.parse(c.notAfter) > now)
      .map((c) => ({ serial: c.serial, revokedAt: new Date(c.revokedAt!), reason: c.reason ?? 'unspecified' }));
    const thisUpdate = new Date(now);
    const nextUpdate = new Date(now + this.settings.crlValidityHours * 3_600_000);
    const der = buildCrl(this.ca(), { number: previous + 1, thisUpdate, nextUpdate, entries });
    return { number: previous + 1, thisUpdate: thisUpdate.toISOString(), nextUpdate: nextUpdate.toISOString(), der: Buffer.from(der).toString('base64') };
  }

  /** The CRL regenerated for a commit that revokes `extra` (nothing when the folder has no CA: the deny list still applies). */
  private async crlOps(extra: readonly ClientCertificate[]): Promise<MetaOp[]> {
    if (!hasFolderCa(this.o.dataDir)) return [];
    const e = await this.o.store.meta.get(CRL_KEY);
    const next = this.makeCrl(e ? parse<CrlEntryStored>(e).number : 0, extra);
    return [{ type: 'meta-put', key: CRL_KEY, value: json(next), expectedRevision: e?.revision ?? 0 }];
  }

  private async revisionPut(c: ClientCertificate): Promise<MetaOp> {
    const e = await this.o.store.meta.get(certKey(c.fingerprint));
    if (!e) throw new ClientsError('CONFLICT', `certificate ${c.fingerprint} disappeared meanwhile`);
    return { type: 'meta-put', key: certKey(c.fingerprint), value: json(c), expectedRevision: e.revision };
  }

  private event(actor: string, op: string, status: string, message: string, reason?: string): AuditEvent {
    return { kind: 'op', time: new Date(this.now()).toISOString(), ref: `clients/${randomUUID()}`, client: actor, op, status, ...(reason && { reason }), message };
  }

  private async commit(ops: readonly MetaOp[], events: readonly AuditEvent[]): Promise<void> {
    const audit = this.o.audit;
    try {
      await this.o.store.commit(ops, audit ? { audit: audit.appendsFor(events) } : undefined);
    } catch (e) {
      if (e instanceof StoreError && e.code === 'CONFLICT') throw new ClientsError('CONFLICT', 'the registry changed meanwhile (another command or node); run the command again');
      audit?.failed(e);
      throw e;
    }
    audit?.committed(events);
    this.crlCache = undefined;
    await this.reload();
  }

  /** A refused change is audited too (best effort: the refusal stands either way). */
  private async refused(actor: string, op: string, target: string, e: unknown): Promise<void> {
    if (!this.o.audit) return;
    const reason = e instanceof ClientsError ? e.code : 'Error';
    const message = `client ${target}: ${e instanceof Error ? e.message : String(e)}`.slice(0, 512);
    await this.o.audit.commitAlone([this.event(actor, op, 'OperationFailed', message, reason)]).catch(() => undefined);
  }
}
