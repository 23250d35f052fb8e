import { invalidField } from "../../domain/errors.js";
import { KNOWN_TOOLS, LIMITS } from "../../domain/limits.js";
import type { Budget, CustomTool, PermissionSettings } from "../../domain/types.js";
import { checkLength } from "../shared/validate.js";

/** A permission rule: `Tool` or `Tool(specifier)`; the tool part may be an MCP glob. */
export const RULE = /^([A-Za-z0-9_*.-]+)(?:\((.*)\))?$/s;
const CUSTOM_TOOL_NAME = /^[A-Za-z0-9_-]+$/;

/** Checks one rule's syntax and that its tool exists; `field` names it in the error. */
export function checkRule(field: string, rule: string, customTools: readonly string[]): void {
  checkLength(field, rule, LIMITS.maxPermissionRuleLength, true);
  const m = RULE.exec(rule);
  if (!m)
    throw invalidField(field, `${JSON.stringify(rule)} is not a rule: Tool or Tool(specifier)`);
  const tool = m[1]!;
  const spec = m[2];
  if (spec !== undefined && spec.trim() === "")
    throw invalidField(
      field,
      `${JSON.stringify(rule)} has an empty specifier; write ${tool} alone`,
    );
  if (tool.startsWith("mcp__")) return;
  if (tool.includes("*"))
    throw invalidField(field, `only MCP tool names (mcp__...) may hold *: ${JSON.stringify(rule)}`);
  if (!(KNOWN_TOOLS as readonly string[]).includes(tool) && !customTools.includes(tool))
    throw invalidField(field, `unknown tool ${JSON.stringify(tool)} in ${JSON.stringify(rule)}`);
}

export function checkPermissions(
  field: string,
  p: PermissionSettings,
  customTools: readonly string[],
): void {
  for (const list of ["allow", "ask", "deny"] as const) {
    const rules = p[list];
    if (rules.length > LIMITS.maxPermissionRules)
      throw invalidField(
        `${field}.${list}`,
        `must have at most ${LIMITS.maxPermissionRules} rules`,
      );
    rules.forEach((rule, i) => {
      checkRule(`${field}.${list}[${i}]`, rule, customTools);
    });
  }
  const t = p.approvalTimeoutSeconds;
  if (!Number.isInteger(t) || t < 0 || t > LIMITS.maxApprovalTimeoutSeconds)
    throw invalidField(
      `${field}.approval_timeout_seconds`,
      `must be 0 (no limit) to ${LIMITS.maxApprovalTimeoutSeconds}`,
    );
}

export function checkCustomTools(field: string, tools: CustomTool[]): void {
  if (tools.length > LIMITS.maxCustomTools)
    throw invalidField(field, `must have at most ${LIMITS.maxCustomTools} entries`);
  const seen = new Set<string>();
  tools.forEach((t, i) => {
    const f = (name: string) => `${field}[${i}].${name}`;
    checkLength(f("name"), t.name, LIMITS.maxItemNameLength, true);
    if (!CUSTOM_TOOL_NAME.test(t.name))
      throw invalidField(f("name"), "may hold letters, digits, - and _");
    if ((KNOWN_TOOLS as readonly string[]).includes(t.name) || t.name.startsWith("mcp__"))
      throw invalidField(f("name"), `${t.name} is the name of a built-in or MCP tool`);
    if (seen.has(t.name)) throw invalidField(f("name"), `duplicate custom tool ${t.name}`);
    seen.add(t.name);
    checkLength(f("description"), t.description, LIMITS.maxDescriptionLength);
    if (t.inputSchemaJson.length > LIMITS.maxCustomToolSchemaLength)
      throw invalidField(
        f("input_schema_json"),
        `must be at most ${LIMITS.maxCustomToolSchemaLength} characters`,
      );
    let schema: unknown;
    try {
      schema = JSON.parse(t.inputSchemaJson || '{"type":"object"}');
    } catch {
      throw invalidField(f("input_schema_json"), "is not JSON");
    }
    if (
      typeof schema !== "object" ||
      schema === null ||
      Array.isArray(schema) ||
      (schema as { type?: unknown }).type !== "object"
    )
      throw invalidField(
        f("input_schema_json"),
        'must be a JSON Schema object with "type": "object"',
      );
  });
}

export function checkBudget(field: string, b: Budget): void {
  const check = (name: string, v: number) => {
    if (!Number.isSafeInteger(v) || v < 0)
      throw invalidField(`${field}.${name}`, "must be 0 (no limit) or positive");
  };
  check("max_turn_cost_usd", b.maxTurnCostMicroUsd);
  check("max_turn_tokens", b.maxTurnTokens);
  check("max_session_cost_usd", b.maxSessionCostMicroUsd);
  check("max_session_tokens", b.maxSessionTokens);
}
