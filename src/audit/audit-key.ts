/**
 * The key that authenticates audit checkpoints. It stays with the key backend:
 * - software protector: HMAC-SHA-256 under a key derived from the master key file with
 *   HKDF-SHA-256 and its own label, so it is never the key that seals objects;
 * - HSM: a generic-secret HMAC key generated in the token, sensitive and non-extractable
 *   (label kms-audit-*), used through the backend's sign/verify.
 */
import { createHmac, hkdfSync, timingSafeEqual, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { KeyBackend, KeyRef } from '../hsm/key-backend.js';

/** A place that holds the latest line (the HSM token object) for the anchor lines of audit/anchor.ts. */
export interface AnchorSlot {
  readonly description: string;
  /** The values held (normally one; two after a rewrite cut short). */
  read(): Promise<string[]>;
  write(value: string): Promise<void>;
}

export interface AuditKey {
  /** Names the key without revealing it; stored in each checkpoint. */
  readonly id: string;
  mac(data: Uint8Array): Promise<Uint8Array>;
  verify(data: Uint8Array, mac: Uint8Array): Promise<boolean>;
  /** Where the key's backend keeps the latest audit anchor (a token data object), when it can. */
  readonly anchorSlot?: AnchorSlot;
  close(): Promise<void>;
}

/** What a backend needs to hold the audit anchor: private token data objects (Pkcs11Backend). */
interface DataObjects {
  readDataObjects(label: string): Promise<Buffer[]>;
  writeDataObject(label: string, value: Uint8Array): Promise<void>;
}

function hasDataObjects(b: unknown): b is DataObjects {
  return typeof (b as DataObjects).readDataObjects === 'function' && typeof (b as DataObjects).writeDataObject === 'function';
}

/** Label of the token data object holding the latest anchor line for the audit key labelled `keyLabel`. */
export function anchorObjectLabel(keyLabel: string): string {
  return `kms-anchor-${keyLabel}`;
}

const HKDF_INFO = 'kms-audit-hmac-v1';

export class SoftwareAuditKey implements AuditKey {
  readonly id: string;
  private constructor(private readonly key: Buffer) {
    this.id = 'sw:' + createHash('sha256').update('kms-audit-key-id\0').update(key).digest('hex').slice(0, 16);
  }

  /** Derive from the 32-byte master key (HKDF-SHA-256, empty salt, info "kms-audit-hmac-v1"). */
  static fromMasterKey(master: Uint8Array): SoftwareAuditKey {
    return new SoftwareAuditKey(Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), HKDF_INFO, 32)));
  }

  static fromMasterKeyFile(path: string): SoftwareAuditKey {
    const master = readFileSync(path);
    try {
      if (master.length !== 32) throw new Error(`master key file ${path} must hold 32 bytes`);
      return SoftwareAuditKey.fromMasterKey(master);
    } finally {
      master.fill(0);
    }
  }

  async mac(data: Uint8Array): Promise<Uint8Array> {
    return createHmac('sha256', this.key).update(data).digest();
  }

  async verify(data: Uint8Array, mac: Uint8Array): Promise<boolean> {
    const m = await this.mac(data);
    return m.length === mac.length && timingSafeEqual(m, mac);
  }

  async close(): Promise<void> {
    this.key.fill(0);
  }
}

export const AUDIT_KEY_LABEL_PREFIX = 'kms-audit-';

/** An HMAC key inside the HSM, found by label prefix or generated on first use. */
export class HsmAuditKey implements AuditKey {
  readonly id: string;
  readonly anchorSlot?: AnchorSlot;
  private constructor(
    private readonly backend: KeyBackend,
    private readonly key: KeyRef,
  ) {
    this.id = `hsm:${key.label ?? key.id}`;
    if (hasDataObjects(backend)) {
      const label = anchorObjectLabel(key.label ?? key.id);
      this.anchorSlot = {
        description: `token object ${label}`,
        read: async () => (await backend.readDataObjects(label)).map((b) => b.toString('utf8')),
        write: (value) => backend.writeDataObject(label, Buffer.from(value, 'utf8')),
      };
    }
  }

  /** The audit key a data folder recorded (custody.ts), already found by label and id. */
  static fromRef(backend: KeyBackend, key: KeyRef): HsmAuditKey {
    return new HsmAuditKey(backend, key);
  }

  /** A new audit key in the token (sensitive, non-extractable HMAC key), under `label` and `id`. */
  static async generate(backend: KeyBackend, label: string, id: Uint8Array): Promise<HsmAuditKey> {
    const key = await backend.generateKey({ type: 'GENERIC_SECRET', bits: 256, token: true, sensitive: true, extractable: false, usage: ['sign', 'verify'], label, id });
    return new HsmAuditKey(backend, key);
  }

  /** `create: false` (verification) refuses to make a key that is not there. */
  static async open(backend: KeyBackend, opts: { create?: boolean } = {}): Promise<HsmAuditKey> {
    const found = (await backend.findKeys({ token: true })).filter((k) => k.label?.startsWith(AUDIT_KEY_LABEL_PREFIX));
    if (found.length > 1) throw new Error(`the token holds ${found.length} audit keys (${AUDIT_KEY_LABEL_PREFIX}*); expected one`);
    if (found.length === 0 && opts.create === false) throw new Error(`the token holds no audit key (${AUDIT_KEY_LABEL_PREFIX}*)`);
    const key =
      found[0] ??
      (await backend.generateKey({
        type: 'GENERIC_SECRET',
        bits: 256,
        token: true,
        sensitive: true,
        extractable: false,
        usage: ['sign', 'verify'],
        label: AUDIT_KEY_LABEL_PREFIX + Buffer.from(await backend.random(4)).toString('hex'),
      }));
    return new HsmAuditKey(backend, key);
  }

  mac(data: Uint8Array): Promise<Uint8Array> {
    return this.backend.sign('HMAC_SHA256', this.key, data);
  }

  verify(data: Uint8Array, mac: Uint8Array): Promise<boolean> {
    return this.backend.verify('HMAC_SHA256', this.key, data, mac);
  }

  async close(): Promise<void> {
    // The backend belongs to the key protector, which closes it.
  }
}
