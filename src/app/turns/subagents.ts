import { newId } from "../../domain/ids.js";
import { DEFAULTS } from "../../domain/limits.js";
import type { AgentProfile, ContextSettings, Usage } from "../../domain/types.js";
import type { ModelProvider, ServerToolName } from "../../ports/model.js";
import { createTools } from "../tools/index.js";
import type { Tool } from "../tools/types.js";
import { type Permit, runAgentLoop, TurnAborted } from "./agent-loop.js";
import { BlockWriter, type TurnSink } from "./blocks.js";
import { serverToolsOf } from "./step-blocks.js";

export interface TaskToolOptions {
  sink: TurnSink;
  profile: AgentProfile;
  /**
   * The turn's own tools (built-in, Skill, TodoWrite, MCP; not Task): a subagent without a tools
   * list gets them all, one with a list those it names (built-in ones it names are made for it).
   */
  parentTools: Tool[];
  /** The provider's tools (WebSearch, WebFetch) the turn has; a subagent's list may narrow them. */
  serverTools: ServerToolName[];
  /** The profile's context settings, for compaction in the subagent's own loop. */
  contextSettings?: ContextSettings;
  turnId: string;
  parentModel: string;
  model: (profile: AgentProfile) => ModelProvider;
  onUsage: (usage: Usage, model: string, subagentId: string) => void;
  /** The parent turn's budget check: a limit reached stops the subagent too. */
  stopCheck?: () => Promise<string | undefined>;
  /** The turn's tool permissions; a call that would wait is refused (a subagent cannot wait). */
  permit?: Permit;
}

function subagentPermit(permit: Permit): Permit {
  return (name, input) => {
    const v = permit(name, input);
    if (v.kind !== "wait") return v;
    return {
      kind: "deny",
      message: `Permission denied: ${name} calls wait for the application's answer, which a subagent cannot do. Leave this call to the main agent.`,
    };
  };
}

/**
 * A subagent's tools, as in Claude Code: with no list, all of the turn's (Task is never among
 * them); with a list, exactly the named ones: the turn's tool of that name, else a built-in one.
 */
export function subagentTools(
  names: readonly string[],
  parentTools: readonly Tool[],
  parentServerTools: readonly ServerToolName[],
): { tools: Tool[]; serverTools: ServerToolName[] } {
  const own = parentTools.filter((t) => t.name !== "Task");
  if (names.length === 0) return { tools: own, serverTools: [...parentServerTools] };
  const tools = names.flatMap((name) => {
    const inherited = own.find((t) => t.name === name);
    return inherited ? [inherited] : createTools([name]);
  });
  const allowed = serverToolsOf(names);
  return { tools, serverTools: parentServerTools.filter((n) => allowed.includes(n)) };
}

/**
 * The Task tool: hands a task to one of the profile's subagents, which runs its own loop with
 * its own prompt, tools and model. Its blocks and events carry its subagent id; its final
 * answer is the tool's result.
 */
export function createTaskTool(o: TaskToolOptions): Tool {
  const defs = o.profile.subagents;
  return {
    name: "Task",
    description: [
      "Launch a subagent to handle a task on its own and report back. Give it everything it needs",
      "in `prompt`: it does not see this conversation. Available subagents (subagent_type):",
      ...defs.map((d) => `- ${d.name}: ${d.description}`),
    ].join("\n"),
    inputSchema: {
      type: "object",
      properties: {
        description: { type: "string", description: "A short (3-5 word) description of the task" },
        prompt: { type: "string", description: "The task for the subagent to perform" },
        subagent_type: { type: "string", enum: defs.map((d) => d.name) },
      },
      required: ["description", "prompt", "subagent_type"],
    },
    async run(input, ctx) {
      const i = (input ?? {}) as {
        description?: unknown;
        prompt?: unknown;
        subagent_type?: unknown;
      };
      if (typeof i.prompt !== "string" || i.prompt.trim() === "") {
        return { isError: true, output: "Task: prompt must be a non-empty string" };
      }
      const def = defs.find((d) => d.name === i.subagent_type);
      if (!def) {
        return {
          isError: true,
          output: `Task: unknown subagent_type ${JSON.stringify(i.subagent_type)}; available: ${defs.map((d) => d.name).join(", ")}`,
        };
      }
      const subagentId = newId("sub");
      const toolUseId = ctx.toolUseId ?? "";
      const context = { turnId: o.turnId, subagentId };
      const parentCtx = { turnId: o.turnId };
      o.sink.emit(
        {
          type: "subagent_discovered",
          subagentId,
          name: def.name,
          description: typeof i.description === "string" ? i.description : def.description,
          prompt: i.prompt,
          toolUseId,
        },
        context,
      );
      const writer = new BlockWriter(o.sink, parentCtx);
      const block = writer.start({
        type: "subagent",
        subagentId,
        name: def.name,
        prompt: i.prompt,
        status: "running",
        result: "",
        toolUseId,
      });
      const { tools, serverTools } = subagentTools(def.tools, o.parentTools, o.serverTools);
      const subProfile: AgentProfile = { ...o.profile, model: def.model || o.parentModel };
      let status: "completed" | "failed" | "cancelled" = "completed";
      let result = "";
      try {
        const loop = await runAgentLoop(
          [{ role: "user", content: [{ type: "text", text: i.prompt }] }],
          {
            sink: o.sink,
            model: o.model(subProfile),
            modelId: o.profile.modelProvider === "demo" ? "demo" : def.model || o.parentModel,
            system: def.prompt,
            tools,
            ...(serverTools.length > 0 ? { serverTools } : {}),
            ...(o.contextSettings ? { contextSettings: o.contextSettings } : {}),
            sandbox: ctx.sandbox,
            maxSteps: o.profile.maxTurns || DEFAULTS.maxTurns,
            maxOutputTokens: o.profile.maxOutputTokens || DEFAULTS.maxOutputTokens,
            context,
            signal: ctx.signal,
            onUsage: (u, m) => o.onUsage(u, m, subagentId),
            ...(o.permit ? { permit: subagentPermit(o.permit) } : {}),
            ...(o.stopCheck ? { stopCheck: o.stopCheck } : {}),
          },
        );
        result = loop.finalText || "(the subagent gave no answer)";
        if (loop.outcome === "max_turns") result += "\n[the subagent stopped at max_turns]";
        if (loop.outcome === "stopped") result += `\n[the subagent stopped: ${loop.stopReason}]`;
      } catch (err) {
        status = err instanceof TurnAborted || ctx.signal.aborted ? "cancelled" : "failed";
        result = err instanceof Error ? err.message : String(err);
      }
      if (block.content.type === "subagent") {
        block.content.status = status;
        block.content.result = result;
      }
      writer.complete(block);
      // A failed save is the turn's to handle (its sink records it).
      await writer.saved().catch(() => {});
      o.sink.emit({ type: "subagent_completed", subagentId, status, result }, context);
      if (status === "cancelled") throw new TurnAborted("cancelled");
      return { isError: status !== "completed", output: result };
    },
  };
}
