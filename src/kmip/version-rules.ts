/**
 * The one table of version-dependent behaviour: which Result Reason a situation gets in each
 * protocol version, and which form attributes take on the wire. Handlers name the situation
 * (`versionReason(ctx.version, 'WrappingObjectNotFound')`); they never test the version
 * themselves. KMIP 2.0 added many specific reasons (2.1 §11 Table 289) where 1.x answers with a
 * general one (1.4 §11); the 1.x choice of each row is the one its 1.4 error table or the 1.x
 * test cases give.
 *
 * test/kmip/version-rules.test.ts checks every row: each reason exists in the versions that use
 * it, and the rows the test cases pin answer what those test cases expect.
 */
import { ResultReason } from './generated/enums.gen.js';
import type { ResultReasonValue } from './errors.js';
import type { KmipVersion, SpecVersion } from './spec-types.js';

/** KMIP 2.0 and later: the 2.x message forms, attributes and Result Reasons. */
export function is2x(v: KmipVersion): boolean {
  return v.major >= 2;
}

/** A row: the reason from each listed version on (ascending), and where the choice comes from. */
export interface VersionReasonRow {
  readonly from: readonly (readonly [SpecVersion, ResultReasonValue])[];
  readonly ref: string;
}

const R = ResultReason;
const row = (v1: ResultReasonValue, v2: ResultReasonValue, ref: string): VersionReasonRow => ({
  from: [
    ['1.0', v1],
    ['2.0', v2],
  ],
  ref,
});

/** Situation → Result Reason per version. */
export const VERSION_REASONS = {
  // ------------------------------------------------------------------ objects
  /** No such object, or not the caller's (indistinguishable). */
  ObjectNotFound: row(R.ItemNotFound, R.ObjectNotFound, '1.4 §11; 2.1 operation error tables; test case BL-M-4-21'),
  /** Get / a cryptographic operation on an object whose key material was destroyed (operations destroyed.ts). */
  ObjectDestroyed: row(R.ItemNotFound, R.ObjectDestroyed, '2.1 §11 Object Destroyed; test case BL-M-8-21; 1.x: PyKMIP 0.10 integration suite'),
  /** Derive Key from a destroyed object (2.1 Derive Key error table lists Key Value Not Present). */
  DestroyedDerivationBase: row(R.ItemNotFound, R.KeyValueNotPresent, '2.1 §6.1.14.1'),
  /** A metadata-only object (Key Value Present false) asked for its value; 1.0/1.1 lack the reason. */
  KeyValueNotPresent: {
    from: [
      ['1.0', R.PermissionDenied],
      ['1.2', R.KeyValueNotPresent],
    ],
    ref: '1.2 §11; 2.1 §11',
  },
  /** Derive Key from an object without key material; 1.0/1.1 lack Key Value Not Present. */
  DerivationBaseValueAbsent: {
    from: [
      ['1.0', R.InvalidField],
      ['1.2', R.KeyValueNotPresent],
    ],
    ref: '1.4 §11.14; 2.1 §6.1.14.1',
  },
  /** Split-key parts of a Sensitive object; 1.4 added Sensitive (1.0-1.3: Permission Denied). */
  Sensitive: {
    from: [
      ['1.0', R.PermissionDenied],
      ['1.4', R.Sensitive],
    ],
    ref: '1.4 §11; 2.1 §11',
  },
  /** The same for an object whose Extractable is False. */
  NotExtractable: {
    from: [
      ['1.0', R.PermissionDenied],
      ['1.4', R.NotExtractable],
    ],
    ref: '1.4 §11; 2.1 §11',
  },
  /** A Template (a 1.x object) named, or an object of a type the operation cannot use. */
  ObjectTypeNotUsable: row(R.IllegalOperation, R.InvalidObjectType, '1.4 §11 Illegal Operation; 2.1 §11 Invalid Object Type'),
  /** The request's Object Type, or an input object, is of a type the operation does not take. */
  ObjectTypeNotAccepted: row(R.InvalidField, R.InvalidObjectType, '1.4 §11.1 Invalid Field; 2.1 §11 Invalid Object Type'),
  /** Certify / Re-certify of an object that is not a public key or certificate request. */
  ObjectTypeNotCertifiable: row(R.PermissionDenied, R.InvalidObjectType, '1.4 §11.8; 2.1 §6.1.6.1'),
  /** Check on a Template. */
  ObjectTypeIllegal: row(R.IllegalOperation, R.IllegalObjectType, '1.4 §11.10; 2.1 §6.1.7.1'),
  /** A Name another visible object already holds, or the same Name twice. */
  NonUniqueNameAttribute: row(R.InvalidField, R.NonUniqueNameAttribute, '1.4 §11.2; 2.1 §6.1.8.1'),
  /** Get Usage Allocation on an object without Usage Limits. */
  UsageLimitsAbsent: row(R.IllegalOperation, R.AttributeNotFound, '1.4 §11.23; 2.1 §6.1.24.1'),
  /** Usage Limits exhausted. */
  UsageLimitExceeded: row(R.PermissionDenied, R.UsageLimitExceeded, '1.4 §11.23; 2.1 §11'),

  // ------------------------------------------------------------------ lifecycle and usage
  /** The object's state (or dates) do not allow the use. */
  WrongKeyLifecycleState: row(R.PermissionDenied, R.WrongKeyLifecycleState, '1.x test case SKLC-M-3-14; 2.1 §11'),
  /** An input object of Derive Key / Create Split Key / Join Split Key in the wrong state. */
  InputWrongKeyLifecycleState: row(R.InvalidField, R.WrongKeyLifecycleState, '1.4 §11.14 Invalid Field; 2.1 §6.1.14.1'),
  /** The key's Cryptographic Usage Mask does not allow the use. */
  IncompatibleCryptographicUsageMask: row(R.PermissionDenied, R.IncompatibleCryptographicUsageMask, '1.4 §11; 2.1 §11'),
  /** Derive Key from an object whose usage mask lacks Derive Key. */
  InputIncompatibleCryptographicUsageMask: row(R.InvalidField, R.IncompatibleCryptographicUsageMask, '1.4 §11.14; 2.1 §6.1.14.1'),

  // ------------------------------------------------------------------ cryptographic parameters
  BadCryptographicParameters: row(R.InvalidField, R.BadCryptographicParameters, '1.4 §11 Invalid Field; 2.1 §11'),
  UnsupportedCryptographicParameters: row(R.InvalidField, R.UnsupportedCryptographicParameters, '1.4 §11 Invalid Field; 2.1 §11'),
  /** MAC/Signature Key Information names parameters the MAC key does not have. */
  MacKeyParametersNotFound: row(R.ItemNotFound, R.BadCryptographicParameters, '1.4 §11.12; 2.1 §6.1.19.1'),
  /** A method, algorithm or request type this server does not serve. */
  FeatureNotSupported: row(R.InvalidField, R.FeatureNotSupported, '1.4 §11.1; 2.1 §11'),
  InvalidCSR: row(R.InvalidField, R.InvalidCSR, '1.4 §11.8; 2.1 §6.1.6.1'),
  /** Multi-part operations: an unknown Correlation Value. */
  InvalidCorrelationValue: row(R.ItemNotFound, R.InvalidCorrelationValue, '2.1 §11'),
  /** Poll: no asynchronous result held under the Asynchronous Correlation Value for the caller (1.x lacks the reason). */
  InvalidAsynchronousCorrelationValue: row(R.ItemNotFound, R.InvalidAsynchronousCorrelationValue, '1.4 §4.28; 2.1 §6.1.36, §11'),

  // ------------------------------------------------------------------ key wrapping
  KeyWrapTypeNotSupported: row(R.FeatureNotSupported, R.KeyWrapTypeNotSupported, '1.4 §11.12; 2.1 §6.1.19.1'),
  /** An Encoding Option this server does not serve; 1.0 lacks the reason. */
  EncodingOptionError: {
    from: [
      ['1.0', R.InvalidField],
      ['1.1', R.EncodingOptionError],
    ],
    ref: '1.1 §11; 2.1 §11',
  },
  WrappingObjectNotFound: row(R.ItemNotFound, R.WrappingObjectNotFound, '1.4 §11.12; 2.1 §11'),
  WrappingObjectArchived: row(R.ObjectArchived, R.WrappingObjectArchived, '1.4 §11.12; 2.1 §11'),
  WrappingObjectDestroyed: row(R.PermissionDenied, R.WrappingObjectDestroyed, '1.4 §11.12; 2.1 §11'),

  // ------------------------------------------------------------------ attributes (objects/attributes.ts)
  /** An attribute name the version does not define, or a value with the wrong tag. */
  InvalidAttribute: row(R.InvalidField, R.InvalidAttribute, '1.4 §11.1-§11.2; 2.1 §11.46'),
  /** An attribute value of the wrong item type or out of range. */
  InvalidAttributeValue: row(R.InvalidField, R.InvalidAttributeValue, '1.4 §11.2; 2.1 §11.46'),
  /** A client creating an object with a server-only attribute. */
  AttributeReadOnlyOnCreate: row(R.InvalidField, R.AttributeReadOnly, '1.4 §11.2; 2.1 §6.1.8.1'),
  /** Add / Set Attribute of a server-only attribute. */
  ReadOnlyAttribute: row(R.PermissionDenied, R.ReadOnlyAttribute, '1.4 §11.15; 2.1 §6.1.2.1, §6.1.51.1'),
  /** Modify / Delete of a server-only or non-deletable attribute. */
  AttributeReadOnly: row(R.PermissionDenied, R.AttributeReadOnly, '1.4 §11.16-§11.17; 2.1 §6.1.34.1, §6.1.13.1'),
  /** An attribute that does not apply to the object type, at creation. */
  AttributeNotApplicableOnCreate: row(R.InvalidField, R.InvalidAttribute, '1.4 §11.2; 2.1 §11.46'),
  /** An attribute that does not apply to the object type, added or modified later. */
  AttributeNotApplicable: row(R.PermissionDenied, R.InvalidAttribute, '1.4 §11.15-§11.16; 2.1 §6.1.2.1'),
  /** A second instance of a single-valued attribute, at creation. */
  AttributeSingleValuedOnCreate: row(R.InvalidField, R.AttributeSingleValued, '1.4 §11.2; 2.1 §6.1.8.1'),
  /** A second instance of a single-valued attribute, added later. */
  AttributeSingleValued: row(R.IllegalOperation, R.AttributeSingleValued, '1.4 §11.15; 2.1 §6.1.2.1'),
  /** More instances than the server allows. */
  AttributeInstanceLimit: row(R.IndexOutOfBounds, R.ServerLimitExceeded, '1.4 §11.2, §11.15; 2.1 §6.1.2.1'),
  /** Modify of an attribute the object lacks. */
  AttributeNotFoundOnModify: row(R.InvalidField, R.AttributeNotFound, '1.4 §11.16; 2.1 §6.1.34.1'),
  /** Delete of an attribute the object lacks. */
  AttributeNotFoundOnDelete: row(R.ItemNotFound, R.AttributeNotFound, '1.4 §11.17; 2.1 §6.1.13.1'),
  /** Modify / Delete of an instance that is not there. */
  AttributeInstanceNotFound: row(R.ItemNotFound, R.AttributeInstanceNotFound, '1.4 §11.16-§11.17; 2.1 §6.1.34.1'),
} as const satisfies Record<string, VersionReasonRow>;

export type VersionSituation = keyof typeof VERSION_REASONS;

const ORDER: readonly SpecVersion[] = ['1.0', '1.1', '1.2', '1.3', '1.4', '2.0', '2.1', '3.0'];
const rank = (v: KmipVersion): number => v.major * 100 + v.minor;
const rankOf = (s: SpecVersion): number => {
  const [major, minor] = s.split('.').map(Number) as [number, number];
  return major * 100 + minor;
};

/** The Result Reason `situation` gets at `version`. */
export function versionReason(version: KmipVersion, situation: VersionSituation): ResultReasonValue {
  const steps: VersionReasonRow['from'] = VERSION_REASONS[situation].from;
  let reason = steps[0]![1];
  for (const [since, r] of steps) if (rank(version) >= rankOf(since)) reason = r;
  return reason;
}

/** The versions this table distinguishes, for tests and docs. */
export const TABLE_VERSIONS = ORDER;

/**
 * How a version carries attributes (1.4 §2.1.1 Attribute, §2.1.8 Template-Attribute; 2.1 §2.1.2
 * Attributes, §2.1.5 Attribute Reference): 1.x sends each as an Attribute structure (Attribute
 * Name, Attribute Index, Attribute Value), 2.x as the attribute's own tag inside an Attributes
 * structure, named by an Attribute Reference.
 */
export type AttributeForm = '1.x Attribute' | '2.x Attributes';

export function attributeForm(version: KmipVersion): AttributeForm {
  return is2x(version) ? '2.x Attributes' : '1.x Attribute';
}
