import { newId } from "../../domain/ids.js";
import { DEFAULTS } from "../../domain/limits.js";
import type { AgentProfile, Usage } from "../../domain/types.js";
import type { ModelProvider } from "../../ports/model.js";
import { createTools } from "../tools/index.js";
import type { Tool } from "../tools/types.js";
import { runAgentLoop, TurnAborted } from "./agent-loop.js";
import { BlockWriter, type TurnSink } from "./blocks.js";

export interface TaskToolOptions {
  sink: TurnSink;
  profile: AgentProfile;
  turnId: string;
  parentModel: string;
  model: (profile: AgentProfile) => ModelProvider;
  onUsage: (usage: Usage, model: string, subagentId: string) => void;
  /** The parent turn's budget check: a limit reached stops the subagent too. */
  stopCheck?: () => Promise<string | undefined>;
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
      const toolNames =
        def.tools.length > 0 ? def.tools : o.profile.tools.filter((t) => t !== "Task");
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
            tools: createTools(toolNames),
            sandbox: ctx.sandbox,
            maxSteps: o.profile.maxTurns || DEFAULTS.maxTurns,
            maxOutputTokens: o.profile.maxOutputTokens || DEFAULTS.maxOutputTokens,
            context,
            signal: ctx.signal,
            onUsage: (u, m) => o.onUsage(u, m, subagentId),
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
