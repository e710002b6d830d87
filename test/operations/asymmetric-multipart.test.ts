/**
 * Multi-part Sign and Signature Verify (KMIP 2.1 §6.1.52-53, 1.4 §4.31-4.32): Init Indicator,
 * Correlation Value, Final Indicator. The parts' signature equals the one-shot signature of the
 * concatenated data (RSA PKCS#1 v1.5 is deterministic), ECDSA's verifies with node:crypto, a
 * multi-part verify says Valid / Invalid, and the refusals: unknown Correlation Value, Digested
 * Data in parts, no Signature Data at the end, a key revoked between parts.
 */
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attr, findChild, type KmipClient, type KmipVersion } from '../../src/client/index.js';
import { CryptographicAlgorithm, HashingAlgorithm, KeyFormatType, Operation, PaddingMethod, ResultReason, ValidityIndicator } from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask as M } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { t, type StructureNode, type TtlvNode } from '../../src/ttlv/index.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { fails, ok, uidNode, V1_4, V2_1 } from './object-kit.js';
import { getKeyBlock, keyPairPayload, materialBytes, pairUids } from './asymmetric-kit.js';
import { bytesOf } from './crypto-kit.js';

let srv: TestKms;
let c: KmipClient;
beforeAll(async () => {
  srv = await startTestKms();
  c = await srv.client();
});
afterAll(() => srv?.dispose());

const PARTS = [Buffer.from('first part, '), Buffer.from('second part, '), Buffer.from('and the last.')];
const ALL = Buffer.concat(PARTS);
const rsaParams = t.struct(Tag.CryptographicParameters, [t.enum(Tag.PaddingMethod, PaddingMethod.PKCS1V1_5), t.enum(Tag.HashingAlgorithm, HashingAlgorithm.SHA_256)]);

async function pair(v: KmipVersion, alg: number, bits: number): Promise<{ priv: string; pub: string; spki: Buffer }> {
  const { priv, pub } = pairUids(
    await ok(
      c,
      v,
      Operation.CreateKeyPair,
      keyPairPayload(v, [attr.cryptographicAlgorithm(alg), attr.cryptographicLength(bits)], [attr.cryptographicUsageMask(M.Sign)], [attr.cryptographicUsageMask(M.Verify)]),
    ),
  );
  await ok(c, v, Operation.Activate, [uidNode(priv)]);
  await ok(c, v, Operation.Activate, [uidNode(pub)]);
  return { priv, pub, spki: materialBytes(await getKeyBlock(c, v, pub, Tag.PublicKey, KeyFormatType.X_509)) };
}

/** Send `parts` as Init / middle / Final requests; returns the last response payload. */
async function inParts(v: KmipVersion, op: number, uid: string, parts: readonly Buffer[], first: readonly TtlvNode[] = [], last: readonly TtlvNode[] = []): Promise<StructureNode> {
  let cv: Uint8Array | undefined;
  let p: StructureNode | undefined;
  for (let i = 0; i < parts.length; i++) {
    const isFirst = i === 0;
    const isLast = i === parts.length - 1;
    p = await ok(c, v, op, [
      ...(isFirst ? [uidNode(uid), ...first] : []),
      t.bytes(Tag.Data, parts[i]!),
      ...(isLast ? last : []),
      ...(cv ? [t.bytes(Tag.CorrelationValue, cv)] : []),
      ...(isFirst ? [t.bool(Tag.InitIndicator, true)] : []),
      ...(isLast ? [t.bool(Tag.FinalIndicator, true)] : []),
    ]);
    if (!isLast) {
      cv = bytesOf(p, Tag.CorrelationValue);
      expect(cv, `part ${i} returns a Correlation Value`).toBeDefined();
      expect(bytesOf(p, Tag.SignatureData)).toBeUndefined();
    }
  }
  return p!;
}

describe.each([V2_1, V1_4])('multi-part signatures at KMIP %o', (v) => {
  it('RSA PKCS#1 v1.5: the signature over three parts is the one-shot signature; multi-part verify says Valid, then Invalid for another signature', async () => {
    const { priv, pub } = await pair(v, CryptographicAlgorithm.RSA, 2048);
    const parts = await inParts(v, Operation.Sign, priv, PARTS, [rsaParams]);
    const oneShot = await ok(c, v, Operation.Sign, [uidNode(priv), rsaParams, t.bytes(Tag.Data, ALL)]);
    expect(Buffer.from(bytesOf(parts, Tag.SignatureData)!)).toEqual(Buffer.from(bytesOf(oneShot, Tag.SignatureData)!));
    const sig = bytesOf(parts, Tag.SignatureData)!;
    const valid = await inParts(v, Operation.SignatureVerify, pub, PARTS, [rsaParams], [t.bytes(Tag.SignatureData, sig)]);
    expect(findChild(valid, Tag.ValidityIndicator)?.value).toBe(ValidityIndicator.Valid);
    const other = Buffer.from(sig);
    other[10]! ^= 1;
    const invalid = await inParts(v, Operation.SignatureVerify, pub, PARTS, [rsaParams], [t.bytes(Tag.SignatureData, other)]);
    expect(findChild(invalid, Tag.ValidityIndicator)?.value).toBe(ValidityIndicator.Invalid);
    // The Signature Data may come with the first part instead (TC-STREAM-SIGNVFY-1).
    const early = await inParts(v, Operation.SignatureVerify, pub, PARTS, [rsaParams, t.bytes(Tag.SignatureData, sig)]);
    expect(findChild(early, Tag.ValidityIndicator)?.value).toBe(ValidityIndicator.Valid);
    const earlyBad = await inParts(v, Operation.SignatureVerify, pub, PARTS, [rsaParams, t.bytes(Tag.SignatureData, other)]);
    expect(findChild(earlyBad, Tag.ValidityIndicator)?.value).toBe(ValidityIndicator.Invalid);
    // Two parts naming different signatures: Invalid Field.
    const start = await ok(c, v, Operation.SignatureVerify, [uidNode(pub), rsaParams, t.bytes(Tag.SignatureData, sig), t.bytes(Tag.Data, PARTS[0]!), t.bool(Tag.InitIndicator, true)]);
    const clash = await fails(c, v, Operation.SignatureVerify, [
      t.bytes(Tag.Data, PARTS[1]!),
      t.bytes(Tag.SignatureData, other),
      t.bytes(Tag.CorrelationValue, bytesOf(start, Tag.CorrelationValue)!),
      t.bool(Tag.FinalIndicator, true),
    ]);
    expect(clash.reason).toBe(ResultReason.InvalidField);
  });

  it('ECDSA P-256: the multi-part signature verifies over the concatenated data with node:crypto', async () => {
    const { priv, spki } = await pair(v, CryptographicAlgorithm.EC, 256);
    const p = await inParts(v, Operation.Sign, priv, PARTS);
    const pubKey = createPublicKey({ key: spki, format: 'der', type: 'spki' });
    expect(nodeVerify('sha256', ALL, pubKey, Buffer.from(bytesOf(p, Tag.SignatureData)!))).toBe(true);
    expect(nodeVerify('sha256', PARTS[2]!, pubKey, Buffer.from(bytesOf(p, Tag.SignatureData)!))).toBe(false);
  });

  it('refusals: unknown Correlation Value, Digested Data in parts, no Signature Data at the end, a key revoked between parts', async () => {
    const { priv, pub } = await pair(v, CryptographicAlgorithm.RSA, 2048);
    const unknown = await fails(c, v, Operation.Sign, [t.bytes(Tag.Data, ALL), t.bytes(Tag.CorrelationValue, Buffer.alloc(16, 1)), t.bool(Tag.FinalIndicator, true)]);
    expect(unknown.reason).toBe(v.major >= 2 ? ResultReason.InvalidCorrelationValue : ResultReason.ItemNotFound);
    const digested = await fails(c, v, Operation.Sign, [uidNode(priv), rsaParams, t.bytes(Tag.DigestedData, Buffer.alloc(32)), t.bool(Tag.InitIndicator, true)]);
    expect(digested.reason).toBe(ResultReason.InvalidField);

    const start = await ok(c, v, Operation.SignatureVerify, [uidNode(pub), rsaParams, t.bytes(Tag.Data, PARTS[0]!), t.bool(Tag.InitIndicator, true)]);
    const noSig = await fails(c, v, Operation.SignatureVerify, [
      t.bytes(Tag.Data, PARTS[1]!),
      t.bytes(Tag.CorrelationValue, bytesOf(start, Tag.CorrelationValue)!),
      t.bool(Tag.FinalIndicator, true),
    ]);
    expect(noSig.reason).toBe(ResultReason.MissingData);

    const s = await ok(c, v, Operation.Sign, [uidNode(priv), rsaParams, t.bytes(Tag.Data, PARTS[0]!), t.bool(Tag.InitIndicator, true)]);
    await ok(c, v, Operation.Revoke, [uidNode(priv), t.struct(Tag.RevocationReason, [t.enum(Tag.RevocationReasonCode, 5)])]);
    const after = await fails(c, v, Operation.Sign, [t.bytes(Tag.Data, PARTS[1]!), t.bytes(Tag.CorrelationValue, bytesOf(s, Tag.CorrelationValue)!), t.bool(Tag.FinalIndicator, true)]);
    expect(after.reason).toBe(v.major >= 2 ? ResultReason.WrongKeyLifecycleState : ResultReason.PermissionDenied);
  });
});
