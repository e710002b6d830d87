/**
 * PKCS#11 object templates and attribute reading for the backend: the attributes a secret key or
 * a key pair is made with (CKA_TOKEN / SENSITIVE / EXTRACTABLE / usage flags, CKA_ID, label),
 * the KeyRef read back from a token object, and a generated public key read out as
 * SubjectPublicKeyInfo DER. No calls of their own beyond C_GetAttributeValue.
 */
import { createPublicKey } from 'node:crypto';
import { HsmError, type EcCurve, type KeyPairTemplate, type KeyRef, type KeyUsage, type SecretKeyType, type UnwrapTemplate } from '../key-backend.js';
import type { Pkcs11, Pkcs11Lib } from './module.js';

export type Attr = { type: number; value: number | boolean | string | Buffer };

/** Named curves: OID (DER) for CKA_EC_PARAMS, and the coordinate size. */
export const CURVES: Readonly<Record<EcCurve, { der: string; bytes: number }>> = {
  'P-256': { der: '06082a8648ce3d030107', bytes: 32 },
  'P-384': { der: '06052b81040022', bytes: 48 },
};

/** A secret key's template (C_GenerateKey adds CKA_VALUE_LEN, C_CreateObject CKA_VALUE). */
export function keyTemplate(P: Pkcs11Lib, t: UnwrapTemplate, id: Buffer): Attr[] {
  const has = (u: KeyUsage) => t.usage.includes(u);
  return [
    { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
    { type: P.CKA_KEY_TYPE, value: t.type === 'AES' ? P.CKK_AES : P.CKK_GENERIC_SECRET },
    { type: P.CKA_TOKEN, value: t.token },
    { type: P.CKA_PRIVATE, value: true },
    { type: P.CKA_SENSITIVE, value: t.sensitive },
    { type: P.CKA_EXTRACTABLE, value: t.extractable },
    { type: P.CKA_ID, value: id },
    ...(t.label !== undefined ? [{ type: P.CKA_LABEL, value: t.label }] : []),
    { type: P.CKA_ENCRYPT, value: has('encrypt') },
    { type: P.CKA_DECRYPT, value: has('decrypt') },
    { type: P.CKA_WRAP, value: has('wrap') },
    { type: P.CKA_UNWRAP, value: has('unwrap') },
    { type: P.CKA_SIGN, value: has('sign') },
    { type: P.CKA_VERIFY, value: has('verify') },
    { type: P.CKA_DERIVE, value: false },
  ];
}

/**
 * C_GenerateKeyPair's templates: the private key as the template says (CKA_SIGN, and
 * CKA_DECRYPT for 'decrypt'), the public key a session object the caller reads and destroys.
 */
export function pairTemplates(P: Pkcs11Lib, t: KeyPairTemplate, id: Buffer, usage: readonly ('sign' | 'decrypt')[]): { pub: Attr[]; priv: Attr[] } {
  const pub: Attr[] = [
    { type: P.CKA_CLASS, value: P.CKO_PUBLIC_KEY },
    { type: P.CKA_TOKEN, value: false },
    { type: P.CKA_VERIFY, value: true },
    { type: P.CKA_ENCRYPT, value: usage.includes('decrypt') },
    { type: P.CKA_WRAP, value: false },
    ...(t.type === 'RSA'
      ? [
          { type: P.CKA_MODULUS_BITS, value: t.bits },
          { type: P.CKA_PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) },
        ]
      : [{ type: P.CKA_EC_PARAMS, value: Buffer.from(CURVES[t.curve].der, 'hex') }]),
  ];
  const priv: Attr[] = [
    { type: P.CKA_CLASS, value: P.CKO_PRIVATE_KEY },
    { type: P.CKA_TOKEN, value: t.token },
    { type: P.CKA_PRIVATE, value: true },
    { type: P.CKA_SENSITIVE, value: t.sensitive },
    { type: P.CKA_EXTRACTABLE, value: t.extractable },
    { type: P.CKA_ID, value: id },
    ...(t.label !== undefined ? [{ type: P.CKA_LABEL, value: t.label }] : []),
    { type: P.CKA_SIGN, value: usage.includes('sign') },
    { type: P.CKA_DECRYPT, value: usage.includes('decrypt') },
    { type: P.CKA_UNWRAP, value: false },
    { type: P.CKA_DERIVE, value: false },
  ];
  return { pub, priv };
}

/** The reference to a secret key made from `t`. */
export function refOf(t: UnwrapTemplate, id: Buffer, bits: number): KeyRef {
  return {
    id: id.toString('hex'),
    ...(t.label !== undefined ? { label: t.label } : {}),
    token: t.token,
    type: t.type,
    bits,
    sensitive: t.sensitive,
    extractable: t.extractable,
    usage: [...t.usage],
  };
}

/** The reference to a generated private key. */
export function privateRefOf(t: KeyPairTemplate, id: Buffer, usage: readonly ('sign' | 'decrypt')[]): KeyRef {
  return {
    id: id.toString('hex'),
    ...(t.label !== undefined ? { label: t.label } : {}),
    token: t.token,
    type: t.type,
    bits: t.type === 'RSA' ? t.bits : CURVES[t.curve].bytes * 8,
    sensitive: t.sensitive,
    extractable: t.extractable,
    usage: [...usage],
  };
}

/** A secret key object's reference, or undefined for objects this backend does not manage. */
export function readRef(p11: Pkcs11, P: Pkcs11Lib, s: Buffer, h: Buffer): KeyRef | undefined {
  const want = [P.CKA_ID, P.CKA_LABEL, P.CKA_TOKEN, P.CKA_KEY_TYPE, P.CKA_VALUE_LEN, P.CKA_SENSITIVE, P.CKA_EXTRACTABLE];
  const usageAttrs: [KeyUsage, number][] = [
    ['encrypt', P.CKA_ENCRYPT],
    ['decrypt', P.CKA_DECRYPT],
    ['wrap', P.CKA_WRAP],
    ['unwrap', P.CKA_UNWRAP],
    ['sign', P.CKA_SIGN],
    ['verify', P.CKA_VERIFY],
  ];
  const got = p11.C_GetAttributeValue(
    s,
    h,
    [...want, ...usageAttrs.map(([, a]) => a)].map((type) => ({ type })),
  );
  const v = new Map(got.map((a) => [a.type, a.value]));
  const id = v.get(P.CKA_ID);
  const keyType = ulong(v.get(P.CKA_KEY_TYPE));
  const type: SecretKeyType | undefined = keyType === P.CKK_AES ? 'AES' : keyType === P.CKK_GENERIC_SECRET ? 'GENERIC_SECRET' : undefined;
  if (!id || id.length === 0 || !type) return undefined; // not a key this backend manages
  const label = v.get(P.CKA_LABEL);
  return {
    id: id.toString('hex'),
    ...(label && label.length > 0 ? { label: label.toString('utf8') } : {}),
    token: bool(v.get(P.CKA_TOKEN)),
    type,
    bits: ulong(v.get(P.CKA_VALUE_LEN)) * 8,
    sensitive: bool(v.get(P.CKA_SENSITIVE)),
    extractable: bool(v.get(P.CKA_EXTRACTABLE)),
    usage: usageAttrs.filter(([, a]) => bool(v.get(a))).map(([u]) => u),
  };
}

/** A private key's reference (RSA: the modulus size; EC: the curve size from CKA_EC_PARAMS). */
export function readPrivateRef(p11: Pkcs11, P: Pkcs11Lib, s: Buffer, h: Buffer): KeyRef | undefined {
  const [id, label, token, kt, sens, extr, sign, dec] = p11.C_GetAttributeValue(
    s,
    h,
    [P.CKA_ID, P.CKA_LABEL, P.CKA_TOKEN, P.CKA_KEY_TYPE, P.CKA_SENSITIVE, P.CKA_EXTRACTABLE, P.CKA_SIGN, P.CKA_DECRYPT].map((type) => ({ type })),
  );
  const keyType = ulong(kt?.value);
  const type = keyType === P.CKK_RSA ? 'RSA' : keyType === P.CKK_EC ? 'EC' : undefined;
  if (!id?.value.length || !type) return undefined;
  let bits = 0;
  if (type === 'RSA') {
    const [n] = p11.C_GetAttributeValue(s, h, [{ type: P.CKA_MODULUS }]);
    const m = n?.value ?? Buffer.alloc(0);
    bits = (m.length - (m[0] === 0 ? 1 : 0)) * 8;
  } else {
    const [ep] = p11.C_GetAttributeValue(s, h, [{ type: P.CKA_EC_PARAMS }]);
    const hexParams = ep?.value.toString('hex');
    const c = (Object.keys(CURVES) as EcCurve[]).find((k) => CURVES[k].der === hexParams);
    bits = c ? CURVES[c].bytes * 8 : 0;
  }
  return {
    id: id.value.toString('hex'),
    ...(label && label.value.length > 0 ? { label: label.value.toString('utf8') } : {}),
    token: bool(token?.value),
    type,
    bits,
    sensitive: bool(sens?.value),
    extractable: bool(extr?.value),
    usage: [...(bool(sign?.value) ? (['sign'] as const) : []), ...(bool(dec?.value) ? (['decrypt'] as const) : [])],
  };
}

/** SubjectPublicKeyInfo DER of a generated public key object. */
export function readPublicKey(p11: Pkcs11, P: Pkcs11Lib, s: Buffer, h: Buffer, t: KeyPairTemplate): Buffer {
  const b64 = (b: Buffer) => b.toString('base64url');
  if (t.type === 'RSA') {
    const [n, e] = p11.C_GetAttributeValue(s, h, [{ type: P.CKA_MODULUS }, { type: P.CKA_PUBLIC_EXPONENT }]);
    if (!n || !e) throw new HsmError('CKR_GENERAL_ERROR', 'the token returned no modulus or exponent');
    return createPublicKey({ key: { kty: 'RSA', n: b64(n.value), e: b64(e.value) }, format: 'jwk' }).export({ type: 'spki', format: 'der' });
  }
  const [pt] = p11.C_GetAttributeValue(s, h, [{ type: P.CKA_EC_POINT }]);
  if (!pt) throw new HsmError('CKR_GENERAL_ERROR', 'the token returned no EC point');
  // CKA_EC_POINT is DER OCTET STRING { 04 ‖ x ‖ y } (some tokens give the raw point).
  const size = CURVES[t.curve].bytes;
  let q = pt.value;
  if (q[0] === 0x04 && q.length !== 1 + 2 * size) q = q.subarray(q[1]! & 0x80 ? 2 + (q[1]! & 0x7f) : 2);
  if (q[0] !== 0x04 || q.length !== 1 + 2 * size) throw new HsmError('CKR_GENERAL_ERROR', 'the token returned a malformed EC point');
  return createPublicKey({ key: { kty: 'EC', crv: t.curve, x: b64(q.subarray(1, 1 + size)), y: b64(q.subarray(1 + size)) }, format: 'jwk' }).export({ type: 'spki', format: 'der' });
}

export function bool(b: Buffer | undefined): boolean {
  return b !== undefined && b.length > 0 && b[0] !== 0;
}

export function ulong(b: Buffer | undefined): number {
  if (!b || b.length === 0) return 0;
  return b.length >= 8 ? Number(b.readBigUInt64LE(0)) : b.readUInt32LE(0);
}
