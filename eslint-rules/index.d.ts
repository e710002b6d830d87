/** Types for the plain-JS rules (so test/eslint-rules/*.test.ts type-check). */
import type { ESLint, Rule } from 'eslint';

export interface Layer {
  readonly name: string;
  readonly files: readonly string[];
  readonly allow: readonly string[];
}
declare const plugin: ESLint.Plugin & { rules: { layers: Rule.RuleModule; 'no-cycle': Rule.RuleModule } };
export default plugin;
