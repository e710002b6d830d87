/**
 * What Sign and Signature Verify share (KMIP 1.4 §4.31-4.32, 2.1 §6.1.52-53):
 * - the key checks of their error tables:
 *   - object type: Sign needs a Private Key, Signature Verify a Public Key; otherwise Invalid
 *     Object Type (2.x) / Illegal Operation (1.x);
 *   - lifecycle (1.4 §3.22 / 2.1 §4.57): Sign needs Active; Verify Active, Deactivated or
 *     Compromised; otherwise Wrong Key Lifecycle State (2.x; test case CS-AC-M-8-21) / Permission
 *     Denied (1.x); the same reasons for Sign after the key's Protect Stop Date and Verify before
 *     its Process Start Date;
 *   - the Cryptographic Usage Mask must hold Sign / Verify: Incompatible Cryptographic Usage Mask
 *     (2.x) / Permission Denied (1.x);
 *   - a destroyed key: Object Destroyed (2.x) / Item Not Found (1.x; destroyed.ts); a wrapped or unreadable
 *     key: Key Value Not Present.
 * - the signature scheme from the Cryptographic Parameters (request's, else the key's attribute):
 *   RSA with Padding Method PKCS1 v1.5 (default) or PSS (Salt Length honoured), or Digital Signature
 *   Algorithm (SHA-nWithRSAEncryption, RSASSA-PSS, ECDSAWithSHA-n); Hashing Algorithm SHA-224/256/
 *   384/512 (default SHA-256; EC: by curve size); ECDSA with DER signatures; Ed25519 (no hash).
 *   SHA-1 signs only when the policy allows it (src/policy/crypto-policy.ts); it still verifies.
 *   Refusals: Unsupported Cryptographic Parameters / Bad Cryptographic Parameters (2.x), Invalid
 *   Field (1.x).
 */
import { dateAttribute, isDestroyed } from '../../objects/lifecycle.js';
import type { KeyObject } from 'node:crypto';
import { CryptographicAlgorithm, DigitalSignatureAlgorithm, HashingAlgorithm, ObjectType, PaddingMethod, ResultReason, State } from '../../kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../../kmip/generated/masks.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { KmipError } from '../../kmip/errors.js';
import type { TtlvNode } from '../../ttlv/node.js';
import type { HashName, SignatureScheme } from '../../crypto/asymmetric.js';
import type { ObjectRecord } from '../../objects/managed-object.js';
import type { OperationContext } from '../context.js';
import { destroyedValueReason } from '../service/destroyed.js';
import { openKey } from '../keys-and-certificates/key-pairs.js';
import { checkAsymmetricUse } from './key-policy-check.js';
import { versionReason } from '../../kmip/version-rules.js';
import { attribute, instance } from '../../objects/typed-attributes.js';
import { cryptoPolicyOf } from '../service/crypto-params.js';
import { loadManaged, openKeyForUse } from '../service/object-service.js';
import type { HostKey, UsableKey } from '../../custody/index.js';

/** A key loaded for Sign / Signature Verify: `asymmetric` chooses the scheme, `key` signs or verifies. */
export interface SigningKey {
  readonly record: ObjectRecord;
  readonly key: UsableKey;
  readonly asymmetric: KeyObject;
}

export type SignUse = 'Sign' | 'SignatureVerify';

const HASHES: ReadonlyMap<number, HashName> = new Map([
  [HashingAlgorithm.SHA_1, 'sha1'],
  [HashingAlgorithm.SHA_224, 'sha224'],
  [HashingAlgorithm.SHA_256, 'sha256'],
  [HashingAlgorithm.SHA_384, 'sha384'],
  [HashingAlgorithm.SHA_512, 'sha512'],
]);

const DSA_RSA: ReadonlyMap<number, HashName> = new Map([
  [DigitalSignatureAlgorithm.SHA_1WithRSAEncryption, 'sha1'],
  [DigitalSignatureAlgorithm.SHA_224WithRSAEncryption, 'sha224'],
  [DigitalSignatureAlgorithm.SHA_256WithRSAEncryption, 'sha256'],
  [DigitalSignatureAlgorithm.SHA_384WithRSAEncryption, 'sha384'],
  [DigitalSignatureAlgorithm.SHA_512WithRSAEncryption, 'sha512'],
]);
const DSA_EC: ReadonlyMap<number, HashName> = new Map([
  [DigitalSignatureAlgorithm.ECDSAWithSHA_1, 'sha1'],
  [DigitalSignatureAlgorithm.ECDSAWithSHA224, 'sha224'],
  [DigitalSignatureAlgorithm.ECDSAWithSHA256, 'sha256'],
  [DigitalSignatureAlgorithm.ECDSAWithSHA384, 'sha384'],
  [DigitalSignatureAlgorithm.ECDSAWithSHA512, 'sha512'],
]);

export interface SignatureParams {
  readonly paddingMethod?: number;
  readonly hashingAlgorithm?: number;
  readonly digitalSignatureAlgorithm?: number;
  readonly cryptographicAlgorithm?: number;
  readonly saltLength?: number;
}

const int = (n: TtlvNode | undefined): number | undefined => (n?.type === 'Integer' || n?.type === 'Enumeration' ? n.value : undefined);

/** The request's Cryptographic Parameters, else the key's Cryptographic Parameters attribute. */
export function signatureParams(request: TtlvNode | undefined, record: ObjectRecord): SignatureParams {
  const node = request ?? instance(record.attributes, 'CryptographicParameters');
  if (node === undefined) return {};
  if (node.type !== 'Structure') throw new KmipError(ResultReason.InvalidField, 'Cryptographic Parameters must be a structure');
  const f = (tag: number) => int(node.value.find((c) => c.tag === tag));
  const out: { -readonly [K in keyof SignatureParams]: SignatureParams[K] } = {};
  const set = <K extends keyof SignatureParams>(k: K, v: number | undefined) => {
    if (v !== undefined) out[k] = v;
  };
  set('paddingMethod', f(Tag.PaddingMethod));
  set('hashingAlgorithm', f(Tag.HashingAlgorithm));
  set('digitalSignatureAlgorithm', f(Tag.DigitalSignatureAlgorithm));
  set('cryptographicAlgorithm', f(Tag.CryptographicAlgorithm));
  set('saltLength', f(Tag.SaltLength));
  return out;
}

/** Map the parameters onto a scheme for `key`. */
export function signatureScheme(ctx: OperationContext, key: KeyObject, p: SignatureParams, use: SignUse): SignatureScheme {
  const unsupported = (m: string): never => {
    throw new KmipError(versionReason(ctx.version, 'UnsupportedCryptographicParameters'), m);
  };
  const bad = (m: string): never => {
    throw new KmipError(versionReason(ctx.version, 'BadCryptographicParameters'), m);
  };
  const kt = key.asymmetricKeyType;
  const ca = p.cryptographicAlgorithm;
  const hashOf = (n: number | undefined, dflt: HashName): HashName => (n === undefined ? dflt : (HASHES.get(n) ?? unsupported(`Hashing Algorithm ${n} is not supported for signatures`)));
  let scheme: SignatureScheme;
  if (kt === 'rsa') {
    if (ca !== undefined && ca !== CryptographicAlgorithm.RSA) bad('the Cryptographic Algorithm does not match the RSA key');
    const dsa = p.digitalSignatureAlgorithm;
    if (dsa !== undefined && dsa !== DigitalSignatureAlgorithm.RSASSA_PSS && !DSA_RSA.has(dsa)) unsupported(`Digital Signature Algorithm ${dsa} does not apply to RSA keys here`);
    const pss = dsa === DigitalSignatureAlgorithm.RSASSA_PSS || p.paddingMethod === PaddingMethod.PSS;
    if (!pss && p.paddingMethod !== undefined && p.paddingMethod !== PaddingMethod.PKCS1V1_5) unsupported('RSA signatures use Padding Method PKCS1 v1.5 or PSS');
    const hash = dsa !== undefined && DSA_RSA.has(dsa) ? DSA_RSA.get(dsa)! : hashOf(p.hashingAlgorithm, 'sha256');
    scheme = pss ? { kind: 'rsa-pss', hash, ...(p.saltLength !== undefined && { saltLength: p.saltLength }) } : { kind: 'rsa-pkcs1v15', hash };
  } else if (kt === 'ec') {
    if (ca !== undefined && ca !== CryptographicAlgorithm.EC && ca !== CryptographicAlgorithm.ECDSA) bad('the Cryptographic Algorithm does not match the EC key');
    const dsa = p.digitalSignatureAlgorithm;
    if (dsa !== undefined && !DSA_EC.has(dsa)) unsupported(`Digital Signature Algorithm ${dsa} does not apply to EC keys`);
    const curve = key.asymmetricKeyDetails?.namedCurve;
    const dflt: HashName = curve === 'secp521r1' || curve === 'P-521' ? 'sha512' : curve === 'secp384r1' || curve === 'P-384' ? 'sha384' : 'sha256';
    scheme = { kind: 'ecdsa', hash: dsa !== undefined ? DSA_EC.get(dsa)! : hashOf(p.hashingAlgorithm, dflt) };
  } else if (kt === 'ed25519') {
    if (ca !== undefined && ca !== CryptographicAlgorithm.Ed25519 && ca !== CryptographicAlgorithm.EC) bad('the Cryptographic Algorithm does not match the Ed25519 key');
    scheme = { kind: 'ed25519' };
  } else {
    return unsupported('this key cannot make signatures');
  }
  const policy = cryptoPolicyOf(ctx).asymmetric;
  if (use === 'Sign' && scheme.kind !== 'ed25519' && scheme.hash === 'sha1' && !policy.allowSha1Signatures) {
    unsupported(`${policy.name}: SHA-1 is not allowed for signature generation (cryptoPolicy.sha1Signatures)`);
  }
  return scheme;
}

const ALLOWED_STATES: Readonly<Record<SignUse, readonly number[]>> = {
  Sign: [State.Active],
  SignatureVerify: [State.Active, State.Deactivated, State.Compromised],
};

/**
 * Load the key for Sign / Signature Verify with the checks of their error tables, opened by its
 * custody (src/custody/): `asymmetric` is what the scheme is chosen by (an HSM-resident private
 * key's public key), and the key signs or verifies wherever it lives.
 */
export async function loadSigningKey(ctx: OperationContext, uid: string, use: SignUse): Promise<SigningKey> {
  const v = ctx.version;
  const { record, state } = await loadManaged(ctx, uid, use);
  const want = use === 'Sign' ? ObjectType.PrivateKey : ObjectType.PublicKey;
  if (record.objectType !== want) {
    throw new KmipError(versionReason(v, 'ObjectTypeNotUsable'), `${use === 'Sign' ? 'Sign needs a Private Key' : 'Signature Verify needs a Public Key'}`);
  }
  if (isDestroyed(state)) throw new KmipError(destroyedValueReason(v, 'Crypto'), `object ${uid} has been destroyed`);
  if (!ALLOWED_STATES[use].includes(state)) {
    throw new KmipError(versionReason(v, 'WrongKeyLifecycleState'), `${use} is not permitted in the key's state`);
  }
  // Sign applies protection, Verify processes it: the same date limits as Encrypt/Decrypt
  // (crypto/key-use.ts loadKeyFor; test case CS-AC-M-8-21).
  const wrongDate = versionReason(v, 'WrongKeyLifecycleState');
  if (use === 'Sign') {
    const stop = dateAttribute(record.attributes, 'ProtectStopDate');
    if (stop !== undefined && ctx.now > stop) throw new KmipError(wrongDate, `the key ${uid} is past its Protect Stop Date`);
  } else {
    const start = dateAttribute(record.attributes, 'ProcessStartDate');
    if (start !== undefined && ctx.now < start) throw new KmipError(wrongDate, `the key ${uid} is before its Process Start Date`);
  }
  const mask = attribute(record.attributes, 'CryptographicUsageMask') ?? 0;
  const bit = use === 'Sign' ? CryptographicUsageMask.Sign : CryptographicUsageMask.Verify;
  if ((mask & bit) === 0) {
    throw new KmipError(versionReason(v, 'IncompatibleCryptographicUsageMask'), `the key's Cryptographic Usage Mask does not allow ${use === 'Sign' ? 'Sign' : 'Verify'}`);
  }
  const host = async (): Promise<HostKey> => {
    const keyObject = await openKey(ctx, record, ResultReason.KeyValueNotPresent);
    const algorithm = attribute(record.attributes, 'CryptographicAlgorithm');
    // The crypto policy for protecting uses (operations/crypto/key-policy-check.ts); Verify stays possible.
    if (use === 'Sign') checkAsymmetricUse(ctx, uid, algorithm, keyObject);
    return { algorithm, keyObject };
  };
  const key = await openKeyForUse(ctx, record, { unavailable: ResultReason.KeyValueNotPresent, host });
  if (!key.asymmetric) throw new KmipError(ResultReason.KeyValueNotPresent, `object ${uid} holds no key this server can sign or verify with`);
  return { record, key, asymmetric: key.asymmetric };
}
