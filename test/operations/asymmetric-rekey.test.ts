/**
 * Re-key (KMIP 1.4 §4.4, 2.1 §6.1.46) and Re-key Key Pair (1.4 §4.5, 2.1 §6.1.47) over a real mTLS
 * server: Replacement / Replaced Object links, Names moved, dates copied or computed from the Offset
 * (1.4 Tables 172 and 176: AT2 = IT2 + Offset, DT2 = DT1 + (AT2 - AT1), likewise Process Start and
 * Protect Stop for Re-key), fresh key material, the ID Placeholder, and the refusals.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attr, expectSuccess, findChild, type KmipClient } from '../../src/client/index.js';
import { CryptographicAlgorithm, KeyFormatType, LinkType, ObjectType, Operation, ResultReason, State } from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { t, type TtlvNode } from '../../src/ttlv/index.js';
import { FULL_ATTRIBUTES, startTestKms, type TestKms } from '../support/kms.js';
import { attrs, batch, fails, ok, uidNode, uidOf, V1_4, V2_1 } from './object-kit.js';
import { attributesOf, dateAttr, getKeyBlock, intAttr, keyPairPayload, links, materialBytes, pairUids, pyPriv } from './asymmetric-kit.js';

let srv: TestKms;
let c: KmipClient;

beforeAll(async () => {
  srv = await startTestKms(FULL_ATTRIBUTES);
  c = await srv.client();
});
afterAll(async () => srv?.dispose());

const nowS = () => BigInt(Math.floor(Date.now() / 1000));
const names = (m: Map<number, TtlvNode[]>) =>
  (m.get(Tag.Name) ?? []).map((n) => (n.type === 'Structure' ? findChild(n, Tag.NameValue) : undefined)).map((n) => (n?.type === 'TextString' ? n.value : ''));

describe.each([
  ['1.4', V1_4],
  ['2.1', V2_1],
])('Re-key Key Pair at KMIP %s', (_l, v) => {
  const tag = `${v.major}${v.minor}`;

  it('Offset: AT2 = IT2 + Offset, DT2 = DT1 + (AT2 - AT1); links both ways; Names move; a new RSA key Python reads', async () => {
    const at1 = nowS() + 1000n;
    const dt1 = at1 + 5000n;
    const { priv, pub } = pairUids(
      await ok(
        c,
        v,
        Operation.CreateKeyPair,
        keyPairPayload(
          v,
          [attr.cryptographicAlgorithm(CryptographicAlgorithm.RSA), attr.cryptographicLength(2048), t.date(Tag.ActivationDate, at1), t.date(Tag.DeactivationDate, dt1)],
          [attr.name(`rkp-priv-${tag}`), attr.cryptographicUsageMask(CryptographicUsageMask.Sign)],
          [attr.name(`rkp-pub-${tag}`), attr.cryptographicUsageMask(CryptographicUsageMask.Verify)],
        ),
      ),
    );
    const r = pairUids(await ok(c, v, Operation.ReKeyKeyPair, [t.text(Tag.PrivateKeyUniqueIdentifier, priv), t.interval(Tag.Offset, 3600)]));
    expect(new Set([r.priv, r.pub, priv, pub]).size).toBe(4);

    const np = await attributesOf(c, v, r.priv);
    const nq = await attributesOf(c, v, r.pub);
    const op = await attributesOf(c, v, priv);
    const oq = await attributesOf(c, v, pub);
    expect(links(np)).toEqual(
      expect.arrayContaining([
        [LinkType.PublicKeyLink, r.pub],
        [LinkType.ReplacedObjectLink, priv],
      ]),
    );
    expect(links(nq)).toEqual(
      expect.arrayContaining([
        [LinkType.PrivateKeyLink, r.priv],
        [LinkType.ReplacedObjectLink, pub],
      ]),
    );
    expect(links(op)).toEqual(
      expect.arrayContaining([
        [LinkType.PublicKeyLink, pub],
        [LinkType.ReplacementObjectLink, r.priv],
      ]),
    );
    expect(links(oq)).toEqual(
      expect.arrayContaining([
        [LinkType.PrivateKeyLink, priv],
        [LinkType.ReplacementObjectLink, r.pub],
      ]),
    );
    expect(names(np)).toEqual([`rkp-priv-${tag}`]);
    expect(names(nq)).toEqual([`rkp-pub-${tag}`]);
    expect(names(op)).toEqual([]);
    expect(names(oq)).toEqual([]);

    for (const m of [np, nq]) {
      const it2 = dateAttr(m, Tag.InitialDate)!;
      const at2 = dateAttr(m, Tag.ActivationDate)!;
      expect(at2).toBe(it2 + 3600n);
      expect(dateAttr(m, Tag.DeactivationDate)).toBe(dt1 + (at2 - at1));
      expect(intAttr(m, Tag.State)).toBe(State.PreActive);
      expect(intAttr(m, Tag.CryptographicAlgorithm)).toBe(CryptographicAlgorithm.RSA);
      expect(intAttr(m, Tag.CryptographicLength)).toBe(2048);
    }
    expect(intAttr(np, Tag.CryptographicUsageMask)).toBe(CryptographicUsageMask.Sign);
    expect(intAttr(nq, Tag.CryptographicUsageMask)).toBe(CryptographicUsageMask.Verify);
    // The old dates are untouched; the new key is new material that Python reads.
    expect(dateAttr(op, Tag.ActivationDate)).toBe(at1);
    const oldKey = materialBytes(await getKeyBlock(c, v, priv, Tag.PrivateKey, KeyFormatType.PKCS_8));
    const newKey = materialBytes(await getKeyBlock(c, v, r.priv, Tag.PrivateKey, KeyFormatType.PKCS_8));
    expect(newKey.equals(oldKey)).toBe(false);
    expect(pyPriv(newKey).public.spki).toBe(materialBytes(await getKeyBlock(c, v, r.pub, Tag.PublicKey, KeyFormatType.X_509)).toString('hex'));
  });

  it('no Offset: Activation and Deactivation Dates are copied (an Active pair stays Active); ID Placeholder', async () => {
    const { priv } = pairUids(await ok(c, v, Operation.CreateKeyPair, keyPairPayload(v, [attr.cryptographicAlgorithm(CryptographicAlgorithm.EC), attr.cryptographicLength(256)])));
    await ok(c, v, Operation.Activate, [uidNode(priv)]);
    const at1 = dateAttr(await attributesOf(c, v, priv), Tag.ActivationDate);
    const items = await batch(c, v, [
      { operation: Operation.ReKeyKeyPair, payload: [t.text(Tag.PrivateKeyUniqueIdentifier, priv)] },
      { operation: Operation.Get, payload: [] },
    ]);
    const r = pairUids(expectSuccess(items[0]!));
    expect(uidOf(expectSuccess(items[1]!))).toBe(r.priv);
    const np = await attributesOf(c, v, r.priv);
    expect(dateAttr(np, Tag.ActivationDate)).toBe(at1);
    expect(intAttr(np, Tag.State)).toBe(State.Active);
    expect(intAttr(np, Tag.CryptographicLength)).toBe(256);
  });

  it('refusals: a Public Key or a Symmetric Key is not a Private Key; an unknown uid', async () => {
    const { pub } = pairUids(await ok(c, v, Operation.CreateKeyPair, keyPairPayload(v, [attr.cryptographicAlgorithm(CryptographicAlgorithm.Ed25519)])));
    const wrongType = v.major >= 2 ? ResultReason.InvalidObjectType : ResultReason.IllegalOperation;
    expect((await fails(c, v, Operation.ReKeyKeyPair, [t.text(Tag.PrivateKeyUniqueIdentifier, pub)])).reason).toBe(wrongType);
    const missing = await fails(c, v, Operation.ReKeyKeyPair, [t.text(Tag.PrivateKeyUniqueIdentifier, 'no-such-object')]);
    expect(missing.reason).toBe(v.major >= 2 ? ResultReason.ObjectNotFound : ResultReason.ItemNotFound);
    expect((await fails(c, v, Operation.ReKey, [uidNode(pub)])).reason).toBe(wrongType);
  });
});

describe.each([
  ['1.4', V1_4],
  ['2.1', V2_1],
])('Re-key at KMIP %s', (_l, v) => {
  const tag = `${v.major}${v.minor}`;
  const createAes = async (extra: readonly TtlvNode[]) =>
    uidOf(
      await ok(c, v, Operation.Create, [
        t.enum(Tag.ObjectType, ObjectType.SymmetricKey),
        attrs(v, [
          attr.cryptographicAlgorithm(CryptographicAlgorithm.AES),
          attr.cryptographicLength(192),
          attr.cryptographicUsageMask(CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt),
          ...extra,
        ]),
      ]),
    );
  const raw = async (uid: string) => materialBytes(await getKeyBlock(c, v, uid, Tag.SymmetricKey));

  it('Offset: the four dates (Table 172), links, Name moved, fresh key of the same length', async () => {
    const at1 = nowS() + 2000n;
    const ct1 = at1 + 10n;
    const tt1 = at1 + 7000n;
    const dt1 = at1 + 9000n;
    const old = await createAes([
      attr.name(`rk-${tag}`),
      t.date(Tag.ActivationDate, at1),
      t.date(Tag.ProcessStartDate, ct1),
      t.date(Tag.ProtectStopDate, tt1),
      t.date(Tag.DeactivationDate, dt1),
    ]);
    const uid = uidOf(await ok(c, v, Operation.ReKey, [uidNode(old), t.interval(Tag.Offset, 60)]));
    const n = await attributesOf(c, v, uid);
    const o = await attributesOf(c, v, old);
    const it2 = dateAttr(n, Tag.InitialDate)!;
    const at2 = dateAttr(n, Tag.ActivationDate)!;
    expect(at2).toBe(it2 + 60n);
    const shift = at2 - at1;
    expect(dateAttr(n, Tag.ProcessStartDate)).toBe(ct1 + shift);
    expect(dateAttr(n, Tag.ProtectStopDate)).toBe(tt1 + shift);
    expect(dateAttr(n, Tag.DeactivationDate)).toBe(dt1 + shift);
    expect(links(n)).toEqual([[LinkType.ReplacedObjectLink, old]]);
    expect(links(o)).toEqual([[LinkType.ReplacementObjectLink, uid]]);
    expect(names(n)).toEqual([`rk-${tag}`]);
    expect(names(o)).toEqual([]);
    expect(intAttr(n, Tag.CryptographicLength)).toBe(192);
    const [a, b] = [await raw(old), await raw(uid)];
    expect(b.length).toBe(24);
    expect(b.equals(a)).toBe(false);
  });

  it('no Offset: dates copied; ID Placeholder; the request may give a new Name', async () => {
    const at1 = nowS() + 500n;
    const old = await createAes([t.date(Tag.ActivationDate, at1)]);
    const items = await batch(c, v, [
      { operation: Operation.ReKey, payload: [uidNode(old), attrs(v, [attr.name(`rk-new-${tag}`)])] },
      { operation: Operation.Get, payload: [] },
    ]);
    const uid = uidOf(expectSuccess(items[0]!));
    expect(uidOf(expectSuccess(items[1]!))).toBe(uid);
    const n = await attributesOf(c, v, uid);
    expect(dateAttr(n, Tag.ActivationDate)).toBe(at1);
    expect(names(n)).toEqual([`rk-new-${tag}`]);
  });

  it('names the request gives are added to the names moved over (TC-REKEY-1); the old key keeps none', async () => {
    const first = await createAes([attr.name(`rk-orig-${tag}`)]);
    const second = uidOf(await ok(c, v, Operation.ReKey, [uidNode(first), attrs(v, [attr.name(`rk-1-${tag}`)])]));
    const third = uidOf(await ok(c, v, Operation.ReKey, [uidNode(second), attrs(v, [attr.name(`rk-2-${tag}`)])]));
    expect(names(await attributesOf(c, v, third))).toEqual([`rk-orig-${tag}`, `rk-1-${tag}`, `rk-2-${tag}`]);
    expect(names(await attributesOf(c, v, second))).toEqual([]);
    expect(names(await attributesOf(c, v, first))).toEqual([]);
  });
});
