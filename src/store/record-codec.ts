/**
 * ObjectRecord ↔ bytes.
 *
 * Layout: a 2-byte header, then one binary TTLV Structure (our own strict codec):
 *
 *   'K'(0x4B)  format(0x01)
 *   Structure R.Record
 *     TextString   R.Uid
 *     Enumeration  R.ObjectType
 *     TextString   R.Owner
 *     Enumeration  R.State
 *     LongInteger  R.Revision
 *     ByteString   R.SealedBody      (optional)
 *     TextString   R.KekId           (optional)
 *     TextString   R.HsmKey          (optional: an HSM-resident key's reference)
 *     Structure    R.ServerDefaults  (optional: R.Key per attribute the server defaulted)
 *     Structure    R.Attributes
 *       Structure  R.Attribute       (one per key, in map order)
 *         TextString R.Key
 *         <instance> …               (the instance nodes as they are, in order)
 *
 * The children are positional; tags are private (extension range 0x54FFxx) and checked.
 * Format 1 carries records of `v: 1`. Decoding is strict: a wrong header, any TTLV
 * error, a wrong tag or type, a missing or extra child, a duplicate attribute key, an
 * ill-formed uid or a revision that is not a positive safe integer → StoreError CORRUPT.
 */
import { encode } from '../ttlv/encode.js';
import { decode } from '../ttlv/decode.js';
import type { TtlvNode, NodeOf } from '../ttlv/node.js';
import type { AttributeKey, ObjectRecord } from '../objects/managed-object.js';
import { StoreError } from './object-store.js';

const MAGIC = 0x4b;
const FORMAT = 0x01;

/** Private tags of the record format (TTLV extension range), never sent on the wire. */
export const RecordTag = {
  Record: 0x54ff01,
  Uid: 0x54ff02,
  ObjectType: 0x54ff03,
  Owner: 0x54ff04,
  State: 0x54ff05,
  Revision: 0x54ff06,
  SealedBody: 0x54ff07,
  KekId: 0x54ff08,
  Attributes: 0x54ff09,
  Attribute: 0x54ff0a,
  Key: 0x54ff0b,
  HsmKey: 0x54ff0c,
  ServerDefaults: 0x54ff0d,
} as const;
const R = RecordTag;

/** Limits for decoding a stored record: generous (records are ours), but still bounded. */
const DECODE_LIMITS = { maxMessageBytes: 256 * 1024 * 1024, maxDepth: 64, maxItems: 10_000_000 };

const LONE_SURROGATE = /\p{Cs}/u;

/** True if `uid` can be a key: non-empty, well-formed Unicode (no lone surrogates). */
export function isValidUid(uid: unknown): uid is string {
  return typeof uid === 'string' && uid.length > 0 && !LONE_SURROGATE.test(uid);
}

export function encodeRecord(rec: ObjectRecord): Buffer {
  if (rec.v !== 1) throw new TypeError(`cannot encode record version ${String(rec.v)}`);
  if (!isValidUid(rec.uid)) throw new TypeError('record uid must be a non-empty well-formed string');
  if (!Number.isSafeInteger(rec.revision) || rec.revision < 1) throw new TypeError(`bad revision ${rec.revision}`);
  const attrs: TtlvNode[] = [];
  for (const [key, instances] of rec.attributes) {
    attrs.push({ tag: R.Attribute, type: 'Structure', value: [{ tag: R.Key, type: 'TextString', value: key }, ...instances] });
  }
  const fields: TtlvNode[] = [
    { tag: R.Uid, type: 'TextString', value: rec.uid },
    { tag: R.ObjectType, type: 'Enumeration', value: rec.objectType },
    { tag: R.Owner, type: 'TextString', value: rec.owner },
    { tag: R.State, type: 'Enumeration', value: rec.state },
    { tag: R.Revision, type: 'LongInteger', value: BigInt(rec.revision) },
  ];
  if (rec.sealedBody !== undefined) fields.push({ tag: R.SealedBody, type: 'ByteString', value: rec.sealedBody });
  if (rec.kekId !== undefined) fields.push({ tag: R.KekId, type: 'TextString', value: rec.kekId });
  if (rec.hsmKey !== undefined) fields.push({ tag: R.HsmKey, type: 'TextString', value: rec.hsmKey });
  if (rec.serverDefaults !== undefined && rec.serverDefaults.length > 0) {
    fields.push({ tag: R.ServerDefaults, type: 'Structure', value: rec.serverDefaults.map((k) => ({ tag: R.Key, type: 'TextString', value: k })) });
  }
  fields.push({ tag: R.Attributes, type: 'Structure', value: attrs });
  const body = encode({ tag: R.Record, type: 'Structure', value: fields });
  const out = Buffer.allocUnsafe(2 + body.length);
  out[0] = MAGIC;
  out[1] = FORMAT;
  body.copy(out, 2);
  return out;
}

function corrupt(msg: string, cause?: unknown): never {
  throw new StoreError('CORRUPT', `corrupt record: ${msg}`, cause === undefined ? undefined : { cause });
}

/** Decode stored bytes. `uid`, when given, must match the uid inside (the key it was stored under). */
export function decodeRecord(bytes: Uint8Array, uid?: string): ObjectRecord {
  if (bytes.length < 2 || bytes[0] !== MAGIC) corrupt('bad header');
  if (bytes[1] !== FORMAT) corrupt(`unknown record format ${bytes[1]}`);
  let root: TtlvNode;
  try {
    root = decode(bytes.subarray(2), DECODE_LIMITS);
  } catch (e) {
    corrupt('undecodable body', e);
  }
  if (root.tag !== R.Record || root.type !== 'Structure') corrupt('not a record structure');
  const kids = root.value;
  let i = 0;
  function take<T extends TtlvNode['type']>(tag: number, type: T, optional: true): NodeOf<T> | undefined;
  function take<T extends TtlvNode['type']>(tag: number, type: T): NodeOf<T>;
  function take<T extends TtlvNode['type']>(tag: number, type: T, optional?: true): NodeOf<T> | undefined {
    const n = kids[i];
    if (n === undefined || n.tag !== tag) {
      if (optional) return undefined;
      corrupt(`missing field 0x${tag.toString(16)}`);
    }
    if (n.type !== type) corrupt(`field 0x${tag.toString(16)} has type ${n.type}`);
    i++;
    return n as NodeOf<T>;
  }
  const uidN = take(R.Uid, 'TextString');
  const objectType = take(R.ObjectType, 'Enumeration').value;
  const owner = take(R.Owner, 'TextString').value;
  const state = take(R.State, 'Enumeration').value;
  const revBig = take(R.Revision, 'LongInteger').value;
  const sealed = take(R.SealedBody, 'ByteString', true);
  const kek = take(R.KekId, 'TextString', true);
  const hsmKey = take(R.HsmKey, 'TextString', true);
  const defaultsN = take(R.ServerDefaults, 'Structure', true);
  const attrsN = take(R.Attributes, 'Structure');
  if (i !== kids.length) corrupt('extra fields');
  if (!isValidUid(uidN.value)) corrupt('bad uid');
  if (uid !== undefined && uidN.value !== uid) corrupt(`stored under ${uid} but holds ${uidN.value}`);
  if (revBig < 1n || revBig > BigInt(Number.MAX_SAFE_INTEGER)) corrupt(`bad revision ${revBig}`);

  const attributes = new Map<AttributeKey, TtlvNode[]>();
  for (const a of attrsN.value) {
    if (a.tag !== R.Attribute || a.type !== 'Structure') corrupt('bad attribute entry');
    const [k, ...instances] = a.value;
    if (!k || k.tag !== R.Key || k.type !== 'TextString') corrupt('attribute entry without key');
    if (attributes.has(k.value)) corrupt(`duplicate attribute ${k.value}`);
    attributes.set(k.value, instances);
  }
  const rec: {
    v: 1;
    uid: string;
    objectType: number;
    owner: string;
    state: number;
    attributes: Map<AttributeKey, TtlvNode[]>;
    sealedBody?: Uint8Array;
    kekId?: string;
    hsmKey?: string;
    serverDefaults?: AttributeKey[];
    revision: number;
  } = { v: 1, uid: uidN.value, objectType, owner, state, attributes, revision: Number(revBig) };
  if (sealed) rec.sealedBody = sealed.value;
  if (kek) rec.kekId = kek.value;
  if (hsmKey) rec.hsmKey = hsmKey.value;
  if (defaultsN) {
    rec.serverDefaults = defaultsN.value.map((k) => {
      if (k.tag !== R.Key || k.type !== 'TextString') corrupt('bad server-default entry');
      return k.value;
    });
  }
  return rec;
}
