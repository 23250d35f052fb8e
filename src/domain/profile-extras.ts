// What a profile carries beyond prompt, model and tools: project instructions, skills, slash
// commands, MCP servers, dependencies and context settings.

/** A file with its content (profile default files, session initial files, skill files). */
export interface FileContent {
  path: string;
  content: Uint8Array;
}

/** npm and pip package specs. */
export interface Dependencies {
  npm: string[];
  pip: string[];
}

/** Project instructions: a workspace file read on every turn. */
export interface InstructionsSettings {
  /** In the workspace root; empty means CLAUDE.md. */
  fileName: string;
  /** Written when the workspace has no such file; empty writes nothing. */
  content: string;
}

/** An Agent Skill, materialised under `.claude/skills/<name>/`. */
export interface Skill {
  name: string;
  description: string;
  /** SKILL.md without its front matter. */
  body: string;
  /** Paths relative to the skill's folder. */
  files: FileContent[];
  dependencies: Dependencies;
}

/** A slash command: `/name arguments` runs `prompt` with `$ARGUMENTS` replaced. */
export interface Command {
  name: string;
  description: string;
  prompt: string;
}

export type McpTransport =
  | {
      type: "http";
      url: string;
      headers: Record<string, string>;
      /** Header -> secret name. */
      secretHeaders: Record<string, string>;
    }
  | {
      type: "stdio";
      command: string;
      args: string[];
      env: Record<string, string>;
      /** Variable -> secret name. */
      secretEnv: Record<string, string>;
    };

/** An MCP server; its tools are `mcp__<name>__<tool>`. */
export interface McpServer {
  name: string;
  transport: McpTransport;
  /** The server's tool names offered to the model; empty means all. */
  allowedTools: string[];
}

/** How a long conversation is kept within the model's context window. */
export interface ContextSettings {
  /** 0: 80% of the model's window. */
  compactionThresholdTokens: number;
  compactionDisabled: boolean;
  /** 0: never clear old tool results. */
  clearToolResultsThresholdTokens: number;
  /** 0: keep 3. */
  clearToolResultsKeep: number;
}

/** The extras as a profile holds them: absent on profiles stored before they existed. */
export interface ProfileExtrasFields {
  instructions?: InstructionsSettings;
  skills?: Skill[];
  commands?: Command[];
  mcpServers?: McpServer[];
  dependencies?: Dependencies;
  context?: ContextSettings;
}

/** A profile's skills, commands, MCP servers, dependencies and settings, defaults filled in. */
export type ProfileExtras = Required<ProfileExtrasFields>;

export function profileExtras(p: ProfileExtrasFields): ProfileExtras {
  return {
    instructions: p.instructions ?? { fileName: "", content: "" },
    skills: p.skills ?? [],
    commands: p.commands ?? [],
    mcpServers: p.mcpServers ?? [],
    dependencies: p.dependencies ?? { npm: [], pip: [] },
    context: p.context ?? {
      compactionThresholdTokens: 0,
      compactionDisabled: false,
      clearToolResultsThresholdTokens: 0,
      clearToolResultsKeep: 0,
    },
  };
}
