/**
 * The one handler table. The dispatcher, Query and Discover Versions all read it.
 * Adding an operation = one file in the folder of its capability + one line in its list here.
 * The order is the order Query reports operations in.
 */
import type { HandlerTable, OperationHandler } from './context.js';
// query and session
import { discoverVersions } from './query-and-session/discover-versions.js';
import { interop } from './query-and-session/interop.js';
import { log } from './query-and-session/log.js';
import { ping } from './query-and-session/ping.js';
import { makeQuery } from './query-and-session/query.js';
import { setEndpointRole } from './query-and-session/set-endpoint-role.js';
import { poll } from './query-and-session/poll.js';
import { cancel } from './query-and-session/cancel.js';
// lifecycle
import { activate } from './lifecycle/activate.js';
import { archive } from './lifecycle/archive.js';
import { check } from './lifecycle/check.js';
import { create } from './lifecycle/create.js';
import { destroy } from './lifecycle/destroy.js';
import { exportObject } from './lifecycle/export.js';
import { get } from './lifecycle/get.js';
import { getUsageAllocation } from './lifecycle/get-usage-allocation.js';
import { importObject } from './lifecycle/import.js';
import { obtainLease } from './lifecycle/obtain-lease.js';
import { recover } from './lifecycle/recover.js';
import { register } from './lifecycle/register.js';
import { revoke } from './lifecycle/revoke.js';
// attributes
import { addAttribute } from './attributes/add-attribute.js';
import { adjustAttribute } from './attributes/adjust-attribute.js';
import { deleteAttribute } from './attributes/delete-attribute.js';
import { getAttributeList } from './attributes/get-attribute-list.js';
import { getAttributes } from './attributes/get-attributes.js';
import { locate } from './attributes/locate.js';
import { modifyAttribute } from './attributes/modify-attribute.js';
import { setAttribute } from './attributes/set-attribute.js';
// crypto
import { decrypt } from './crypto/decrypt.js';
import { encrypt } from './crypto/encrypt.js';
import { hash } from './crypto/hash.js';
import { mac } from './crypto/mac.js';
import { macVerify } from './crypto/mac-verify.js';
import { rngRetrieve } from './crypto/rng-retrieve.js';
import { rngSeed } from './crypto/rng-seed.js';
import { sign } from './crypto/sign.js';
import { signatureVerify } from './crypto/signature-verify.js';
// keys and certificates
import { certify } from './keys-and-certificates/certify.js';
import { createKeyPair } from './keys-and-certificates/create-key-pair.js';
import { createSplitKey } from './keys-and-certificates/create-split-key.js';
import { deriveKey } from './keys-and-certificates/derive-key.js';
import { joinSplitKey } from './keys-and-certificates/join-split-key.js';
import { reCertify } from './keys-and-certificates/re-certify.js';
import { reKey } from './keys-and-certificates/re-key.js';
import { reKeyKeyPair } from './keys-and-certificates/re-key-key-pair.js';

const table = new Map<number, OperationHandler>();
const handlers: OperationHandler[] = [
  // query and session
  discoverVersions,
  ping,
  interop,
  makeQuery(() => table),
  // lifecycle (and Create / Join Split Key, which make objects)
  create,
  register,
  get,
  activate,
  revoke,
  destroy,
  archive,
  recover,
  check,
  obtainLease,
  getUsageAllocation,
  exportObject,
  importObject,
  createSplitKey,
  joinSplitKey,
  // attributes
  getAttributes,
  getAttributeList,
  addAttribute,
  setAttribute,
  modifyAttribute,
  deleteAttribute,
  adjustAttribute,
  locate,
  // crypto
  encrypt,
  decrypt,
  mac,
  macVerify,
  hash,
  rngRetrieve,
  rngSeed,
  deriveKey,
  // keys and certificates
  createKeyPair,
  sign,
  signatureVerify,
  reKey,
  reKeyKeyPair,
  certify,
  reCertify,
  // session
  log,
  setEndpointRole,
  // asynchronous operations (operations/async-requests.ts)
  poll,
  cancel,
];
for (const h of handlers) {
  if (table.has(h.operation)) throw new Error(`two handlers for operation ${h.name}`);
  table.set(h.operation, h);
}

export const HANDLERS: HandlerTable = table;
