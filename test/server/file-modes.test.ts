/**
 * Files (docs/custody.md): a data folder with loose modes (0755 folders, 0644 files, as older
 * versions and LevelDB leave them) is made 0700/0600 at the next start; and a `kms serve`
 * logs a client's 3 MiB Interop identifier cut to logMaxString characters, with its length.
 */
import { spawn, spawnSync } from 'node:child_process';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KmipClient } from '../../src/client/index.js';
import { InteropFunction, Operation } from '../../src/kmip/generated/enums.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { t } from '../../src/ttlv/index.js';
import { startTestKms } from '../support/kms.js';
import { Session, V2_1 } from '../support/kmip-session.js';
import { ensureBuilt, KMS } from '../audit/helpers.js';

const root = mkdtempSync(join(tmpdir(), 'kms-modes-'));
beforeAll(() => ensureBuilt());
afterAll(() => rmSync(root, { recursive: true, force: true }));

function walk(dir: string): { path: string; dir: boolean; mode: number }[] {
  const out = [{ path: dir, dir: true, mode: statSync(dir).mode & 0o777 }];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) out.push(...walk(p));
    else out.push({ path: p, dir: false, mode: st.mode & 0o777 });
  }
  return out;
}

describe('data folder modes', () => {
  it('a folder with loose modes is made 0700 (folders) / 0600 (files) at start', async () => {
    const dir = join(root, 'loose');
    const srv = await startTestKms({}, { dataDir: dir });
    await srv.stop();
    writeFileSync(join(dir, 'recovery.json'), '{"format":1,"recipients":[]}\n', { mode: 0o644 });
    for (const e of walk(dir)) chmodSync(e.path, e.dir ? 0o755 : 0o644);
    expect(walk(dir).filter((e) => e.mode === 0o644).length).toBeGreaterThan(5);

    const again = await startTestKms({}, { dataDir: dir });
    try {
      const entries = walk(dir).filter((e) => !e.path.endsWith('kms.sock'));
      expect(entries.filter((e) => e.dir && e.mode !== 0o700)).toEqual([]);
      expect(entries.filter((e) => !e.dir && e.mode !== 0o600)).toEqual([]);
      expect(entries.map((e) => e.path)).toEqual(expect.arrayContaining([join(dir, 'master.key'), join(dir, 'recovery.json'), join(dir, 'custody.json'), join(dir, 'db', 'CURRENT')]));
    } finally {
      await again.dispose();
    }
  });
});

describe('bounded log records', () => {
  it('logMaxString is a config key and KMS_LOG_MAX_STRING; below 64 is refused; serve --help names it', () => {
    const file = join(root, 'log.json');
    writeFileSync(file, JSON.stringify({ logMaxString: 300 }));
    expect(loadConfig({ flags: { config: file } }).logMaxString).toBe(300);
    expect(loadConfig({ flags: { config: file }, env: { KMS_LOG_MAX_STRING: '500' } }).logMaxString).toBe(500);
    expect(() => loadConfig({ env: { KMS_LOG_MAX_STRING: '10' } })).toThrow(ConfigError);
    expect(loadConfig({}).logMaxString).toBeUndefined();
    const help = spawnSync(process.execPath, [KMS, 'serve', '--help']).stdout.toString();
    expect(help).toMatch(/logMaxString .*\n.*KMS_LOG_MAX_STRING; default 1024/);
  });

  it('kms serve logs a 3 MiB Interop identifier cut to logMaxString characters', async () => {
    const dir = join(root, 'serve');
    const child = spawn(process.execPath, [KMS, 'serve', '--data-dir', dir, '--port', '0', '--log-level', 'info'], { env: { ...process.env, KMS_CONFIG: '', KMS_LOG_MAX_STRING: '200' } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    try {
      const port = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no listening line: ${out}`)), 60_000);
        const check = () => {
          const m = /"port":(\d+)[^\n]*KMIP server listening/.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve(Number(m[1]));
          }
        };
        child.stdout.on('data', check);
        child.on('exit', () => reject(new Error(`server exited: ${out}`)));
      });
      const certs = join(dir, 'certs');
      const client = await KmipClient.connect({
        host: '127.0.0.1',
        port,
        servername: 'localhost',
        ca: readFileSync(join(certs, 'ca.pem')),
        cert: readFileSync(join(certs, 'client.pem')),
        key: readFileSync(join(certs, 'client.key')),
        timeoutMs: 30_000,
      });
      try {
        const id = 'I'.repeat(3 * 1024 * 1024);
        await new Session(client, V2_1).ok(Operation.Interop, t.struct(Tag.RequestPayload, [t.enum(Tag.InteropFunction, InteropFunction.Begin), t.text(Tag.InteropIdentifier, id)]));
      } finally {
        await client.close();
      }
      await new Promise((r) => setTimeout(r, 300));
      const lines = out.split('\n').filter((l) => l.startsWith('{'));
      const interop = lines.map((l) => JSON.parse(l) as { msg: string; case?: string }).filter((l) => l.msg === 'interop');
      expect(interop).toHaveLength(1);
      expect(interop[0]!.case).toBe(`${'I'.repeat(200)}…[cut: ${3 * 1024 * 1024} chars]`);
      expect(Math.max(...lines.map((l) => l.length))).toBeLessThan(4096);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  });
});
