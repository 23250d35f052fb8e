import { invalidField } from "../../domain/errors.js";
import { LIMITS } from "../../domain/limits.js";
import { normalizeWorkspacePath } from "../../domain/paths.js";
import type {
  Dependencies,
  FileContent,
  McpServer,
  ProfileExtras,
  SandboxSettings,
} from "../../domain/types.js";
import { checkLength } from "../shared/validate.js";

const FILE_NAME = /^[A-Za-z0-9._-]+$/;
const SKILL_NAME = /^[a-z0-9]+(-[a-z0-9]+)*$/;
const COMMAND_NAME = /^[A-Za-z0-9_:-]+$/;
const SERVER_NAME = /^[A-Za-z0-9_-]+$/;
const MCP_TOOL_NAME = /^[A-Za-z0-9_.-]+$/;
export const SECRET_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** What an installer spec may hold: no spaces, quotes or shell characters, no leading `-`. */
const SPEC = /^[A-Za-z0-9@][A-Za-z0-9@._/:=<>~^!*+,[\]-]*$/;

function checkName(field: string, value: string, pattern: RegExp, what: string): void {
  checkLength(field, value, LIMITS.maxItemNameLength, true);
  if (!pattern.test(value)) throw invalidField(field, what);
}

function checkCount(field: string, n: number, max: number): void {
  if (n > max) throw invalidField(field, `must have at most ${max} entries`);
}

function unique<T>(field: string, items: T[], key: (t: T) => string, what: string): void {
  const seen = new Set<string>();
  items.forEach((item, i) => {
    const k = key(item);
    if (seen.has(k)) throw invalidField(`${field}[${i}].name`, `duplicate ${what} ${k}`);
    seen.add(k);
  });
}

export function checkSecretName(field: string, name: string): void {
  checkLength(field, name, LIMITS.maxSecretNameLength, true);
  if (!SECRET_NAME.test(name)) {
    throw invalidField(field, "must start with a letter and hold letters, digits and _");
  }
}

function checkDependencies(field: string, d: Dependencies): void {
  for (const [kind, specs] of [
    ["npm", d.npm],
    ["pip", d.pip],
  ] as const) {
    checkCount(`${field}.${kind}`, specs.length, LIMITS.maxDependencies);
    specs.forEach((spec, i) => {
      checkLength(`${field}.${kind}[${i}]`, spec, LIMITS.maxDependencySpecLength, true);
      if (!SPEC.test(spec))
        throw invalidField(
          `${field}.${kind}[${i}]`,
          `${JSON.stringify(spec)} is not a package spec`,
        );
    });
  }
}

function checkEnvMap(field: string, env: Record<string, string>, secretNames: boolean): void {
  checkCount(field, Object.keys(env).length, LIMITS.maxMcpEntries);
  for (const [name, value] of Object.entries(env)) {
    if (!ENV_NAME.test(name))
      throw invalidField(field, `${JSON.stringify(name)} is not a variable name`);
    if (secretNames) checkSecretName(`${field}[${name}]`, value);
    else if (value.length > LIMITS.maxEnvValueLength || value.includes("\0"))
      throw invalidField(
        `${field}[${name}]`,
        `must be at most ${LIMITS.maxEnvValueLength} characters without NUL`,
      );
  }
}

function checkMcpServer(field: string, m: McpServer): void {
  checkName(`${field}.name`, m.name, SERVER_NAME, "may hold letters, digits, - and _");
  checkCount(`${field}.allowed_tools`, m.allowedTools.length, 128);
  m.allowedTools.forEach((t, i) => {
    checkLength(`${field}.allowed_tools[${i}]`, t, 128, true);
    if (!MCP_TOOL_NAME.test(t))
      throw invalidField(`${field}.allowed_tools[${i}]`, "is not a tool name");
  });
  const t = m.transport;
  if (t.type === "http") {
    let url: URL | undefined;
    try {
      url = new URL(t.url);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== "http:" && url.protocol !== "https:"))
      throw invalidField(`${field}.http.url`, "must be an http:// or https:// URL");
    const headers = { ...t.headers, ...t.secretHeaders };
    checkCount(`${field}.http.headers`, Object.keys(headers).length, LIMITS.maxMcpEntries);
    for (const [name, value] of Object.entries(t.headers)) {
      if (!HEADER_NAME.test(name))
        throw invalidField(`${field}.http.headers`, `${JSON.stringify(name)} is not a header name`);
      if (value.length > LIMITS.maxEnvValueLength || /[\r\n\0]/.test(value))
        throw invalidField(`${field}.http.headers[${name}]`, "is not a header value");
    }
    for (const [name, secret] of Object.entries(t.secretHeaders)) {
      if (!HEADER_NAME.test(name))
        throw invalidField(
          `${field}.http.secret_headers`,
          `${JSON.stringify(name)} is not a header name`,
        );
      if (name in t.headers)
        throw invalidField(`${field}.http.secret_headers[${name}]`, "is also in headers");
      checkSecretName(`${field}.http.secret_headers[${name}]`, secret);
    }
  } else {
    checkLength(`${field}.stdio.command`, t.command, 4_096, true);
    checkCount(`${field}.stdio.args`, t.args.length, LIMITS.maxMcpEntries);
    t.args.forEach((a, i) => {
      if (a.length > LIMITS.maxEnvValueLength || a.includes("\0"))
        throw invalidField(`${field}.stdio.args[${i}]`, "is too long or holds NUL");
    });
    checkEnvMap(`${field}.stdio.env`, t.env, false);
    checkEnvMap(`${field}.stdio.secret_env`, t.secretEnv, true);
  }
}

/** Validates the extras and normalizes skill file paths; `filesBudget` bytes are left for them. */
export function checkProfileExtras(
  x: ProfileExtras,
  sandbox: SandboxSettings,
  prefix: string,
  filesBudget: number,
): ProfileExtras {
  const f = (name: string) => `${prefix}.${name}`;
  if (x.instructions.fileName !== "") {
    checkName(
      f("instructions.file_name"),
      x.instructions.fileName,
      FILE_NAME,
      "may hold letters, digits, ., - and _",
    );
    if (/^\.+$/.test(x.instructions.fileName))
      throw invalidField(f("instructions.file_name"), "is not a file name");
  }
  checkLength(f("instructions.content"), x.instructions.content, LIMITS.maxInstructionsLength);

  checkCount(f("skills"), x.skills.length, LIMITS.maxSkills);
  unique(f("skills"), x.skills, (s) => s.name, "skill");
  let budget = filesBudget;
  const skills = x.skills.map((s, i) => {
    const sf = (name: string) => f(`skills[${i}].${name}`);
    checkName(sf("name"), s.name, SKILL_NAME, "may hold lowercase letters, digits and single -");
    checkLength(sf("description"), s.description, 1_024, true);
    checkLength(sf("body"), s.body, LIMITS.maxInstructionsLength);
    checkDependencies(sf("dependencies"), s.dependencies);
    checkCount(sf("files"), s.files.length, LIMITS.maxInitialFiles);
    const files: FileContent[] = s.files.map((file, j) => {
      const path = normalizeWorkspacePath(file.path, sf(`files[${j}].path`));
      if (path === "SKILL.md")
        throw invalidField(sf(`files[${j}].path`), "SKILL.md is written from body");
      budget -= file.content.byteLength;
      if (budget < 0)
        throw invalidField(
          f("skills"),
          `default and skill files must total at most ${LIMITS.maxProfileFilesBytes} bytes`,
        );
      return { path, content: file.content };
    });
    unique(sf("files"), files, (file) => file.path, "path");
    return { ...s, files };
  });

  checkCount(f("commands"), x.commands.length, LIMITS.maxCommands);
  unique(f("commands"), x.commands, (c) => c.name, "command");
  x.commands.forEach((c, i) => {
    checkName(
      f(`commands[${i}].name`),
      c.name,
      COMMAND_NAME,
      "may hold letters, digits, -, _ and :",
    );
    checkLength(f(`commands[${i}].description`), c.description, 1_024);
    checkLength(f(`commands[${i}].prompt`), c.prompt, LIMITS.maxInstructionsLength, true);
  });

  checkCount(f("mcp_servers"), x.mcpServers.length, LIMITS.maxMcpServers);
  unique(f("mcp_servers"), x.mcpServers, (m) => m.name, "MCP server");
  x.mcpServers.forEach((m, i) => {
    checkMcpServer(f(`mcp_servers[${i}]`), m);
  });

  checkDependencies(f("dependencies"), x.dependencies);

  const c = x.context;
  const intIn = (field: string, v: number, lo: number, hi: number, what: string) => {
    if (!Number.isInteger(v) || v < 0 || (v !== 0 && (v < lo || v > hi)))
      throw invalidField(f(`context.${field}`), what);
  };
  intIn(
    "compaction_threshold_tokens",
    c.compactionThresholdTokens,
    10_000,
    10_000_000,
    "must be 0 (default) or 10000 to 10000000",
  );
  intIn(
    "clear_tool_results_threshold_tokens",
    c.clearToolResultsThresholdTokens,
    1_000,
    10_000_000,
    "must be 0 (never) or 1000 to 10000000",
  );
  intIn("clear_tool_results_keep", c.clearToolResultsKeep, 1, 100, "must be 0 (default 3) to 100");

  const secretEnv = sandbox.secretEnv ?? {};
  checkEnvMap(f("sandbox.secret_env"), secretEnv, true);
  for (const name of Object.keys(secretEnv)) {
    if (name in sandbox.env)
      throw invalidField(`${f("sandbox.secret_env")}[${name}]`, "is also in env");
  }
  if (Object.keys(secretEnv).length + Object.keys(sandbox.env).length > LIMITS.maxEnvEntries)
    throw invalidField(
      f("sandbox.secret_env"),
      `env and secret_env must have at most ${LIMITS.maxEnvEntries} entries together`,
    );
  return { ...x, skills };
}
