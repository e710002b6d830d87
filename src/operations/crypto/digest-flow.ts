/**
 * The flow MAC, MAC Verify and Hash share (KMIP 1.4 §4.33-4.34 and §4.37, 2.1 §6.1.32-33 and
 * §6.1.24): one-shot, or multi-part with Init Indicator → Correlation Value → … → Final Indicator
 * (state in operations/crypto/key-use.ts `multipart`). MAC and MAC Verify re-check the key on
 * every part. A failed part ends its operation.
 */
import { ResultReason, ValidityIndicator } from '../../kmip/generated/enums.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { KmipError } from '../../kmip/errors.js';
import { optional, payload, readPayload } from '../../kmip/payload.js';
import type { StructureNode, TtlvNode } from '../../ttlv/node.js';
import { macEquals, openHash } from '../../crypto/mechanism.js';
import type { KeyMac } from '../../custody/index.js';
import { CIPHER_POLICY } from '../../policy/crypto-policy.js';
import type { OperationContext } from '../context.js';
import { checkDataSize, effectiveParams, isOneShot, loadKeyFor, multipart, partFlags, spendUsage, unknownCorrelation } from './key-use.js';
import type { ObjectRecord } from '../../objects/managed-object.js';
import { item } from '../../kmip/items.js';
import { cryptoPolicyOf, mechanism, readCryptoParams, translate } from '../service/crypto-params.js';
import { resolveUid } from '../service/object-service.js';

export type DigestKind = 'MAC' | 'MACVerify' | 'Hash';

const Request = {
  uid: optional(Tag.UniqueIdentifier, 'TextString'),
  cryptographicParameters: optional(Tag.CryptographicParameters, 'Structure'),
  data: optional(Tag.Data, 'ByteString'),
  macData: optional(Tag.MACData, 'ByteString'),
  correlationValue: optional(Tag.CorrelationValue, 'ByteString'),
  initIndicator: optional(Tag.InitIndicator, 'Boolean'),
  finalIndicator: optional(Tag.FinalIndicator, 'Boolean'),
};

const uidNode = (uid: string | undefined): TtlvNode | undefined => (uid === undefined ? undefined : item('UniqueIdentifier', uid));
const bytes = (tag: number, value: Uint8Array | undefined): TtlvNode | undefined => (value === undefined ? undefined : { tag, type: 'ByteString', value });

export async function digestOperation(ctx: OperationContext, node: StructureNode | undefined, kind: DigestKind): Promise<StructureNode> {
  const req = readPayload(node, Request, { what: `${kind} request payload` });
  if (kind === 'Hash' && req.uid !== undefined) throw new KmipError(ResultReason.InvalidField, 'Hash request payload: unexpected Unique Identifier');
  if (kind !== 'MACVerify' && req.macData !== undefined) throw new KmipError(ResultReason.InvalidField, `${kind} request payload: unexpected MAC Data`);
  const flags = partFlags(req.initIndicator, req.finalIndicator, req.correlationValue);
  const data = req.data?.value ?? new Uint8Array(0);
  checkDataSize(data, CIPHER_POLICY.maxDataBytes);
  const store = multipart(ctx);

  let uid: string | undefined;
  let stream: KeyMac;
  let record: ObjectRecord | undefined;
  if (flags.correlation) {
    const s = store.get(ctx.principal.id, kind, flags.correlation);
    if (!s) throw unknownCorrelation(ctx);
    uid = s.uid;
    if (req.uid !== undefined && req.uid.value !== uid) throw new KmipError(ResultReason.InvalidField, 'the Unique Identifier differs from the one the operation started with');
    if (uid !== undefined) {
      try {
        record = (await loadKeyFor(ctx, uid, kind === 'Hash' ? 'MAC' : kind)).record;
      } catch (e) {
        store.close(flags.correlation);
        throw e;
      }
    }
    stream = s.state as KeyMac;
  } else if (kind === 'Hash') {
    const params = readCryptoParams(req.cryptographicParameters);
    if (!params) throw new KmipError(ResultReason.InvalidField, 'Hash request payload: Cryptographic Parameters are required');
    stream = await mechanism(ctx, () => openHash(params.hashingAlgorithm, cryptoPolicyOf(ctx).cipher));
  } else {
    uid = resolveUid(ctx, req.uid);
    const key = await loadKeyFor(ctx, uid, kind);
    record = key.record;
    const params = effectiveParams(key.record, req.cryptographicParameters);
    stream = await mechanism(ctx, () => key.openMac(params));
  }

  const finishing = isOneShot(flags) || flags.final;
  if (kind === 'MACVerify' && finishing && req.macData === undefined) {
    if (flags.correlation) store.close(flags.correlation);
    throw new KmipError(ResultReason.InvalidField, 'MAC Verify needs the MAC Data to check');
  }
  if (kind === 'MAC' && record) {
    try {
      await spendUsage(ctx, record, data.length);
    } catch (e) {
      if (flags.correlation) store.close(flags.correlation);
      throw e;
    }
  }
  let digest: Uint8Array | undefined;
  let correlation: Uint8Array | undefined;
  try {
    stream.update(data);
    if (finishing) {
      digest = await stream.digest();
      if (flags.correlation) store.close(flags.correlation);
    } else {
      const held = stream.held?.() ?? 0;
      if (flags.correlation) store.hold(flags.correlation, held);
      correlation = flags.correlation ?? store.open(ctx.principal.id, kind, uid, stream, held);
    }
  } catch (e) {
    if (flags.correlation) store.close(flags.correlation);
    throw translate(ctx, e);
  }
  // A part whose Usage Limits spend is not committed ends its multi-part operation, as any failure does.
  if (correlation) ctx.work.onUndo(() => store.close(correlation));
  if (uid !== undefined) ctx.batch.idPlaceholder = uid;
  const cv = bytes(Tag.CorrelationValue, correlation);
  switch (kind) {
    case 'Hash':
      return payload(Tag.ResponsePayload, [bytes(Tag.Data, digest), cv]);
    case 'MAC':
      return payload(Tag.ResponsePayload, [uidNode(uid), bytes(Tag.MACData, digest), cv]);
    case 'MACVerify': {
      const validity = digest === undefined ? ValidityIndicator.Unknown : macEquals(digest, req.macData!.value) ? ValidityIndicator.Valid : ValidityIndicator.Invalid;
      return payload(Tag.ResponsePayload, [uidNode(uid), item('ValidityIndicator', validity), cv]);
    }
  }
}
