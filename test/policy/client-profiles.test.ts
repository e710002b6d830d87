/**
 * Per-client profiles (src/policy/client-profiles.ts, docs/client-profiles.md), one test per quirk,
 * over a real server: identities alice ("full"), bob (omitAttributes, defaultProtocolVersion 1.2),
 * kms-client (no profile: the default, PyKMIP 0.10's set at 1.0-2.0). And the config checks.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attr, findChild, type KmipClient, type KmipVersion } from '../../src/client/index.js';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { CryptographicAlgorithm, ObjectType, Operation } from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { ClientProfileError, ClientProfiles, parseClientProfiles } from '../../src/policy/client-profiles.js';
import { t, type StructureNode } from '../../src/ttlv/index.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { attrs, ok, uidNode, uidOf, V1_4, V2_0, V2_1 } from '../operations/object-kit.js';

let srv: TestKms;
let def: KmipClient;
let alice: KmipClient;
let bob: KmipClient;

beforeAll(async () => {
  srv = await startTestKms({
    clientProfiles: {
      profiles: [
        { name: 'spec', identities: ['alice'], getAllAttributes: 'full' },
        { name: 'old-array', identities: ['bob'], omitAttributes: ['Object Group'], defaultProtocolVersion: '1.2' },
      ],
    },
  });
  [def, alice, bob] = await Promise.all([srv.client(), srv.client('alice'), srv.client('bob')]);
});
afterAll(async () => srv?.dispose());

async function createKey(c: KmipClient, v: KmipVersion): Promise<string> {
  return uidOf(
    await ok(c, v, Operation.Create, [
      t.enum(Tag.ObjectType, ObjectType.SymmetricKey),
      attrs(v, [
        attr.cryptographicAlgorithm(CryptographicAlgorithm.AES),
        attr.cryptographicLength(256),
        attr.cryptographicUsageMask(CryptographicUsageMask.Encrypt),
        t.text(Tag.ObjectGroup, 'tapes'),
      ]),
    ]),
  );
}

/** The attribute names (1.x) or tags (2.x) a Get Attributes answered. */
function namesOf(p: StructureNode, v: KmipVersion): Array<string | number> {
  if (v.major >= 2) return (findChild(p, Tag.Attributes) as StructureNode).value.map((n) => n.tag);
  return p.value.filter((n) => n.tag === Tag.Attribute).map((a) => (findChild(a as StructureNode, Tag.AttributeName) as { value: string }).value);
}

async function everything(c: KmipClient, v: KmipVersion, uid: string): Promise<Array<string | number>> {
  return namesOf(await ok(c, v, Operation.GetAttributes, [uidNode(uid)]), v);
}

describe('getAllAttributes', () => {
  it('default ("pykmip-0.10"): at 1.4 no Original Creation Date, Random Number Generator or Sensitive; at 2.1 the full set', async () => {
    const uid = await createKey(def, V1_4);
    const got = await everything(def, V1_4, uid);
    expect(got).toEqual(expect.arrayContaining(['Unique Identifier', 'Object Type', 'Cryptographic Algorithm', 'State', 'Initial Date', 'Object Group']));
    for (const n of ['Original Creation Date', 'Random Number Generator', 'Sensitive', 'Extractable']) expect(got).not.toContain(n);
    const at21 = await everything(def, V2_1, uid);
    for (const tag of [Tag.OriginalCreationDate, Tag.RandomNumberGenerator, Tag.Sensitive, Tag.ShortUniqueIdentifier, Tag.KeyFormatType]) expect(at21).toContain(tag);
    // Asked for by name, a left-out attribute is answered.
    const named = await ok(def, V1_4, Operation.GetAttributes, [uidNode(uid), t.text(Tag.AttributeName, 'Original Creation Date')]);
    expect(namesOf(named, V1_4)).toEqual(['Original Creation Date']);
  });

  it('"full": every attribute the version defines, at 1.4 and 2.0 too', async () => {
    const uid = await createKey(alice, V1_4);
    const got = await everything(alice, V1_4, uid);
    for (const n of ['Original Creation Date', 'Random Number Generator', 'Sensitive', 'Extractable', 'Always Sensitive', 'Never Extractable']) expect(got).toContain(n);
    const at20 = await everything(alice, V2_0, uid);
    for (const tag of [Tag.OriginalCreationDate, Tag.KeyFormatType, Tag.ShortUniqueIdentifier, Tag.ProtectionStorageMask]) expect(at20).toContain(tag);
    const defAt20 = await everything(def, V2_0, await createKey(def, V2_0));
    for (const tag of [Tag.OriginalCreationDate, Tag.KeyFormatType, Tag.ShortUniqueIdentifier]) expect(defAt20).not.toContain(tag);
  });
});

describe('omitAttributes', () => {
  it('leaves the named attributes out of a Get Attributes naming none, at every version; named, they are answered', async () => {
    const uid = await createKey(bob, V1_4);
    expect(await everything(bob, V1_4, uid)).not.toContain('Object Group');
    expect(await everything(bob, V2_1, uid)).not.toContain(Tag.ObjectGroup);
    expect(await everything(def, V1_4, await createKey(def, V1_4))).toContain('Object Group');
    const named = await ok(bob, V1_4, Operation.GetAttributes, [uidNode(uid), t.text(Tag.AttributeName, 'Object Group')]);
    expect(namesOf(named, V1_4)).toEqual(['Object Group']);
  });
});

describe('defaultProtocolVersion', () => {
  const versionsOf = (p: StructureNode) =>
    p.value
      .filter((n) => n.tag === Tag.ProtocolVersion)
      .map((n) => {
        const s = n as StructureNode;
        return `${(findChild(s, Tag.ProtocolVersionMajor) as { value: number }).value}.${(findChild(s, Tag.ProtocolVersionMinor) as { value: number }).value}`;
      });

  it('Discover Versions offers the client nothing above it (a client taking the first offered speaks it)', async () => {
    const forBob = versionsOf(await ok(bob, V1_4, Operation.DiscoverVersions, []));
    expect(forBob[0]).toBe('1.2');
    expect(forBob).not.toContain('1.4');
    expect(forBob).not.toContain('2.1');
    const forDefault = versionsOf(await ok(def, V1_4, Operation.DiscoverVersions, []));
    expect(forDefault[0]).toBe('2.1');
    expect(forDefault).toContain('1.2');
  });
});

describe('the clientProfiles config section', () => {
  it('is read from the config file and checked: unknown keys, unknown attribute names, an identity in two profiles, a bad version', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kms-profiles-'));
    try {
      const file = join(dir, 'kms.json');
      writeFileSync(file, JSON.stringify({ clientProfiles: { default: { getAllAttributes: 'full' }, profiles: [{ name: 'vc', identities: ['vcenter'], omitAttributes: ['Link'] }] } }));
      const cfg = loadConfig({ file, env: {} });
      const profiles = new ClientProfiles(cfg.clientProfiles);
      expect(profiles.forIdentity('anyone').getAllAttributes).toBe('full');
      expect([...profiles.forIdentity('vcenter').omit]).toEqual(['Link']);
      writeFileSync(file, JSON.stringify({ clientProfiles: { profiles: [{ name: 'x', identities: ['a'], omitAttributes: ['No Such Attribute'] }] } }));
      expect(() => loadConfig({ file, env: {} })).toThrow(ConfigError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(() => parseClientProfiles({ profiles: [{ name: 'x', identities: ['a'], quirk: true }] }, 'f')).toThrow(/unknown key quirk/);
    expect(() =>
      parseClientProfiles(
        {
          profiles: [
            { name: 'x', identities: ['a'] },
            { name: 'y', identities: ['a'] },
          ],
        },
        'f',
      ),
    ).toThrow(/two profiles/);
    expect(() => parseClientProfiles({ default: { defaultProtocolVersion: 'two' } }, 'f')).toThrow(ClientProfileError);
    expect(() => parseClientProfiles({ default: { getAllAttributes: 'some' } }, 'f')).toThrow(/getAllAttributes/);
    expect(() => parseClientProfiles({ profiles: [{ name: 'x', identities: [] }] }, 'f')).toThrow(/identities/);
  });
});
