/**
 * The audit trail end to end: a real server over mutual TLS, two identities doing creates,
 * gets, locates and a destroy, a refused request (bob asking for alice's key) and a failed
 * client authentication (a certificate without the clientAuth EKU). Afterwards the stopped
 * data folder holds exactly one record per batch item with the right fields, the refused
 * connection, no key bytes anywhere, and a chain that verifies, ending in a shutdown
 * checkpoint. Then `kms audit report` is checked against what the test did.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  attr,
  createSymmetricKeyPayload,
  destroyPayload,
  discoverVersionsPayload,
  getPayload,
  keyMaterialOf,
  locatePayload,
  requestMessage,
  uniqueIdentifierOf,
  uniqueIdentifiersOf,
} from '../../src/client/index.js';
import { CryptographicAlgorithm, Operation, ResultStatus } from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../../src/kmip/generated/masks.gen.js';
import { encode } from '../../src/ttlv/index.js';
import { SoftwareAuditKey } from '../../src/audit/audit-key.js';
import type { AuditRecord, OpRecord } from '../../src/audit/record.js';
import { verifyAuditLog } from '../../src/audit/verify.js';
import { LevelStore } from '../../src/store/leveldb/index.js';
import { CERTS, startTestKms, type TestKms } from '../support/kms.js';
import { Session, V1_4, V2_1 } from '../support/kmip-session.js';
import { ensureBuilt, kms, readLog } from './helpers.js';

let srv: TestKms;
const keyBytes: Buffer[] = [];
const uid = { a: '', b: '' };
let records: AuditRecord[];
let raw: Buffer[];
const NAME = `audit-${Date.now()}`;

/** Connect with the server's own certificate (same CA, serverAuth only) and send one request. */
function badClientAuth(port: number): Promise<void> {
  return new Promise((resolve) => {
    const sock = connect(
      {
        host: '127.0.0.1',
        port,
        servername: 'localhost',
        ca: readFileSync(join(CERTS, 'ca.pem')),
        cert: readFileSync(join(CERTS, 'server.pem')),
        key: readFileSync(join(CERTS, 'server.key')),
      },
      () => sock.write(encode(requestMessage({ version: V2_1, batch: [{ operation: Operation.DiscoverVersions, payload: discoverVersionsPayload() }] }))),
    );
    sock.on('data', () => undefined);
    sock.on('close', () => resolve());
    sock.on('error', () => resolve());
    setTimeout(() => {
      sock.destroy();
      resolve();
    }, 3000);
  });
}

const create = (s: Session, name: string) =>
  s.ok(
    Operation.Create,
    createSymmetricKeyPayload(s.version, { algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt, name }),
  );

beforeAll(async () => {
  ensureBuilt();
  srv = await startTestKms({ audit: { checkpointEvery: 4 } });
  const alice = new Session(await srv.client('alice'), V2_1);
  const bob = new Session(await srv.client('bob'), V1_4);
  uid.a = uniqueIdentifierOf(await create(alice, `${NAME}-a`));
  keyBytes.push(Buffer.from(keyMaterialOf(await alice.ok(Operation.Get, getPayload(uid.a)))));
  const located = uniqueIdentifiersOf(await alice.ok(Operation.Locate, locatePayload(V2_1, [attr.name(`${NAME}-a`)])));
  expect(located).toEqual([uid.a]);
  uid.b = uniqueIdentifierOf(await create(bob, `${NAME}-b`));
  keyBytes.push(Buffer.from(keyMaterialOf(await bob.ok(Operation.Get, getPayload(uid.b)))));
  const refused = await bob.call(Operation.Get, getPayload(uid.a));
  expect(refused.status).toBe(ResultStatus.OperationFailed);
  await alice.ok(Operation.Get, getPayload(uid.a));
  await bob.ok(Operation.Destroy, destroyPayload(uid.b));
  await badClientAuth(srv.port);
  await srv.stop();
  ({ records, raw } = await readLog(srv.dataDir));
});
afterAll(async () => srv?.dispose());

describe('audit records', () => {
  it('exactly one record per batch item, in order, with identity, address, version, operation, object and result', () => {
    const ops = records.filter((r): r is OpRecord => r.kind === 'op');
    const summary = ops.map((r) => [r.client, r.kmip, r.op, r.uids?.join(','), r.status, r.reason]);
    expect(summary).toEqual([
      ['alice', '2.1', 'Create', uid.a, 'Success', undefined],
      ['alice', '2.1', 'Get', uid.a, 'Success', undefined],
      ['alice', '2.1', 'Locate', uid.a, 'Success', undefined],
      ['bob', '1.4', 'Create', uid.b, 'Success', undefined],
      ['bob', '1.4', 'Get', uid.b, 'Success', undefined],
      ['bob', '1.4', 'Get', uid.a, 'OperationFailed', 'ItemNotFound'],
      ['alice', '2.1', 'Get', uid.a, 'Success', undefined],
      ['bob', '1.4', 'Destroy', uid.b, 'Success', undefined],
    ]);
    for (const r of ops) {
      expect(r.addr).toMatch(/127\.0\.0\.1/);
      expect(r.ref).toMatch(/^[0-9a-f-]{36}\/\d+\/0$/);
      expect(Date.parse(r.time)).not.toBeNaN();
      expect(r.ms).toBeGreaterThanOrEqual(0);
    }
    const locate = ops[2]!;
    expect(locate.found).toBe(1);
    // Create names the attributes it set, never their values.
    expect(ops[0]!.attrs).toEqual(expect.arrayContaining(['CryptographicAlgorithm', 'CryptographicLength', 'CryptographicUsageMask', 'Name']));
    expect(JSON.stringify(ops[0])).not.toContain(`${NAME}-a`);
  });

  it('the failed client authentication is recorded, with its address and reason', () => {
    const auth = records.filter((r) => r.kind === 'auth') as OpRecord[];
    expect(auth).toHaveLength(1);
    // Refused by OpenSSL's purpose check at the handshake, or by auth.ts's EKU check after it.
    expect(auth[0]).toMatchObject({
      op: expect.stringMatching(/^(TlsHandshake|Authenticate)$/),
      status: 'OperationFailed',
      reason: 'AuthenticationNotSuccessful',
      addr: expect.stringMatching(/127\.0\.0\.1/),
    });
    expect(auth[0]!.message).toEqual(expect.any(String)); // OpenSSL's words, or auth.ts's
    expect(auth[0]!.client).toBeUndefined();
  });

  it('no key bytes anywhere in the log (raw, hex, base64)', () => {
    const all = Buffer.concat(raw);
    const text = all.toString('latin1').toLowerCase();
    expect(keyBytes).toHaveLength(2);
    for (const k of keyBytes) {
      expect(k.length).toBe(32);
      expect(all.includes(k)).toBe(false);
      expect(text).not.toContain(k.toString('hex'));
      expect(all.toString('latin1')).not.toContain(k.toString('base64'));
    }
  });

  it('the chain verifies, with interval checkpoints and a shutdown checkpoint at the end', async () => {
    const cps = records.filter((r) => r.kind === 'checkpoint');
    expect(cps.length).toBeGreaterThanOrEqual(2);
    expect(records[records.length - 1]).toMatchObject({ kind: 'checkpoint', why: 'shutdown', covers: records.length - 1 });
    const store = new LevelStore({ path: join(srv.dataDir, 'db') });
    await store.open();
    try {
      const result = await verifyAuditLog(store.audit, SoftwareAuditKey.fromMasterKeyFile(join(srv.dataDir, 'master.key')));
      expect(result).toMatchObject({ ok: true, entries: records.length, sealedThrough: records.length - 1 });
    } finally {
      await store.close();
    }
    const cli = kms('audit', 'verify', '--data-dir', srv.dataDir);
    expect(cli.stdout).toMatch(/^OK: \d+ entries/);
    expect(cli.code).toBe(0);
  });
});

describe('kms audit report', () => {
  const times = (who: string, op: string, u: string) =>
    records.filter((r): r is OpRecord => r.kind === 'op' && r.client === who && r.op === op && (r.uids ?? []).includes(u)).map((r) => r.time);

  it('per key: store facts, and per identity and operation the count, failures, first and last use', () => {
    const out = kms('audit', 'report', '--data-dir', srv.dataDir, '--format', 'json');
    expect(out.code, out.stderr).toBe(0);
    const report = JSON.parse(out.stdout) as {
      uid: string;
      objectType?: string;
      algorithm?: string;
      length?: number;
      state?: string;
      usageMask?: number;
      owner?: string;
      uses: { identity: string; operation: string; count: number; failed: number; first: string; last: string }[];
    }[];
    const a = report.find((k) => k.uid === uid.a)!;
    expect(a).toMatchObject({ objectType: 'SymmetricKey', algorithm: 'AES', length: 256, owner: 'alice', usageMask: CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt });
    const gets = times('alice', 'Get', uid.a);
    expect(gets).toHaveLength(2);
    expect(a.uses).toEqual([
      { identity: 'alice', operation: 'Create', count: 1, failed: 0, first: times('alice', 'Create', uid.a)[0], last: times('alice', 'Create', uid.a)[0] },
      { identity: 'alice', operation: 'Get', count: 2, failed: 0, first: gets[0], last: gets[1] },
      { identity: 'alice', operation: 'Locate', count: 1, failed: 0, first: times('alice', 'Locate', uid.a)[0], last: times('alice', 'Locate', uid.a)[0] },
      { identity: 'bob', operation: 'Get', count: 1, failed: 1, first: times('bob', 'Get', uid.a)[0], last: times('bob', 'Get', uid.a)[0] },
    ]);
    const b = report.find((k) => k.uid === uid.b)!;
    expect(b.owner).toBe('bob');
    expect(b.state).toBe('Destroyed');
    expect(b.uses.map((u) => [u.identity, u.operation, u.count])).toEqual([
      ['bob', 'Create', 1],
      ['bob', 'Destroy', 1],
      ['bob', 'Get', 1],
    ]);
  });

  it('filters by identity, key and time; csv and table formats', () => {
    const bobOnly = JSON.parse(kms('audit', 'report', '--data-dir', srv.dataDir, '--format', 'json', '--identity', 'bob').stdout) as { uid: string; uses: { identity: string }[] }[];
    expect(bobOnly.map((k) => k.uid).sort()).toEqual([uid.a, uid.b].sort());
    expect(bobOnly.flatMap((k) => k.uses.map((u) => u.identity))).toEqual(expect.arrayContaining(['bob']));
    expect(bobOnly.flatMap((k) => k.uses).every((u) => u.identity === 'bob')).toBe(true);

    const oneKey = JSON.parse(kms('audit', 'report', '--data-dir', srv.dataDir, '--format', 'json', '--key', uid.b).stdout) as { uid: string }[];
    expect(oneKey.map((k) => k.uid)).toEqual([uid.b]);

    const after = times('alice', 'Get', uid.a)[1]!;
    const late = JSON.parse(kms('audit', 'report', '--data-dir', srv.dataDir, '--format', 'json', '--key', uid.a, '--since', after).stdout) as {
      uses: { operation: string; identity: string; count: number }[];
    }[];
    expect(late[0]!.uses).toEqual([expect.objectContaining({ identity: 'alice', operation: 'Get', count: 1 })]);
    const early = JSON.parse(kms('audit', 'report', '--data-dir', srv.dataDir, '--format', 'json', '--key', uid.a, '--until', times('alice', 'Create', uid.a)[0]!).stdout) as {
      uses: { operation: string }[];
    }[];
    expect(early[0]!.uses.map((u) => u.operation)).toEqual(['Create']);

    const csv = kms('audit', 'report', '--data-dir', srv.dataDir, '--format', 'csv', '--key', uid.a).stdout.trim().split('\n');
    expect(csv[0]).toBe('uid,objectType,algorithm,length,state,usageMask,owner,identity,operation,count,failed,first,last');
    expect(csv).toHaveLength(5);
    const table = kms('audit', 'report', '--data-dir', srv.dataDir, '--key', uid.a);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^uid\s+objectType/);
    expect(kms('audit', 'report', '--data-dir', srv.dataDir, '--format', 'xml').code).toBe(2);
  });

  it('kms audit tail prints the last records as JSON lines', () => {
    const out = kms('audit', 'tail', '--data-dir', srv.dataDir, '-n', '3');
    expect(out.code, out.stderr).toBe(0);
    const lines = out.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as AuditRecord);
    expect(lines.map((r) => r.seq)).toEqual([records.length - 2, records.length - 1, records.length]);
  });
});
