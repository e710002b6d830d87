import type { Rule } from 'eslint';
import type { Layer } from './index.js';
export declare function layerOf(layers: readonly Layer[], rel: string): Layer | undefined;
export declare const layersRule: Rule.RuleModule;
