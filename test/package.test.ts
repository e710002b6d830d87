/**
 * package.json names files that exist: "main" and "types" (the client library) and "bin" are
 * built files the published "files" include.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const root = new URL('../', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { main: string; types: string; bin: Record<string, string>; files: string[] };
const published = (file: string) => pkg.files.some((f) => file === f || file.startsWith(`${f}/`));

describe('package.json entry points', () => {
  it('main, types and bin exist after the build and are in "files"', () => {
    for (const file of [pkg.main, pkg.types, ...Object.values(pkg.bin)]) {
      expect(existsSync(new URL(file, root)), file).toBe(true);
      expect(published(file), file).toBe(true);
    }
  });

  it('main is the client library', async () => {
    const main = (await import(new URL(pkg.main, root).href)) as Record<string, unknown>;
    expect(typeof main.KmipClient).toBe('function');
    expect(typeof main.requestMessage).toBe('function');
  });
});
