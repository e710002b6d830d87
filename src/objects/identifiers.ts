/**
 * Unique Identifiers for new managed objects: random UUID v4 (RFC 9562 §5.4) from the platform
 * CSPRNG. They say nothing about where or how an object is stored (no HSM slot, no store key).
 */
import { randomUUID } from 'node:crypto';

export function newUid(): string {
  return randomUUID();
}
