/** A small RFC 4180 reader for user-written files: quoted fields, "" escapes, CRLF, and line numbers for errors. */

export interface CsvRecord {
  /** 1-based line the record starts on */
  line: number;
  fields: string[];
}

/** Blank lines and lines starting with "#" are skipped, so users can annotate their files. */
export function parseCsv(text: string, name: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  let line = 1;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  while (i < text.length) {
    const startLine = line;
    const lineEnd = text.indexOf("\n", i);
    const rest = text.slice(i, lineEnd === -1 ? text.length : lineEnd).trim();
    if (rest === "" || rest.startsWith("#")) {
      i = lineEnd === -1 ? text.length : lineEnd + 1;
      line++;
      continue;
    }
    const fields: string[] = [];
    for (;;) {
      let field = "";
      while (text[i] === " " || text[i] === "\t") i++;
      if (text[i] === '"') {
        i++;
        for (;;) {
          if (i >= text.length) throw new Error(`${name} line ${startLine}: a quoted field is never closed`);
          const c = text[i] as string;
          if (c === '"' && text[i + 1] === '"') {
            field += '"';
            i += 2;
          } else if (c === '"') {
            i++;
            break;
          } else {
            if (c === "\n") line++;
            field += c;
            i++;
          }
        }
        while (text[i] === " " || text[i] === "\t" || text[i] === "\r") i++;
        if (i < text.length && text[i] !== "," && text[i] !== "\n") {
          throw new Error(`${name} line ${line}: unexpected text after a closing quote`);
        }
      } else {
        while (i < text.length && text[i] !== "," && text[i] !== "\n") field += text[i++];
        field = field.trim();
      }
      fields.push(field);
      if (text[i] === ",") {
        i++;
        continue;
      }
      i++;
      line++;
      break;
    }
    records.push({ line: startLine, fields });
  }
  return records;
}
