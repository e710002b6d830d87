/**
 * The KMIP-aware name resolver for the TTLV tree printer: tag names from the registry,
 * enumeration values by name, masks as flag names (a 1.x Attribute Value is named after
 * the attribute in its sibling Attribute Name).
 */
import type { NameResolver } from '../ttlv/print.js';
import type { TtlvNode } from '../ttlv/node.js';
import { tagDef } from './registry.js';
import { formatEnum, maskComponents, TAG_ATTRIBUTE_NAME, valueMeaning } from './text-values.js';

function siblingAttributeName(parent: TtlvNode | undefined): string | undefined {
  if (parent?.type !== 'Structure') return undefined;
  const n = parent.value.find((c) => c.tag === TAG_ATTRIBUTE_NAME);
  return n?.type === 'TextString' ? n.value : undefined;
}

export const kmipNames: NameResolver = {
  tagName: (tag) => tagDef(tag)?.name,
  valueName(node, parent) {
    if (node.type !== 'Enumeration' && node.type !== 'Integer') return undefined;
    const meaning = valueMeaning(node.tag, node.type, siblingAttributeName(parent));
    if (node.type === 'Enumeration') return meaning.kind === 'plain' ? undefined : formatEnum(node.value, meaning);
    if (meaning.kind !== 'mask') return undefined;
    const parts = maskComponents(node.value, meaning.maskName);
    return parts.length > 0 ? parts.join('|') : undefined;
  },
};
