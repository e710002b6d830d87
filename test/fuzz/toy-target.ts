/**
 * A fuzz target with a bug behind a chain of conditions on decoded TTLV (test/fuzz/fuzz.test.ts):
 * the engine must walk the chain by coverage to reach it. Not server code.
 */
import { decode } from '../../src/ttlv/decode.js';

export function toyTarget(input: Uint8Array): void {
  let node;
  try {
    node = decode(input);
  } catch {
    return;
  }
  if (node.type !== 'Structure') return;
  const [a, b] = node.value;
  if (a === undefined) return;
  if (a.type !== 'Integer') return;
  if (a.value < 0) {
    if (b !== undefined) {
      if (b.type === 'Boolean') throw new Error('toy bug reached');
    }
  }
}
