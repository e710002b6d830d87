/**
 * Indirections that let a running server change its key protector and audit key while it
 * serves (`kms protector migrate` through the admin socket, protector-migration.ts): the server's
 * CachingProtector and AuditTrail hold these, and migration points them elsewhere.
 *
 * Each call picks its target synchronously when it is made, so a seal reads `kekId` and seals
 * under the same protector, and a checkpoint names and MACs under the same audit key.
 */
import type { AuditKey } from '../audit/audit-key.js';
import { ProtectorError, type KeyProtector } from '../hsm/key-protector.js';

export class SwitchableProtector implements KeyProtector {
  constructor(private inner: KeyProtector) {}

  /**
   * Over a cluster's store (cluster-kek.ts): re-read the cluster's KEKs; true when they may have
   * changed. A body sealed under a KEK this node does not know is opened again after it.
   */
  refresh?: () => Promise<boolean>;

  get current(): KeyProtector {
    return this.inner;
  }

  switchTo(p: KeyProtector): void {
    this.inner = p;
  }

  get kekId(): string {
    return this.inner.kekId;
  }

  get description(): string {
    return this.inner.description;
  }

  seal(uid: string, plaintext: Uint8Array): Promise<Uint8Array> {
    return this.inner.seal(uid, plaintext);
  }

  open(uid: string, sealed: Uint8Array, kekId: string): Promise<Uint8Array> {
    const opened = this.inner.open(uid, sealed, kekId);
    const refresh = this.refresh;
    if (!refresh) return opened; // no cluster to follow: the protector's own answer, as it is
    return opened.catch(async (e: unknown) => {
      if (!(e instanceof ProtectorError && e.code === 'UNKNOWN_KEK') || !(await refresh())) throw e;
      return this.inner.open(uid, sealed, kekId);
    });
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  rotate(label: string, id?: string): Promise<{ previous: string; current: string }> {
    const p = this.inner;
    if (!p.rotate) return Promise.reject(new Error(`${p.description}: this key protector has no rotation`));
    return p.rotate(label, id);
  }

  destroyKek(kekId: string): Promise<void> {
    const p = this.inner;
    if (!p.destroyKek) return Promise.reject(new Error(`${p.description}: this key protector has no KEKs to destroy`));
    return p.destroyKek(kekId);
  }

  async keks(): Promise<string[]> {
    return (await this.inner.keks?.()) ?? [];
  }

  forget(uid: string): void {
    this.inner.forget?.(uid);
  }
}

/**
 * During a migration, and on the running server after it until its restart: seals under the
 * new protector, opens each body under the protector its kekId belongs to (the new one's KEKs,
 * else the old one), so a request that read a record before it was rewrapped still opens it.
 * Rotation goes to the new protector.
 */
export class BridgeProtector implements KeyProtector {
  private readonly toKekIds: Set<string>;
  constructor(
    private readonly from: KeyProtector,
    private readonly to: KeyProtector,
    toKekIds: ReadonlySet<string>,
  ) {
    this.toKekIds = new Set(toKekIds);
  }

  async rotate(label: string, id?: string): Promise<{ previous: string; current: string }> {
    if (!this.to.rotate) throw new Error(`${this.to.description}: this key protector has no rotation`);
    const r = await this.to.rotate(label, id);
    this.toKekIds.add(r.current);
    return r;
  }

  destroyKek(kekId: string): Promise<void> {
    if (!this.to.destroyKek) return Promise.reject(new Error(`${this.to.description}: this key protector has no KEKs to destroy`));
    return this.to.destroyKek(kekId);
  }

  async keks(): Promise<string[]> {
    return (await this.to.keks?.()) ?? [];
  }

  get kekId(): string {
    return this.to.kekId;
  }

  get description(): string {
    return `${this.to.description} (migrating from ${this.from.description})`;
  }

  seal(uid: string, plaintext: Uint8Array): Promise<Uint8Array> {
    return this.to.seal(uid, plaintext);
  }

  open(uid: string, sealed: Uint8Array, kekId: string): Promise<Uint8Array> {
    return kekId === this.to.kekId || this.toKekIds.has(kekId) ? this.to.open(uid, sealed, kekId) : this.from.open(uid, sealed, kekId);
  }

  async close(): Promise<void> {
    await this.to.close();
    await this.from.close();
  }
}

export class SwitchableAuditKey implements AuditKey {
  constructor(private inner: AuditKey) {}

  get current(): AuditKey {
    return this.inner;
  }

  switchTo(k: AuditKey): void {
    this.inner = k;
  }

  get id(): string {
    return this.inner.id;
  }

  /** The current key's anchor slot, so checkpoints follow the key across a migration. */
  get anchorSlot(): AuditKey['anchorSlot'] {
    return this.inner.anchorSlot;
  }

  mac(data: Uint8Array): Promise<Uint8Array> {
    return this.inner.mac(data);
  }

  verify(data: Uint8Array, mac: Uint8Array): Promise<boolean> {
    return this.inner.verify(data, mac);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
