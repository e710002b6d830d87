/** Types for eslint.config.js (read by test/eslint-rules/layers.test.ts). */
import type { Linter } from 'eslint';
declare const config: Linter.Config[];
export default config;
