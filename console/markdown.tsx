// A small Markdown renderer that builds React elements (never HTML strings): headings, paragraphs,
// lists, block quotes, fenced code, inline code, bold, italic and links (http, https, mailto only).
// Text always goes through React, which escapes it, so a model's output cannot inject markup.

import type { ReactNode } from "react";

const SAFE_URL = /^(https?:|mailto:)/i;

/** Renders Markdown text as React elements. */
export function Markdown({ text }: { text: string }) {
  return <div className="md">{blocks(text)}</div>;
}

function blocks(text: string): ReactNode[] {
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  const out: ReactNode[] = [];
  let i = 0;
  const key = () => `b${out.length}`;
  while (i < lines.length) {
    const line = lines[i]!;
    const fence = /^\s*(```|~~~)\s*([\w+-]*)/.exec(line);
    if (fence) {
      const code: string[] = [];
      i++;
      while (i < lines.length && !lines[i]!.trimStart().startsWith(fence[1]!))
        code.push(lines[i++]!);
      i++;
      out.push(
        <pre key={key()} className="md-code" data-lang={fence[2] || undefined}>
          <code>{code.join("\n")}</code>
        </pre>,
      );
      continue;
    }
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    if (heading) {
      const level = Math.min(heading[1]!.length + 2, 6);
      const Tag = `h${level}` as "h3";
      out.push(<Tag key={key()}>{inline(heading[2]!)}</Tag>);
      i++;
      continue;
    }
    if (/^\s*([-*+]|\d+[.)])\s+/.test(line)) {
      const ordered = /^\s*(\d+)/.exec(line);
      const items: string[] = [];
      while (i < lines.length && /^\s*([-*+]|\d+[.)])\s+/.test(lines[i]!)) {
        items.push(lines[i]!.replace(/^\s*([-*+]|\d+[.)])\s+/, ""));
        i++;
      }
      const lis = items.map((item, n) => <li key={`i${n}`}>{inline(item)}</li>);
      out.push(
        ordered ? (
          <ol key={key()} start={Number(ordered[1])}>
            {lis}
          </ol>
        ) : (
          <ul key={key()}>{lis}</ul>
        ),
      );
      continue;
    }
    if (/^\s*>/.test(line)) {
      const quoted: string[] = [];
      while (i < lines.length && /^\s*>/.test(lines[i]!))
        quoted.push(lines[i++]!.replace(/^\s*>\s?/, ""));
      out.push(<blockquote key={key()}>{blocks(quoted.join("\n"))}</blockquote>);
      continue;
    }
    if (line.trim() === "") {
      i++;
      continue;
    }
    const para: string[] = [];
    while (
      i < lines.length &&
      lines[i]!.trim() !== "" &&
      !/^(\s*(```|~~~|>)|#{1,6}\s|\s*([-*+]|\d+[.)])\s+)/.test(lines[i]!)
    )
      para.push(lines[i++]!);
    out.push(<p key={key()}>{inline(para.join("\n"))}</p>);
  }
  return out;
}

// Inline spans, first match wins: code, link, bold, italic.
const INLINE =
  /`([^`]+)`|\[([^\]]+)\]\(([^)\s]+)\)|\*\*([^*]+)\*\*|__([^_]+)__|\*([^*\s][^*]*)\*|_([^_\s][^_]*)_/;

function inline(text: string): ReactNode[] {
  const out: ReactNode[] = [];
  let rest = text;
  while (rest) {
    const m = INLINE.exec(rest);
    if (!m) {
      out.push(rest);
      break;
    }
    if (m.index > 0) out.push(rest.slice(0, m.index));
    const k = `s${out.length}`;
    if (m[1] !== undefined) out.push(<code key={k}>{m[1]}</code>);
    else if (m[2] !== undefined) {
      const url = m[3]!;
      out.push(
        SAFE_URL.test(url) ? (
          <a key={k} href={url} target="_blank" rel="noopener noreferrer">
            {inline(m[2])}
          </a>
        ) : (
          m[0]
        ),
      );
    } else if (m[4] !== undefined || m[5] !== undefined)
      out.push(<strong key={k}>{inline((m[4] ?? m[5])!)}</strong>);
    else out.push(<em key={k}>{inline((m[6] ?? m[7])!)}</em>);
    rest = rest.slice(m.index + m[0].length);
  }
  return out;
}
