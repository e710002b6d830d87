/**
 * Where the token PIN comes from, in order: `pin` (inline in the config file; discouraged),
 * `pinFile` (first line of a file, which should be mode 0600), `pinEnv` (the name of an
 * environment variable), else the KMS_HSM_PIN environment variable.
 */
import { readFileSync } from 'node:fs';
import { HsmError } from '../key-backend.js';

export interface PinSource {
  readonly pin?: string;
  readonly pinFile?: string;
  readonly pinEnv?: string;
}

export const DEFAULT_PIN_ENV = 'KMS_HSM_PIN';

export function resolvePin(src: PinSource, env: NodeJS.ProcessEnv): string {
  let pin: string | undefined;
  let from: string;
  if (src.pin !== undefined) {
    pin = src.pin;
    from = 'hsm.pin';
  } else if (src.pinFile !== undefined) {
    from = `PIN file ${src.pinFile}`;
    try {
      pin = readFileSync(src.pinFile, 'utf8').split(/\r?\n/)[0];
    } catch (e) {
      throw new HsmError('BAD_ARGUMENT', `cannot read the ${from}`, { cause: e });
    }
  } else {
    const name = src.pinEnv ?? DEFAULT_PIN_ENV;
    from = `environment variable ${name}`;
    pin = env[name];
  }
  if (pin === undefined || pin === '') throw new HsmError('BAD_ARGUMENT', `no HSM PIN: ${from} is empty or unset (set KMS_HSM_PIN, or hsm.pinFile / hsm.pinEnv)`);
  return pin;
}
