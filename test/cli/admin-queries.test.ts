/**
 * #17 item 3: `kms hsm status`, `kms audit verify` and `kms audit report` against a running
 * server, through its admin socket: each prints exactly what the same command prints on the
 * folder once the server has stopped (the stopped-folder path), anchors included.
 */
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activatePayload, createSymmetricKeyPayload, getPayload, uniqueIdentifierOf } from '../../src/client/index.js';
import { CryptographicAlgorithm, Operation } from '../../src/kmip/generated/enums.gen.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { Session, V2_1 } from '../support/kmip-session.js';
import { runKmsHere } from '../support/kms-process.js';
import { createSoftHsmToken } from '../hsm/softhsm.js';

/** A few keys made, activated and read by a client that then disconnects (so stopping writes nothing more). */
async function someTraffic(srv: TestKms, n: number): Promise<string[]> {
  const c = await srv.client();
  const s = new Session(c, V2_1);
  const uids: string[] = [];
  for (let i = 0; i < n; i++) {
    const uid = uniqueIdentifierOf(await s.ok(Operation.Create, createSymmetricKeyPayload(V2_1, { algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: 12 })));
    await s.ok(Operation.Activate, activatePayload(uid));
    await s.ok(Operation.Get, getPayload(uid));
    uids.push(uid);
  }
  await c.close();
  return uids;
}

describe('kms audit verify / report: running server and stopped folder print the same', () => {
  let srv: TestKms;
  let anchorCopy: string;
  let forged: string;
  const live: Record<string, Awaited<ReturnType<typeof runKmsHere>>> = {};
  beforeAll(async () => {
    srv = await startTestKms({ audit: { checkpointEvery: 7 } });
    await someTraffic(srv, 5);
  });
  afterAll(async () => {
    await srv?.dispose();
  });

  it('on the running server: verify seals the trail and passes with its anchor file; report answers', async () => {
    const headBefore = srv.kms.services.store.audit.head().seq;
    live.verify = await runKmsHere(['audit', 'verify', '--data-dir', srv.dataDir]);
    expect(live.verify.code, live.verify.stdout + live.verify.stderr).toBe(0);
    // The server sealed what it had written with one checkpoint, and verified through it.
    const head = srv.kms.services.store.audit.head().seq;
    expect(head).toBe(headBefore + 1);
    expect(live.verify.stdout).toContain(`OK: ${head} entries`);
    expect(live.verify.stdout).toContain(`sealed through entry ${head - 1}`);
    expect(live.verify.stdout).toContain(`the trail reaches the latest anchored entry ${head} `);
    // --anchor FILE: the CLI reads it and sends its lines; one forged line must be caught.
    const dir = mkdtempSync(join(tmpdir(), 'kms-anchor-'));
    anchorCopy = join(dir, 'copy.jsonl');
    copyFileSync(`${resolve(srv.dataDir)}.audit-anchor.jsonl`, anchorCopy);
    forged = join(dir, 'forged.jsonl');
    const lines = readFileSync(anchorCopy, 'utf8').trim().split('\n');
    const first = JSON.parse(lines[0]!) as { anchorMac: string };
    first.anchorMac = (first.anchorMac[0] === '0' ? '1' : '0') + first.anchorMac.slice(1);
    writeFileSync(forged, [JSON.stringify(first), ...lines.slice(1)].join('\n') + '\n');
    live.withAnchor = await runKmsHere(['audit', 'verify', '--data-dir', srv.dataDir, '--anchor', anchorCopy]);
    expect(live.withAnchor.code, live.withAnchor.stdout + live.withAnchor.stderr).toBe(0);
    expect(live.withAnchor.stdout).toContain(`checked against ${anchorCopy} (${lines.length} anchor line(s))`);
    live.forged = await runKmsHere(['audit', 'verify', '--data-dir', srv.dataDir, '--anchor', forged]);
    expect(live.forged.code).toBe(1);
    expect(live.forged.stdout).toMatch(/^FORGED: .*forged\.jsonl line 1: an anchor line for entry \d+/);
    live.noAnchor = await runKmsHere(['audit', 'verify', '--data-dir', srv.dataDir, '--no-anchor']);
    expect(live.noAnchor.code).toBe(0);
    // Nothing new was written by the last verifies: the trail was already sealed.
    expect(srv.kms.services.store.audit.head().seq).toBe(head);

    live.report = await runKmsHere(['audit', 'report', '--data-dir', srv.dataDir]);
    expect(live.report.code, live.report.stderr).toBe(0);
    live.reportJson = await runKmsHere(['audit', 'report', '--data-dir', srv.dataDir, '--format', 'json', '--identity', 'kms-client']);
    const report = JSON.parse(live.reportJson.stdout) as { uid: string; uses: { operation: string; count: number }[] }[];
    expect(report).toHaveLength(5);
    for (const k of report) expect(k.uses.map((u) => `${u.operation}:${u.count}`).sort()).toEqual(['Activate:1', 'Create:1', 'Get:1']);
  });

  it('the same commands on the stopped folder print exactly the same', async () => {
    const head = srv.kms.services.store.audit.head().seq;
    await srv.stop();
    const stopped = {
      verify: await runKmsHere(['audit', 'verify', '--data-dir', srv.dataDir]),
      withAnchor: await runKmsHere(['audit', 'verify', '--data-dir', srv.dataDir, '--anchor', anchorCopy]),
      forged: await runKmsHere(['audit', 'verify', '--data-dir', srv.dataDir, '--anchor', forged]),
      noAnchor: await runKmsHere(['audit', 'verify', '--data-dir', srv.dataDir, '--no-anchor']),
      report: await runKmsHere(['audit', 'report', '--data-dir', srv.dataDir]),
      reportJson: await runKmsHere(['audit', 'report', '--data-dir', srv.dataDir, '--format', 'json', '--identity', 'kms-client']),
    };
    // Stopping added no shutdown checkpoint: the running server's verify had sealed the trail.
    expect(stopped.verify.stdout).toContain(`OK: ${head} entries`);
    for (const [k, r] of Object.entries(stopped)) {
      expect({ k, code: r.code, stdout: r.stdout }).toEqual({ k, code: live[k]!.code, stdout: live[k]!.stdout });
    }
  });
});

describe('kms audit verify on a running server under load', () => {
  it('passes while a client keeps writing (interval checkpoints and their anchors land meanwhile), and stops at its own sealing checkpoint', async () => {
    const srv = await startTestKms({ audit: { checkpointEvery: 3 } });
    try {
      let stop = false;
      let made = 0;
      const writer = (async () => {
        const c = await srv.client();
        const s = new Session(c, V2_1);
        while (!stop) {
          await s.ok(Operation.Create, createSymmetricKeyPayload(V2_1, { algorithm: CryptographicAlgorithm.AES, length: 128, usageMask: 12 }));
          made++;
        }
        await c.close();
      })();
      while (made < 10) await new Promise((r) => setTimeout(r, 10));
      const runs = [];
      const before = made;
      for (let i = 0; i < 3; i++) runs.push(await runKmsHere(['audit', 'verify', '--data-dir', srv.dataDir]));
      // The writer kept going while the server verified.
      expect(made).toBeGreaterThan(before);
      stop = true;
      await writer;
      for (const r of runs) {
        expect(r.code, r.stdout + r.stderr).toBe(0);
        const m = /^OK: (\d+) entries, \d+ checkpoints \(audit key \S+\), sealed through entry (\d+)$/m.exec(r.stdout);
        expect(m, r.stdout).not.toBeNull();
        expect(Number(m![2])).toBe(Number(m![1]) - 1);
      }
    } finally {
      await srv.dispose();
    }
  });
});

describe('kms hsm status: running server and stopped folder print the same', () => {
  const token = createSoftHsmToken('kms-hsm-status');
  const hsm = { module: token.module, tokenLabel: token.label, pin: token.pin };
  let srv: TestKms;
  let config: string;
  beforeAll(async () => {
    srv = await startTestKms({ hsm });
    await someTraffic(srv, 3);
    config = join(mkdtempSync(join(tmpdir(), 'kms-hsm-status-')), 'kms.json');
    writeFileSync(config, JSON.stringify({ dataDir: srv.dataDir, hsm }));
  });
  afterAll(async () => {
    await srv?.dispose();
    token.cleanup();
  });

  it('lists the current KEK sealing every object, from the running server (no hsm section needed) and from the stopped folder', async () => {
    const kek = srv.kms.services.protector.kekId;
    const running = await runKmsHere(['hsm', 'status', '--data-dir', srv.dataDir]);
    expect(running.code, running.stderr).toBe(0);
    expect(running.stdout).toContain(`current KEK: ${kek}\n`);
    expect(running.stdout).toMatch(new RegExp(`^\\* ${kek} +3 objects  current$`, 'm'));
    expect(running.stdout).toMatch(new RegExp(`^token: "${token.label}" serial \\S+; audit key hsm:\\S+$`, 'm'));
    await srv.stop();
    const stopped = await runKmsHere(['hsm', 'status', '--config', config]);
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(stopped.stdout).toBe(running.stdout);
  });
});

describe('kms hsm status on a running server without an HSM', () => {
  it('says the server has no KEK in an HSM (exit 2), like the stopped folder without an hsm section', async () => {
    const srv = await startTestKms();
    try {
      const r = await runKmsHere(['hsm', 'status', '--data-dir', srv.dataDir]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/software master key has no KEK/);
    } finally {
      await srv.dispose();
    }
    const stopped = await runKmsHere(['hsm', 'status', '--data-dir', srv.dataDir]);
    expect(stopped.code).toBe(2);
  });
});
