/**
 * `kms ttlv`: convert KMIP messages between binary TTLV (raw or hex), the KMIP XML and JSON
 * encodings, an indented tree with spec names, and annotated hex. For people debugging
 * KMIP traffic: malformed input is reported with its byte offset and tag path.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { annotate, decode, encode, fromHex, printTree, toHex, TtlvError, type TtlvNode } from '../ttlv/index.js';
import { parseKmipJson, toKmipJsonString } from '../kmip/json.js';
import type { PlaceholderResolver } from '../kmip/text-values.js';
import { parseKmipXml, toKmipXml } from '../kmip/xml.js';
import { kmipNames } from '../kmip/names.js';
import { tagName } from '../kmip/registry.js';
import { ExitCode, UsageError } from './exit-codes.js';
import { KmipHttpsClient } from '../client/https-client.js';
import { KmipClientError } from '../client/errors.js';
import { ENCODINGS, type KmipEncoding } from '../http/encodings.js';
import type { CliIo, Command } from './command.js';

const FROM = ['auto', 'hex', 'bin', 'xml', 'json'] as const;
const TO = ['tree', 'hex', 'annotated', 'bin', 'xml', 'json'] as const;
type From = (typeof FROM)[number];
type To = (typeof TO)[number];

const HELP = `Usage: kms ttlv [--from FORMAT] [--to FORMAT] [--out FILE] [FILE]

Convert KMIP messages between encodings. Reads FILE, or standard input when FILE is
omitted or '-'.

Options:
  --from FORMAT  input: auto (default), hex, bin, xml, json
                   auto: '<' starts XML, '{' or '[' JSON, only hex digits and
                   whitespace hex ('#' comments and '|' allowed), anything else binary
  --to FORMAT    output: tree (default), hex, annotated, bin, xml, json
                   tree       indented tree with spec names and enumeration names
                   annotated  hex, one item per line: tag | type | length | value
  --out FILE     write to FILE instead of standard output
  --max-bytes N  largest message accepted (default 4194304)
  --send URL     send each message to a server's KMIP over HTTPS endpoint
                 (https://HOST:5697/kmip) and convert the replies instead;
                 needs --cert, --key and --ca (PEM), and takes
    --encoding E   ttlv (default), xml or json: the encoding sent and answered
    --servername N name to verify the server certificate against (default: the host)
  --fill-placeholders
                 in XML/JSON test cases, give placeholders such as $KEY_MATERIAL_0
                 a neutral value (0, empty bytes) instead of failing; $NOW and
                 $NOW-3600 always become the current time (plus the offset)
  -h, --help     this help

An XML input may hold several messages (an OASIS test-case file): each is converted.

Examples:
  kms ttlv --from hex --to xml < msg.hex
  kms ttlv --to tree capture.bin
  kms ttlv --from xml --to hex ../shared/kmip-testcases/2.1/mandatory/SKLC-M-1-21.xml
  kms ttlv --send https://localhost:5697/kmip --encoding json --cert c.pem --key c.key \
           --ca ca.pem --to xml request.xml

Exit codes: 0 ok, 1 malformed input (the error names the byte offset and tag path),
2 usage error, 3 a file could not be read or written.`;

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks);
}

function detect(input: Buffer): Exclude<From, 'auto'> {
  const head = input.subarray(0, 4096).toString('latin1').trimStart();
  if (head.startsWith('<')) return 'xml';
  if (head.startsWith('{') || head.startsWith('[')) return 'json';
  // Annotated hex: '#' comments (any text), then only hex digits and separators.
  const code = head.replace(/#[^\n]*/g, '').replace(/0x/gi, '');
  return /^[\s0-9a-fA-F|:,]*$/.test(code) ? 'hex' : 'bin';
}

/** Values for OASIS test-case placeholders in non-text items (text keeps "$NAME" as is). */
function placeholderValues(fill: boolean): PlaceholderResolver {
  const now = BigInt(Math.floor(Date.now() / 1000));
  return (name, type) => {
    const m = /^\$NOW(?:([+-])(\d+))?$/.exec(name);
    if (m && type === 'DateTime') return now + (m[1] === '-' ? -1n : 1n) * BigInt(m[2] ?? '0');
    if (!fill) return undefined;
    switch (type) {
      case 'ByteString':
        return Buffer.alloc(0);
      case 'BigInteger':
        return Buffer.alloc(8);
      case 'LongInteger':
      case 'DateTime':
      case 'DateTimeExtended':
        return 0n;
      case 'Boolean':
        return false;
      case 'Structure':
        return undefined;
      default:
        return 0;
    }
  };
}

function parseInput(input: Buffer, from: Exclude<From, 'auto'>, maxBytes: number, fill: boolean): TtlvNode[] {
  const placeholders = placeholderValues(fill);
  switch (from) {
    case 'xml':
      return parseKmipXml(input.toString('utf8'), { placeholders });
    case 'json': {
      const parsed: unknown = JSON.parse(input.toString('utf8'));
      return Array.isArray(parsed) ? parsed.map((p) => parseKmipJson(p, { placeholders })) : [parseKmipJson(parsed, { placeholders })];
    }
    case 'hex':
      return [decode(fromHex(input.toString('utf8')), { maxMessageBytes: maxBytes })];
    case 'bin':
      return [decode(input, { maxMessageBytes: maxBytes })];
  }
}

function render(nodes: TtlvNode[], to: To): Buffer {
  switch (to) {
    case 'bin':
      return Buffer.concat(nodes.map((n) => encode(n)));
    case 'hex':
      return Buffer.from(nodes.map((n) => toHex(encode(n))).join('\n') + '\n');
    case 'annotated':
      return Buffer.from(nodes.map((n) => annotate(encode(n))).join('\n\n') + '\n');
    case 'tree':
      return Buffer.from(nodes.map((n) => printTree(n, kmipNames)).join('\n\n') + '\n');
    case 'xml':
      return Buffer.from(nodes.map((n) => toKmipXml(n)).join('\n') + '\n');
    case 'json':
      return Buffer.from((nodes.length === 1 ? toKmipJsonString(nodes[0]!) : `[\n${nodes.map((n) => toKmipJsonString(n)).join(',\n')}\n]`) + '\n');
  }
}

export function describeInputError(e: unknown): string | undefined {
  if (e instanceof TtlvError) {
    const path = e.path.length > 0 ? ` (path ${e.pathString((t) => tagName(t))})` : '';
    return `malformed TTLV: ${e.code} at byte offset ${e.offset}${path}: ${e.message}`;
  }
  if (e instanceof SyntaxError) return `malformed JSON: ${e.message}`;
  if (e instanceof Error && e.name === 'KmipEncodingError') return e.message;
  return undefined;
}

/** Send each message over KMIP over HTTPS and return the replies. */
async function sendAll(nodes: TtlvNode[], url: URL, v: { cert: string; key: string; ca: string; encoding?: string; servername?: string }, maxBytes: number): Promise<TtlvNode[]> {
  const client = new KmipHttpsClient({
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port ? Number(url.port) : 443,
    path: url.pathname || '/kmip',
    ca: readFileSync(v.ca),
    cert: readFileSync(v.cert),
    key: readFileSync(v.key),
    ...(v.servername !== undefined && { servername: v.servername }),
    encoding: (v.encoding ?? 'ttlv') as KmipEncoding,
    maxResponseBytes: maxBytes,
  });
  try {
    const out: TtlvNode[] = [];
    for (const n of nodes) out.push(await client.send(n));
    return out;
  } finally {
    await client.close();
  }
}

export const ttlvCommand: Command = {
  name: 'ttlv',
  summary: 'convert KMIP messages between binary, hex, XML, JSON and a readable tree',
  help: HELP,
  async run(argv: string[], io: CliIo): Promise<number> {
    let values: {
      from?: string;
      to?: string;
      out?: string;
      'max-bytes'?: string;
      'fill-placeholders'?: boolean;
      send?: string;
      encoding?: string;
      cert?: string;
      key?: string;
      ca?: string;
      servername?: string;
    };
    let positionals: string[];
    try {
      ({ values, positionals } = parseArgs({
        args: argv,
        options: {
          from: { type: 'string' },
          to: { type: 'string' },
          out: { type: 'string' },
          'max-bytes': { type: 'string' },
          'fill-placeholders': { type: 'boolean' },
          send: { type: 'string' },
          encoding: { type: 'string' },
          cert: { type: 'string' },
          key: { type: 'string' },
          ca: { type: 'string' },
          servername: { type: 'string' },
        },
        allowPositionals: true,
      }));
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const from = (values.from ?? 'auto') as From;
    const to = (values.to ?? 'tree') as To;
    if (!FROM.includes(from)) throw new UsageError(`--from must be one of ${FROM.join(', ')}`);
    if (!TO.includes(to)) throw new UsageError(`--to must be one of ${TO.join(', ')}`);
    if (positionals.length > 1) throw new UsageError('at most one input file');
    const maxBytes = values['max-bytes'] === undefined ? 4 * 1024 * 1024 : Number(values['max-bytes']);
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 8) throw new UsageError('--max-bytes must be an integer of at least 8');

    let target: URL | undefined;
    if (values.send !== undefined) {
      try {
        target = new URL(values.send);
      } catch {
        throw new UsageError('--send must be a URL such as https://localhost:5697/kmip');
      }
      if (target.protocol !== 'https:') throw new UsageError('--send needs an https:// URL');
      if (!values.cert || !values.key || !values.ca) throw new UsageError('--send needs --cert, --key and --ca');
      if (values.encoding !== undefined && !(ENCODINGS as readonly string[]).includes(values.encoding)) throw new UsageError(`--encoding must be one of ${ENCODINGS.join(', ')}`);
    } else if (values.encoding !== undefined || values.cert !== undefined) {
      throw new UsageError('--encoding, --cert, --key, --ca and --servername go with --send');
    }

    const file = positionals[0];
    let input: Buffer;
    try {
      input = file === undefined || file === '-' ? await readAll(io.stdin) : readFileSync(file);
    } catch (e) {
      io.stderr.write(`kms ttlv: cannot read ${file ?? 'standard input'}: ${(e as Error).message}\n`);
      return ExitCode.Io;
    }

    let output: Buffer;
    try {
      let nodes = parseInput(input, from === 'auto' ? detect(input) : from, maxBytes, values['fill-placeholders'] === true);
      if (target) {
        try {
          nodes = await sendAll(nodes, target, values as Required<Pick<typeof values, 'cert' | 'key' | 'ca'>> & typeof values, maxBytes);
        } catch (e) {
          if (!(e instanceof KmipClientError)) throw e;
          io.stderr.write(`kms ttlv: ${e.message}\n`);
          return ExitCode.Refused;
        }
      }
      output = render(nodes, to);
    } catch (e) {
      const msg = describeInputError(e);
      if (msg === undefined) throw e;
      io.stderr.write(`kms ttlv: ${msg}\n`);
      return ExitCode.InvalidInput;
    }

    try {
      if (values.out !== undefined) writeFileSync(values.out, output);
      else io.stdout.write(output);
    } catch (e) {
      io.stderr.write(`kms ttlv: cannot write ${values.out}: ${(e as Error).message}\n`);
      return ExitCode.Io;
    }
    return ExitCode.Ok;
  },
};
