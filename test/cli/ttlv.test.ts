/**
 * `kms ttlv` end to end: the built command (dist/, made by `npm test`'s tsc step) run as a
 * child process, fed on stdin or from a file, as a person debugging traffic would.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { decode, encode, fromHex, toHex } from '../../src/ttlv/index.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const KMS = join(ROOT, 'dist/src/cli/main.js');
const VECTOR = join(ROOT, 'test/vectors/get-request-1.2.hex');
const SKLC = join(ROOT, '../shared/kmip-testcases/2.1/mandatory/SKLC-M-1-21.xml');

function kms(args: string[], input?: string | Buffer) {
  const r = spawnSync(process.execPath, [KMS, ...args], { input: typeof input === 'string' ? Buffer.from(input) : input, timeout: 30_000 });
  return { code: r.status, out: r.stdout, stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8') };
}

beforeAll(() => {
  if (!existsSync(KMS)) execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
});

describe('kms ttlv', () => {
  it('converts hex from stdin to XML with spec names', () => {
    const r = kms(['ttlv', '--from', 'hex', '--to', 'xml'], readFileSync(VECTOR));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('<RequestMessage>');
    expect(r.stdout).toMatch(/<Operation type="Enumeration" value="Get"\s*\/>/);
    expect(r.stdout).toMatch(/<UniqueIdentifier type="TextString" value="uid-1"\s*\/>/);
  });

  it('prints a tree with tag and enumeration names, detecting hex input', () => {
    const r = kms(['ttlv'], readFileSync(VECTOR));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^RequestMessage \(Structure\)/);
    expect(r.stdout).toMatch(/Operation \(Enumeration\): Get/);
    expect(r.stdout).toMatch(/ProtocolVersionMinor \(Integer\): 2/);
  });

  it('XML → hex → binary → XML round trip of an OASIS test case', () => {
    // Without --fill-placeholders a server-chosen value ($KEY_MATERIAL…) has nothing to stand for.
    const hex = kms(['ttlv', '--from', 'xml', '--to', 'hex', '--fill-placeholders', SKLC]);
    expect(hex.code).toBe(0);
    const lines = hex.stdout.trim().split('\n');
    const messages = (readFileSync(SKLC, 'utf8').match(/<(Request|Response)Message>/g) ?? []).length;
    expect(lines).toHaveLength(messages);
    // Every line is one message that our decoder reads and re-encodes identically.
    for (const line of lines) expect(toHex(encode(decode(fromHex(line))))).toBe(line);
    const bin = kms(['ttlv', '--from', 'hex', '--to', 'bin'], lines[0]);
    expect(bin.out.equals(fromHex(lines[0]!))).toBe(true);
    const back = kms(['ttlv', '--from', 'bin', '--to', 'json'], bin.out);
    expect(back.code).toBe(0);
    expect(JSON.parse(back.stdout)).toMatchObject({ tag: 'RequestMessage' });
  });

  it('writes to --out', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kms-ttlv-'));
    const out = join(dir, 'msg.bin');
    expect(kms(['ttlv', '--from', 'hex', '--to', 'bin', '--out', out, VECTOR]).code).toBe(0);
    expect(readFileSync(out).equals(fromHex(readFileSync(VECTOR, 'utf8')))).toBe(true);
  });

  it('reports malformed input with code, offset and tag path, exit 1', () => {
    // The vector with a non-zero padding byte in Protocol Version Major's value.
    const bytes = Buffer.from(fromHex(readFileSync(VECTOR, 'utf8')));
    bytes[36] = 0xff;
    const r = kms(['ttlv', '--from', 'bin'], bytes);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('BAD_PADDING at byte offset 36');
    expect(r.stderr).toContain('RequestMessage/RequestHeader/ProtocolVersion/ProtocolVersionMajor');
  });

  it('reports truncated input, exit 1', () => {
    const r = kms(['ttlv', '--from', 'hex'], '42 00 78 01 00 00 00 10 42 00');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/TRUNCATED|OVERRUN/);
  });

  it('usage errors exit 2; --help exits 0; a missing file exits 3', () => {
    expect(kms(['ttlv', '--to', 'pdf']).code).toBe(2);
    expect(kms(['ttlv', '--bogus']).code).toBe(2);
    expect(kms(['nope']).code).toBe(2);
    const help = kms(['ttlv', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: kms ttlv');
    expect(kms(['--help']).stdout).toContain('ttlv');
    expect(kms(['ttlv', '/nonexistent/file.bin']).code).toBe(3);
  });
});
