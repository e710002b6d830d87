/**
 * Where `kms keys` reads objects from: a stopped server's data folder (the LevelDB store,
 * opened read-only), a cluster's PostgreSQL database (read-only, while its nodes run; the
 * same records the nodes serve) or a running server through KMIP 2.1 (Locate + Get Attributes over
 * mutual TLS). Both give the same shapes; neither ever reads key material: the folder's
 * sealed content is never opened, and over KMIP only attributes are asked for.
 */
import { KmipClient } from '../client/client.js';
import { expectSuccess, findChild, locatePayload, parseResponse, requestMessage, uniqueIdentifiersOf, type AttributeNode } from '../client/requests.js';
import { ObjectType, Operation, ResultReason, State } from '../kmip/generated/enums.gen.js';
import { StorageStatusMask } from '../kmip/generated/masks.gen.js';
import { Tag } from '../kmip/generated/tags.gen.js';
import { toKmipJson } from '../kmip/json.js';
import { enumDef, enumValueName, tagName } from '../kmip/registry.js';
import { effectiveState } from '../objects/lifecycle.js';
import { isMetadataOnly } from '../objects/object-body.js';
import type { ObjectRecord } from '../objects/managed-object.js';
import { withDerived } from '../objects/server-set.js';
import type { ObjectStore } from '../store/object-store.js';
import type { StorePoolConfig } from '../config/store-pool.js';
import { DataFolder } from '../folder/data-folder.js';
import { FolderError } from '../folder/errors.js';
import { openFolderStore } from '../folder/store-choice.js';
import { redactIn, redactStoreUrl } from '../config/store-url.js';
import { t, type StructureNode, type TtlvNode } from '../ttlv/index.js';

/** One attribute as shown: its name and each instance as plain JSON (enums by name). */
export interface ShownAttribute {
  readonly name: string;
  readonly values: readonly unknown[];
}

export interface KeySummary {
  readonly uid: string;
  readonly objectType: string;
  readonly algorithm?: string;
  readonly length?: number;
  readonly state: string;
  readonly names: readonly string[];
  /** Known from the data folder; KMIP has no owner attribute, so absent over KMIP. */
  readonly owner?: string;
}

export interface KeyDetail extends KeySummary {
  /** "sealed (KEK …)" or "destroyed"; over KMIP "not read". Never the material itself. */
  readonly content: string;
  readonly attributes: readonly ShownAttribute[];
  readonly links: readonly { readonly type: string; readonly uid: string }[];
}

export interface KeyFilter {
  readonly state?: number;
  readonly objectType?: number;
  readonly name?: string;
}

export interface KeySource {
  list(filter: KeyFilter): Promise<KeySummary[]>;
  /** undefined: no such object (or, over KMIP, not one the caller may see). */
  show(uid: string): Promise<KeyDetail | undefined>;
  close(): Promise<void>;
}

/** A source failed for a reason the user must see (exit code chosen by the command). */
export class SourceError extends Error {
  override readonly name = 'SourceError';
  constructor(
    readonly kind: 'io' | 'refused',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const norm = (s: string): string => s.replace(/[^a-z0-9]/gi, '').toLowerCase();

/** An enumeration value from a name as a user types it ("pre-active", "PreActive", "symmetric_key"). */
export function enumFromUserText(enumName: 'State' | 'ObjectType', text: string): number | undefined {
  return enumDef(enumName)?.values.find((v) => norm(v.name) === norm(text))?.value;
}

/** A TTLV value as plain JSON: structures as objects of their children (repeated → arrays). */
export function plainValue(node: TtlvNode): unknown {
  if (node.type !== 'Structure') return toKmipJson(node).value;
  const children = new Map<string, unknown[]>();
  for (const c of node.value) {
    const k = tagName(c.tag);
    children.set(k, [...(children.get(k) ?? []), plainValue(c)]);
  }
  return Object.fromEntries([...children].map(([k, vs]) => [k, vs.length === 1 ? vs[0] : vs]));
}

/** The shared view of an object from its attributes (key → instances, 2.x shape). */
function describe(uid: string, attrs: ReadonlyMap<string, readonly TtlvNode[]>, owner: string | undefined, content: string): KeyDetail {
  const one = (k: string) => attrs.get(k)?.[0];
  const enumOf = (k: string, e: string) => {
    const n = one(k);
    return n?.type === 'Enumeration' ? (enumValueName(e, n.value) ?? `0x${n.value.toString(16)}`) : undefined;
  };
  const len = one('CryptographicLength');
  const names = (attrs.get('Name') ?? []).flatMap((n) => {
    const v = findChild(n, Tag.NameValue);
    return v?.type === 'TextString' ? [v.value] : [];
  });
  const links = (attrs.get('Link') ?? []).flatMap((n) => {
    const type = findChild(n, Tag.LinkType);
    const id = findChild(n, Tag.LinkedObjectIdentifier);
    return type?.type === 'Enumeration' && (id?.type === 'TextString' || id?.type === 'Identifier')
      ? [{ type: enumValueName('LinkType', type.value) ?? String(type.value), uid: id.value }]
      : [];
  });
  const algorithm = enumOf('CryptographicAlgorithm', 'CryptographicAlgorithm');
  return {
    uid,
    objectType: enumOf('ObjectType', 'ObjectType') ?? 'unknown',
    ...(algorithm !== undefined ? { algorithm } : {}),
    ...(len?.type === 'Integer' ? { length: len.value } : {}),
    state: enumOf('State', 'State') ?? 'unknown',
    names,
    ...(owner !== undefined ? { owner } : {}),
    content,
    attributes: [...attrs].map(([name, nodes]) => ({ name, values: nodes.map(plainValue) })).sort((a, b) => a.name.localeCompare(b.name)),
    links,
  };
}

function summary(d: KeyDetail): KeySummary {
  const { content: _c, attributes: _a, links: _l, ...s } = d;
  return s;
}

// ------------------------------------------------------------------------------ data folder

/** The attributes a client would read, from a stored record (as Get Attributes builds them). */
function recordAttributes(r: ObjectRecord, now: number): Map<string, readonly TtlvNode[]> {
  const state = effectiveState(r.state, r.attributes, BigInt(Math.floor(now / 1000)));
  const out = new Map<string, readonly TtlvNode[]>();
  out.set('UniqueIdentifier', [t.text(Tag.UniqueIdentifier, r.uid)]);
  out.set('ObjectType', [t.enum(Tag.ObjectType, r.objectType)]);
  out.set('State', [t.enum(Tag.State, state)]);
  // Keys starting with '$' are the server's own bookkeeping (creation order), not attributes.
  for (const [k, v] of r.attributes) if (!out.has(k) && !k.startsWith('$')) out.set(k, v);
  // Plus the always-valued ones derived on read (Short Unique Identifier, Sensitive, …), as a 2.1 Get Attributes gives them.
  return withDerived(r, out);
}

function matches(d: KeySummary, f: KeyFilter): boolean {
  if (f.state !== undefined && d.state !== enumValueName('State', f.state)) return false;
  if (f.objectType !== undefined && d.objectType !== enumValueName('ObjectType', f.objectType)) return false;
  if (f.name !== undefined && !d.names.includes(f.name)) return false;
  return true;
}

export class FolderSource implements KeySource {
  private constructor(private readonly store: ObjectStore) {}

  /** Open the folder's store read-only, without its keys; refused (SourceError io) when missing or held by a server. */
  static async open(dataDir: string): Promise<FolderSource> {
    try {
      const folder = await DataFolder.open({ dataDir, store: 'read-only', keys: 'none', inUse: ': stop it, or ask the server (--server host:port with --cert, --key, --ca)' });
      return new FolderSource(folder.store);
    } catch (e) {
      if (e instanceof FolderError) throw new SourceError('io', e.message, { cause: e });
      throw e;
    }
  }

  /**
   * Open a cluster's PostgreSQL database read-only (no data folder, no lock: the nodes keep
   * running); refused (SourceError io) when it cannot be reached. Messages never carry the URL's password.
   */
  static async openShared(url: string, pool?: StorePoolConfig): Promise<FolderSource> {
    try {
      // Only reads follow: records and attributes, never the sealed content (no keys are opened).
      return new FolderSource(await openFolderStore({ path: '', url, readOnly: true, ...(pool && { pool }) }));
    } catch (e) {
      throw new SourceError('io', `cannot open the PostgreSQL store ${redactStoreUrl(url)}: ${redactIn((e as Error).message, url)}`, { cause: e });
    }
  }

  private view(r: ObjectRecord): KeyDetail {
    const content = !r.sealedBody
      ? 'none (destroyed)'
      : isMetadataOnly(r.attributes)
        ? 'none here (metadata-only; the value is where its Key Value Location says)'
        : r.hsmKey !== undefined
          ? `in the HSM (non-extractable); metadata sealed under ${r.kekId ?? 'unknown KEK'}`
          : `sealed under ${r.kekId ?? 'unknown KEK'} (not shown)`;
    return describe(r.uid, recordAttributes(r, Date.now()), r.owner, content);
  }

  async list(filter: KeyFilter): Promise<KeySummary[]> {
    const out: KeySummary[] = [];
    for (let after: string | undefined; ;) {
      const page = await this.store.list(after, 500);
      if (page.length === 0) break;
      for (const uid of page) {
        const r = await this.store.get(uid);
        if (!r) continue;
        const s = summary(this.view(r));
        if (matches(s, filter)) out.push(s);
      }
      after = page[page.length - 1];
    }
    return out;
  }

  async show(uid: string): Promise<KeyDetail | undefined> {
    const r = await this.store.get(uid);
    return r && this.view(r);
  }

  close(): Promise<void> {
    return this.store.close();
  }
}

// ------------------------------------------------------------------------------ KMIP

const V21 = { major: 2, minor: 1 };
const BATCH = 50;
const NOT_FOUND: readonly number[] = [ResultReason.ItemNotFound, ResultReason.ObjectNotFound];

export interface ServerTarget {
  readonly host: string;
  readonly port: number;
  readonly ca: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly servername?: string;
}

export class KmipSource implements KeySource {
  private constructor(private readonly client: KmipClient) {}

  static async connect(target: ServerTarget): Promise<KmipSource> {
    try {
      return new KmipSource(await KmipClient.connect({ ...target, timeoutMs: 30_000 }));
    } catch (e) {
      throw new SourceError('io', `cannot connect to ${target.host}:${target.port}: ${(e as Error).message}`, { cause: e });
    }
  }

  private async call(batch: { operation: number; payload: StructureNode | TtlvNode[] }[]) {
    return parseResponse(await this.client.send(requestMessage({ version: V21, batch }))).items;
  }

  /** Get Attributes (all of them) for up to BATCH uids; a not-found item → undefined. */
  private async attributesOf(uids: readonly string[]): Promise<(Map<string, TtlvNode[]> | undefined)[]> {
    const items = await this.call(uids.map((uid) => ({ operation: Operation.GetAttributes, payload: [t.text(Tag.UniqueIdentifier, uid)] })));
    return items.map((it) => {
      if (it.reason !== undefined && NOT_FOUND.includes(it.reason)) return undefined;
      let payload;
      try {
        payload = expectSuccess(it);
      } catch (e) {
        throw new SourceError('refused', `the server refused Get Attributes: ${(e as Error).message}`, { cause: e });
      }
      const attrs = new Map<string, TtlvNode[]>();
      const list = findChild(payload, Tag.Attributes);
      for (const n of list?.type === 'Structure' ? list.value : []) {
        const k = tagName(n.tag);
        attrs.set(k, [...(attrs.get(k) ?? []), n]);
      }
      return attrs;
    });
  }

  async list(filter: KeyFilter): Promise<KeySummary[]> {
    const attributes: AttributeNode[] = [];
    if (filter.objectType !== undefined) attributes.push(t.enum(Tag.ObjectType, filter.objectType));
    if (filter.state !== undefined) attributes.push(t.enum(Tag.State, filter.state));
    if (filter.name !== undefined) attributes.push(t.struct(Tag.Name, [t.text(Tag.NameValue, filter.name), t.enum(Tag.NameType, 1)]));
    const mask = StorageStatusMask.OnLineStorage | StorageStatusMask.ArchivalStorage | StorageStatusMask.DestroyedStorage;
    const [item] = await this.call([{ operation: Operation.Locate, payload: locatePayload(V21, attributes, { storageStatusMask: mask }) }]);
    let uids: string[];
    try {
      uids = uniqueIdentifiersOf(expectSuccess(item!)).sort();
    } catch (e) {
      throw new SourceError('refused', `the server refused Locate: ${(e as Error).message}`, { cause: e });
    }
    const out: KeySummary[] = [];
    for (let i = 0; i < uids.length; i += BATCH) {
      const chunk = uids.slice(i, i + BATCH);
      const attrs = await this.attributesOf(chunk);
      chunk.forEach((uid, j) => {
        const a = attrs[j];
        if (a) out.push(summary(describe(uid, a, undefined, 'not read')));
      });
    }
    return out;
  }

  async show(uid: string): Promise<KeyDetail | undefined> {
    const [attrs] = await this.attributesOf([uid]);
    return attrs && describe(uid, attrs, undefined, 'not read (attributes only)');
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

/** States and types for help texts and error messages. */
export const STATE_NAMES = Object.values(State).map((v) => enumValueName('State', v)!);
export const TYPE_NAMES = Object.values(ObjectType).map((v) => enumValueName('ObjectType', v)!);
