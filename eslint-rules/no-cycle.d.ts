import type { Rule } from 'eslint';
export declare function resolveIn(files: ReadonlySet<string>, from: string, spec: string): string | undefined;
export declare function importGraph(dirs: readonly string[]): Map<string, Set<string>>;
export declare function components(graph: ReadonlyMap<string, ReadonlySet<string>>): Map<string, number>;
export declare function pathBetween(graph: ReadonlyMap<string, ReadonlySet<string>>, from: string, to: string): string[] | undefined;
export declare const noCycleRule: Rule.RuleModule;
