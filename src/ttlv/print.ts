/**
 * Indented, human-readable dump of a TTLV tree. The TTLV layer does not know KMIP: names
 * come from an optional resolver (src/kmip supplies one backed by the spec registry).
 */
import type { TtlvNode } from './node.js';

export interface NameResolver {
  /** A display name for a tag (e.g. "CryptographicAlgorithm"). */
  tagName(tag: number): string | undefined;
  /**
   * A display form for a primitive value (e.g. an enumeration's name, mask flag names).
   * `parent` is the enclosing structure, for values whose meaning depends on a sibling.
   */
  valueName?(node: TtlvNode, parent: TtlvNode | undefined): string | undefined;
}

function hexTag(tag: number): string {
  return '0x' + tag.toString(16).toUpperCase().padStart(6, '0');
}

export function formatValue(node: TtlvNode): string {
  switch (node.type) {
    case 'Structure':
      return '';
    case 'ByteString':
    case 'BigInteger':
      return Buffer.from(node.value).toString('hex');
    case 'DateTime': {
      const ms = node.value * 1000n;
      const ok = ms >= -8640000000000000n && ms <= 8640000000000000n;
      return ok ? new Date(Number(ms)).toISOString().replace('.000Z', 'Z') : node.value.toString();
    }
    case 'DateTimeExtended': {
      const ms = node.value / 1000n;
      const ok = ms >= -8640000000000000n && ms <= 8640000000000000n;
      return ok ? `${new Date(Number(ms)).toISOString()} (${node.value}µs)` : node.value.toString();
    }
    case 'Enumeration':
      return '0x' + node.value.toString(16).padStart(8, '0');
    case 'TextString':
    case 'Identifier':
    case 'Reference':
    case 'NameReference':
      return JSON.stringify(node.value);
    default:
      return String(node.value);
  }
}

export function printTree(root: TtlvNode, resolver?: NameResolver, indent = '  '): string {
  const out: string[] = [];
  const walk = (node: TtlvNode, parent: TtlvNode | undefined, depth: number): void => {
    const name = resolver?.tagName(node.tag) ?? hexTag(node.tag);
    const pad = indent.repeat(depth);
    if (node.type === 'Structure') {
      out.push(`${pad}${name} (Structure)`);
      for (const c of node.value) walk(c, node, depth + 1);
      return;
    }
    const named = resolver?.valueName?.(node, parent);
    const raw = formatValue(node);
    out.push(`${pad}${name} (${node.type}): ${named !== undefined && named !== raw ? `${named} (${raw})` : raw}`);
  };
  walk(root, undefined, 0);
  return out.join('\n');
}
