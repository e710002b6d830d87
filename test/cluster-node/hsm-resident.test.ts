/**
 * HSM-resident keys across nodes: two `kms serve` processes over one PostgreSQL database and one
 * SoftHSM2 token folder. Node B starts FIRST (its PKCS#11 session open, its token objects
 * indexed); only then does node A make resident keys (an AES key, an RSA and an EC private key
 * as non-extractable token objects). Node B must serve them: Encrypt/Decrypt in the token
 * (checked against node A's own results), Sign in the token (verified with the public key B
 * returns), Get of the secret or private part refused Not Extractable. Then node A destroys
 * them: node B refuses the very next request for each, and the token object is gone (seen by a
 * third PKCS#11 process, this test's own), while a resident key B had used and that still
 * exists keeps working on B.
 */
import { createPublicKey, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { attr, findChild, type KmipClient } from '../../src/client/index.js';
import {
  BlockCipherMode,
  CryptographicAlgorithm,
  HashingAlgorithm,
  KeyFormatType,
  ObjectType,
  Operation,
  PaddingMethod,
  RecommendedCurve,
  ResultReason,
  RevocationReasonCode,
} from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask as M } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { Pkcs11Backend } from '../../src/hsm/pkcs11/pkcs11-backend.js';
import { RESIDENT_LABEL_PREFIX } from '../../src/hsm/resident.js';
import { t, type TtlvNode } from '../../src/ttlv/index.js';
import type { ServeProcess } from '../support/kms-process.js';
import { revokePayload } from '../support/kmip-session.js';
import { createSoftHsmToken, type SoftHsmToken } from '../hsm/softhsm.js';
import { attrs, fails, ok, uidNode, uidOf, V2_1 } from '../operations/object-kit.js';
import { bytesOf, cipherPayload } from '../operations/crypto-kit.js';
import { getKeyBlock, keyPairPayload, materialBytes, pairUids } from '../operations/asymmetric-kit.js';
import { newClusterDatabase, newFolder, startNode } from './nodes.js';

let token: SoftHsmToken | undefined;
const nodes: ServeProcess[] = [];
const clients: KmipClient[] = [];
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await Promise.all(nodes.map((n) => n.stop()));
  token?.cleanup();
});

const notExtractable = t.bool(Tag.Extractable, false);
const DATA = Buffer.from('made on node A, used on node B, in one token');
const IV = Buffer.alloc(16, 7);
const cbc = { mode: BlockCipherMode.CBC, padding: PaddingMethod.PKCS5 };

async function residentAes(c: KmipClient): Promise<string> {
  const uid = uidOf(
    await ok(c, V2_1, Operation.Create, [
      t.enum(Tag.ObjectType, ObjectType.SymmetricKey),
      attrs(V2_1, [attr.cryptographicAlgorithm(CryptographicAlgorithm.AES), attr.cryptographicLength(256), attr.cryptographicUsageMask(M.Encrypt | M.Decrypt), notExtractable]),
    ]),
  );
  await ok(c, V2_1, Operation.Activate, [uidNode(uid)]);
  return uid;
}

async function residentPair(c: KmipClient, common: readonly TtlvNode[]): Promise<{ priv: string; pub: string }> {
  const p = pairUids(
    await ok(c, V2_1, Operation.CreateKeyPair, keyPairPayload(V2_1, common, [attr.cryptographicUsageMask(M.Sign), notExtractable], [attr.cryptographicUsageMask(M.Verify)])),
  );
  await ok(c, V2_1, Operation.Activate, [uidNode(p.priv)]);
  await ok(c, V2_1, Operation.Activate, [uidNode(p.pub)]);
  return p;
}

async function publicKeyOf(c: KmipClient, uid: string): Promise<KeyObject> {
  return createPublicKey({ key: materialBytes(await getKeyBlock(c, V2_1, uid, Tag.PublicKey, KeyFormatType.X_509)), format: 'der', type: 'spki' });
}

async function sign(c: KmipClient, uid: string): Promise<Buffer> {
  const p = await ok(c, V2_1, Operation.Sign, [uidNode(uid), t.struct(Tag.CryptographicParameters, [t.enum(Tag.HashingAlgorithm, HashingAlgorithm.SHA_256)]), t.bytes(Tag.Data, DATA)]);
  const s = findChild(p, Tag.SignatureData);
  if (s?.type !== 'ByteString') throw new Error('no Signature Data');
  return Buffer.from(s.value);
}

async function encrypt(c: KmipClient, uid: string): Promise<Buffer> {
  return Buffer.from(bytesOf(await ok(c, V2_1, Operation.Encrypt, cipherPayload({ uid, params: cbc, data: DATA, iv: IV })), Tag.Data)!);
}

async function decrypt(c: KmipClient, uid: string, data: Uint8Array): Promise<Buffer> {
  return Buffer.from(bytesOf(await ok(c, V2_1, Operation.Decrypt, cipherPayload({ uid, params: cbc, data, iv: IV })), Tag.Data)!);
}

/** How many token keys carry the resident label of `uid`, seen by a PKCS#11 session of this test's own process. */
async function tokenKeys(uid: string): Promise<number> {
  const b = await Pkcs11Backend.open({ module: token!.module, tokenLabel: token!.label, pin: token!.pin });
  try {
    return (await b.findKeys({ label: RESIDENT_LABEL_PREFIX + uid, token: true })).length;
  } finally {
    await b.close();
  }
}

async function destroyOn(c: KmipClient, uid: string): Promise<void> {
  await ok(c, V2_1, Operation.Revoke, [...revokePayload(uid, RevocationReasonCode.CessationOfOperation).value]);
  await ok(c, V2_1, Operation.Destroy, [uidNode(uid)]);
}

describe('HSM-resident keys made on one node after the other started', () => {
  it('node B serves resident keys node A made after B opened the token, and refuses them as soon as A destroys them', async () => {
    token = createSoftHsmToken('kms-resident-nodes');
    const hsm = { hsm: { module: token.module, tokenLabel: token.label, pin: token.pin } };
    const url = await newClusterDatabase();
    const a = await startNode(newFolder('res-a'), url, hsm);
    nodes.push(a);
    const b = await startNode(newFolder('res-b'), url, hsm);
    nodes.push(b);
    const ca = await a.client();
    const cb = await b.client();
    clients.push(ca, cb);

    // B has opened its session and used the token (a resident key of its own, indexed before A's exist).
    const early = await residentAes(cb);
    const earlyCipher = await encrypt(cb, early);

    // Now A makes resident keys: B has never seen these token objects.
    const aes = await residentAes(ca);
    const rsa = await residentPair(ca, [attr.cryptographicAlgorithm(CryptographicAlgorithm.RSA), attr.cryptographicLength(2048)]);
    const ec = await residentPair(ca, [
      attr.cryptographicAlgorithm(CryptographicAlgorithm.EC),
      t.struct(Tag.CryptographicDomainParameters, [t.enum(Tag.RecommendedCurve, RecommendedCurve.P_256)]),
    ]);
    for (const uid of [aes, rsa.priv, ec.priv]) expect(await tokenKeys(uid)).toBe(1);

    // B encrypts with A's key in the token; A decrypts B's ciphertext and B decrypts A's: one token key.
    const fromB = await encrypt(cb, aes);
    expect(fromB.equals(await encrypt(ca, aes))).toBe(true); // CBC with a fixed IV: same key → same bytes
    expect((await decrypt(ca, aes, fromB)).equals(DATA)).toBe(true);
    expect((await decrypt(cb, aes, fromB)).equals(DATA)).toBe(true);
    // And A uses the key B made before A's existed. A's own writes since (its keys) took the
    // token's generation counter past B's change, so A's SoftHSM2 had not indexed B's key:
    // the lookup missed and A re-read the token's objects (session-pool.ts) before serving it.
    expect((await decrypt(ca, early, earlyCipher)).equals(DATA)).toBe(true);
    expect(a.lines.some((l) => typeof l.msg === 'string' && l.msg.startsWith('PKCS#11 key lookup missed: the token objects were re-read'))).toBe(true);

    // B signs with A's private keys in the token; the public keys B returns verify them (and A's agree).
    for (const p of [rsa, ec]) {
      const pubB = await publicKeyOf(cb, p.pub);
      expect(pubB.export({ format: 'der', type: 'spki' }).equals((await publicKeyOf(ca, p.pub)).export({ format: 'der', type: 'spki' }))).toBe(true);
      const sig = await sign(cb, p.priv);
      expect(nodeVerify('sha256', DATA, pubB, sig)).toBe(true);
      expect(nodeVerify('sha256', Buffer.from('other data'), pubB, sig)).toBe(false);
    }

    // The secret and private parts never leave the token, on either node.
    for (const uid of [aes, rsa.priv, ec.priv]) {
      expect((await fails(cb, V2_1, Operation.Get, [uidNode(uid)])).reason).toBe(ResultReason.NotExtractable);
      expect((await fails(ca, V2_1, Operation.Get, [uidNode(uid)])).reason).toBe(ResultReason.NotExtractable);
    }

    // A destroys them: B (which holds handles to them from the calls above) refuses the next request at once.
    await destroyOn(ca, aes);
    await destroyOn(ca, rsa.priv);
    await destroyOn(ca, ec.priv);
    for (const uid of [aes, rsa.priv, ec.priv]) expect(await tokenKeys(uid)).toBe(0);
    expect((await fails(cb, V2_1, Operation.Encrypt, cipherPayload({ uid: aes, params: cbc, data: DATA, iv: IV }))).reason).toBe(ResultReason.ObjectDestroyed);
    for (const p of [rsa, ec]) {
      const r = await fails(cb, V2_1, Operation.Sign, [
        uidNode(p.priv),
        t.struct(Tag.CryptographicParameters, [t.enum(Tag.HashingAlgorithm, HashingAlgorithm.SHA_256)]),
        t.bytes(Tag.Data, DATA),
      ]);
      expect(r.reason).toBe(ResultReason.ObjectDestroyed);
    }
    // B still serves the resident key that remains, and so does A.
    expect((await decrypt(cb, early, earlyCipher)).equals(DATA)).toBe(true);
    expect((await encrypt(ca, early)).equals(earlyCipher)).toBe(true);
  });
});
