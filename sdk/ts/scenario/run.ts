// The shared client scenario (test/clients/scenario.json) run with the TypeScript SDK: one JSON
// line per step on stdout. Usage: node --import tsx sdk/ts/scenario/run.ts <scenario.json>
// with AGENT_RUNTIME_URL, AGENT_RUNTIME_API_KEY and SCENARIO_NAME set.

import { readFileSync } from "node:fs";
import { AgentRuntimeError, createNodeClient, ModelProvider, outcomeName } from "../src/node.js";

type Step = Record<string, unknown> & { do: string };

const scenario = JSON.parse(readFileSync(process.argv[2] ?? "", "utf8")) as { steps: Step[] };
const suffix = process.env.SCENARIO_NAME ?? "";
const client = createNodeClient();
const print = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);
let profileId = "";
let sessionId = "";

async function run(step: Step, i: number): Promise<object> {
  switch (step.do) {
    case "createProfile": {
      const profile = await client.createProfile({
        name: suffix ? `${step.name}-${suffix}` : String(step.name),
        systemPrompt: String(step.systemPrompt ?? ""),
        modelProvider: step.model === "demo" ? ModelProvider.DEMO : ModelProvider.ANTHROPIC,
        model: step.model === "demo" ? "" : String(step.model ?? ""),
        tools: (step.tools as string[] | undefined) ?? [],
      });
      profileId = profile.id;
      return { profileId, name: profile.name };
    }
    case "createSession":
      sessionId = (await client.createSession({ agentProfileId: profileId })).id;
      return { sessionId };
    case "runTurn": {
      print({ step: i, do: step.do, phase: "start", sessionId });
      const turn = client.runTurn(sessionId, String(step.text), {
        onReconnect: (r) => console.error(`feed reconnects after ${r.afterSequence}: ${r.error}`),
      });
      const sequences: number[] = [];
      for await (const event of turn) sequences.push(Number(event.sequence));
      const { conversation } = turn;
      return {
        turnId: turn.turnId,
        outcome: outcomeName(turn.outcome),
        sequences,
        toolNames: conversation.toolCalls.map((c) => c.name),
        text: conversation.finalText,
      };
    }
    case "readFile":
      return { content: await client.readText(sessionId, String(step.path)) };
    case "getSession":
      try {
        await client.getSession(String(step.sessionId));
        return { error: null };
      } catch (err) {
        if (!(err instanceof AgentRuntimeError)) throw err;
        return { code: err.code, reason: err.reason, field: err.field };
      }
    default:
      throw new Error(`unknown step ${JSON.stringify(step.do)}`);
  }
}

for (const [i, step] of scenario.steps.entries()) {
  print({ step: i, do: step.do, ...(await run(step, i)) });
}
