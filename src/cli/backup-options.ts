/**
 * Options shared by `kms init`, `kms backup` and `kms restore`: the key backend of a new
 * data folder (--hsm-*), the recovery credential (--recovery-key / --share), and the
 * mapping of backup and data-folder errors to exit codes.
 */
import { readFileSync } from 'node:fs';
import type { KeyObject } from 'node:crypto';
import type { HsmConfig } from '../config/config.js';
import { BackupError } from '../backup/errors.js';
import { FolderError } from '../folder/errors.js';
import { parseShareFile, privateKeyFromPem, privateKeyFromShares } from '../backup/recovery.js';
import { ExitCode, UsageError } from './exit-codes.js';
import type { CliIo } from './command.js';

export const HSM_OPTIONS = {
  'hsm-module': { type: 'string' },
  'hsm-token-label': { type: 'string' },
  'hsm-slot': { type: 'string' },
  'hsm-pin-file': { type: 'string' },
  'hsm-pin-env': { type: 'string' },
  'hsm-kek-label': { type: 'string' },
} as const;

export const HSM_HELP = `Key backend (default: a new software master key, DIR/master.key, not an HSM):
  --hsm-module PATH      PKCS#11 library (e.g. /usr/lib/softhsm/libsofthsm2.so)
  --hsm-token-label L    the token, by label (or --hsm-slot N)
  --hsm-pin-file FILE    read the PIN from this file (else from --hsm-pin-env VAR,
                         else from KMS_HSM_PIN); the PIN is never written anywhere
  --hsm-kek-label L      the new KEK's label (default kms-kek-<random>); a label another
                         key on the token has is refused (docs/custody.md)`;

export function hsmFromFlags(v: Record<string, unknown>): HsmConfig | undefined {
  const module = v['hsm-module'] as string | undefined;
  const rest = ['hsm-token-label', 'hsm-slot', 'hsm-pin-file', 'hsm-pin-env', 'hsm-kek-label'].filter((k) => v[k] !== undefined);
  if (module === undefined) {
    if (rest.length) throw new UsageError(`--${rest[0]} needs --hsm-module`);
    return undefined;
  }
  const label = v['hsm-token-label'] as string | undefined;
  const slotText = v['hsm-slot'] as string | undefined;
  if ((label === undefined) === (slotText === undefined)) throw new UsageError('give exactly one of --hsm-token-label and --hsm-slot');
  if (slotText !== undefined && !/^\d+$/.test(slotText)) throw new UsageError('--hsm-slot must be a number');
  if (v['hsm-pin-file'] !== undefined && v['hsm-pin-env'] !== undefined) throw new UsageError('give at most one of --hsm-pin-file and --hsm-pin-env');
  return {
    module,
    ...(label !== undefined ? { tokenLabel: label } : { slot: Number(slotText) }),
    ...(v['hsm-pin-file'] !== undefined ? { pinFile: v['hsm-pin-file'] as string } : {}),
    ...(v['hsm-pin-env'] !== undefined ? { pinEnv: v['hsm-pin-env'] as string } : {}),
    ...(v['hsm-kek-label'] !== undefined ? { kekLabel: v['hsm-kek-label'] as string } : {}),
  };
}

export const CREDENTIAL_OPTIONS = {
  'recovery-key': { type: 'string' },
  share: { type: 'string', multiple: true },
} as const;

export const CREDENTIAL_HELP = `Recovery credential (one of):
  --recovery-key FILE    a recovery private key (PEM, RSA or EC P-256) whose public key
                         was given to 'kms init --recovery-key'
  --share FILE           a custodian's share file; repeat for at least the threshold`;

/** The recovery private key from --recovery-key or --share. */
export function credentialFromFlags(v: Record<string, unknown>): KeyObject {
  const keyFile = v['recovery-key'] as string | undefined;
  const shares = (v.share as string[] | undefined) ?? [];
  if ((keyFile === undefined) === (shares.length === 0)) throw new UsageError('give the recovery credential: --recovery-key FILE, or --share FILE (repeated)');
  const read = (f: string) => {
    try {
      return readFileSync(f);
    } catch (e) {
      throw new BackupError('IO', `cannot read ${f}: ${(e as Error).message}`);
    }
  };
  if (keyFile !== undefined) return privateKeyFromPem(read(keyFile));
  return privateKeyFromShares(shares.map((f) => parseShareFile(read(f).toString('utf8'), f)));
}

/** Report a failure and give its exit code. */
export function failure(cmd: string, e: unknown, io: CliIo): number {
  if (e instanceof UsageError) throw e;
  const msg = e instanceof Error ? e.message : String(e);
  io.stderr.write(`kms ${cmd}: ${msg}\n`);
  if (e instanceof BackupError) {
    switch (e.code) {
      case 'TAMPERED':
        return ExitCode.InvalidInput;
      case 'WRONG_CREDENTIAL':
      case 'NOT_EMPTY':
        return ExitCode.Refused;
      case 'BAD_KEY':
      case 'NO_RECOVERY':
        return ExitCode.Usage;
      default:
        return ExitCode.Io;
    }
  }
  if (e instanceof FolderError) {
    switch (e.code) {
      case 'NOT_EMPTY':
        return ExitCode.Refused;
      case 'NO_RECOVERY':
        return ExitCode.Usage;
      default:
        return ExitCode.Io;
    }
  }
  return ExitCode.Io;
}

/** A progress printer for stderr: at most one line a second, and the last one. */
export function progressPrinter(io: CliIo, label: string): (p: { phase: string; done: number; total: number; pass?: string }) => void {
  let last = 0;
  return (p) => {
    const now = Date.now();
    const complete = p.done === p.total;
    if (!complete && now - last < 1000) return;
    last = now;
    io.stderr.write(`${label}${p.pass ? ` (${p.pass})` : ''}: ${p.phase} ${p.done}/${p.total}\n`);
  };
}
