import { describe, expect, it } from 'vitest';
import { KmipClientError, KmipResultError } from '../../src/client/errors.js';
import { attr, attributeV1, expectSuccess, keyMaterialOf, parseResponse, queryPayload, requestMessage, templateAttributes, versionAtLeast } from '../../src/client/requests.js';
import { BatchErrorContinuationOption, Operation, QueryFunction, ResultReason, ResultStatus } from '../../src/kmip/generated/enums.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { encode, t, type TtlvNode } from '../../src/ttlv/index.js';

/** Annotated hex → bytes (everything after '#' on a line is a comment; '|' separates fields). */
function hex(text: string): string {
  return text
    .split('\n')
    .map((l) => l.replace(/#.*/, ''))
    .join('')
    .replace(/[\s|]/g, '')
    .toLowerCase();
}

describe('requestMessage', () => {
  it('lays out the header fields in spec order (KMIP 1.4 §7.2 Table 238)', () => {
    // source: hand-built from KMIP 1.4 §7.2 and §9.1; Query 1.2 with MRS, BECO and a time stamp
    const expected = hex(`
      42 00 78 | 01 | 00 00 00 A0                              # Request Message
        42 00 77 | 01 | 00 00 00 68                            #  Request Header
          42 00 69 | 01 | 00 00 00 20                          #   Protocol Version
            42 00 6A | 02 | 00 00 00 04 | 00 00 00 01 00 00 00 00   # Major 1
            42 00 6B | 02 | 00 00 00 04 | 00 00 00 02 00 00 00 00   # Minor 2
          42 00 50 | 02 | 00 00 00 04 | 00 00 10 00 00 00 00 00     # Maximum Response Size 4096
          42 00 0E | 05 | 00 00 00 04 | 00 00 00 01 00 00 00 00     # Batch Error Continuation Option: Continue
          42 00 92 | 09 | 00 00 00 08 | 00 00 00 00 65 53 F1 00     # Time Stamp 1700000000
          42 00 0D | 02 | 00 00 00 04 | 00 00 00 01 00 00 00 00     # Batch Count 1
        42 00 0F | 01 | 00 00 00 28                            #  Batch Item
          42 00 5C | 05 | 00 00 00 04 | 00 00 00 18 00 00 00 00     # Operation: Query
          42 00 79 | 01 | 00 00 00 10                          #   Request Payload
            42 00 74 | 05 | 00 00 00 04 | 00 00 00 01 00 00 00 00   # Query Function: Query Operations
    `);
    const msg = requestMessage({
      version: { major: 1, minor: 2 },
      maximumResponseSize: 4096,
      batchErrorContinuationOption: BatchErrorContinuationOption.Continue,
      timeStamp: new Date(1_700_000_000_000),
      batch: [{ operation: Operation.Query, payload: queryPayload([QueryFunction.QueryOperations]) }],
    });
    expect(Buffer.from(encode(msg)).toString('hex')).toBe(expected);
  });

  it('accepts payload children and wraps them in a Request Payload', () => {
    const a = requestMessage({ version: { major: 2, minor: 0 }, batch: [{ operation: Operation.Query, payload: [t.enum(Tag.QueryFunction, 1)] }] });
    const b = requestMessage({ version: { major: 2, minor: 0 }, batch: [{ operation: Operation.Query, payload: queryPayload([1]) }] });
    expect(a).toEqual(b);
  });

  it('refuses an empty batch and a payload with the wrong tag', () => {
    expect(() => requestMessage({ version: { major: 1, minor: 4 }, batch: [] })).toThrow(RangeError);
    expect(() => requestMessage({ version: { major: 1, minor: 4 }, batch: [{ operation: Operation.Query, payload: t.struct(Tag.ResponsePayload, []) }] })).toThrow(RangeError);
  });
});

describe('attributes by version', () => {
  it('renders 1.x Attribute structures with the spec name and 2.x tagged values', () => {
    expect(attributeV1(attr.cryptographicLength(256))).toEqual(t.struct(Tag.Attribute, [t.text(Tag.AttributeName, 'Cryptographic Length'), t.int(Tag.AttributeValue, 256)]));
    expect(attributeV1(attr.name('k1'), 2)).toEqual(
      t.struct(Tag.Attribute, [t.text(Tag.AttributeName, 'Name'), t.int(Tag.AttributeIndex, 2), t.struct(Tag.AttributeValue, [t.text(Tag.NameValue, 'k1'), t.enum(Tag.NameType, 1)])]),
    );
    expect(templateAttributes({ major: 1, minor: 4 }, [attr.objectGroup('g')]).tag).toBe(Tag.TemplateAttribute);
    expect(templateAttributes({ major: 2, minor: 1 }, [attr.objectGroup('g')])).toEqual(t.struct(Tag.Attributes, [t.text(Tag.ObjectGroup, 'g')]));
  });

  it('compares versions as pairs', () => {
    expect(versionAtLeast({ major: 1, minor: 10 }, 1, 2)).toBe(true);
    expect(versionAtLeast({ major: 1, minor: 4 }, 2, 0)).toBe(false);
    expect(versionAtLeast({ major: 2, minor: 0 }, 2, 0)).toBe(true);
    expect(versionAtLeast({ major: 3, minor: 0 }, 2, 1)).toBe(true);
  });
});

function response(items: TtlvNode[], batchCount = items.length, extraHeader: TtlvNode[] = []): TtlvNode {
  return t.struct(Tag.ResponseMessage, [
    t.struct(Tag.ResponseHeader, [
      t.struct(Tag.ProtocolVersion, [t.int(Tag.ProtocolVersionMajor, 1), t.int(Tag.ProtocolVersionMinor, 4)]),
      t.date(Tag.TimeStamp, 1_700_000_000n),
      ...extraHeader,
      t.int(Tag.BatchCount, batchCount),
    ]),
    ...items,
  ]);
}

const okItem = t.struct(Tag.BatchItem, [
  t.enum(Tag.Operation, Operation.Destroy),
  t.bytes(Tag.UniqueBatchItemID, new Uint8Array([7])),
  t.enum(Tag.ResultStatus, ResultStatus.Success),
  t.struct(Tag.ResponsePayload, [t.text(Tag.UniqueIdentifier, 'u1')]),
]);
const failedItem = t.struct(Tag.BatchItem, [
  t.enum(Tag.ResultStatus, ResultStatus.OperationFailed),
  t.enum(Tag.ResultReason, ResultReason.OperationNotSupported),
  t.text(Tag.ResultMessage, 'no such operation'),
]);

function badResponse(node: TtlvNode): KmipClientError {
  try {
    parseResponse(node);
  } catch (err) {
    expect(err).toBeInstanceOf(KmipClientError);
    expect((err as KmipClientError).code).toBe('BAD_RESPONSE');
    return err as KmipClientError;
  }
  throw new Error('expected parseResponse to throw');
}

describe('parseResponse', () => {
  it('unpacks header and items, successful and failed', () => {
    const r = parseResponse(response([okItem, failedItem], 2, [t.text(Tag.ServerCorrelationValue, 'srv-1')]));
    expect(r.header).toEqual({ version: { major: 1, minor: 4 }, timeStamp: 1_700_000_000n, batchCount: 2, serverCorrelationValue: 'srv-1' });
    expect(r.items[0]).toMatchObject({ operation: Operation.Destroy, status: ResultStatus.Success });
    expect([...r.items[0]!.uniqueBatchItemId!]).toEqual([7]);
    expect(r.items[1]).toEqual({ status: ResultStatus.OperationFailed, reason: ResultReason.OperationNotSupported, message: 'no such operation' });
  });

  it('ignores unknown extension items', () => {
    const r = parseResponse(response([okItem], 1, [t.text(0x540001, 'vendor')]));
    expect(r.items).toHaveLength(1);
  });

  it('rejects malformed responses with a clear BAD_RESPONSE error', () => {
    expect(badResponse(t.struct(Tag.RequestMessage, [])).message).toMatch(/RequestMessage, expected ResponseMessage/);
    expect(badResponse(t.int(Tag.ResponseMessage, 1)).message).toMatch(/Structure/);
    expect(badResponse(t.struct(Tag.ResponseMessage, [okItem])).message).toMatch(/ResponseHeader/);
    expect(badResponse(response([okItem], 2)).message).toMatch(/Batch Count says 2 but the message has 1/);
    expect(badResponse(response([t.struct(Tag.BatchItem, [t.enum(Tag.Operation, 1)])])).message).toMatch(/BatchItem\[0\] lacks ResultStatus/);
    expect(badResponse(response([t.struct(Tag.BatchItem, [t.int(Tag.ResultStatus, 0)])])).message).toMatch(/ResultStatus is a Integer, expected Enumeration/);
    expect(badResponse(response([t.struct(Tag.BatchItem, [t.enum(Tag.ResultStatus, 1), t.enum(Tag.ResultReason, 1), t.enum(Tag.ResultReason, 2)])])).message).toMatch(/2 ResultReason items/);
    expect(badResponse(t.struct(Tag.ResponseMessage, [t.struct(Tag.ResponseHeader, [t.int(Tag.BatchCount, 0)])])).message).toMatch(/lacks ProtocolVersion/);
    expect(badResponse(response([t.text(Tag.ResultMessage, 'x')], 1)).message).toMatch(/unexpected ResultMessage/);
  });
});

describe('expectSuccess and payload readers', () => {
  it('returns the payload of a success and throws KmipResultError with the reason otherwise', () => {
    const r = parseResponse(response([okItem, failedItem]));
    expect(expectSuccess(r.items[0]!)).toEqual(t.struct(Tag.ResponsePayload, [t.text(Tag.UniqueIdentifier, 'u1')]));
    let err: unknown;
    try {
      expectSuccess(r.items[1]!);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KmipResultError);
    expect(err).toMatchObject({ status: ResultStatus.OperationFailed, reason: ResultReason.OperationNotSupported, resultMessage: 'no such operation' });
  });

  it('keyMaterialOf refuses a payload without plain key material', () => {
    expect(() => keyMaterialOf(t.struct(Tag.ResponsePayload, []))).toThrow(KmipClientError);
    const wrapped = t.struct(Tag.ResponsePayload, [t.struct(Tag.SymmetricKey, [t.struct(Tag.KeyBlock, [t.enum(Tag.KeyFormatType, 1), t.bytes(Tag.KeyValue, new Uint8Array(40))])])]);
    expect(() => keyMaterialOf(wrapped)).toThrow(/no plain Key Material/);
  });
});
