/**
 * Capability Information (KMIP 1.3 §2.1.21, KMIP 2.1 §7.5) reported by Query Capabilities:
 * what this server does. Kept as data beside the operations.
 * - Streaming: Encrypt, Decrypt, Sign, Signature Verify, MAC, MAC Verify and Hash take Init /
 *   Final Indicators and a Correlation Value (multi-part).
 * - Asynchronous operations: Operation Pending, Poll and Cancel (operations/async-requests.ts). No
 *   attestation.
 * - Batch Undo and Batch Continue are served.
 * - Unwrap Mode Processed: a wrapped key registered under a key the server holds is unwrapped
 *   and stored sealed (operations/service/key-wrapping.ts).
 * - Destroy Action Key Material Deleted: Destroy removes the key material (and an HSM-resident
 *   key's token object) and keeps the metadata, the object staying in the Destroyed state.
 * - Shredding Algorithm Unsupported: deleted material is not overwritten by the server.
 * - RNG Mode Shared Instantiation: one DRBG (OpenSSL's, behind node:crypto) serves every client.
 */
import { DestroyAction, RNGMode, ShreddingAlgorithm, UnwrapMode } from '../../kmip/generated/enums.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import type { StructureNode } from '../../ttlv/node.js';
import { item } from '../../kmip/items.js';

export const CapabilityInformation: StructureNode = {
  tag: Tag.CapabilityInformation,
  type: 'Structure',
  value: [
    item('StreamingCapability', true),
    item('AsynchronousCapability', true),
    item('AttestationCapability', false),
    item('BatchUndoCapability', true),
    item('BatchContinueCapability', true),
    item('UnwrapMode', UnwrapMode.Processed),
    item('DestroyAction', DestroyAction.KeyMaterialDeleted),
    item('ShreddingAlgorithm', ShreddingAlgorithm.Unsupported),
    item('RNGMode', RNGMode.SharedInstantiation),
  ],
};
