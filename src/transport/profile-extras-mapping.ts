// Proto <-> domain for what a profile carries beyond prompt, model and tools (skills, commands,
// MCP servers, dependencies, instructions and context settings), and the to-do list.

import type { MessageInitShape } from "@bufbuild/protobuf";
import { TodoStatus as PbTodoStatus } from "#gen/block_pb.js";
import type {
  AgentProfileSchema,
  Command as PbCommand,
  Dependencies as PbDependencies,
  McpServer as PbMcpServer,
  AgentProfile as PbProfile,
  Skill as PbSkill,
} from "#gen/profile_pb.js";
import { invalidField } from "../domain/errors.js";
import type {
  AgentProfile,
  Dependencies,
  McpServer,
  ProfileExtras,
  TodoItem,
  TodoStatus,
} from "../domain/types.js";
import { profileExtras } from "../domain/types.js";

type ProfileInit = MessageInitShape<typeof AgentProfileSchema>;

const TODO_STATUSES: Array<[PbTodoStatus, TodoStatus]> = [
  [PbTodoStatus.PENDING, "pending"],
  [PbTodoStatus.IN_PROGRESS, "in_progress"],
  [PbTodoStatus.COMPLETED, "completed"],
];

export function todosToProto(items: TodoItem[]) {
  return items.map((t) => ({
    content: t.content,
    status: TODO_STATUSES.find(([, d]) => d === t.status)?.[0] ?? PbTodoStatus.UNSPECIFIED,
    activeForm: t.activeForm,
  }));
}

const depsToProto = (d: Dependencies) => ({ npm: d.npm, pip: d.pip });
const depsFromProto = (d: PbDependencies | undefined): Dependencies => ({
  npm: [...(d?.npm ?? [])],
  pip: [...(d?.pip ?? [])],
});

function mcpToProto(m: McpServer): NonNullable<ProfileInit["mcpServers"]>[number] {
  const t = m.transport;
  return {
    name: m.name,
    allowedTools: m.allowedTools,
    transport:
      t.type === "http"
        ? {
            case: "http",
            value: { url: t.url, headers: t.headers, secretHeaders: t.secretHeaders },
          }
        : {
            case: "stdio",
            value: { command: t.command, args: t.args, env: t.env, secretEnv: t.secretEnv },
          },
  };
}

function mcpFromProto(m: PbMcpServer, field: string): McpServer {
  const t = m.transport;
  if (t.case === undefined) throw invalidField(`${field}.transport`, "needs http or stdio");
  return {
    name: m.name,
    allowedTools: [...m.allowedTools],
    transport:
      t.case === "http"
        ? {
            type: "http",
            url: t.value.url,
            headers: { ...t.value.headers },
            secretHeaders: { ...t.value.secretHeaders },
          }
        : {
            type: "stdio",
            command: t.value.command,
            args: [...t.value.args],
            env: { ...t.value.env },
            secretEnv: { ...t.value.secretEnv },
          },
  };
}

/** The profile's extras, as AgentProfile init fields. */
export function profileExtrasToProto(p: AgentProfile) {
  const x = profileExtras(p);
  return {
    instructions: x.instructions,
    skills: x.skills.map((s) => ({
      name: s.name,
      description: s.description,
      body: s.body,
      files: s.files,
      dependencies: depsToProto(s.dependencies),
    })),
    commands: x.commands,
    mcpServers: x.mcpServers.map(mcpToProto),
    dependencies: depsToProto(x.dependencies),
    context: x.context,
  };
}

/** The extras of a profile from the API, before validation. */
export function profileExtrasFromProto(p: PbProfile, prefix: string): ProfileExtras {
  return {
    instructions: {
      fileName: p.instructions?.fileName ?? "",
      content: p.instructions?.content ?? "",
    },
    skills: p.skills.map((s: PbSkill) => ({
      name: s.name,
      description: s.description,
      body: s.body,
      files: s.files.map((f) => ({ path: f.path, content: f.content })),
      dependencies: depsFromProto(s.dependencies),
    })),
    commands: p.commands.map((c: PbCommand) => ({
      name: c.name,
      description: c.description,
      prompt: c.prompt,
    })),
    mcpServers: p.mcpServers.map((m, i) => mcpFromProto(m, `${prefix}.mcp_servers[${i}]`)),
    dependencies: depsFromProto(p.dependencies),
    context: {
      compactionThresholdTokens: p.context?.compactionThresholdTokens ?? 0,
      compactionDisabled: p.context?.compactionDisabled ?? false,
      clearToolResultsThresholdTokens: p.context?.clearToolResultsThresholdTokens ?? 0,
      clearToolResultsKeep: p.context?.clearToolResultsKeep ?? 0,
    },
  };
}
