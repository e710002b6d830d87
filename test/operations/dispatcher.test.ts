/** The one error mapping (dispatcher.ts) and the per-version reason mapping (messages.ts). */
import pino from 'pino';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { KmipError } from '../../src/kmip/errors.js';
import { ResultReason, ResultStatus } from '../../src/kmip/generated/enums.gen.js';
import { buildResponseMessage, reasonForVersion } from '../../src/kmip/messages.js';
import { errorToItem } from '../../src/operations/dispatcher.js';
import type { ServerServices } from '../../src/operations/context.js';
import { parseResponse } from '../../src/client/requests.js';

function servicesWithLog(lines: string[]): ServerServices {
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { log: pino({ level: 'info' }, sink) } as unknown as ServerServices;
}

describe('error mapping', () => {
  it('a KmipError keeps its reason and its client-safe message', () => {
    const item = errorToItem(servicesWithLog([]), new KmipError(ResultReason.ItemNotFound, 'no object x'), 0x0a);
    expect(item).toMatchObject({ status: ResultStatus.OperationFailed, reason: ResultReason.ItemNotFound, message: 'no object x', operation: 0x0a });
  });

  it('anything else is General Failure with an opaque reference; the cause is logged under it, never sent', () => {
    const lines: string[] = [];
    const item = errorToItem(servicesWithLog(lines), new Error('disk on fire at /var/secret/path'), 0x01);
    expect(item.reason).toBe(ResultReason.GeneralFailure);
    expect(item.message).toMatch(/^internal error, ref [0-9a-f-]{36}$/);
    expect(item.message).not.toContain('disk');
    const ref = item.message!.slice('internal error, ref '.length);
    const logged = lines.map((l) => JSON.parse(l) as { ref?: string; err?: { message?: string } }).find((l) => l.ref === ref);
    expect(logged?.err?.message).toBe('disk on fire at /var/secret/path');
  });
});

describe('reasons by protocol version', () => {
  const v14 = { major: 1, minor: 4 };
  const v21 = { major: 2, minor: 1 };
  it('2.x-only reasons are mapped for 1.x clients, kept for 2.x', () => {
    expect(reasonForVersion(ResultReason.WrongKeyLifecycleState, v14)).toBe(ResultReason.PermissionDenied);
    expect(reasonForVersion(ResultReason.WrongKeyLifecycleState, v21)).toBe(ResultReason.WrongKeyLifecycleState);
    expect(reasonForVersion(ResultReason.AttributeNotFound, v14)).toBe(ResultReason.InvalidField);
    expect(reasonForVersion(ResultReason.ItemNotFound, v14)).toBe(ResultReason.ItemNotFound);
  });

  it('the response builder applies the mapping, and success items carry no reason', () => {
    const msg = buildResponseMessage({ version: v14, timeStamp: 0n }, [
      { operation: 0x12, status: ResultStatus.OperationFailed, reason: ResultReason.WrongKeyLifecycleState, message: 'm' },
      { operation: 0x18, status: ResultStatus.Success, reason: ResultReason.ItemNotFound },
    ]);
    const r = parseResponse(msg);
    expect(r.items[0]!.reason).toBe(ResultReason.PermissionDenied);
    expect(r.items[1]!.reason).toBeUndefined();
  });
});

describe('Result Message text', () => {
  it('is plain ASCII on the wire: "§" spelled out, anything else escaped, nothing dropped', async () => {
    const { asciiMessage } = await import('../../src/kmip/messages.js');
    expect(asciiMessage('limited to [A-Za-z0-9_.] (KMIP 2.1 §4.60)')).toBe('limited to [A-Za-z0-9_.] (KMIP 2.1 section 4.60)');
    expect(asciiMessage('no object clé\n')).toBe('no object cl\\u00e9\\u000a');
    const msg = buildResponseMessage({ version: { major: 2, minor: 1 }, timeStamp: 0n }, [
      { operation: 1, status: ResultStatus.OperationFailed, reason: ResultReason.InvalidField, message: 'bad §4.60 – é' },
    ]);
    expect(parseResponse(msg).items[0]!.message).toMatch(/^[\x20-\x7e]*$/);
  });
});
