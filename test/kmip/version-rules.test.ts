import { describe, expect, it } from 'vitest';
import { ResultReason } from '../../src/kmip/generated/enums.gen.js';
import { enumDef, isAvailable, parseSpecVersion } from '../../src/kmip/registry.js';
import type { KmipVersion, SpecVersion } from '../../src/kmip/spec-types.js';
import { attributeForm, is2x, TABLE_VERSIONS, VERSION_REASONS, versionReason, type VersionSituation } from '../../src/kmip/version-rules.js';

const v = (s: string): KmipVersion => parseSpecVersion(s as SpecVersion);
const reasonDefs = new Map((enumDef('ResultReason')?.values ?? []).map((d) => [d.value, d]));

describe('the version table', () => {
  it('is2x is true from 2.0 on only', () => {
    expect(['1.0', '1.1', '1.2', '1.3', '1.4'].map((s) => is2x(v(s)))).toEqual([false, false, false, false, false]);
    expect(['2.0', '2.1', '3.0'].map((s) => is2x(v(s)))).toEqual([true, true, true]);
  });

  it('answers each situation with a reason the version defines', () => {
    for (const situation of Object.keys(VERSION_REASONS) as VersionSituation[]) {
      for (const s of TABLE_VERSIONS.filter((x) => x !== '3.0')) {
        const reason = versionReason(v(s), situation);
        const def = reasonDefs.get(reason);
        expect(def, `${situation} at ${s}: reason ${reason} is not in the registry`).toBeDefined();
        expect(isAvailable(def!, v(s)), `${situation} at ${s}: ${def!.name} is not defined in KMIP ${s}`).toBe(true);
      }
    }
  });

  it('rows list their versions in ascending order, starting at 1.0', () => {
    for (const [situation, row] of Object.entries(VERSION_REASONS)) {
      expect(row.from[0]![0], situation).toBe('1.0');
      const idx = row.from.map(([s]) => TABLE_VERSIONS.indexOf(s));
      expect(
        [...idx].sort((a, b) => a - b),
        situation,
      ).toEqual(idx);
    }
  });

  // The rows the spec's error tables and the OASIS test cases pin.
  const pinned: [VersionSituation, string, number][] = [
    ['ObjectNotFound', '1.4', ResultReason.ItemNotFound],
    ['ObjectNotFound', '2.0', ResultReason.ObjectNotFound], // BL-M-4-21
    ['ObjectDestroyed', '1.2', ResultReason.ItemNotFound],
    ['ObjectDestroyed', '2.1', ResultReason.ObjectDestroyed], // BL-M-8-21
    ['DestroyedDerivationBase', '2.1', ResultReason.KeyValueNotPresent],
    ['KeyValueNotPresent', '1.1', ResultReason.PermissionDenied],
    ['KeyValueNotPresent', '1.2', ResultReason.KeyValueNotPresent],
    ['KeyValueNotPresent', '2.1', ResultReason.KeyValueNotPresent],
    ['Sensitive', '1.3', ResultReason.PermissionDenied],
    ['Sensitive', '1.4', ResultReason.Sensitive],
    ['WrongKeyLifecycleState', '1.4', ResultReason.PermissionDenied], // SKLC-M-3-14
    ['WrongKeyLifecycleState', '2.1', ResultReason.WrongKeyLifecycleState], // SKLC-M-3-21
    ['NonUniqueNameAttribute', '1.4', ResultReason.InvalidField],
    ['NonUniqueNameAttribute', '2.0', ResultReason.NonUniqueNameAttribute],
    ['ObjectTypeNotUsable', '1.0', ResultReason.IllegalOperation],
    ['ObjectTypeNotUsable', '2.1', ResultReason.InvalidObjectType],
    ['KeyWrapTypeNotSupported', '1.4', ResultReason.FeatureNotSupported],
    ['KeyWrapTypeNotSupported', '2.1', ResultReason.KeyWrapTypeNotSupported],
    ['WrappingObjectNotFound', '1.4', ResultReason.ItemNotFound],
    ['WrappingObjectArchived', '1.4', ResultReason.ObjectArchived],
    ['EncodingOptionError', '1.0', ResultReason.InvalidField],
    ['EncodingOptionError', '1.1', ResultReason.EncodingOptionError],
    ['AttributeInstanceLimit', '1.4', ResultReason.IndexOutOfBounds],
    ['AttributeInstanceLimit', '2.1', ResultReason.ServerLimitExceeded],
    ['AttributeReadOnlyOnCreate', '2.1', ResultReason.AttributeReadOnly],
    ['ReadOnlyAttribute', '2.1', ResultReason.ReadOnlyAttribute],
    ['AttributeNotFoundOnModify', '1.4', ResultReason.InvalidField],
    ['AttributeNotFoundOnDelete', '1.4', ResultReason.ItemNotFound],
  ];
  it.each(pinned)('%s at %s', (situation, version, reason) => {
    expect(versionReason(v(version), situation)).toBe(reason);
  });

  it('names the attribute form of each version', () => {
    expect(attributeForm(v('1.4'))).toBe('1.x Attribute');
    expect(attributeForm(v('2.0'))).toBe('2.x Attributes');
  });
});
