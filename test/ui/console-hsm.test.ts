/**
 * The console's HSM page on a real SoftHSM2 token: the token, the current KEK and the objects
 * each KEK seals, before and after a KEK rotation on the running server.
 */
import { describe, expect, it } from 'vitest';
import { rotateKek } from '../../src/folder/kek-rotation.js';
import type { TestKms } from '../support/kms.js';
import { useHsmTestKms } from '../hsm/hsm-kms.js';
import { createKey, ui } from './support.js';

let srv: TestKms;
useHsmTestKms('kms-console', (s) => (srv = s), { httpsPort: 'ephemeral', access: { administrators: ['admin'], grants: [] } });

function kekRows(body: string): [string, string, string][] {
  return [...body.matchAll(/<tr><td><span class="mono">(hsm:[^<]+)<\/span><\/td><td>(yes|)<\/td><td>(\d+)<\/td>/g)].map((m) => [m[1]!, m[2]!, m[3]!]);
}

describe('console HSM page', () => {
  it('shows the token, the current KEK with the objects it seals, and the KEKs after a rotation', async () => {
    const port = srv.kms.httpsAddress!.port;
    const c = await srv.client();
    for (let i = 0; i < 3; i++) await createKey(c, `hsm-page-${i}`);
    const before = await ui(port, '/ui/hsm');
    expect(before.status).toBe(200);
    expect(before.body).toContain('kms-console');
    expect(before.body).toContain('id="rotation">Every object is sealed under the current KEK');
    const rows = kekRows(before.body);
    expect(rows).toHaveLength(1);
    expect(rows[0]![1]).toBe('yes');
    expect(Number(rows[0]![2])).toBeGreaterThanOrEqual(3);
    const objects = Number(rows[0]![2]);

    const s = srv.kms.services;
    await rotateKek({ store: s.store, protector: s.protector, dataDir: srv.dataDir, audit: s.audit });
    const after = kekRows((await ui(port, '/ui/hsm')).body);
    expect(after).toHaveLength(2);
    const current = after.find((r) => r[1] === 'yes')!;
    const old = after.find((r) => r[1] === '')!;
    expect(current[0]).not.toBe(rows[0]![0]);
    expect(old[0]).toBe(rows[0]![0]);
    expect(Number(current[2])).toBe(objects);
    expect(old[2]).toBe('0');
  });
});
