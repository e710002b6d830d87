/**
 * Cryptographic Parameters as the mechanisms take them, the server's crypto policy, and mechanism
 * errors as the Result Reason of the negotiated version: what Encrypt, Decrypt, Sign, MAC and key
 * wrapping all read, kept below them (no object loading here).
 */
import { ResultReason } from '../../kmip/generated/enums.gen.js';
import { KmipError, type ResultReasonValue } from '../../kmip/errors.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { versionReason } from '../../kmip/version-rules.js';
import type { TtlvNode } from '../../ttlv/node.js';
import { CryptoError } from '../../crypto/errors.js';
import type { CryptoParams } from '../../crypto/mechanism.js';
import { DEFAULT_CRYPTO_POLICY, type CryptoPolicy } from '../../policy/crypto-policy.js';
import type { OperationContext } from '../context.js';

/** The running server's crypto policy. */
export function cryptoPolicyOf(ctx: OperationContext): CryptoPolicy {
  return ctx.services.cryptoPolicy ?? DEFAULT_CRYPTO_POLICY;
}

/** Cryptographic Parameters from a structure (fields this server does not act on are ignored). */
export function readCryptoParams(node: TtlvNode | undefined): CryptoParams | undefined {
  if (node === undefined) return undefined;
  if (node.type !== 'Structure') throw new KmipError(ResultReason.InvalidField, 'Cryptographic Parameters must be a structure');
  const f = (tag: number): TtlvNode | undefined => node.value.find((c) => c.tag === tag);
  // Integer or Enumeration alike: deployed clients send either for these fields.
  const int = (n: TtlvNode | undefined): number | undefined => (n?.type === 'Integer' || n?.type === 'Enumeration' ? n.value : undefined);
  const random = f(Tag.RandomIV);
  const pSource = f(Tag.PSource);
  const p: { -readonly [K in keyof CryptoParams]: CryptoParams[K] } = {};
  const set = <K extends keyof CryptoParams>(k: K, v: CryptoParams[K] | undefined): void => {
    if (v !== undefined) p[k] = v;
  };
  set('blockCipherMode', int(f(Tag.BlockCipherMode)));
  set('paddingMethod', int(f(Tag.PaddingMethod)));
  set('hashingAlgorithm', int(f(Tag.HashingAlgorithm)));
  set('cryptographicAlgorithm', int(f(Tag.CryptographicAlgorithm)));
  set('randomIV', random?.type === 'Boolean' ? random.value : undefined);
  set('tagLength', int(f(Tag.TagLength)));
  set('initialCounterValue', int(f(Tag.InitialCounterValue)));
  set('maskGenerator', int(f(Tag.MaskGenerator)));
  set('maskGeneratorHashingAlgorithm', int(f(Tag.MaskGeneratorHashingAlgorithm)));
  set('pSource', pSource?.type === 'ByteString' ? pSource.value : undefined);
  return p;
}

/** A mechanism error as the Result Reason of the negotiated version. */
export function translate(ctx: OperationContext, e: unknown): unknown {
  if (!(e instanceof CryptoError)) return e;
  const v = ctx.version;
  const reason: ResultReasonValue = (() => {
    switch (e.code) {
      case 'BAD_PARAMETERS':
        return versionReason(v, 'BadCryptographicParameters');
      case 'UNSUPPORTED':
        return versionReason(v, 'UnsupportedCryptographicParameters');
      case 'MISSING_IV':
        // Invalid Message, not Missing Initialization Vector / Invalid Field: the profile test cases
        // CS-BC-M-11/12/13 (see the header).
        return ResultReason.InvalidMessage;
      case 'INVALID_TAG_LENGTH':
        // General Failure, not Bad Cryptographic Parameters / Invalid Field: the profile test cases
        // CS-BC-M-GCM-1 and CS-BC-M-CHACHA20POLY1305-1, steps 7-8 (see the header).
        return ResultReason.GeneralFailure;
      case 'BAD_DATA':
        return ResultReason.InvalidField;
      case 'FAILURE':
        return ResultReason.CryptographicFailure;
    }
  })();
  return new KmipError(reason, e.message, { cause: e });
}

/** Run `f`, translating mechanism errors. */
export async function mechanism<T>(ctx: OperationContext, f: () => T | Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    throw translate(ctx, e);
  }
}
