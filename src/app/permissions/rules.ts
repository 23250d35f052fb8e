// Tool permissions with Claude Code's rule syntax: which calls run, which wait for an answer,
// which are refused. Checked deny, then ask, then allow (the session's always-allow rules count
// as allow rules); the profile's `mode` decides a call no rule matches.

import picomatch from "picomatch";
import { WORKSPACE_ROOT } from "../../domain/paths.js";
import type { PermissionSettings } from "../../domain/types.js";
import { RULE } from "../profiles/check-waiting.js";

export type Verdict =
  | { kind: "allow"; rule: string }
  | { kind: "ask"; rule: string }
  | { kind: "deny"; rule: string };

/** Tools of the runtime's own bookkeeping: never asked about, never refused by `mode`. */
const BOOKKEEPING = new Set(["TodoWrite", "Skill"]);

const PATH_TOOLS: Record<string, readonly string[]> = {
  Read: ["file_path", "path"],
  Write: ["file_path", "path"],
  Edit: ["file_path", "path"],
  Glob: ["path", "pattern"],
  Grep: ["path", "glob"],
};

const GLOB = { posix: true, windows: false, dot: true } as const;

function field(input: unknown, name: string): string | undefined {
  if (typeof input !== "object" || input === null) return undefined;
  const v = (input as Record<string, unknown>)[name];
  return typeof v === "string" ? v : undefined;
}

/** A path as a workspace-relative one: `/workspace/a`, `./a` and `a` are all `a`. */
function relative(path: string): string {
  let p = path.trim();
  if (p === WORKSPACE_ROOT) return ".";
  if (p.startsWith(`${WORKSPACE_ROOT}/`)) p = p.slice(WORKSPACE_ROOT.length + 1);
  return p
    .replace(/^\/+/, "")
    .replace(/^(\.\/)+/, "")
    .replace(/\/+/g, "/");
}

function matchSpecifier(tool: string, spec: string, input: unknown): boolean {
  if (tool === "Bash") {
    const command = (field(input, "command") ?? "").trim();
    if (spec.endsWith(":*")) return command.startsWith(spec.slice(0, -2));
    if (spec.endsWith("*")) return command.startsWith(spec.slice(0, -1));
    return command === spec.trim();
  }
  if (tool === "WebFetch") {
    if (!spec.startsWith("domain:")) return false;
    const want = spec.slice("domain:".length).toLowerCase();
    let host: string;
    try {
      host = new URL(field(input, "url") ?? "").hostname.toLowerCase();
    } catch {
      return false;
    }
    return host === want || host.endsWith(`.${want}`);
  }
  const keys = PATH_TOOLS[tool];
  if (keys) {
    const glob = relative(spec.replace(/^\/\//, "/"));
    const isMatch = picomatch(glob, GLOB);
    return keys.some((k) => {
      const value = field(input, k);
      return value !== undefined && isMatch(relative(value));
    });
  }
  // Any other tool (MCP, custom, WebSearch): the specifier is compared with the whole input.
  return JSON.stringify(input ?? {}) === spec;
}

/** Whether `rule` (already checked with checkRule) matches a call of `toolName` with `input`. */
export function ruleMatches(rule: string, toolName: string, input: unknown): boolean {
  const m = RULE.exec(rule);
  if (!m) return false;
  const tool = m[1]!;
  const spec = m[2];
  const nameMatches = tool.includes("*")
    ? picomatch.isMatch(toolName, tool, { ...GLOB, dot: true })
    : tool === toolName;
  if (!nameMatches) return false;
  return spec === undefined || matchSpecifier(tool, spec, input);
}

/**
 * What happens to a call: the first of deny, ask, allow (profile rules, then the session's
 * always-allow rules) with a matching rule decides; `mode` decides when none matches.
 */
export function evaluateCall(
  settings: PermissionSettings | undefined,
  sessionAllowRules: readonly string[],
  toolName: string,
  input: unknown,
): Verdict {
  if (BOOKKEEPING.has(toolName)) return { kind: "allow", rule: "" };
  const p = settings ?? { mode: "allow", allow: [], ask: [], deny: [] };
  const first = (rules: readonly string[]) => rules.find((r) => ruleMatches(r, toolName, input));
  const deny = first(p.deny);
  if (deny !== undefined) return { kind: "deny", rule: deny };
  const ask = first(p.ask);
  if (ask !== undefined) return { kind: "ask", rule: ask };
  const allow = first(p.allow) ?? first(sessionAllowRules);
  if (allow !== undefined) return { kind: "allow", rule: allow };
  return { kind: p.mode, rule: "mode" };
}
