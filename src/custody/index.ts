/**
 * The key-custody seam's entry (key-custody.ts says what it is): which custody holds an
 * existing object's key, and which one makes a new key.
 *   - An object's custody is read from its record: HSM-resident when it refers to a token key
 *     (`hsmKey`), host-sealed otherwise. A resident key on a server without that HSM opens with
 *     the reason the operation names (`unavailable`).
 *   - A new key goes to the HSM when a PKCS#11 backend is configured, the residency policy and
 *     the key's attributes ask for it (residency.ts `wantsResident`) and the token can hold it
 *     (or, with an HSM, when the key it replaces was resident). What the token cannot hold is
 *     made in the host under `requested` (still never returned: Extractable false), and refused
 *     under `always` or for the replacement of a resident key, with the reason given.
 */
import { ResultReason } from '../kmip/generated/enums.gen.js';
import { KmipError, type ResultReasonValue } from '../kmip/errors.js';
import type { TtlvNode } from '../ttlv/node.js';
import type { ObjectRecord } from '../objects/managed-object.js';
import type { KeyPairSpec } from '../crypto/asymmetric.js';
import type { ResidentKeys } from '../hsm/resident.js';
import { hostCustody } from './host-custody.js';
import { HsmCustody, type CustodyLog } from './hsm-custody.js';
import type { KeyCustody, OpenOptions, UsableKey } from './key-custody.js';
import { wantsResident } from './residency.js';

export type { AttrMap, CustodyKind, HostKey, KeyCipher, KeyCustody, KeyMac, MadePair, MadeSecret, OpenOptions, PairSpec, SecretSpec, UsableKey } from './key-custody.js';
export type { CustodyLog } from './hsm-custody.js';

/** How a new key's placement is decided. */
export interface PlacementRule {
  /** The key's attributes (Extractable false asks for residency under `requested`). */
  readonly attributes: ReadonlyMap<string, readonly TtlvNode[]>;
  /** The key replaces a resident key (Re-key, Re-key Key Pair): it must be resident too. */
  readonly replacesResident?: boolean;
  /** The reason when the HSM must hold the key and cannot. */
  readonly refusal: ResultReasonValue;
}

export class Custodies {
  private readonly hsm: HsmCustody | undefined;
  constructor(
    private readonly resident: ResidentKeys | undefined,
    log: CustodyLog,
  ) {
    this.hsm = resident ? new HsmCustody(resident, log) : undefined;
  }

  /** The custody holding an existing object's key. */
  of(record: Pick<ObjectRecord, 'uid' | 'hsmKey'>): KeyCustody {
    if (record.hsmKey === undefined) return hostCustody;
    return this.hsm ?? unreachable;
  }

  /** Open an object's key for use (the operation has checked the record). */
  open(record: ObjectRecord, opts: OpenOptions): Promise<UsableKey> {
    return this.of(record).open(record, opts);
  }

  /** Refuse (Feature Not Supported) a feature that needs the key value in the host, for a key that lives in the HSM. */
  requireHostValue(record: Pick<ObjectRecord, 'uid' | 'hsmKey'>, why: string): void {
    if (this.of(record).kind !== 'host') throw new KmipError(ResultReason.FeatureNotSupported, why);
  }

  /** Where a new secret key (Create, Re-key) is made. */
  forSecret(rule: PlacementRule, algorithm: number, bits: number): KeyCustody {
    return this.place(rule, (h) => h.refusesSecret(algorithm, bits));
  }

  /** Where a new key pair's private key (Create Key Pair, Re-key Key Pair) is made. */
  forPair(rule: PlacementRule, spec: KeyPairSpec): KeyCustody {
    return this.place(rule, (h) => h.refusesPair(spec));
  }

  private place(rule: PlacementRule, refuses: (h: HsmCustody) => string | undefined): KeyCustody {
    const h = this.hsm;
    const must = rule.replacesResident === true;
    if (!h || !(must || wantsResident(this.resident, rule.attributes))) return hostCustody;
    const why = refuses(h);
    if (why === undefined) return h;
    if (must) throw new KmipError(rule.refusal, `${why} (the key must stay in the HSM)`);
    if (this.resident?.policy === 'always') throw new KmipError(rule.refusal, `${why} (the server keeps every key in the HSM)`);
    // requested: the HSM cannot hold it; the key is made in the host, sealed, and still never returned (Extractable false).
    return hostCustody;
  }
}

/** A resident key's custody on a server without that HSM: it cannot be opened or removed here. */
const unreachable: KeyCustody = {
  kind: 'hsm',
  generate: () => Promise.reject(new Error('no HSM backend')),
  generatePair: () => Promise.reject(new Error('no HSM backend')),
  open: (record, opts) => Promise.reject(new KmipError(opts.unavailable, `the key ${record.uid} lives in an HSM this server is not connected to`)),
  destroy: () => Promise.reject(new Error('no HSM backend')),
};

/** The custodies of a running server: its residency setting (ServerServices.resident) and a log for token keys left behind. */
export function custodies(resident: ResidentKeys | undefined, log: CustodyLog): Custodies {
  return new Custodies(resident, log);
}
