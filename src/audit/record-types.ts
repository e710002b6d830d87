/**
 * The audit record's fields, the same in both stored formats (record.ts says what each kind
 * is for; record-binary.ts and canonical JSON are the two encodings).
 */

/** The stored formats: 1 canonical JSON, 2 binary (record-binary.ts). */
export type AuditFormat = 1 | 2;

export interface Base {
  /** The format the record is stored in (1 JSON, 2 binary). */
  readonly v: AuditFormat;
  readonly seq: number;
  readonly prev: string;
  /** ISO 8601, milliseconds. */
  readonly time: string;
}

/** The part of an operation or authentication record the server fills in (no chain fields). */
export interface AuditEvent {
  readonly kind: 'op' | 'auth' | 'conn';
  readonly time: string;
  /** Server correlation: `<connection id>/<request number>[/<batch item index>]`. */
  readonly ref: string;
  /** The client identity (certificate-derived), absent when authentication failed. */
  readonly client?: string;
  readonly addr?: string;
  /** Negotiated KMIP version, "2.1". */
  readonly kmip?: string;
  /** Operation name ("Create"), "Authenticate" for auth records. */
  readonly op: string;
  /** Unique Identifiers touched or created (for Locate: the first LOCATE_SAMPLE found). */
  readonly uids?: readonly string[];
  /** Locate: how many objects were found. */
  readonly found?: number;
  /** Names of the attributes touched or asked for; never values. */
  readonly attrs?: readonly string[];
  /** "Success", "OperationFailed", or "OperationUndone" (an Undo batch rolled back; a later record for the same ref). */
  readonly status: string;
  /** Result Reason name on failure ("ItemNotFound"). */
  readonly reason?: string;
  /** The client-visible result message on failure. */
  readonly message?: string;
  /** Milliseconds from the start of the item to its result. */
  readonly ms?: number;
  /** Set when an item failed after its state change was committed (a second record). */
  readonly afterCommit?: true;
  /** `auth`: what the client's certificate said (strings cut to a bounded length). */
  readonly peer?: PeerSummary;
  /** `conn`: how many events this record stands for, when more than one. */
  readonly count?: number;
}

/** A client certificate as the audit trail and the log describe it. */
export interface PeerSummary {
  /** The X.509 verification error code (CERT_HAS_EXPIRED, UNABLE_TO_VERIFY_LEAF_SIGNATURE…), when verification failed. */
  readonly verifyError?: string;
  readonly subject?: string;
  readonly issuer?: string;
  /** SHA-256 fingerprint, colon-separated hex. */
  readonly fingerprint?: string;
  readonly validTo?: string;
}

export type OpRecord = Base & AuditEvent;

export interface CheckpointRecord extends Base {
  readonly kind: 'checkpoint';
  readonly covers: number;
  /** Link (hex) of entry `covers`. */
  readonly head: string;
  /** Identifier of the audit key ("sw:…", "hsm:…"). */
  readonly keyId: string;
  readonly mac: string;
  /** "interval" or "shutdown". */
  readonly why: string;
  /** Where the server anchored it outside the data folder ("file", "token"; anchor.ts). */
  readonly anchor?: readonly string[];
}

/** The restore anchor (see the file comment). */
export interface RestoreRecord extends Base {
  readonly kind: 'restore';
  /** The last imported entry. */
  readonly covers: number;
  /** Link (hex) of entry `covers`. */
  readonly head: string;
  /** The new server's audit key. */
  readonly keyId: string;
  readonly mac: string;
  /** Id of the backup the log came from. */
  readonly backup: string;
  /** The audit key ids of the checkpoints in the imported log (for the auditor). */
  readonly importedKeyIds: readonly string[];
}

export type AuditRecord = OpRecord | CheckpointRecord | RestoreRecord;
