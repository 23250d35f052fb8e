// Runs one turn of the demo agent and prints the conversation and the note it wrote.
//   AGENT_RUNTIME_URL=http://127.0.0.1:8080 node --import tsx examples/node/run-turn.ts "hi there"
// (AGENT_RUNTIME_API_KEY too when the server has keys). In a project of your own, import from
// "@agent-runtime/client/node" instead.

import { AgentRuntimeError, createNodeClient, outcomeName } from "../../sdk/ts/src/node.js";

const client = createNodeClient(); // AGENT_RUNTIME_URL, AGENT_RUNTIME_API_KEY
const stop = new AbortController();
process.once("SIGINT", () => stop.abort()); // Ctrl-C cancels the turn

try {
  const profile = await client.findProfile("demo");
  const session = await client.createSession({ agentProfileId: profile.id });
  const turn = client.runTurn(session.id, process.argv[2] ?? "hello", { signal: stop.signal });
  for await (const event of turn) {
    if (event.payload.case === "toolCallWaiting") console.log("waiting for an approval...");
  }
  console.log(turn.conversation.transcript());
  console.log(`\nturn ${turn.turnId}: ${outcomeName(turn.outcome)}`);
  console.log(await client.readText(session.id, "notes/demo.md"));
} catch (err) {
  if (!(err instanceof AgentRuntimeError)) throw err;
  console.error(`${err.code} ${err.reason}: ${err.message}`);
  process.exitCode = 1;
}
