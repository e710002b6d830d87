/**
 * Capability Information (KMIP 1.3 §2.1.21, KMIP 2.1 §7.5) reported by Query Capabilities:
 * what this server does. Kept as data beside the operations.
 */
import { Tag } from '../kmip/generated/tags.gen.js';
import type { StructureNode } from '../ttlv/node.js';

export const CapabilityInformation: StructureNode = {
  tag: Tag.CapabilityInformation,
  type: 'Structure',
  value: [
    { tag: Tag.StreamingCapability, type: 'Boolean', value: false },
    { tag: Tag.AsynchronousCapability, type: 'Boolean', value: false },
    { tag: Tag.AttestationCapability, type: 'Boolean', value: false },
    { tag: Tag.BatchUndoCapability, type: 'Boolean', value: true },
    { tag: Tag.BatchContinueCapability, type: 'Boolean', value: true },
  ],
};
