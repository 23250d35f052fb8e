// The console's Markdown renderer builds React elements, never HTML strings: whatever a model
// writes is shown as text, and only http, https and mailto links become links.

import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { Markdown } from "../console/markdown.js";

const html = (text: string) => renderToStaticMarkup(createElement(Markdown, { text }));

describe("the console's Markdown", () => {
  it("renders headings, lists, quotes, code and inline spans", () => {
    const out = html(
      [
        "# Title",
        "",
        "Some **bold**, *italic*, `code` and a [link](https://example.com/a?b=1).",
        "",
        "- one",
        "- two",
        "",
        "3. three",
        "4. four",
        "",
        "> quoted",
        "",
        "```ts",
        "const x = 1 < 2;",
        "```",
      ].join("\n"),
    );
    expect(out).toContain("<h3>Title</h3>");
    expect(out).toContain("<strong>bold</strong>");
    expect(out).toContain("<em>italic</em>");
    expect(out).toContain("<code>code</code>");
    expect(out).toContain(
      '<a href="https://example.com/a?b=1" target="_blank" rel="noopener noreferrer">link</a>',
    );
    expect(out).toContain("<ul><li>one</li><li>two</li></ul>");
    expect(out).toContain('<ol start="3"><li>three</li><li>four</li></ol>');
    expect(out).toContain("<blockquote><p>quoted</p></blockquote>");
    expect(out).toContain(
      '<pre class="md-code" data-lang="ts"><code>const x = 1 &lt; 2;</code></pre>',
    );
  });

  it("shows markup as text and links nothing but http, https and mailto", () => {
    const out = html(
      '<script>alert(1)</script> <img src=x onerror="alert(2)"> [click](javascript:alert(3)) ' +
        "[data](data:text/html,hi) [mail](mailto:a@example.com)",
    );
    expect(out).not.toContain("<script");
    expect(out).not.toContain("<img");
    expect(out).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(out).not.toContain('href="javascript');
    expect(out).not.toContain('href="data');
    expect(out).toContain("[click](javascript:alert(3))");
    expect(out).toContain('<a href="mailto:a@example.com"');
  });

  it("ends an unclosed code fence at the end of the text (a block still streaming)", () => {
    expect(html("Look:\n```\nline one\nline tw")).toContain("<code>line one\nline tw</code>");
  });
});
