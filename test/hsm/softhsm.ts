/**
 * A fresh SoftHSM2 token in a temporary folder, for the HSM tests. Writes a softhsm2.conf
 * whose tokendir is inside the folder and points SOFTHSM2_CONF at it (for this process and
 * for softhsm2-util), so no test ever touches /var/lib/softhsm.
 *
 * SoftHSM reads SOFTHSM2_CONF when the library is initialised, and a library is initialised
 * once per process: use one token per test file (vitest runs each file in its own process).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SOFTHSM_MODULE = process.env.KMS_TEST_SOFTHSM_MODULE ?? '/usr/lib/softhsm/libsofthsm2.so';

export interface SoftHsmToken {
  readonly module: string;
  readonly label: string;
  readonly pin: string;
  readonly soPin: string;
  /** The temporary folder holding softhsm2.conf and tokens/. */
  readonly dir: string;
  readonly conf: string;
  /** Remove the folder and restore SOFTHSM2_CONF. */
  cleanup(): void;
}

export function softHsmAvailable(): boolean {
  return existsSync(SOFTHSM_MODULE);
}

export function createSoftHsmToken(label = 'kms-test', pin = '98765432'): SoftHsmToken {
  if (!softHsmAvailable()) throw new Error(`SoftHSM2 is not installed (${SOFTHSM_MODULE}); run scripts/setup-debian.sh`);
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'kms-softhsm-')));
  const tokens = join(dir, 'tokens');
  mkdirSync(tokens, { mode: 0o700 });
  const conf = join(dir, 'softhsm2.conf');
  writeFileSync(conf, `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  const previous = process.env.SOFTHSM2_CONF;
  process.env.SOFTHSM2_CONF = conf;
  const soPin = '12345678';
  execFileSync('softhsm2-util', ['--init-token', '--free', '--label', label, '--so-pin', soPin, '--pin', pin], {
    env: { ...process.env, SOFTHSM2_CONF: conf },
    stdio: 'pipe',
  });
  return {
    module: SOFTHSM_MODULE,
    label,
    pin,
    soPin,
    dir,
    conf,
    cleanup() {
      if (previous === undefined) delete process.env.SOFTHSM2_CONF;
      else process.env.SOFTHSM2_CONF = previous;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
