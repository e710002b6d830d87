/**
 * MAC, MAC Verify, Hash, RNG Retrieve, RNG Seed (KMIP 1.4 §4.33-4.37, 2.1 §6.1.24/32/33/49/50)
 * over a real mTLS server, with published vectors:
 * - HMAC: RFC 4231 test cases 1 and 2 (SHA-224/256/384/512), RFC 2202 test case 1 (SHA-1);
 * - AES-CMAC: RFC 4493 §4 examples 1-4 (also split into uneven parts, multi-part);
 * - Hash: FIPS 180-4 "abc" (SHA-256, SHA-1), FIPS 202 "abc" (SHA3-256).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findChild, type KmipClient, type KmipVersion } from '../../src/client/index.js';
import { CryptographicAlgorithm, HashingAlgorithm, Operation, ValidityIndicator } from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { t, type TtlvNode } from '../../src/ttlv/index.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { ok, uidNode, V1_4, V2_1 } from './object-kit.js';
import { bytesOf, cryptoParams, hex, registerKey, toHex } from './crypto-kit.js';

const MACS = CryptographicUsageMask.MACGenerate | CryptographicUsageMask.MACVerify;
let srv: TestKms;
let c: KmipClient;

beforeAll(async () => {
  // RFC 4231 case 2 uses the 4-byte key "Jefe", below the default cryptoPolicy.hmacMinBits (112).
  srv = await startTestKms({ cryptoPolicy: { hmacMinBits: 32 } });
  c = await srv.client();
});
afterAll(async () => srv?.dispose());

const HI_THERE = '4869205468657265';
const JEFE_DATA = '7768617420646f2079612077616e7420666f72206e6f7468696e673f';
const K0B = '0b'.repeat(20);

const HMAC_VECTORS: ReadonlyArray<{ name: string; algorithm: number; key: string; data: string; mac: string }> = [
  { name: 'RFC 2202 case 1 HMAC-SHA1', algorithm: CryptographicAlgorithm.HMAC_SHA1, key: K0B, data: HI_THERE, mac: 'b617318655057264e28bc0b6fb378c8ef146be00' },
  { name: 'RFC 4231 case 1 HMAC-SHA224', algorithm: CryptographicAlgorithm.HMAC_SHA224, key: K0B, data: HI_THERE, mac: '896fb1128abbdf196832107cd49df33f47b4b1169912ba4f53684b22' },
  { name: 'RFC 4231 case 1 HMAC-SHA256', algorithm: CryptographicAlgorithm.HMAC_SHA256, key: K0B, data: HI_THERE, mac: 'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7' },
  {
    name: 'RFC 4231 case 1 HMAC-SHA384',
    algorithm: CryptographicAlgorithm.HMAC_SHA384,
    key: K0B,
    data: HI_THERE,
    mac: 'afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6',
  },
  {
    name: 'RFC 4231 case 1 HMAC-SHA512',
    algorithm: CryptographicAlgorithm.HMAC_SHA512,
    key: K0B,
    data: HI_THERE,
    mac: '87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854',
  },
  {
    name: 'RFC 4231 case 2 HMAC-SHA256 (key "Jefe")',
    algorithm: CryptographicAlgorithm.HMAC_SHA256,
    key: '4a656665',
    data: JEFE_DATA,
    mac: '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
  },
];

const CMAC_KEY = '2b7e151628aed2a6abf7158809cf4f3c';
const CMAC_MSG = '6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710';
const CMAC_VECTORS: ReadonlyArray<{ len: number; mac: string }> = [
  { len: 0, mac: 'bb1d6929e95937287fa37d129b756746' },
  { len: 16, mac: '070a16b46b4d4144f79bdd9dd04a287c' },
  { len: 40, mac: 'dfa66747de9ae63030ca32611497c827' },
  { len: 64, mac: '51f0bebf7e3b9d92fc49741779363cfe' },
];

const macPayload = (uid: string, data: Uint8Array, extra: TtlvNode[] = []): TtlvNode[] => [uidNode(uid), t.bytes(Tag.Data, data), ...extra];

describe.each([V2_1, V1_4] as KmipVersion[])('at %o', (v) => {
  for (const vec of HMAC_VECTORS) {
    it(`MAC: ${vec.name}; MAC Verify accepts it and refuses a changed MAC`, async () => {
      const uid = await registerKey(c, v, hex(vec.key), vec.algorithm, MACS);
      const res = await ok(c, v, Operation.MAC, macPayload(uid, hex(vec.data)));
      expect(toHex(bytesOf(res, Tag.MACData))).toBe(vec.mac);
      const good = await ok(c, v, Operation.MACVerify, macPayload(uid, hex(vec.data), [t.bytes(Tag.MACData, hex(vec.mac))]));
      expect(findChild(good, Tag.ValidityIndicator)?.value).toBe(ValidityIndicator.Valid);
      const badMac = hex(vec.mac);
      badMac[0] = badMac[0]! ^ 1;
      const bad = await ok(c, v, Operation.MACVerify, macPayload(uid, hex(vec.data), [t.bytes(Tag.MACData, badMac)]));
      expect(findChild(bad, Tag.ValidityIndicator)?.value).toBe(ValidityIndicator.Invalid);
    });
  }

  it('MAC: AES-CMAC, RFC 4493 examples 1-4', async () => {
    const uid = await registerKey(c, v, hex(CMAC_KEY), CryptographicAlgorithm.AES, MACS);
    for (const vec of CMAC_VECTORS) {
      const res = await ok(c, v, Operation.MAC, macPayload(uid, hex(CMAC_MSG).subarray(0, vec.len), [cryptoParams({ algorithm: CryptographicAlgorithm.AES })]));
      expect(toHex(bytesOf(res, Tag.MACData)), `example with ${vec.len} bytes`).toBe(vec.mac);
    }
  });

  it('Hash: SHA-256, SHA-1 and SHA3-256 of "abc"', async () => {
    const abc = new Uint8Array(Buffer.from('abc'));
    const cases: ReadonlyArray<[number, string]> = [
      [HashingAlgorithm.SHA_256, 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'],
      [HashingAlgorithm.SHA_1, 'a9993e364706816aba3e25717850c26c9cd0d89d'],
      [HashingAlgorithm.SHA3_256, '3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532'],
    ];
    for (const [h, want] of cases) {
      const res = await ok(c, v, Operation.Hash, [cryptoParams({ hashing: h }), t.bytes(Tag.Data, abc)]);
      expect(toHex(bytesOf(res, Tag.Data))).toBe(want);
    }
  });

  it('RNG Retrieve returns Data Length fresh bytes; RNG Seed reports the amount accepted', async () => {
    const a = await ok(c, v, Operation.RNGRetrieve, [t.int(Tag.DataLength, 32)]);
    const b = await ok(c, v, Operation.RNGRetrieve, [t.int(Tag.DataLength, 32)]);
    expect(bytesOf(a, Tag.Data)?.length).toBe(32);
    expect(toHex(bytesOf(a, Tag.Data))).not.toBe(toHex(bytesOf(b, Tag.Data)));
    const s = await ok(c, v, Operation.RNGSeed, [t.bytes(Tag.Data, new Uint8Array(24).fill(7))]);
    expect(findChild(s, Tag.DataLength)?.value).toBe(24);
  });
});

describe('multi-part (2.1)', () => {
  const part = (p: { uid?: string; data: Uint8Array; cv?: Uint8Array; init?: boolean; final?: boolean; extra?: TtlvNode[] }): TtlvNode[] => [
    ...(p.uid ? [uidNode(p.uid)] : []),
    ...(p.extra ?? []),
    t.bytes(Tag.Data, p.data),
    ...(p.cv ? [t.bytes(Tag.CorrelationValue, p.cv)] : []),
    ...(p.init !== undefined ? [t.bool(Tag.InitIndicator, p.init)] : []),
    ...(p.final !== undefined ? [t.bool(Tag.FinalIndicator, p.final)] : []),
  ];

  it('AES-CMAC over uneven parts (10 + 30 + 24 bytes) equals RFC 4493 example 4', async () => {
    const uid = await registerKey(c, V2_1, hex(CMAC_KEY), CryptographicAlgorithm.AES, MACS);
    const msg = hex(CMAC_MSG);
    const first = await ok(c, V2_1, Operation.MAC, part({ uid, data: msg.subarray(0, 10), init: true }));
    const cv = bytesOf(first, Tag.CorrelationValue)!;
    expect(cv.length).toBeGreaterThan(0);
    expect(bytesOf(first, Tag.MACData)).toBeUndefined();
    const mid = await ok(c, V2_1, Operation.MAC, part({ uid, data: msg.subarray(10, 40), cv }));
    expect(bytesOf(mid, Tag.MACData)).toBeUndefined();
    const last = await ok(c, V2_1, Operation.MAC, part({ uid, data: msg.subarray(40), cv, final: true }));
    expect(toHex(bytesOf(last, Tag.MACData))).toBe('51f0bebf7e3b9d92fc49741779363cfe');
    expect(bytesOf(last, Tag.CorrelationValue)).toBeUndefined();
  });

  it('HMAC MAC Verify in two parts: Unknown, then Valid', async () => {
    const vec = HMAC_VECTORS[2]!;
    const uid = await registerKey(c, V2_1, hex(vec.key), vec.algorithm, MACS);
    const data = hex(vec.data);
    const first = await ok(c, V2_1, Operation.MACVerify, part({ uid, data: data.subarray(0, 3), init: true }));
    expect(findChild(first, Tag.ValidityIndicator)?.value).toBe(ValidityIndicator.Unknown);
    const cv = bytesOf(first, Tag.CorrelationValue)!;
    const last = await ok(c, V2_1, Operation.MACVerify, [...part({ data: data.subarray(3), cv, final: true }), t.bytes(Tag.MACData, hex(vec.mac))]);
    expect(findChild(last, Tag.ValidityIndicator)?.value).toBe(ValidityIndicator.Valid);
  });

  it('Hash in parts equals the one-shot digest', async () => {
    const params = cryptoParams({ hashing: HashingAlgorithm.SHA_256 });
    const first = await ok(c, V2_1, Operation.Hash, part({ data: hex('6162'), init: true, extra: [params] }));
    const cv = bytesOf(first, Tag.CorrelationValue)!;
    const last = await ok(c, V2_1, Operation.Hash, part({ data: hex('63'), cv, final: true, extra: [params] }));
    expect(toHex(bytesOf(last, Tag.Data))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});
