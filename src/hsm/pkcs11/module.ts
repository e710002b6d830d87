/**
 * Loading and initialising a PKCS#11 library through pkcs11js, shared per library path.
 *
 * A library is loaded once per process (dlopen reference-counts it) and its C_Initialize
 * state is process-wide, so two backends on one library share one PKCS11 object here, and
 * C_Finalize runs only when the last of them closes. pkcs11js is loaded lazily, so a server
 * without an HSM never needs the native module.
 */
import { createRequire } from 'node:module';
import type * as Pkcs11Js from 'pkcs11js';
import { HsmError } from '../key-backend.js';

export type Pkcs11Lib = typeof Pkcs11Js;
export type Pkcs11 = Pkcs11Js.PKCS11;

let lib: Pkcs11Lib | undefined;

/** The pkcs11js module (constants, PKCS11 class). */
export function pkcs11js(): Pkcs11Lib {
  if (!lib) {
    try {
      lib = createRequire(import.meta.url)('pkcs11js') as Pkcs11Lib;
    } catch (e) {
      throw new HsmError('MODULE_UNAVAILABLE', 'the pkcs11js native module is not installed or failed to build (npm install pkcs11js; allowScripts)', { cause: e });
    }
  }
  return lib;
}

interface Shared {
  readonly p11: Pkcs11;
  users: number;
}

const loaded = new Map<string, Shared>();

/** The name of a PKCS#11 error (CKR_…), or undefined for anything else. */
export function ckrName(e: unknown): string | undefined {
  if (e instanceof Error && /^CKR_[A-Z0-9_]+$/.test(e.message)) return e.message;
  return undefined;
}

export function ckrCode(e: unknown): number | undefined {
  const c = (e as { code?: unknown } | undefined)?.code;
  return typeof c === 'number' ? c : undefined;
}

/** C_Initialize with OS locking (calls run on libuv's thread pool), tolerating "already initialised". */
export function initialize(p11: Pkcs11): void {
  const P = pkcs11js();
  try {
    p11.C_Initialize({ flags: P.CKF_OS_LOCKING_OK });
  } catch (e) {
    if (ckrName(e) !== 'CKR_CRYPTOKI_ALREADY_INITIALIZED') throw e;
  }
}

export function acquireModule(path: string): Pkcs11 {
  const have = loaded.get(path);
  if (have) {
    have.users++;
    initialize(have.p11);
    return have.p11;
  }
  const P = pkcs11js();
  const p11 = new P.PKCS11();
  try {
    p11.load(path);
  } catch (e) {
    throw new HsmError('MODULE_UNAVAILABLE', `cannot load PKCS#11 module ${path}`, { cause: e });
  }
  try {
    initialize(p11);
  } catch (e) {
    throw new HsmError((ckrName(e) as `CKR_${string}` | undefined) ?? 'MODULE_UNAVAILABLE', `C_Initialize failed for ${path}`, { cause: e, ckr: ckrCode(e), fn: 'C_Initialize' });
  }
  loaded.set(path, { p11, users: 1 });
  return p11;
}

/** How many backends of this process use the library at `path` now. */
export function moduleUsers(path: string): number {
  return loaded.get(path)?.users ?? 0;
}

export function releaseModule(path: string): void {
  const have = loaded.get(path);
  if (!have) return;
  if (--have.users > 0) return;
  loaded.delete(path);
  try {
    have.p11.C_Finalize();
  } catch {
    // already finalised, or the device is gone: nothing left to release
  }
  try {
    have.p11.close();
  } catch {
    // ignore
  }
}

/** Finalise and initialise again (after CKR_DEVICE_REMOVED and the like). */
export function reinitialize(p11: Pkcs11, hard: boolean): void {
  if (hard) {
    try {
      p11.C_Finalize();
    } catch {
      // not initialised any more: fine
    }
  }
  initialize(p11);
}
