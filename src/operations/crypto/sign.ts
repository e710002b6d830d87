/**
 * Sign. KMIP 1.4 §4.31 (Tables 252-253), KMIP 2.1 §6.1.52 (Tables 344-345).
 * Signs the Data, or a Digested Data the client computed (RSA PKCS#1 v1.5; PSS and ECDSA through
 * src/crypto/pss.ts and ecdsa-prehash.ts, as node:crypto has no pre-hashed call for them; not
 * Ed25519, which signs the message itself), with a Private Key; returns Unique Identifier and Signature
 * Data (ECDSA signatures DER-encoded, RFC 3279). Schemes and key checks: crypto/signing-keys.ts.
 * Multi-part (Init Indicator, Correlation Value, Final Indicator): see signatureFlow.
 *
 * Result Reasons:
 * - Item Not Found (1.x) / Object Not Found (2.x); Object Archived; Object Destroyed (2.x) / Key
 *   Value Not Present (1.x).
 * - Invalid Object Type (2.x) / Illegal Operation (1.x): not a Private Key.
 * - Wrong Key Lifecycle State (2.x) / Permission Denied (1.x): the key is not Active.
 * - Incompatible Cryptographic Usage Mask (2.x) / Permission Denied (1.x): no Sign bit.
 * - Unsupported / Bad Cryptographic Parameters (2.x), Invalid Field (1.x): parameters that do not
 *   fit the key or that the policy refuses (SHA-1), a digest of the wrong length.
 * - Missing Data / Invalid Field: neither Data nor Digested Data, or both.
 * - Invalid Correlation Value (2.x) / Item Not Found (1.x): a Correlation Value naming no open
 *   operation of this client.
 */
import { Operation, ResultReason } from '../../kmip/generated/enums.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { KmipError } from '../../kmip/errors.js';
import { optional, payload, readPayload, type Parsed } from '../../kmip/payload.js';
import { createHash, type Hash } from 'node:crypto';
import { AsymmetricError, type SignatureScheme, type SignInput } from '../../crypto/asymmetric.js';
import type { UsableKey } from '../../custody/index.js';
import { CIPHER_POLICY } from '../../policy/crypto-policy.js';
import type { StructureNode, TtlvNode } from '../../ttlv/node.js';
import { isOneShot, multipart, partFlags, unknownCorrelation } from './key-use.js';
import type { OperationContext, OperationHandler } from '../context.js';
import { versionReason } from '../../kmip/version-rules.js';
import { loadSigningKey, signatureParams, signatureScheme } from './signing-keys.js';
import { item } from '../../kmip/items.js';
import { resolveUid } from '../service/object-service.js';

export const SignRequest = {
  uid: optional(Tag.UniqueIdentifier, 'TextString'),
  cryptographicParameters: optional(Tag.CryptographicParameters, 'Structure'),
  data: optional(Tag.Data, 'ByteString'),
  digestedData: optional(Tag.DigestedData, 'ByteString'),
  correlationValue: optional(Tag.CorrelationValue, 'ByteString'),
  initIndicator: optional(Tag.InitIndicator, 'Boolean'),
  finalIndicator: optional(Tag.FinalIndicator, 'Boolean'),
};

type SignRequestFields = Parsed<typeof SignRequest>;

/**
 * What a multi-part Sign / Signature Verify keeps between requests: for the hash-then-sign
 * schemes (RSA PKCS#1 v1.5 and PSS, ECDSA) only the running hash; Ed25519, which signs the
 * message itself, keeps the parts (counted against the multi-part byte budgets).
 */
interface SignatureParts {
  readonly scheme: SignatureScheme;
  readonly hash: Hash | undefined;
  readonly parts: Uint8Array[];
  /** Bytes kept in `parts`. */
  held: number;
  /** Signature Verify: the Signature Data, from whichever part carried it. */
  signature?: Uint8Array;
}

function startParts(scheme: SignatureScheme): SignatureParts {
  return { scheme, hash: scheme.kind === 'ed25519' ? undefined : createHash(scheme.hash), parts: [], held: 0 };
}

/**
 * Sign and Signature Verify, one request or several (KMIP 1.4 §4.31-4.32, 2.1 §6.1.52-53: Init
 * Indicator on the first part, Correlation Value on the next ones, Final Indicator on the last).
 * The parts are hashed as they come (Ed25519: collected, at most CIPHER_POLICY.maxDataBytes
 * together) and the digest signed or verified at the end; the key is checked again on every
 * part (a key revoked meanwhile stops it).
 * Digested Data is single-part only. `finish` makes the response fields from the whole input.
 * Signature Verify's Signature Data (`signature`) may come with any part — the Test Cases give
 * it with the first (TC-STREAM-SIGNVFY-1) — and is handed to `finish` at the end.
 */
export async function signatureFlow(
  ctx: OperationContext,
  req: SignRequestFields,
  use: 'Sign' | 'SignatureVerify',
  finish: (key: UsableKey, scheme: SignatureScheme, input: SignInput, signature: Uint8Array | undefined) => TtlvNode[] | Promise<TtlvNode[]>,
  signature?: Uint8Array,
): Promise<StructureNode> {
  const flags = partFlags(req.initIndicator, req.finalIndicator, req.correlationValue);
  if (req.data !== undefined && req.digestedData !== undefined) throw new KmipError(ResultReason.InvalidField, 'give Data or Digested Data, not both');
  const store = multipart(ctx);
  const uidNode = (uid: string): TtlvNode => item('UniqueIdentifier', uid);
  if (isOneShot(flags)) {
    const uid = resolveUid(ctx, req.uid);
    const input: SignInput = req.digestedData !== undefined ? { digest: req.digestedData.value } : req.data !== undefined ? { data: req.data.value } : missing();
    const { record, key, asymmetric } = await loadSigningKey(ctx, uid, use);
    const scheme = signatureScheme(ctx, asymmetric, signatureParams(req.cryptographicParameters, record), use);
    return payload(Tag.ResponsePayload, [uidNode(uid), ...(await finish(key, scheme, input, signature))]);
  }
  if (req.digestedData !== undefined) throw new KmipError(ResultReason.InvalidField, 'Digested Data is single-part; a multi-part signature takes Data');
  const data = req.data?.value ?? new Uint8Array(0);
  let uid: string;
  let state: SignatureParts | undefined;
  let loaded: Awaited<ReturnType<typeof loadSigningKey>>;
  let cv = flags.correlation;
  if (cv) {
    const s = store.get(ctx.principal.id, use, cv);
    if (!s || s.uid === undefined) throw unknownCorrelation(ctx);
    uid = s.uid;
    if (req.uid !== undefined && req.uid.value !== uid) throw new KmipError(ResultReason.InvalidField, 'the Unique Identifier differs from the one the operation started with');
    if (req.cryptographicParameters !== undefined) throw new KmipError(ResultReason.InvalidField, 'Cryptographic Parameters belong to the first part');
    state = s.state as SignatureParts;
  } else {
    uid = resolveUid(ctx, req.uid);
  }
  // One load per part: it re-checks the key (a key revoked between parts stops the operation).
  try {
    loaded = await loadSigningKey(ctx, uid, use);
    state ??= startParts(signatureScheme(ctx, loaded.asymmetric, signatureParams(req.cryptographicParameters, loaded.record), use));
    if (state.hash) {
      state.hash.update(data);
    } else {
      if (state.held + data.length > CIPHER_POLICY.maxDataBytes)
        throw new KmipError(ResultReason.InvalidField, `a multi-part Ed25519 signature is limited to ${CIPHER_POLICY.maxDataBytes} bytes`);
      state.parts.push(data);
      state.held += data.length;
    }
    if (signature !== undefined) {
      if (state.signature !== undefined && !Buffer.from(state.signature).equals(signature))
        throw new KmipError(ResultReason.InvalidField, 'the Signature Data differs from the one an earlier part gave');
      state.signature = signature;
    }
  } catch (e) {
    if (cv) store.close(cv);
    throw e;
  }
  const { key } = loaded;
  ctx.batch.idPlaceholder = uid;
  if (!flags.final) {
    if (cv) store.hold(cv, state.held);
    else cv = store.open(ctx.principal.id, use, uid, state, state.held);
    return payload(Tag.ResponsePayload, [uidNode(uid), item('CorrelationValue', cv)]);
  }
  if (cv) store.close(cv);
  // Hash-then-sign: the digest of every part, signed as Digested Data would be.
  const input: SignInput = state.hash ? { digest: state.hash.digest() } : { data: Buffer.concat(state.parts) };
  return payload(Tag.ResponsePayload, [uidNode(uid), ...(await finish(key, state.scheme, input, state.signature))]);
}

function missing(): never {
  throw new KmipError(ResultReason.MissingData, 'the request carries neither Data nor Digested Data');
}

/** A mechanism refusal as the version's reason. */
export function asymmetricFailure(ctx: OperationContext, e: unknown): never {
  if (e instanceof AsymmetricError) {
    throw new KmipError(versionReason(ctx.version, e.code === 'UNSUPPORTED' ? 'UnsupportedCryptographicParameters' : 'BadCryptographicParameters'), e.message);
  }
  throw new KmipError(ResultReason.CryptographicFailure, 'the signature operation failed', { cause: e });
}

export const sign: OperationHandler = {
  operation: Operation.Sign,
  name: 'Sign',
  async handle(ctx, node) {
    const req = readPayload(node, SignRequest, { what: 'Sign request payload' });
    return signatureFlow(ctx, req, 'Sign', async (key, scheme, input) => {
      let signature: Uint8Array;
      try {
        signature = await key.sign(scheme, input);
      } catch (e) {
        asymmetricFailure(ctx, e);
      }
      return [item('SignatureData', signature)];
    });
  },
};
