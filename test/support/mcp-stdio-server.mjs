// A dependency-free MCP server speaking newline-delimited JSON-RPC on stdin/stdout, for the
// tests: placed in a session's workspace and started inside its sandbox.
// Tools: echo {text} -> "echo: <text> (token: <MCP_TOKEN>)"; crash -> the process dies mid-call;
// picture -> an image and a text; fail -> an isError result; hang -> no answer.
import { createInterface } from "node:readline";

const tools = [
  {
    name: "echo",
    description: "Echoes text.",
    inputSchema: { type: "object", properties: { text: { type: "string" } }, required: ["text"] },
  },
  { name: "crash", description: "Dies.", inputSchema: { type: "object", properties: {} } },
  { name: "picture", description: "An image.", inputSchema: { type: "object", properties: {} } },
  { name: "fail", description: "Fails.", inputSchema: { type: "object", properties: {} } },
  { name: "hang", description: "Never answers.", inputSchema: { type: "object", properties: {} } },
];
const send = (m) => process.stdout.write(`${JSON.stringify(m)}\n`);
process.stderr.write("mcp test server started\n");
createInterface({ input: process.stdin }).on("line", (line) => {
  const msg = JSON.parse(line);
  if (msg.id === undefined) return; // notifications
  const reply = (result) => send({ jsonrpc: "2.0", id: msg.id, result });
  if (msg.method === "initialize") {
    reply({
      protocolVersion: msg.params.protocolVersion,
      capabilities: { tools: {} },
      serverInfo: { name: "test-stdio", version: "1.0.0" },
    });
  } else if (msg.method === "tools/list") {
    reply({ tools });
  } else if (msg.method === "tools/call") {
    const { name, arguments: args } = msg.params;
    if (name === "echo") {
      reply({
        content: [
          { type: "text", text: `echo: ${args.text} (token: ${process.env.MCP_TOKEN ?? "none"})` },
        ],
      });
    } else if (name === "crash") {
      process.stderr.write("about to crash\n");
      process.kill(process.pid, "SIGKILL");
    } else if (name === "picture") {
      reply({
        content: [
          { type: "image", data: "iVBORw0KGgo=", mimeType: "image/png" },
          { type: "text", text: "a dot" },
        ],
      });
    } else if (name === "hang") {
      // no answer
    } else {
      reply({ content: [{ type: "text", text: "it went wrong" }], isError: true });
    }
  } else {
    send({ jsonrpc: "2.0", id: msg.id, error: { code: -32601, message: "no such method" } });
  }
});
