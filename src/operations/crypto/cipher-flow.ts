/**
 * The flow Encrypt and Decrypt share (KMIP 1.4 §4.29-4.30, 2.1 §6.1.17 / §6.1.13): one-shot, or
 * multi-part with Init Indicator → Correlation Value → … → Final Indicator. Every part re-checks
 * the key (state, dates, usage mask), so a key revoked mid-stream stops the stream. The part
 * outputs, concatenated, equal the one-shot output. A failed part ends its operation.
 */
import { ObjectType, ResultReason } from '../../kmip/generated/enums.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { KmipError } from '../../kmip/errors.js';
import { optional, payload, readPayload } from '../../kmip/payload.js';
import type { StructureNode, TtlvNode } from '../../ttlv/node.js';
import type { Direction } from '../../crypto/mechanism.js';
import type { KeyCipher } from '../../custody/index.js';
import { CIPHER_POLICY } from '../../policy/crypto-policy.js';
import type { OperationContext } from '../context.js';
import { checkDataSize, effectiveParams, isOneShot, loadKeyFor, multipart, partFlags, spendUsage, unknownCorrelation } from './key-use.js';
import type { ObjectRecord } from '../../objects/managed-object.js';
import { versionReason } from '../../kmip/version-rules.js';
import { item } from '../../kmip/items.js';
import { cryptoPolicyOf, mechanism, translate } from '../service/crypto-params.js';
import { resolveUid } from '../service/object-service.js';

const Request = {
  uid: optional(Tag.UniqueIdentifier, 'TextString'),
  cryptographicParameters: optional(Tag.CryptographicParameters, 'Structure'),
  data: optional(Tag.Data, 'ByteString'),
  iv: optional(Tag.IVCounterNonce, 'ByteString'),
  correlationValue: optional(Tag.CorrelationValue, 'ByteString'),
  initIndicator: optional(Tag.InitIndicator, 'Boolean'),
  finalIndicator: optional(Tag.FinalIndicator, 'Boolean'),
  aad: optional(Tag.AuthenticatedEncryptionAdditionalData, 'ByteString'),
};

const RequestWithTag = { ...Request, tag: optional(Tag.AuthenticatedEncryptionTag, 'ByteString') };

const bytes = (tag: number, value: Uint8Array | undefined): TtlvNode | undefined => (value === undefined ? undefined : { tag, type: 'ByteString', value });

function concat(parts: readonly Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

export async function cipherOperation(ctx: OperationContext, node: StructureNode | undefined, dir: Direction): Promise<StructureNode> {
  const use = dir === 'encrypt' ? 'Encrypt' : 'Decrypt';
  const req = readPayload(node, RequestWithTag, { what: `${use} request payload` });
  if (dir === 'encrypt' && req.tag !== undefined) throw new KmipError(ResultReason.InvalidField, 'Encrypt request payload: unexpected Authenticated Encryption Tag');
  const flags = partFlags(req.initIndicator, req.finalIndicator, req.correlationValue);
  const data = req.data?.value ?? new Uint8Array(0);
  checkDataSize(data, CIPHER_POLICY.maxDataBytes);
  const store = multipart(ctx);

  let uid: string;
  let stream: KeyCipher;
  let record: ObjectRecord;
  if (flags.correlation) {
    const s = store.get(ctx.principal.id, use, flags.correlation);
    if (!s || s.uid === undefined) throw unknownCorrelation(ctx);
    uid = s.uid;
    if (req.uid !== undefined && req.uid.value !== uid) throw new KmipError(ResultReason.InvalidField, 'the Unique Identifier differs from the one the operation started with');
    if (req.iv !== undefined || req.aad !== undefined) throw new KmipError(ResultReason.InvalidField, 'IV/Counter/Nonce and Additional Data belong to the first part');
    try {
      record = (await loadKeyFor(ctx, uid, use)).record;
    } catch (e) {
      store.close(flags.correlation);
      throw e;
    }
    stream = s.state as KeyCipher;
  } else {
    uid = resolveUid(ctx, req.uid);
    const key = await loadKeyFor(ctx, uid, use);
    record = key.record;
    const params = effectiveParams(key.record, req.cryptographicParameters);
    if (key.objectType === ObjectType.PublicKey || key.objectType === ObjectType.PrivateKey) {
      // RSA: one-shot (OAEP or PKCS#1 v1.5 encryption; OAEP decryption, in the HSM for a resident private key).
      if (!isOneShot(flags)) throw new KmipError(ResultReason.FeatureNotSupported, 'RSA Encrypt/Decrypt is one-shot only');
      if (req.iv !== undefined || req.aad !== undefined || req.tag !== undefined) {
        throw new KmipError(versionReason(ctx.version, 'BadCryptographicParameters'), 'RSA takes no IV, Additional Data or Tag');
      }
      if (dir === 'encrypt') await spendUsage(ctx, record, data.length);
      const out = await mechanism(ctx, () => key.rsa(dir, params, data, cryptoPolicyOf(ctx).cipher));
      ctx.batch.idPlaceholder = uid;
      return payload(Tag.ResponsePayload, [item('UniqueIdentifier', uid), bytes(Tag.Data, out)]);
    }
    if (key.algorithm === undefined) throw new KmipError(versionReason(ctx.version, 'BadCryptographicParameters'), 'the key has no Cryptographic Algorithm');
    const input = { ...(req.iv && { iv: req.iv.value }), ...(req.aad && { aad: req.aad.value }) };
    stream = await mechanism(ctx, () => key.openCipher(params, dir, input, cryptoPolicyOf(ctx).cipher));
  }

  const finishing = isOneShot(flags) || flags.final;
  if (!finishing && req.tag !== undefined) {
    if (flags.correlation) store.close(flags.correlation);
    throw new KmipError(ResultReason.InvalidField, 'the Authenticated Encryption Tag belongs to the final part');
  }
  if (dir === 'encrypt') {
    try {
      await spendUsage(ctx, record, data.length);
    } catch (e) {
      if (flags.correlation) store.close(flags.correlation);
      throw e;
    }
  }
  let out: Uint8Array;
  let tag: Uint8Array | undefined;
  let correlation: Uint8Array | undefined;
  try {
    const first = stream.update(data);
    if (finishing) {
      const f = await stream.final(req.tag?.value);
      out = concat([first, f.data]);
      tag = f.tag;
      if (flags.correlation) store.close(flags.correlation);
    } else {
      out = first;
      const held = stream.held?.() ?? 0;
      if (flags.correlation) store.hold(flags.correlation, held);
      correlation = flags.correlation ?? store.open(ctx.principal.id, use, uid, stream, held);
    }
  } catch (e) {
    if (flags.correlation) store.close(flags.correlation);
    throw translate(ctx, e);
  }
  // A part whose Usage Limits spend is not committed ends its multi-part operation, as any failure does.
  if (correlation) ctx.work.onUndo(() => store.close(correlation));
  ctx.batch.idPlaceholder = uid;
  return payload(Tag.ResponsePayload, [
    item('UniqueIdentifier', uid),
    // Data is required for single-part only (1.4 Table 230, 2.1 Table 215): a part that yields no
    // output (a block still being filled) answers without it.
    bytes(Tag.Data, out.length === 0 && !isOneShot(flags) ? undefined : out),
    bytes(Tag.IVCounterNonce, dir === 'encrypt' && !flags.correlation ? stream.generatedIv : undefined),
    bytes(Tag.CorrelationValue, correlation),
    bytes(Tag.AuthenticatedEncryptionTag, dir === 'encrypt' ? tag : undefined),
  ]);
}
