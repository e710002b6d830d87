/**
 * Undo batches with HSM-resident keys on a real SoftHSM2 token: an undone Create leaves no
 * token object behind; an undone Destroy leaves the token key in place (its destruction waits
 * until the batch stands) and the key works again; a Destroy in a batch that stands removes it.
 */
import { describe, expect, it } from 'vitest';
import { attr, parseResponse, requestMessage, type KmipClient, type ResponseItem } from '../../src/client/index.js';
import { BatchErrorContinuationOption, BlockCipherMode, CryptographicAlgorithm, ObjectType, Operation, PaddingMethod, ResultStatus } from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask as M } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { Pkcs11Backend } from '../../src/hsm/pkcs11/pkcs11-backend.js';
import { RESIDENT_LABEL_PREFIX } from '../../src/hsm/resident.js';
import { t, type TtlvNode } from '../../src/ttlv/index.js';
import type { TestKms } from '../support/kms.js';
import { attrs, ok, uidNode, uidOf, V2_1 } from '../operations/object-kit.js';
import { cipherPayload } from '../operations/crypto-kit.js';
import { useHsmTestKms } from './hsm-kms.js';

let srv: TestKms;
let c: KmipClient;
const { hsm } = useHsmTestKms('kms-undo', (server, client) => {
  srv = server;
  c = client;
});

const createResident: readonly TtlvNode[] = [
  t.enum(Tag.ObjectType, ObjectType.SymmetricKey),
  attrs(V2_1, [attr.cryptographicAlgorithm(CryptographicAlgorithm.AES), attr.cryptographicLength(256), attr.cryptographicUsageMask(M.Encrypt | M.Decrypt), t.bool(Tag.Extractable, false)]),
];
const failing: readonly [number, readonly TtlvNode[]] = [Operation.Get, [uidNode('no-such-object')]];

async function undoBatch(items: ReadonlyArray<readonly [number, readonly TtlvNode[]]>): Promise<readonly ResponseItem[]> {
  const msg = requestMessage({ version: V2_1, batchErrorContinuationOption: BatchErrorContinuationOption.Undo, batch: items.map(([operation, payload]) => ({ operation, payload })) });
  return parseResponse(await c.send(msg)).items;
}

/** Whether the token holds the key labelled for `uid`, through a PKCS#11 session of the test's own. */
async function tokenHas(uid: string): Promise<boolean> {
  const b = await Pkcs11Backend.open(hsm);
  try {
    return (await b.findKeys({ label: RESIDENT_LABEL_PREFIX + uid, token: true })).length > 0;
  } finally {
    await b.close();
  }
}

describe('Undo with HSM-resident keys', () => {
  it('an undone Create removes the new token key with the record', async () => {
    const items = await undoBatch([[Operation.Create, createResident], failing]);
    expect(items.map((i) => i.status)).toEqual([ResultStatus.OperationUndone, ResultStatus.OperationFailed]);
    const uid = uidOf(items[0]!.payload!);
    expect(await srv.kms.services.store.get(uid)).toBeUndefined();
    expect(await tokenHas(uid)).toBe(false);
  });

  it('an undone Create + Destroy of the same key removes its token key too', async () => {
    const items = await undoBatch([[Operation.Create, createResident], [Operation.Destroy, []], failing]);
    expect(items.map((i) => i.status)).toEqual([ResultStatus.OperationUndone, ResultStatus.OperationUndone, ResultStatus.OperationFailed]);
    const uid = uidOf(items[0]!.payload!);
    expect(await srv.kms.services.store.get(uid)).toBeUndefined();
    expect(await tokenHas(uid)).toBe(false);
  });

  it('an undone Destroy keeps the token key, and the key encrypts again; a Destroy that stands removes it', async () => {
    const uid = uidOf(await ok(c, V2_1, Operation.Create, createResident));
    const hsmKey = (await srv.kms.services.store.get(uid))!.hsmKey;
    expect(hsmKey).toBeDefined();
    const items = await undoBatch([[Operation.Destroy, [uidNode(uid)]], failing]);
    expect(items.map((i) => i.status)).toEqual([ResultStatus.OperationUndone, ResultStatus.OperationFailed]);
    expect((await srv.kms.services.store.get(uid))!.hsmKey).toBe(hsmKey);
    expect(await tokenHas(uid)).toBe(true);
    await ok(c, V2_1, Operation.Activate, [uidNode(uid)]);
    const enc = await ok(
      c,
      V2_1,
      Operation.Encrypt,
      cipherPayload({ uid, params: { mode: BlockCipherMode.CBC, padding: PaddingMethod.PKCS5 }, data: new Uint8Array(20), iv: new Uint8Array(16) }),
    );
    expect(enc.value.some((x) => x.tag === Tag.Data)).toBe(true);

    await ok(c, V2_1, Operation.Revoke, [uidNode(uid), t.struct(Tag.RevocationReason, [t.enum(Tag.RevocationReasonCode, 1)])]);
    const stands = await undoBatch([
      [Operation.Destroy, [uidNode(uid)]],
      [Operation.GetAttributes, [uidNode(uid)]],
    ]);
    expect(stands.map((i) => i.status)).toEqual([ResultStatus.Success, ResultStatus.Success]);
    expect(await tokenHas(uid)).toBe(false);
  });
});
