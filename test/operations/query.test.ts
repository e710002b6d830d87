/**
 * Query Capabilities (KMIP 1.3+): what the server states about itself, and that each stated
 * capability holds when tried (streaming, batch undo), over real mTLS.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findChild, parseResponse, requestMessage, type KmipClient } from '../../src/client/index.js';
import {
  BatchErrorContinuationOption,
  BlockCipherMode,
  CryptographicAlgorithm,
  DestroyAction,
  ObjectType,
  Operation,
  QueryFunction,
  ResultStatus,
  RNGMode,
  ShreddingAlgorithm,
  UnwrapMode,
} from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { t, type StructureNode } from '../../src/ttlv/node.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { bytesOf, cipherPayload, registerKey } from './crypto-kit.js';
import { ok, V1_2, V1_4, V2_1 } from './object-kit.js';

let srv: TestKms;
let c: KmipClient;
beforeAll(async () => {
  srv = await startTestKms();
  c = await srv.client();
});
afterAll(async () => srv?.dispose());

const capabilities = async (v: typeof V1_4): Promise<StructureNode | undefined> => {
  const p = await ok(c, v, Operation.Query, [t.enum(Tag.QueryFunction, QueryFunction.QueryCapabilities)]);
  const info = findChild(p, Tag.CapabilityInformation);
  return info?.type === 'Structure' ? info : undefined;
};

describe('Query Capabilities', () => {
  it.each([V1_4, V2_1])('at %o states streaming, undo, continue, unwrap, destroy, shredding and RNG mode', async (v) => {
    const info = await capabilities(v);
    const value = (tag: number) => findChild(info!, tag)?.value;
    expect(value(Tag.StreamingCapability)).toBe(true);
    expect(value(Tag.AsynchronousCapability)).toBe(true);
    expect(value(Tag.AttestationCapability)).toBe(false);
    expect(value(Tag.BatchUndoCapability)).toBe(true);
    expect(value(Tag.BatchContinueCapability)).toBe(true);
    expect(value(Tag.UnwrapMode)).toBe(UnwrapMode.Processed);
    expect(value(Tag.DestroyAction)).toBe(DestroyAction.KeyMaterialDeleted);
    expect(value(Tag.ShreddingAlgorithm)).toBe(ShreddingAlgorithm.Unsupported);
    expect(value(Tag.RNGMode)).toBe(RNGMode.SharedInstantiation);
  });

  it('is not answered before KMIP 1.3 (Capability Information does not exist there)', async () => {
    expect(await capabilities(V1_2)).toBeUndefined();
  });

  it('what it states holds: a multi-part Encrypt streams, an Undo batch is undone', async () => {
    const uid = await registerKey(c, V2_1, new Uint8Array(16).fill(3), CryptographicAlgorithm.AES, CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt);
    const first = await ok(c, V2_1, Operation.Encrypt, cipherPayload({ uid, params: { mode: BlockCipherMode.ECB }, data: new Uint8Array(16), init: true }));
    expect(bytesOf(first, Tag.CorrelationValue)?.length).toBeGreaterThan(0);

    const res = parseResponse(
      await c.send(
        requestMessage({
          version: V2_1,
          batchErrorContinuationOption: BatchErrorContinuationOption.Undo,
          batch: [
            {
              operation: Operation.Create,
              payload: [
                t.enum(Tag.ObjectType, ObjectType.SymmetricKey),
                t.struct(Tag.Attributes, [
                  t.enum(Tag.CryptographicAlgorithm, CryptographicAlgorithm.AES),
                  t.int(Tag.CryptographicLength, 128),
                  t.int(Tag.CryptographicUsageMask, CryptographicUsageMask.Encrypt),
                ]),
              ],
            },
            { operation: Operation.Get, payload: [t.text(Tag.UniqueIdentifier, 'no-such-object')] },
          ],
        }),
      ),
    );
    expect(res.items.map((i) => i.status)).toEqual([ResultStatus.OperationUndone, ResultStatus.OperationFailed]);
  });
});
