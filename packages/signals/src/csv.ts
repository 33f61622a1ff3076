// A small RFC 4180 CSV reader: quoted fields (with "" escapes and embedded delimiters or line
// breaks), CRLF or LF line ends, a leading byte-order mark, and blank lines skipped. Enough for
// price feeds; not a general spreadsheet importer.

export interface CsvOptions {
  delimiter?: string;
}

export class CsvError extends Error {
  readonly line: number;
  constructor(message: string, line: number) {
    super(`CSV line ${line}: ${message}`);
    this.name = 'CsvError';
    this.line = line;
  }
}

/** Rows of fields. Throws CsvError on an unterminated quote or text after a closing quote. */
export function parseCsv(text: string, opts: CsvOptions = {}): string[][] {
  const delimiter = opts.delimiter ?? ',';
  if (delimiter.length !== 1 || delimiter === '"' || delimiter === '\n' || delimiter === '\r')
    throw new Error('CSV delimiter must be one character other than a quote or line break');
  const src = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  /** The current field was quoted (so it exists even when empty). */
  let quoted = false;
  let line = 1;
  const endField = () => {
    row.push(field);
    field = '';
  };
  const endRow = () => {
    // A blank line is one empty, unquoted field: skip it.
    const blank = row.length === 0 && field === '' && !quoted;
    endField();
    if (!blank) rows.push(row);
    row = [];
    quoted = false;
  };
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === '"' && field === '' && !quoted) {
      const start = line;
      quoted = true;
      for (i++; ; i++) {
        if (i >= src.length) throw new CsvError('unterminated quoted field', start);
        const q = src[i]!;
        if (q === '"' && src[i + 1] === '"') {
          field += '"';
          i++;
        } else if (q === '"') {
          break;
        } else {
          if (q === '\n') line++;
          field += q;
        }
      }
      const after = src[i + 1];
      if (after !== undefined && after !== delimiter && after !== '\n' && after !== '\r')
        throw new CsvError('text after a closing quote', line);
    } else if (c === delimiter) {
      endField();
      quoted = false;
    } else if (c === '\n' || c === '\r') {
      endRow();
      if (c === '\r' && src[i + 1] === '\n') i++;
      line++;
    } else {
      field += c;
    }
  }
  if (field !== '' || quoted || row.length > 0) endRow();
  return rows;
}

/** Rows as objects keyed by the header row (header names trimmed). */
export function parseCsvRecords(text: string, opts: CsvOptions = {}): Record<string, string>[] {
  const rows = parseCsv(text, opts);
  const header = rows[0];
  if (!header) return [];
  const names = header.map((h) => h.trim());
  return rows.slice(1).map((r, n) => {
    if (r.length !== names.length)
      throw new CsvError(
        `record ${n + 1} has ${r.length} fields where the header has ${names.length}`,
        n + 2,
      );
    const rec: Record<string, string> = {};
    names.forEach((name, k) => (rec[name] = r[k]!));
    return rec;
  });
}
