/**
 * Per-client profiles: what a deployed KMIP client needs that the spec's plain behaviour does not
 * give it, turned on per client certificate identity (the way commercial KMS servers register
 * each KMIP client with a profile). docs/client-profiles.md documents them; config key
 * `clientProfiles`:
 *
 *   { "default": { "getAllAttributes": "pykmip-0.10" },
 *     "profiles": [ { "name": "conformance", "identities": ["kms-conformance"], "getAllAttributes": "full" },
 *                   { "name": "old-array", "identities": ["array-7"], "omitAttributes": ["Link"], "defaultProtocolVersion": "1.1" } ] }
 *
 * Quirks (each profile names the ones it turns on; an identity matching no profile gets `default`):
 * - `getAllAttributes`: what a Get Attributes naming no attribute returns.
 *   - "full": every attribute the request's version defines, server-derived ones included
 *     (KMIP 1.4 §4.12 / 2.1 §6.1.21: no names given, "all attributes of the object").
 *   - "pykmip-0.10" (the default): at KMIP 1.0-2.0, only the attributes PyKMIP 0.10 can decode
 *     (its kmip.core.factories.attribute_values raises on the rest: Link, Revocation Reason,
 *     Usage Limits, X.509 and certificate name attributes, Original Creation Date, Random Number
 *     Generator, Key Format Type, Short Unique Identifier, Sensitive/Extractable family at 1.x, …,
 *     and the whole response fails to decode); at 2.1+, which PyKMIP 0.10 does not speak, the
 *     full set. Attributes asked for by name are always returned.
 * - `omitAttributes`: attribute names (spec names, "Original Creation Date") also left out of a
 *   Get Attributes naming none, at every version.
 * - `defaultProtocolVersion` ("1.2"): the highest version Discover Versions offers the client;
 *   clients that take the first version offered then speak this one.
 */
import { compareVersions } from '../kmip/registry.js';
import type { KmipVersion } from '../kmip/spec-types.js';
import { keyFromAttributeName1x } from '../objects/attributes.js';
import { parseCustomKey, type AttributeKey } from '../objects/managed-object.js';

export type GetAllAttributesMode = 'full' | 'pykmip-0.10';
export const GET_ALL_ATTRIBUTES_MODES: readonly GetAllAttributesMode[] = ['full', 'pykmip-0.10'];

export interface ClientQuirks {
  readonly getAllAttributes?: GetAllAttributesMode;
  readonly omitAttributes?: readonly string[];
  readonly defaultProtocolVersion?: string;
}

export interface ClientProfileConfig extends ClientQuirks {
  readonly name: string;
  readonly identities: readonly string[];
}

export interface ClientProfilesConfig {
  readonly default?: ClientQuirks;
  readonly profiles?: readonly ClientProfileConfig[];
}

/** A profile made ready to use: names resolved to record keys, the version parsed. */
export interface ClientProfile {
  readonly name: string;
  readonly getAllAttributes: GetAllAttributesMode;
  readonly omit: ReadonlySet<AttributeKey>;
  readonly defaultProtocolVersion?: KmipVersion;
}

export class ClientProfileError extends Error {}

/** What PyKMIP 0.10 decodes in a 1.x Attribute (kmip.core.objects.Attribute.read + AttributeValueFactory.create_attribute_value). */
const PYKMIP_010_DECODES_1X: ReadonlySet<AttributeKey> = new Set([
  'UniqueIdentifier',
  'Name',
  'ObjectType',
  'CryptographicAlgorithm',
  'CryptographicLength',
  'CryptographicParameters',
  'CertificateType',
  'CertificateLength',
  'Digest',
  'OperationPolicyName',
  'CryptographicUsageMask',
  'LeaseTime',
  'State',
  'InitialDate',
  'ActivationDate',
  'ProcessStartDate',
  'ProtectStopDate',
  'DeactivationDate',
  'DestroyDate',
  'CompromiseOccurrenceDate',
  'CompromiseDate',
  'ArchiveDate',
  'ObjectGroup',
  'Fresh',
  'ApplicationSpecificInformation',
  'ContactInformation',
  'LastChangeDate',
]);

/** What PyKMIP 0.10 decodes in a 2.0 Attributes structure (kmip.core.objects.Attributes.read + create_attribute_value_by_enum). */
const PYKMIP_010_DECODES_2X: ReadonlySet<AttributeKey> = new Set([
  'UniqueIdentifier',
  'Name',
  'ObjectType',
  'CryptographicAlgorithm',
  'CryptographicLength',
  'CryptographicParameters',
  'CertificateLength',
  'Digest',
  'CryptographicUsageMask',
  'LeaseTime',
  'State',
  'InitialDate',
  'ActivationDate',
  'ProcessStartDate',
  'ProtectStopDate',
  'DeactivationDate',
  'DestroyDate',
  'CompromiseOccurrenceDate',
  'CompromiseDate',
  'ArchiveDate',
  'ObjectGroup',
  'Fresh',
  'ApplicationSpecificInformation',
  'ContactInformation',
  'LastChangeDate',
  'Sensitive',
]);

const PYKMIP_010_LAST: KmipVersion = { major: 2, minor: 0 };

/** Whether PyKMIP 0.10 decodes attribute `key` in a Get Attributes response at `version`. */
export function pykmip010Decodes(key: AttributeKey, version: KmipVersion): boolean {
  const custom = parseCustomKey(key);
  // KMIP 1.0's Digest has no Key Format Type (added in 1.1); PyKMIP 0.10's Digest reads one always.
  if (key === 'Digest' && version.major === 1 && version.minor === 0) return false;
  if (version.major < 2) return custom ? custom.vendor === 'x' : PYKMIP_010_DECODES_1X.has(key);
  return custom ? false : PYKMIP_010_DECODES_2X.has(key);
}

const ANY_VERSION: readonly KmipVersion[] = [
  { major: 2, minor: 1 },
  { major: 1, minor: 4 },
];

/** The record key of an attribute's spec name, in whichever version defines it. */
function keyOfName(name: string, where: string): AttributeKey {
  for (const v of ANY_VERSION) {
    try {
      return keyFromAttributeName1x(name, v);
    } catch {
      // not a name in that version; try the next
    }
  }
  throw new ClientProfileError(`${where}: unknown attribute name ${JSON.stringify(name)}`);
}

function parseVersion(s: string, where: string): KmipVersion {
  const m = /^(\d+)\.(\d+)$/.exec(s);
  if (!m) throw new ClientProfileError(`${where}: defaultProtocolVersion must look like "1.2"`);
  return { major: Number(m[1]), minor: Number(m[2]) };
}

function checkQuirks(q: unknown, where: string, extra: readonly string[]): ClientQuirks {
  if (typeof q !== 'object' || q === null || Array.isArray(q)) throw new ClientProfileError(`${where} must be an object`);
  const o = q as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!['getAllAttributes', 'omitAttributes', 'defaultProtocolVersion', ...extra].includes(k)) throw new ClientProfileError(`${where}: unknown key ${k}`);
  }
  if (o.getAllAttributes !== undefined && !GET_ALL_ATTRIBUTES_MODES.includes(o.getAllAttributes as GetAllAttributesMode)) {
    throw new ClientProfileError(`${where}: getAllAttributes must be one of ${GET_ALL_ATTRIBUTES_MODES.join(', ')}`);
  }
  if (o.omitAttributes !== undefined && (!Array.isArray(o.omitAttributes) || !o.omitAttributes.every((x) => typeof x === 'string'))) {
    throw new ClientProfileError(`${where}: omitAttributes must be a list of attribute names`);
  }
  if (o.defaultProtocolVersion !== undefined && typeof o.defaultProtocolVersion !== 'string') throw new ClientProfileError(`${where}: defaultProtocolVersion must be a string like "1.2"`);
  return o as ClientQuirks;
}

/** Check a `clientProfiles` config section (unknown keys, names, versions); returns it typed. */
export function parseClientProfiles(v: unknown, from: string): ClientProfilesConfig {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ClientProfileError(`${from}: clientProfiles must be an object`);
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (k !== 'default' && k !== 'profiles') throw new ClientProfileError(`${from}: unknown key clientProfiles.${k}`);
  const def = o.default === undefined ? undefined : checkQuirks(o.default, `${from}: clientProfiles.default`, []);
  if (o.profiles !== undefined && !Array.isArray(o.profiles)) throw new ClientProfileError(`${from}: clientProfiles.profiles must be a list`);
  const seen = new Set<string>();
  const profiles = ((o.profiles as unknown[] | undefined) ?? []).map((p, i) => {
    const where = `${from}: clientProfiles.profiles[${i}]`;
    const q = checkQuirks(p, where, ['name', 'identities']) as ClientProfileConfig;
    if (typeof q.name !== 'string' || q.name === '') throw new ClientProfileError(`${where}: name must be a non-empty string`);
    if (!Array.isArray(q.identities) || q.identities.length === 0 || !q.identities.every((x) => typeof x === 'string' && x !== '')) {
      throw new ClientProfileError(`${where}: identities must be a non-empty list of certificate identities`);
    }
    for (const id of q.identities) {
      if (seen.has(id)) throw new ClientProfileError(`${where}: identity ${JSON.stringify(id)} is in two profiles`);
      seen.add(id);
    }
    return q;
  });
  const out: ClientProfilesConfig = { ...(def && { default: def }), profiles };
  new ClientProfiles(out); // resolves every name and version now, so a bad one fails at start
  return out;
}

/** The profiles of a server, looked up by client identity. */
export class ClientProfiles {
  readonly fallback: ClientProfile;
  private readonly byIdentity = new Map<string, ClientProfile>();

  constructor(config: ClientProfilesConfig = {}) {
    this.fallback = ClientProfiles.ready('default', config.default ?? {});
    for (const p of config.profiles ?? []) {
      const ready = ClientProfiles.ready(p.name, p);
      for (const id of p.identities) this.byIdentity.set(id, ready);
    }
  }

  private static ready(name: string, q: ClientQuirks): ClientProfile {
    const where = `client profile ${name}`;
    return {
      name,
      getAllAttributes: q.getAllAttributes ?? 'pykmip-0.10',
      omit: new Set((q.omitAttributes ?? []).map((n) => keyOfName(n, where))),
      ...(q.defaultProtocolVersion !== undefined && { defaultProtocolVersion: parseVersion(q.defaultProtocolVersion, where) }),
    };
  }

  /** The profile for a client identity (the default profile when none names it). */
  forIdentity(identity: string): ClientProfile {
    return this.byIdentity.get(identity) ?? this.fallback;
  }
}

/** The built-in profile when a server has no `clientProfiles` (unit tests, embedded use). */
export const DEFAULT_CLIENT_PROFILE: ClientProfile = new ClientProfiles().fallback;

/**
 * For a Get Attributes naming no attribute: whether `key` is returned to a client of `profile` at
 * `version`.
 */
export function inFullListing(profile: ClientProfile, key: AttributeKey, version: KmipVersion): boolean {
  if (profile.omit.has(key)) return false;
  if (profile.getAllAttributes === 'pykmip-0.10' && compareVersions(version, PYKMIP_010_LAST) <= 0) return pykmip010Decodes(key, version);
  return true;
}

/** The versions Discover Versions offers a client of `profile`: none above its default protocol version. */
export function offeredVersions(profile: ClientProfile, served: readonly KmipVersion[]): readonly KmipVersion[] {
  const top = profile.defaultProtocolVersion;
  return top ? served.filter((v) => compareVersions(v, top) <= 0) : served;
}
