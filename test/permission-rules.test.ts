// Tool permission rules (Claude Code's syntax) and their order: deny, then ask, then allow.

import { describe, expect, it } from "vitest";
import { evaluateCall, ruleMatches } from "../src/app/permissions/rules.js";
import type { PermissionSettings } from "../src/domain/types.js";

const settings = (p: Partial<PermissionSettings>): PermissionSettings => ({
  mode: "allow",
  allow: [],
  ask: [],
  deny: [],
  approvalTimeoutSeconds: 0,
  allowOnTimeout: false,
  ...p,
});

describe("ruleMatches", () => {
  it("a bare tool name matches every call of that tool only", () => {
    expect(ruleMatches("Bash", "Bash", { command: "rm -rf /" })).toBe(true);
    expect(ruleMatches("Bash", "Read", { file_path: "a" })).toBe(false);
  });

  it("Bash: `:*` is a prefix match, anything else is the exact command", () => {
    expect(ruleMatches("Bash(npm test:*)", "Bash", { command: "npm test -- --watch" })).toBe(true);
    expect(ruleMatches("Bash(npm test:*)", "Bash", { command: "npm install" })).toBe(false);
    expect(ruleMatches("Bash(git status)", "Bash", { command: "git status" })).toBe(true);
    expect(ruleMatches("Bash(git status)", "Bash", { command: "git status && rm x" })).toBe(false);
    expect(ruleMatches("Bash(git status)", "Bash", {})).toBe(false);
  });

  it("Read/Write/Edit/Glob/Grep: a workspace-relative glob on the tool's path", () => {
    expect(ruleMatches("Read(src/**)", "Read", { file_path: "/workspace/src/a/b.ts" })).toBe(true);
    expect(ruleMatches("Read(src/**)", "Read", { file_path: "src/a.ts" })).toBe(true);
    expect(ruleMatches("Read(src/**)", "Read", { file_path: "/workspace/lib/a.ts" })).toBe(false);
    expect(ruleMatches("Write(*.env)", "Write", { file_path: "/workspace/.env" })).toBe(true);
    expect(ruleMatches("Edit(docs/*.md)", "Edit", { file_path: "./docs/x.md" })).toBe(true);
    expect(ruleMatches("Edit(docs/*.md)", "Edit", { file_path: "docs/a/x.md" })).toBe(false);
    expect(ruleMatches("Glob(secret/**)", "Glob", { pattern: "secret/**/*.txt" })).toBe(true);
    expect(ruleMatches("Grep(secret/**)", "Grep", { pattern: "x", path: "secret/a" })).toBe(true);
    expect(ruleMatches("Grep(secret/**)", "Grep", { pattern: "x", path: "public" })).toBe(false);
  });

  it("WebFetch(domain:x): the host or a subdomain of it", () => {
    const rule = "WebFetch(domain:example.com)";
    expect(ruleMatches(rule, "WebFetch", { url: "https://example.com/a" })).toBe(true);
    expect(ruleMatches(rule, "WebFetch", { url: "https://docs.example.com/a" })).toBe(true);
    expect(ruleMatches(rule, "WebFetch", { url: "https://notexample.com/" })).toBe(false);
    expect(ruleMatches(rule, "WebFetch", { url: "not a url" })).toBe(false);
  });

  it("MCP tools by name or name glob; custom tools by name", () => {
    expect(ruleMatches("mcp__github__*", "mcp__github__create_issue", {})).toBe(true);
    expect(ruleMatches("mcp__github__*", "mcp__gitlab__create_issue", {})).toBe(false);
    expect(ruleMatches("mcp__github__get_me", "mcp__github__get_me", {})).toBe(true);
    expect(ruleMatches("mcp__github__get_me", "mcp__github__get_you", {})).toBe(false);
    expect(ruleMatches("lookup_order", "lookup_order", { id: 1 })).toBe(true);
  });
});

describe("evaluateCall", () => {
  const bash = (command: string) => ({ command });

  it("deny beats ask beats allow; the first matching rule is named", () => {
    const p = settings({
      allow: ["Bash"],
      ask: ["Bash(npm:*)"],
      deny: ["Bash(npm publish:*)"],
    });
    expect(evaluateCall(p, [], "Bash", bash("npm publish"))).toEqual({
      kind: "deny",
      rule: "Bash(npm publish:*)",
    });
    expect(evaluateCall(p, [], "Bash", bash("npm test"))).toEqual({
      kind: "ask",
      rule: "Bash(npm:*)",
    });
    expect(evaluateCall(p, [], "Bash", bash("ls"))).toEqual({ kind: "allow", rule: "Bash" });
  });

  it("mode decides when no rule matches", () => {
    expect(evaluateCall(settings({ mode: "ask" }), [], "Read", {})).toEqual({
      kind: "ask",
      rule: "mode",
    });
    expect(evaluateCall(settings({ mode: "deny" }), [], "Read", {}).kind).toBe("deny");
    expect(evaluateCall(undefined, [], "Bash", bash("x")).kind).toBe("allow");
  });

  it("the session's always-allow rules are allow rules: after deny and ask", () => {
    const p = settings({ mode: "ask", deny: ["Bash(rm:*)"] });
    expect(evaluateCall(p, ["Bash(ls:*)"], "Bash", bash("ls -la"))).toEqual({
      kind: "allow",
      rule: "Bash(ls:*)",
    });
    expect(evaluateCall(p, ["Bash"], "Bash", bash("rm -rf x")).kind).toBe("deny");
    expect(evaluateCall(settings({ ask: ["Bash"] }), ["Bash"], "Bash", bash("ls")).kind).toBe(
      "ask",
    );
  });

  it("the runtime's bookkeeping tools are never asked about", () => {
    expect(evaluateCall(settings({ mode: "deny" }), [], "TodoWrite", {}).kind).toBe("allow");
  });
});
