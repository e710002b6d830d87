/**
 * ECDSA over a digest the client computed (FIPS 186-5 §6.4, SEC 1 §4.1), for P-256/384/521:
 * node:crypto signs only messages it hashes itself.
 *
 * Side channels: the nonce point k·G is computed by OpenSSL (ECDH on the curve, constant-time
 * scalar multiplication), k comes from the CSPRNG at full length, and the scalar arithmetic on
 * secrets (k⁻¹, r·d) is blinded by a fresh random factor, so the timing of JavaScript BigInt
 * operations depends on blinded values, not on k or d. Verification handles public values only.
 * Signatures are DER (RFC 3279 Ecdsa-Sig-Value), as node produces them.
 */
import { createECDH, randomBytes, type KeyObject } from 'node:crypto';

interface Curve {
  readonly ecdh: string;
  readonly p: bigint;
  readonly n: bigint;
  readonly gx: bigint;
  readonly gy: bigint;
  readonly bytes: number;
}

const CURVES: Readonly<Record<string, Curve>> = {
  'P-256': {
    ecdh: 'prime256v1',
    p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
    n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
    gx: 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n,
    gy: 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n,
    bytes: 32,
  },
  'P-384': {
    ecdh: 'secp384r1',
    p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn,
    n: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
    gx: 0xaa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7n,
    gy: 0x3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5fn,
    bytes: 48,
  },
  'P-521': {
    ecdh: 'secp521r1',
    p: (1n << 521n) - 1n,
    n: 0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n,
    gx: 0x00c6858e06b70404e9cd9e3ecb662395b4429c648139053fb521f828af606b4d3dbaa14b5e77efe75928fe1dc127a2ffa8de3348b3c1856a429bf97e7e31c2e5bd66n,
    gy: 0x011839296a789a3bc0045c8a5fb42c7d1bd998f54449579b446817afbd17273e662c97ee72995ef42640c550b9013fad0761353c7086a272c24088be94769fd16650n,
    bytes: 66,
  },
};

const mod = (a: bigint, m: bigint): bigint => ((a % m) + m) % m;

function modPow(base: bigint, exp: bigint, m: bigint): bigint {
  let r = 1n;
  let b = mod(base, m);
  for (let e = exp; e > 0n; e >>= 1n) {
    if (e & 1n) r = (r * b) % m;
    b = (b * b) % m;
  }
  return r;
}

/** Inverse modulo a prime (Fermat). */
const inv = (a: bigint, m: bigint): bigint => modPow(a, m - 2n, m);

const toBig = (b: Uint8Array): bigint => (b.length === 0 ? 0n : BigInt('0x' + Buffer.from(b).toString('hex')));
const b64url = (s: string): bigint => toBig(Buffer.from(s, 'base64url'));

function toBytes(v: bigint, len: number): Buffer {
  return Buffer.from(v.toString(16).padStart(len * 2, '0'), 'hex');
}

function bitLength(v: bigint): number {
  return v === 0n ? 0 : v.toString(2).length;
}

/** bits2int: the digest's leftmost bitlen(n) bits as an integer (FIPS 186-5 §6.4.1 step 3). */
function digestInt(digest: Uint8Array, n: bigint): bigint {
  const e = toBig(digest);
  const excess = digest.length * 8 - bitLength(n);
  return excess > 0 ? e >> BigInt(excess) : e;
}

/** A random scalar in [1, n-1], full length (rejection sampling). */
function randomScalar(c: Curve): bigint {
  for (;;) {
    const extra = c.bytes * 8 - bitLength(c.n);
    let v = toBig(randomBytes(c.bytes));
    if (extra > 0) v >>= BigInt(extra);
    if (v >= 1n && v < c.n) return v;
  }
}

function curveOf(key: KeyObject): Curve {
  const name = key.asymmetricKeyDetails?.namedCurve;
  const alias: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };
  const c = name ? CURVES[alias[name] ?? name] : undefined;
  if (!c) throw new RangeError(`ECDSA over a digest is served on P-256, P-384 and P-521 (not ${name ?? 'this key'})`);
  return c;
}

// -------------------------------------------------------------------------- DER Ecdsa-Sig-Value

function derInt(v: bigint): Buffer {
  let h = v.toString(16);
  if (h.length % 2) h = '0' + h;
  let b = Buffer.from(h, 'hex');
  if (b[0]! & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return Buffer.concat([Buffer.from([0x02]), derLen(b.length), b]);
}

function derLen(n: number): Buffer {
  return n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
}

export function encodeSig(r: bigint, s: bigint): Buffer {
  const body = Buffer.concat([derInt(r), derInt(s)]);
  return Buffer.concat([Buffer.from([0x30]), derLen(body.length), body]);
}

/** Strict DER parse of SEQUENCE { INTEGER r, INTEGER s }; undefined when malformed. */
export function decodeSig(sig: Uint8Array): { r: bigint; s: bigint } | undefined {
  let i = 0;
  const len = (): number | undefined => {
    const first = sig[i++];
    if (first === undefined) return undefined;
    if (first < 0x80) return first;
    const k = first & 0x7f;
    if (k < 1 || k > 2) return undefined;
    let n = 0;
    for (let j = 0; j < k; j++) {
      const b = sig[i++];
      if (b === undefined) return undefined;
      n = (n << 8) | b;
    }
    return n < 0x80 || (k === 2 && n < 0x100) ? undefined : n;
  };
  const int = (): bigint | undefined => {
    if (sig[i++] !== 0x02) return undefined;
    const n = len();
    if (n === undefined || n < 1 || i + n > sig.length) return undefined;
    const b = sig.subarray(i, i + n);
    i += n;
    if (b[0]! & 0x80) return undefined; // negative
    if (n > 1 && b[0] === 0 && !(b[1]! & 0x80)) return undefined; // not minimal
    return toBig(b);
  };
  if (sig[i++] !== 0x30) return undefined;
  const total = len();
  if (total === undefined || i + total !== sig.length) return undefined;
  const r = int();
  const s = int();
  if (r === undefined || s === undefined || i !== sig.length) return undefined;
  return { r, s };
}

// ------------------------------------------------------------------ points (public values only)

type Jac = { x: bigint; y: bigint; z: bigint };
const INF: Jac = { x: 0n, y: 1n, z: 0n };

function double(P: Jac, p: bigint): Jac {
  if (P.z === 0n || P.y === 0n) return INF;
  const z2 = (P.z * P.z) % p;
  const m = mod(3n * (P.x - z2) * (P.x + z2), p); // a = -3
  const y2 = (P.y * P.y) % p;
  const s = (4n * P.x * y2) % p;
  const x = mod(m * m - 2n * s, p);
  const y = mod(m * (s - x) - 8n * y2 * y2, p);
  const z = (2n * P.y * P.z) % p;
  return { x, y, z };
}

function add(P: Jac, Q: Jac, p: bigint): Jac {
  if (P.z === 0n) return Q;
  if (Q.z === 0n) return P;
  const pz2 = (P.z * P.z) % p;
  const qz2 = (Q.z * Q.z) % p;
  const u1 = (P.x * qz2) % p;
  const u2 = (Q.x * pz2) % p;
  const s1 = (P.y * qz2 * Q.z) % p;
  const s2 = (Q.y * pz2 * P.z) % p;
  if (u1 === u2) return s1 === s2 ? double(P, p) : INF;
  const h = mod(u2 - u1, p);
  const r = mod(s2 - s1, p);
  const h2 = (h * h) % p;
  const h3 = (h2 * h) % p;
  const x = mod(r * r - h3 - 2n * u1 * h2, p);
  const y = mod(r * (u1 * h2 - x) - s1 * h3, p);
  const z = (h * P.z * Q.z) % p;
  return { x, y, z };
}

/** u1·G + u2·Q (Shamir's trick), affine x, or undefined at infinity. */
function combine(c: Curve, u1: bigint, u2: bigint, qx: bigint, qy: bigint): bigint | undefined {
  const G: Jac = { x: c.gx, y: c.gy, z: 1n };
  const Q: Jac = { x: qx, y: qy, z: 1n };
  const GQ = add(G, Q, c.p);
  let R = INF;
  for (let i = Math.max(bitLength(u1), bitLength(u2)) - 1; i >= 0; i--) {
    R = double(R, c.p);
    const b1 = (u1 >> BigInt(i)) & 1n;
    const b2 = (u2 >> BigInt(i)) & 1n;
    if (b1 && b2) R = add(R, GQ, c.p);
    else if (b1) R = add(R, G, c.p);
    else if (b2) R = add(R, Q, c.p);
  }
  if (R.z === 0n) return undefined;
  const zi = inv(R.z, c.p);
  return (R.x * zi * zi) % c.p;
}

// ---------------------------------------------------------------------------------- the scheme

export function ecdsaSignDigest(privateKey: KeyObject, digest: Uint8Array): Buffer {
  const c = curveOf(privateKey);
  const jwk = privateKey.export({ format: 'jwk' });
  if (!jwk.d) throw new RangeError('not an EC private key');
  const d = b64url(jwk.d);
  const e = digestInt(digest, c.n);
  for (;;) {
    const k = randomScalar(c);
    const ecdh = createECDH(c.ecdh);
    ecdh.setPrivateKey(toBytes(k, c.bytes));
    const R = ecdh.getPublicKey(); // 04 ‖ X ‖ Y, computed by OpenSSL
    const r = toBig(R.subarray(1, 1 + c.bytes)) % c.n;
    if (r === 0n) continue;
    const b = randomScalar(c); // blinding
    const kInvBlinded = inv((k * b) % c.n, c.n); // (k·b)⁻¹
    const bd = (b * d) % c.n;
    const s = (kInvBlinded * mod(b * e + r * bd, c.n)) % c.n; // (k·b)⁻¹·b·(e + r·d) = k⁻¹(e + r·d)
    if (s === 0n) continue;
    return encodeSig(r, s);
  }
}

export function ecdsaVerifyDigest(publicKey: KeyObject, digest: Uint8Array, signature: Uint8Array): boolean {
  const c = curveOf(publicKey);
  const sig = decodeSig(signature);
  if (!sig) return false;
  const { r, s } = sig;
  if (r < 1n || r >= c.n || s < 1n || s >= c.n) return false;
  const jwk = publicKey.export({ format: 'jwk' });
  if (!jwk.x || !jwk.y) return false;
  const w = inv(s, c.n);
  const e = digestInt(digest, c.n);
  const x = combine(c, (e * w) % c.n, (r * w) % c.n, b64url(jwk.x), b64url(jwk.y));
  return x !== undefined && x % c.n === r;
}
