/**
 * Key rotation policies on a real server (mTLS, LevelDB, audit trail) with a controllable clock:
 * the server's clock (lifecycle, audit times, the scheduler) is `now`, moved forward by the tests.
 * The scheduler's own timer is set to a day and never fires here; runs are asked for with
 * runOnce(), as the timer would.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attr, findChild, type KmipClient } from '../../src/client/index.js';
import { CryptographicAlgorithm, LinkType, Operation, ResultReason, State } from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { t, type TtlvNode } from '../../src/ttlv/index.js';
import { decodeRecord, type OpRecord } from '../../src/audit/record.js';
import { RotationScheduler } from '../../src/rotation/scheduler.js';
import { leasesFor } from '../../src/rotation/store-leases.js';
import { HANDLERS } from '../../src/operations/index.js';
import { cryptoPolicyFrom } from '../../src/policy/crypto-policy.js';
import { FULL_ATTRIBUTES, startTestKms, type TestKms } from '../support/kms.js';
import { runKmsHere } from '../support/kms-process.js';
import { ui } from '../ui/support.js';
import { attrs, fails, ok, uidNode, uidOf, V2_1 } from '../operations/object-kit.js';
import { attributesOf, dateAttr, intAttr, keyPairPayload, links, pairUids } from '../operations/asymmetric-kit.js';

const DAY_MS = 86_400_000;
let nowMs = Date.now();
const clock = () => nowMs;
const advanceDays = (d: number) => {
  nowMs += Math.round(d * DAY_MS);
};
const nowS = () => BigInt(Math.floor(nowMs / 1000));

let srv: TestKms;
let c: KmipClient;

beforeAll(async () => {
  srv = await startTestKms(
    {
      ...FULL_ATTRIBUTES,
      httpsPort: 'ephemeral',
      access: { administrators: ['admin'], grants: [] },
      rotation: {
        checkIntervalSeconds: 86_400,
        warnDays: 14,
        overlapDays: 7,
        retryMinutes: 60,
        policies: [
          { objectGroup: 'payments', everyDays: 30, overlapDays: 2 },
          { objectGroup: 'signing', everyDays: 90, overlapDays: 10 },
        ],
      },
    },
    { clock },
  );
  c = await srv.client();
});
afterAll(async () => srv?.dispose());

const rotation = () => srv.kms.rotation;

async function createKey(name: string, extra: readonly TtlvNode[] = []): Promise<string> {
  const p = await ok(c, V2_1, Operation.Create, [
    t.enum(Tag.ObjectType, 0x02),
    attrs(V2_1, [
      attr.cryptographicAlgorithm(CryptographicAlgorithm.AES),
      attr.cryptographicLength(256),
      attr.cryptographicUsageMask(CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt),
      attr.name(name),
      t.date(Tag.ActivationDate, nowS()),
      ...extra,
    ]),
  ]);
  return uidOf(p);
}

const perKey = (days: number) => [t.bool(Tag.RotateAutomatic, true), t.interval(Tag.RotateInterval, days * 86_400)];

async function locateByName(name: string): Promise<string[]> {
  const p = await ok(c, V2_1, Operation.Locate, [attrs(V2_1, [attr.name(name)])]);
  return p.value.filter((n) => n.tag === Tag.UniqueIdentifier && n.type === 'TextString').map((n) => (n as { value: string }).value);
}

async function stateOf(uid: string): Promise<number | undefined> {
  return intAttr(await attributesOf(c, V2_1, uid), Tag.State);
}

/** The operation records of the running server's trail. */
async function auditRecords(): Promise<OpRecord[]> {
  const entries = await srv.kms.services.store.audit.read(1, 1_000_000);
  return entries.map((e) => decodeRecord(e.bytes)).filter((r): r is OpRecord => 'op' in r);
}

const vendorMark = (m: Map<number, TtlvNode[]>): string | undefined => {
  for (const a of m.get(Tag.Attribute) ?? []) {
    const n = findChild(a, Tag.AttributeName);
    const v = findChild(a, Tag.AttributeValue);
    if (n?.type === 'TextString' && n.value === 'kms-rotation' && v?.type === 'TextString') return v.value;
  }
  return undefined;
};

describe('per-key policy (Rotate Automatic + Rotate Interval 30 days)', () => {
  let oldUid: string;
  let newUid: string;
  let rotatedAt: bigint;

  it('is not rotated before 30 days, is reported as due soon within warnDays', async () => {
    oldUid = await createKey('rot-a', perKey(30));
    advanceDays(29);
    const run = await rotation().runOnce();
    expect(run.rotated.map((r) => r.job)).not.toContain(`${oldUid}#0`);
    expect(await locateByName('rot-a')).toEqual([oldUid]);
    const st = await rotation().status();
    expect(st.due).toContainEqual(expect.objectContaining({ uid: oldUid, status: 'due-soon', policy: 'key' }));
    const metrics = await srv.kms.services.metrics!.text();
    expect(metrics).toMatch(/^kms_keys_expiring [1-9]/m);
  });

  it('is rotated once the clock passes 30 days: the Name resolves to the new key, links both ways, same owner', async () => {
    advanceDays(1.01);
    rotatedAt = nowS();
    const run = await rotation().runOnce();
    const mine = run.rotated.find((r) => r.job === `${oldUid}#0`);
    expect(mine).toBeDefined();
    newUid = mine!.newUid;
    expect(newUid).not.toBe(oldUid);
    expect(mine!.policy).toBe('key');
    // Locate by name finds the new key only: the Name moved.
    expect(await locateByName('rot-a')).toEqual([newUid]);
    const na = await attributesOf(c, V2_1, newUid);
    const oa = await attributesOf(c, V2_1, oldUid);
    expect(links(na)).toContainEqual([LinkType.ReplacedObjectLink, oldUid]);
    expect(links(oa)).toContainEqual([LinkType.ReplacementObjectLink, newUid]);
    // The policy moves with the key (Rotate Interval copied), the mark says the generation.
    expect(na.get(Tag.RotateInterval)?.[0]).toMatchObject({ value: 30 * 86_400 });
    expect(vendorMark(na)).toBe('gen=1 policy=key');
    // Old key: Active during the overlap (config overlapDays 7), its Deactivation Date at rotation + 7 days.
    expect(intAttr(oa, Tag.State)).toBe(State.Active);
    expect(intAttr(na, Tag.State)).toBe(State.Active);
    const dd = dateAttr(oa, Tag.DeactivationDate)!;
    expect(dd - rotatedAt).toBeGreaterThanOrEqual(7n * 86_400n);
    expect(dd - rotatedAt).toBeLessThanOrEqual(7n * 86_400n + 5n);
    // The client (the owner) can Get the new key: it was made for it, not for kms-rotation.
    await ok(c, V2_1, Operation.Get, [uidNode(newUid)]);
  });

  it('audited as kms-rotation with the policy that caused it', async () => {
    const recs = (await auditRecords()).filter((r) => r.client === 'kms-rotation');
    const rekey = recs.find((r) => r.op === 'ReKey' && r.uids?.includes(oldUid));
    expect(rekey).toMatchObject({ status: 'Success', addr: 'policy=key' });
    expect(rekey!.uids).toContain(newUid);
    const set = recs.find((r) => r.op === 'SetAttribute' && r.uids?.includes(oldUid));
    expect(set).toMatchObject({ status: 'Success', addr: 'policy=key' });
    expect(set!.attrs).toContain('DeactivationDate');
  });

  it('a second run does not rotate again (neither the old key nor, before 30 days, the new one)', async () => {
    const run = await rotation().runOnce();
    expect(run.rotated.filter((r) => r.job.startsWith(oldUid) || r.job.startsWith(newUid))).toEqual([]);
    expect(run.completed).toEqual([]);
    expect(await locateByName('rot-a')).toEqual([newUid]);
    expect(links(await attributesOf(c, V2_1, newUid)).filter(([lt]) => lt === LinkType.ReplacementObjectLink)).toEqual([]);
  });

  it('the old key is Deactivated when the overlap ends; the new key stays Active', async () => {
    advanceDays(6.9);
    expect(await stateOf(oldUid)).toBe(State.Active);
    advanceDays(0.2);
    expect(await stateOf(oldUid)).toBe(State.Deactivated);
    expect(await stateOf(newUid)).toBe(State.Active);
  });

  it('the new key is rotated in its turn 30 days after its own Initial Date (generation 2)', async () => {
    advanceDays(30 - 7.1 + 0.01);
    const run = await rotation().runOnce();
    const next = run.rotated.find((r) => r.job === `${newUid}#1`);
    expect(next).toBeDefined();
    expect(await locateByName('rot-a')).toEqual([next!.newUid]);
    expect(vendorMark(await attributesOf(c, V2_1, next!.newUid))).toBe('gen=2 policy=key');
  });
});

describe('Object Group policies (config rotation.policies)', () => {
  it('rotate members only; a key pair by Re-key Key Pair; the group overlap applies', async () => {
    const member = await createKey('grp-member', [t.text(Tag.ObjectGroup, 'payments')]);
    const outsider = await createKey('grp-outsider', [t.text(Tag.ObjectGroup, 'marketing')]);
    const plain = await createKey('grp-plain');
    const pair = pairUids(
      await ok(
        c,
        V2_1,
        Operation.CreateKeyPair,
        keyPairPayload(
          V2_1,
          [attr.cryptographicAlgorithm(CryptographicAlgorithm.RSA), attr.cryptographicLength(2048), t.text(Tag.ObjectGroup, 'signing'), t.date(Tag.ActivationDate, nowS())],
          [attr.name('grp-sign-priv'), attr.cryptographicUsageMask(CryptographicUsageMask.Sign)],
          [attr.name('grp-sign-pub'), attr.cryptographicUsageMask(CryptographicUsageMask.Verify)],
        ),
      ),
    );
    advanceDays(31);
    const t0 = nowS();
    const run = await rotation().runOnce();
    const jobs = run.rotated.map((r) => r.job);
    expect(jobs).toContain(`${member}#0`);
    expect(jobs).not.toContain(`${outsider}#0`);
    expect(jobs).not.toContain(`${plain}#0`);
    expect(jobs).not.toContain(`${pair.priv}#0`); // 90 days
    expect(run.rotated.find((r) => r.job === `${member}#0`)!.policy).toBe('group:payments');
    expect(await locateByName('grp-outsider')).toEqual([outsider]);
    expect(await locateByName('grp-plain')).toEqual([plain]);
    const [nm] = await locateByName('grp-member');
    expect(nm).not.toBe(member);
    const dd = dateAttr(await attributesOf(c, V2_1, member), Tag.DeactivationDate)!;
    expect(dd - t0).toBeGreaterThanOrEqual(2n * 86_400n);
    expect(dd - t0).toBeLessThanOrEqual(2n * 86_400n + 5n);

    advanceDays(60);
    const run2 = await rotation().runOnce();
    const pr = run2.rotated.find((r) => r.job === `${pair.priv}#0`);
    expect(pr?.policy).toBe('group:signing');
    const [np] = await locateByName('grp-sign-priv');
    const [nq] = await locateByName('grp-sign-pub');
    expect(np).toBe(pr!.newUid);
    expect(nq).not.toBe(pair.pub);
    expect(links(await attributesOf(c, V2_1, pair.priv))).toContainEqual([LinkType.ReplacementObjectLink, np]);
    expect(links(await attributesOf(c, V2_1, np!))).toEqual(
      expect.arrayContaining([
        [LinkType.ReplacedObjectLink, pair.priv],
        [LinkType.PublicKeyLink, nq],
      ]),
    );
    expect(dateAttr(await attributesOf(c, V2_1, pair.priv), Tag.DeactivationDate)! - nowS()).toBeGreaterThanOrEqual(10n * 86_400n - 5n);
  });
});

describe('failures are reported and retried, not looped', () => {
  it('an archived key (Re-key refuses it) is failed once per retry delay, with the reason, then rotated once it can be', async () => {
    const uid = await createKey('fail-archived', [t.text(Tag.ObjectGroup, 'payments')]);
    await ok(c, V2_1, Operation.Archive, [uidNode(uid)]);
    advanceDays(31);
    const run1 = await rotation().runOnce();
    const f = run1.failed.find((x) => x.job === `${uid}#0`);
    expect(f?.reason).toMatch(/ReKey: ObjectArchived/);
    const st = await rotation().status();
    expect(st.due).toContainEqual(expect.objectContaining({ uid, status: 'failed', reason: f!.reason }));
    expect(await srv.kms.services.metrics!.text()).toMatch(/^kms_keys_rotation_due\{status="failed"\} [1-9]/m);
    // Within the retry delay: not tried again, still reported.
    advanceDays(0.5 / 24);
    const run2 = await rotation().runOnce();
    expect(run2.failed.map((x) => x.job)).not.toContain(`${uid}#0`);
    expect(run2.rotated.map((x) => x.job)).not.toContain(`${uid}#0`);
    expect((await rotation().status()).due).toContainEqual(expect.objectContaining({ uid, status: 'failed' }));
    const tries = (await auditRecords()).filter((r) => r.client === 'kms-rotation' && r.op === 'ReKey' && r.uids?.includes(uid));
    expect(tries).toHaveLength(1);
    expect(tries[0]).toMatchObject({ status: 'OperationFailed', reason: 'ObjectArchived' });
    // After the delay it is tried again; recovered, it is rotated.
    await ok(c, V2_1, Operation.Recover, [uidNode(uid)]);
    advanceDays(1 / 24);
    const run3 = await rotation().runOnce();
    expect(run3.rotated.map((x) => x.job)).toContain(`${uid}#0`);
    expect((await rotation().status()).due.map((d) => d.uid)).not.toContain(uid);
  });

  it("a policy refusal (the crypto policy tightened since the key was made) is reported with the policy's reason", async () => {
    const p = await ok(c, V2_1, Operation.Create, [
      t.enum(Tag.ObjectType, 0x02),
      attrs(V2_1, [
        attr.cryptographicAlgorithm(CryptographicAlgorithm.HMAC_SHA256),
        attr.cryptographicLength(128),
        attr.cryptographicUsageMask(CryptographicUsageMask.MACGenerate),
        attr.name('fail-hmac'),
        t.text(Tag.ObjectGroup, 'payments'),
        t.date(Tag.ActivationDate, nowS()),
      ]),
    ]);
    const uid = uidOf(p);
    advanceDays(31);
    // A scheduler over the same store whose server now asks for HMAC keys of 256 bits at least.
    const tight = new RotationScheduler({
      services: { ...srv.kms.services, cryptoPolicy: cryptoPolicyFrom({ hmacMinBits: 256 }) },
      handlers: HANDLERS,
      config: rotation().config,
      holder: 'tight',
    });
    nowMs += rotation().config.leaseSeconds * 1000; // the built-in scheduler's lease has expired
    const run = await tight.runOnce();
    expect(run.skipped).toBeUndefined();
    expect(run.failed.find((f) => f.job === `${uid}#0`)?.reason).toMatch(/ReKey: InvalidAttributeValue: .*cryptoPolicy\.hmacMinBits/);
    expect(await locateByName('fail-hmac')).toEqual([uid]);
    expect((await tight.status()).due).toContainEqual(expect.objectContaining({ uid, status: 'failed' }));
    await tight.stop();
  });

  it('a destroyed key is not rotated (and not reported as due)', async () => {
    const uid = await createKey('fail-destroyed', [t.text(Tag.ObjectGroup, 'payments')]);
    await ok(c, V2_1, Operation.Revoke, [uidNode(uid), t.struct(Tag.RevocationReason, [t.enum(Tag.RevocationReasonCode, 0x05)])]);
    await ok(c, V2_1, Operation.Destroy, [uidNode(uid)]);
    advanceDays(31);
    const run = await rotation().runOnce();
    expect([...run.rotated, ...run.failed].map((x) => x.job)).not.toContain(`${uid}#0`);
    expect((await rotation().status()).due.map((d) => d.uid)).not.toContain(uid);
  });
});

describe("after a crash between Re-key and the old key's update", () => {
  it('the next run completes the old key and never rotates it twice', async () => {
    const uid = await createKey('crash-a', perKey(30));
    advanceDays(31);
    // Step 1 as the scheduler makes it (the mark included), then "the crash": no step 2.
    const mark = t.struct(Tag.Attribute, [t.text(Tag.VendorIdentification, 'x'), t.text(Tag.AttributeName, 'kms-rotation'), t.text(Tag.AttributeValue, 'gen=1 policy=key')]);
    const newUid = uidOf(await ok(c, V2_1, Operation.ReKey, [uidNode(uid), attrs(V2_1, [mark])]));
    const rekeyedAt = dateAttr(await attributesOf(c, V2_1, newUid), Tag.InitialDate)!;
    expect(dateAttr(await attributesOf(c, V2_1, uid), Tag.DeactivationDate)).toBeUndefined();
    advanceDays(0.1);
    const run = await rotation().runOnce();
    expect(run.completed).toContain(`${uid}#0`);
    expect(run.rotated.map((r) => r.job)).not.toContain(`${uid}#0`);
    expect(run.rotated.map((r) => r.job)).not.toContain(`${newUid}#1`);
    expect(dateAttr(await attributesOf(c, V2_1, uid), Tag.DeactivationDate)).toBe(rekeyedAt + 7n * 86_400n);
    expect(await locateByName('crash-a')).toEqual([newUid]);
    const again = await rotation().runOnce();
    expect(again.completed).not.toContain(`${uid}#0`);
  });
});

describe('the lease: two schedulers over the same store rotate once', () => {
  it('runs at the same time: one rotates, the other is refused the lease; the token only increases', async () => {
    const uid = await createKey('lease-a', perKey(30));
    advanceDays(31);
    const a = rotation();
    const b = new RotationScheduler({ services: srv.kms.services, handlers: HANDLERS, config: a.config, holder: 'node-b' });
    const [ra, rb] = await Promise.all([a.runOnce(), b.runOnce()]);
    const all = [...ra.rotated, ...rb.rotated].filter((r) => r.job === `${uid}#0`);
    expect(all).toHaveLength(1);
    expect([ra.skipped, rb.skipped].filter((s) => s?.startsWith('lease held by'))).toHaveLength(1);
    expect(await locateByName('lease-a')).toHaveLength(1);
    expect(links(await attributesOf(c, V2_1, all[0]!.newUid)).filter(([lt]) => lt === LinkType.ReplacedObjectLink)).toEqual([[LinkType.ReplacedObjectLink, uid]]);
    // The lease expires; the other node takes it with a higher token; the first one's grant is fenced off.
    const leases = leasesFor(srv.kms.services.store);
    const held = (await leases.current('key-rotation'))!;
    nowMs += a.config.leaseSeconds * 1000 + 1000;
    const other = held.holder === a.holder ? b : a;
    const r2 = await other.runOnce();
    expect(r2.skipped).toBeUndefined();
    expect(r2.token).toBe(held.token + 1);
    expect(await leases.check(held, nowMs)).toBe(false);
    await b.stop();
  });
});

describe('kms keys rotation (admin socket of the running server)', () => {
  it('lists the policies, due keys with their reason and the last runs; --run asks for a run', async () => {
    const uid = await createKey('cli-a', [t.text(Tag.ObjectGroup, 'payments'), ...perKey(3650)]);
    advanceDays(3640);
    const r = await runKmsHere(['keys', 'rotation', '--data-dir', srv.dataDir]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/group:payments\s+every 30 days, overlap 2 days/);
    expect(r.stdout).toMatch(/key\s+every Rotate Interval, overlap 7 days/);
    expect(r.stdout).toMatch(/Last runs:/);
    const j = await runKmsHere(['keys', 'rotation', '--data-dir', srv.dataDir, '--run', '--json']);
    expect(j.code).toBe(0);
    const parsed = JSON.parse(j.stdout) as { run: { scanned: number }; status: { due: { uid: string; status: string; policy: string }[] } };
    expect(parsed.run.scanned).toBeGreaterThan(0);
    // The per-key policy (3650 days) wins over the group's 30 days: due soon, not rotated.
    expect(parsed.status.due).toContainEqual(expect.objectContaining({ uid, status: 'due-soon', policy: 'key' }));
    const bad = await runKmsHere(['keys', 'rotation', '--server', '127.0.0.1:1', '--data-dir', srv.dataDir]);
    expect(bad.code).toBe(2);
  });

  it("the new key belongs to the old key's owner: another identity (alice) cannot see it", async () => {
    const alice = await srv.client('alice');
    const uid = await createKey('owner-a', perKey(30));
    advanceDays(31);
    const run = await rotation().runOnce();
    const nu = run.rotated.find((r) => r.job === `${uid}#0`)!.newUid;
    const f = await fails(alice, V2_1, Operation.Get, [uidNode(nu)]);
    expect([ResultReason.ObjectNotFound, ResultReason.ItemNotFound]).toContain(f.reason);
  });
});

describe('the web console dashboard', () => {
  it('has a Key rotation card: policies, the keys due with status and reason, the last run', async () => {
    const uid = await createKey('console-a', perKey(20));
    advanceDays(10);
    await rotation().runOnce();
    const r = await ui(srv.kms.httpsAddress!.port, '/ui/');
    expect(r.status).toBe(200);
    const card = /<div class="card" id="rotation">([\s\S]*?)<\/div>/.exec(r.body)?.[1] ?? '';
    expect(card).toContain('group:payments (30 d, overlap 2 d)');
    expect(card).toContain(`href="/ui/keys/${uid}"`);
    expect(card).toMatch(new RegExp(`${uid}</a></td><td><span class="warn">due-soon</span>`));
    expect(card).toMatch(/Last run .* rotated, \d+ completed, \d+ failed of \d+ keys/);
    expect((await ui(srv.kms.httpsAddress!.port, '/ui/', { identity: 'alice' })).status).toBe(403);
  });
});
