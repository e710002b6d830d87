/** The lease an object may get (KMIP 1.4 §3.20, 2.1 §4.28): its own Lease Time, else the policy default. */
import { Tag } from '../../kmip/generated/tags.gen.js';
import { LEASE_POLICY } from '../../policy/crypto-policy.js';
import type { AttributeMap } from '../../objects/managed-object.js';
import { instance } from '../../objects/typed-attributes.js';

export function grantableLease(attrs: AttributeMap): number {
  const n = instance(attrs, 'LeaseTime');
  return n?.type === 'Interval' ? n.value : LEASE_POLICY.defaultSeconds;
}

/** The remaining Usage Limits Count, when the object has Usage Limits with a count. */
export function usageLimitsCount(attrs: AttributeMap): bigint | undefined {
  const ul = instance(attrs, 'UsageLimits');
  if (ul?.type !== 'Structure') return undefined;
  const c = ul.value.find((n) => n.type === 'LongInteger' && n.tag === Tag.UsageLimitsCount);
  return c?.type === 'LongInteger' ? c.value : undefined;
}
