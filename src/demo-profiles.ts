// The built-in demo profiles, created for the tenants a server names (`DEMO_PROFILE`): they use
// the offline demo model, so they run without an API key.

import type { ProfileInput } from "./app/profiles/check-profile.js";

/** The demo profile's skill: counts words with a script (python3, no packages). */
const DEMO_COUNT_SCRIPT = [
  "import json, sys",
  "text = sys.stdin.read()",
  'print(json.dumps({"words": len(text.split()), "lines": len(text.splitlines()), ' +
    '"characters": len(text.rstrip(chr(10)))}))',
  "",
].join("\n");

/**
 * The built-in demo profile: the offline demo model with Write, Bash and Skill, a `word-count`
 * skill and a `/count` command that uses it; no API key needed.
 */
export function demoProfile(): ProfileInput {
  return {
    name: "demo",
    description:
      "An offline, scripted agent that writes a file and runs a command, and counts words with " +
      "its word-count skill (/count TEXT): try it without an API key.",
    systemPrompt: "You are the Agent Runtime demo agent.",
    modelProvider: "demo",
    model: "",
    tools: ["Read", "Write", "Bash", "Skill"],
    maxTurns: 10,
    subagents: [],
    defaultFiles: [],
    sandbox: {
      provider: "default",
      networkAllowed: false,
      env: {},
      image: "",
      cpu: 0,
      memoryMib: 0,
      providerOptions: {},
    },
    thinking: { enabled: false, budgetTokens: 0 },
    maxOutputTokens: 0,
    skills: [
      {
        name: "word-count",
        description: "Counts the words, lines and characters of a text. Use it to count words.",
        body: [
          "# Word count",
          "",
          "Pipe the text into the script; it prints the counts as JSON:",
          "",
          "```sh",
          "python3 /workspace/.claude/skills/word-count/count.py",
          "```",
        ].join("\n"),
        files: [{ path: "count.py", content: new TextEncoder().encode(DEMO_COUNT_SCRIPT) }],
        dependencies: { npm: [], pip: [] },
      },
    ],
    commands: [
      {
        name: "count",
        description: "Count the words of a text with the word-count skill",
        prompt: "Use the word-count skill to count the words of this text:\n\n$ARGUMENTS",
      },
    ],
  };
}

/**
 * The demo profile with tool permissions: its Bash calls wait for an approval (AnswerToolCall),
 * so the approval flow can be tried without an API key.
 */
export function demoApprovalProfile(): ProfileInput {
  return {
    ...demoProfile(),
    name: "demo-approvals",
    description:
      "The demo agent, but each Bash command waits for your approval: answer it with " +
      "AnswerToolCall (allow or deny). Try it without an API key.",
    permissions: {
      mode: "allow",
      allow: [],
      ask: ["Bash"],
      deny: [],
      approvalTimeoutSeconds: 0,
      allowOnTimeout: false,
    },
  };
}
