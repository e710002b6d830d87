/**
 * A small, strict XML reader for the KMIP XML encoding (KMIP Additional Message Encodings v1.0 §5).
 *
 * It reads exactly what KMIP XML needs: one root element, nested elements with attributes,
 * an optional XML declaration, comments, processing instructions, whitespace and character
 * data between elements (reported as `textLine`, never as content: KMIP XML carries values
 * in attributes). Anything else is an error: CDATA sections, DOCTYPE / entity declarations,
 * unknown entities, unbalanced or mismatched tags, duplicate attributes, a second root
 * element.
 *
 * Attribute values are normalized as XML 1.0 §3.3.3 says for CDATA attributes: a literal
 * tab, CR or LF becomes a space (line endings are first normalized to LF, §2.11), while a
 * character reference (`&#10;`) keeps its character. `escapeXmlAttr` is the inverse, so
 * every string survives a write/read round trip.
 */
import { KmipEncodingError } from './encoding-errors.js';

export interface XmlElement {
  readonly name: string;
  /** Attributes in document order, values already unescaped and normalized. */
  readonly attrs: ReadonlyMap<string, string>;
  readonly children: readonly XmlElement[];
  /** 1-based line of the element's `<`. */
  readonly line: number;
  /**
   * Line of the first non-whitespace character data directly inside the element, if any.
   * KMIP items carry none; the caller decides whether text is an error (the 1.4 DeriveKey
   * test cases put `#` commentary lines directly inside the `<KMIP>` root).
   */
  readonly textLine?: number;
}

const NAME_START = /[A-Za-z_:\u00C0-\uFFFF]/;
const NAME_CHAR = /[A-Za-z0-9_:.\-\u00B7\u00C0-\uFFFF]/;
const PREDEFINED: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
/** Element nesting limit (KMIP messages nest about ten deep); keeps hostile input off the stack limit. */
export const MAX_XML_DEPTH = 256;

/** Parse a whole XML document and return its root element. */
export function readXml(text: string): XmlElement {
  return new XmlReader(text).document();
}

/** Escape a string for use inside a double-quoted attribute value. */
export function escapeXmlAttr(s: string): string {
  let out = '';
  let last = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let rep: string | undefined;
    switch (c) {
      case 0x26:
        rep = '&amp;';
        break;
      case 0x3c:
        rep = '&lt;';
        break;
      case 0x3e:
        rep = '&gt;';
        break;
      case 0x22:
        rep = '&quot;';
        break;
      case 0x09:
        rep = '&#9;';
        break;
      case 0x0a:
        rep = '&#10;';
        break;
      case 0x0d:
        rep = '&#13;';
        break;
      default:
        if (c < 0x20) {
          // Not representable in XML 1.0 at all, not even as a character reference.
          throw new KmipEncodingError('BAD_VALUE', `control character U+${c.toString(16).padStart(4, '0')} cannot be written in XML`);
        }
    }
    if (rep !== undefined) {
      out += s.slice(last, i) + rep;
      last = i + 1;
    }
  }
  return last === 0 ? s : out + s.slice(last);
}

class XmlReader {
  private pos = 0;
  private line = 1;
  /** Offset of the first character of the current line, to report columns. */
  private lineStart = 0;
  private readonly s: string;

  constructor(text: string) {
    // §2.11 end-of-line handling; drop a byte-order mark.
    this.s = text.replace(/\r\n?/g, '\n').replace(/^\uFEFF/, '');
  }

  document(): XmlElement {
    this.misc(true);
    if (this.pos >= this.s.length) this.fail('no root element');
    if (this.s.charCodeAt(this.pos) !== 0x3c /* < */) this.fail('text outside the root element');
    const root = this.element();
    this.misc(false);
    if (this.pos < this.s.length) {
      if (this.s.startsWith('</', this.pos)) this.fail('unbalanced end tag after the root element');
      this.fail('content after the root element');
    }
    return root;
  }

  /** Whitespace, comments and PIs (and the XML declaration when `prolog` and at the start). */
  private misc(prolog: boolean): void {
    for (;;) {
      this.skipSpace();
      if (this.s.startsWith('<?', this.pos)) {
        const isDecl = /^<\?xml[\s?]/.test(this.s.slice(this.pos, this.pos + 6));
        if (isDecl && !(prolog && this.pos === 0)) this.fail('XML declaration not at the start of the document');
        this.pi();
      } else if (this.s.startsWith('<!--', this.pos)) {
        this.comment();
      } else if (this.s.startsWith('<!', this.pos)) {
        this.fail('DOCTYPE, CDATA and declarations are not supported in KMIP XML');
      } else {
        return;
      }
      prolog = false;
    }
  }

  private depth = 0;

  private element(): XmlElement {
    const line = this.line;
    if (++this.depth > MAX_XML_DEPTH) this.fail(`elements nested deeper than ${MAX_XML_DEPTH}`);
    try {
      return this.elementBody(line);
    } finally {
      this.depth--;
    }
  }

  private elementBody(line: number): XmlElement {
    this.pos++; // '<'
    const name = this.name('element name');
    const attrs = new Map<string, string>();
    for (;;) {
      const hadSpace = this.skipSpace();
      const c = this.s[this.pos];
      if (c === undefined) this.fail(`unexpected end of input inside <${name}>`);
      if (c === '/') {
        if (this.s[this.pos + 1] !== '>') this.fail(`expected '/>' in <${name}>`);
        this.pos += 2;
        return { name, attrs, children: [], line };
      }
      if (c === '>') {
        this.pos++;
        break;
      }
      if (!hadSpace) this.fail(`expected whitespace before attribute in <${name}>`);
      const attrName = this.name('attribute name');
      this.skipSpace();
      if (this.s[this.pos] !== '=') this.fail(`expected '=' after attribute ${attrName} in <${name}>`);
      this.pos++;
      this.skipSpace();
      const q = this.s[this.pos];
      if (q !== '"' && q !== "'") this.fail(`attribute ${attrName} in <${name}> must be quoted with ' or "`);
      this.pos++;
      const end = this.s.indexOf(q, this.pos);
      if (end < 0) this.fail(`unterminated value of attribute ${attrName} in <${name}>`);
      const raw = this.s.slice(this.pos, end);
      if (attrs.has(attrName)) this.fail(`duplicate attribute ${attrName} in <${name}>`);
      attrs.set(attrName, this.attrValue(raw, attrName));
      this.advanceTo(end + 1);
    }
    const children: XmlElement[] = [];
    let textLine: number | undefined;
    for (;;) {
      this.skipSpace();
      if (this.pos >= this.s.length) this.fail(`unexpected end of input: <${name}> (line ${line}) is not closed`);
      if (this.s.charCodeAt(this.pos) !== 0x3c) {
        textLine ??= this.line;
        this.charData();
        continue;
      }
      if (this.s.startsWith('</', this.pos)) {
        this.pos += 2;
        const closing = this.name('end tag name');
        if (closing !== name) this.fail(`mismatched end tag </${closing}>, expected </${name}> (opened line ${line})`);
        this.skipSpace();
        if (this.s[this.pos] !== '>') this.fail(`expected '>' after </${closing}`);
        this.pos++;
        return textLine === undefined ? { name, attrs, children, line } : { name, attrs, children, line, textLine };
      }
      if (this.s.startsWith('<!--', this.pos)) {
        this.comment();
      } else if (this.s.startsWith('<?', this.pos)) {
        if (/^<\?xml[\s?]/.test(this.s.slice(this.pos, this.pos + 6))) this.fail('XML declaration not at the start of the document');
        this.pi();
      } else if (this.s.startsWith('<!', this.pos)) {
        this.fail('CDATA sections and declarations are not supported in KMIP XML');
      } else {
        children.push(this.element());
      }
    }
  }

  /** Character data up to the next '<': checked (references, no `]]>`), then dropped. */
  private charData(): void {
    let end = this.s.indexOf('<', this.pos);
    if (end < 0) end = this.s.length;
    const raw = this.s.slice(this.pos, end);
    if (raw.includes(']]>')) this.fail("']]>' in character data");
    this.expandReferences(raw, 'character data');
    this.advanceTo(end);
  }

  private attrValue(raw: string, attrName: string): string {
    if (raw.indexOf('<') >= 0) this.fail(`'<' in value of attribute ${attrName}`);
    // §3.3.3: literal whitespace characters become spaces; references are expanded after.
    return this.expandReferences(raw.replace(/[\t\n]/g, ' '), `value of attribute ${attrName}`);
  }

  private expandReferences(text: string, where: string): string {
    if (text.indexOf('&') < 0) return text;
    return text.replace(/&([^;&\s]*);|&/g, (m, ref: string | undefined) => {
      if (ref === undefined) this.fail(`bare '&' in ${where} (write &amp;)`);
      const pre = PREDEFINED[ref];
      if (pre !== undefined) return pre;
      let cp: number;
      if (/^#x[0-9A-Fa-f]+$/.test(ref)) cp = parseInt(ref.slice(2), 16);
      else if (/^#[0-9]+$/.test(ref)) cp = parseInt(ref.slice(1), 10);
      else return this.fail(`unknown entity ${m} in ${where}`);
      if (!isXmlChar(cp)) this.fail(`character reference ${m} is not a legal XML character`);
      return String.fromCodePoint(cp);
    });
  }

  private name(what: string): string {
    const start = this.pos;
    const first = this.s[this.pos];
    if (first === undefined || !NAME_START.test(first)) this.fail(`expected ${what}`);
    this.pos++;
    while (this.pos < this.s.length && NAME_CHAR.test(this.s[this.pos] as string)) this.pos++;
    return this.s.slice(start, this.pos);
  }

  private comment(): void {
    const end = this.s.indexOf('-->', this.pos + 4);
    if (end < 0) this.fail('unterminated comment');
    if (this.s.slice(this.pos + 4, end).includes('--')) this.fail("'--' inside a comment");
    this.advanceTo(end + 3);
  }

  private pi(): void {
    const end = this.s.indexOf('?>', this.pos + 2);
    if (end < 0) this.fail('unterminated processing instruction');
    this.advanceTo(end + 2);
  }

  /** Skips XML whitespace; returns whether any was skipped. */
  private skipSpace(): boolean {
    const start = this.pos;
    for (;;) {
      const c = this.s.charCodeAt(this.pos);
      if (c === 0x0a) {
        this.pos++;
        this.line++;
        this.lineStart = this.pos;
      } else if (c === 0x20 || c === 0x09 || c === 0x0d) {
        this.pos++;
      } else {
        return this.pos > start;
      }
    }
  }

  /** Moves to `to`, counting the newlines passed. */
  private advanceTo(to: number): void {
    for (let i = this.s.indexOf('\n', this.pos); i >= 0 && i < to; i = this.s.indexOf('\n', i + 1)) {
      this.line++;
      this.lineStart = i + 1;
    }
    this.pos = to;
  }

  private fail(msg: string): never {
    throw new KmipEncodingError('XML_SYNTAX', `${msg} (line ${this.line}, column ${this.pos - this.lineStart + 1})`, {
      line: this.line,
    });
  }
}

function isXmlChar(cp: number): boolean {
  return cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}
