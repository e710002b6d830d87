/**
 * Distinguished names as the 1.x Certificate Subject/Issuer Distinguished Name text (RFC 4514):
 * src/pki/x509-read.ts renders a Name DER and keys-and-certificates/certificate-issuing.ts parses the text back. The
 * oracle is Python `cryptography` (Name.rfc4514_string and Name.public_bytes) on names with every
 * character RFC 4514 §2.4 escapes, a non-ASCII value and an attribute without a short name.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { nameToString, readName } from '../../src/pki/x509-read.js';
import { nameFromString } from '../../src/operations/keys-and-certificates/certificate-issuing.js';

const PY = String.raw`
import json, sys
from cryptography import x509
from cryptography.x509.oid import NameOID, ObjectIdentifier
out = []
for values in json.load(sys.stdin):
    n = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, 'DE'), x509.NameAttribute(NameOID.ORGANIZATION_NAME, values[0]),
                   x509.NameAttribute(ObjectIdentifier('2.5.4.12'), 'Title'), x509.NameAttribute(NameOID.COMMON_NAME, values[1])])
    out.append({'der': n.public_bytes().hex(), 'text': n.rfc4514_string()})
print(json.dumps(out))
`;

const CASES: [string, string][] = [
  ['Plain Org', 'host.example'],
  ['Comma, Inc', 'a+b=c'],
  [' leading space', 'trailing space '],
  ['#hash first', 'quote " and \\ backslash'],
  ['semi;colon <angle>', 'Grüße, 東京'],
];

describe('RFC 4514 names against Python cryptography', () => {
  const oracle = JSON.parse(execFileSync('/usr/bin/python3', ['-c', PY], { input: JSON.stringify(CASES), encoding: 'utf8' })) as { der: string; text: string }[];

  it.each(CASES.map((c, i) => [i, c] as const))('case %i: DER → text equals rfc4514_string; text → DER reads back the same values', (i) => {
    const { der, text } = oracle[i]!;
    const name = readName(Buffer.from(der, 'hex'));
    // RFC 4514 §2.4: a dotted-decimal type's value is '#' + the hex of its BER encoding (Python
    // prints the string instead); Title is a UTF8String: 0c 05 "Title".
    const rfc = text.replace('2.5.4.12=Title', `2.5.4.12=#0c05${Buffer.from('Title').toString('hex')}`);
    expect(text).toContain('2.5.4.12=Title');
    expect(nameToString(name)).toBe(rfc);
    const back = readName(nameFromString(rfc));
    expect(back.rdns.map((r) => r.map((a) => [a.oid, a.text ?? Buffer.from(a.der).toString('hex')]))).toEqual(
      name.rdns.map((r) => r.map((a) => [a.oid, a.text ?? Buffer.from(a.der).toString('hex')])),
    );
  });

  it('an empty name is the empty string and back', () => {
    expect(nameToString(readName(nameFromString('')))).toBe('');
  });

  it('text that is not a name is refused', () => {
    expect(() => nameFromString('no equals sign')).toThrow(/without "="/);
    expect(() => nameFromString('XX=unknown type')).toThrow(/unknown attribute type/);
  });
});
