// The README says what works: its tour runs as written against a server started with `npm start`,
// its limits table is the one in src/domain/limits.ts, and the scripts CONTRIBUTING.md names do
// what it says. When one of these fails, fix the README or the code, whichever is wrong.

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DEFAULTS, LIMITS } from "../src/domain/limits.js";
import { REPO_ROOT } from "./support/server.js";

const README = readFileSync(join(REPO_ROOT, "README.md"), "utf8");
// npm, npx and node from the Node that runs the tests, whatever the caller's PATH says.
const PATH = `${dirname(process.execPath)}:${process.env.PATH ?? ""}`;

/** The text under a heading, up to the next heading of the same or a higher level. */
function section(markdown: string, heading: string): string {
  const level = /^#+/.exec(heading)![0].length;
  const lines = markdown.split("\n");
  const start = lines.indexOf(heading);
  if (start < 0) throw new Error(`README has no "${heading}" heading`);
  let end = lines.length;
  let inCode = false; // a `# comment` in a code block is no heading
  for (let i = start + 1; i < lines.length; i++) {
    if (lines[i]!.startsWith("```")) inCode = !inCode;
    const hashes = inCode ? undefined : /^(#+) /.exec(lines[i]!)?.[1];
    if (hashes && hashes.length <= level) {
      end = i;
      break;
    }
  }
  return lines.slice(start + 1, end).join("\n");
}

/** The fenced code blocks of a piece of markdown, with their language. */
function codeBlocks(markdown: string): Array<{ lang: string; code: string }> {
  return [...markdown.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({
    lang: m[1]!,
    code: m[2]!,
  }));
}

describe("README: Get started", () => {
  it("has exactly two set-up commands, npm start and npm test", () => {
    const blocks = codeBlocks(section(README, "## Get started"));
    expect(blocks.map((b) => b.code.trim())).toEqual(["npm start", "npm test"]);
  });

  it("links the contributing guide and the architecture notes", () => {
    expect(README).toContain("(CONTRIBUTING.md)");
    expect(README).toContain("(ARCHITECTURE.md)");
    expect(existsSync(join(REPO_ROOT, "CONTRIBUTING.md"))).toBe(true);
    expect(existsSync(join(REPO_ROOT, "CHANGELOG.md"))).toBe(true);
  });
});

describe("README: Limits", () => {
  /** Label -> value cell of every row of the limits table. */
  function readmeLimits(): Map<string, string> {
    const rows = section(README, "### Limits")
      .split("\n")
      .filter((line) => line.startsWith("|"))
      .slice(2); // header and separator
    return new Map(
      rows.map((row) => {
        const cells = row.split("|").map((cell) => cell.trim());
        expect(cells, `a limits row of two cells: ${row}`).toHaveLength(4);
        return [cells[1]!, cells[2]!];
      }),
    );
  }

  /** Every number in a value cell, sizes in bytes ("5 MiB" is 5242880; "2,000" is 2000). */
  function numbersIn(cell: string): number[] {
    const units: Record<string, number> = { KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };
    return [...cell.matchAll(/(\d+(?:,\d{3})*)(?:\s*(KiB|MiB|GiB)\b)?/g)].map(
      (m) => Number(m[1]!.replaceAll(",", "")) * (m[2] ? units[m[2]]! : 1),
    );
  }

  // What each row shows, read from LIMITS through a proxy that notes every key used. Plain
  // numbers are the fixed parts of a rule (a minimum of 1, "0 means the default").
  const used = new Set<string>();
  const L = new Proxy(LIMITS, {
    get(target, key: string) {
      used.add(key);
      return target[key as keyof typeof LIMITS];
    },
  });
  const expected: Record<string, number[]> = {
    "Profile and session name": [L.maxNameLength],
    "Profile description": [L.maxDescriptionLength],
    "System prompt (profile or subagent)": [L.maxSystemPromptLength],
    "Model id": [L.maxModelIdLength],
    Metadata: [L.maxMetadataEntries, 1, L.maxMetadataKeyLength, L.maxMetadataValueLength],
    "`request_id`": [L.maxRequestIdLength],
    "Tools per profile / subagents per profile": [L.maxTools, L.maxSubagents],
    "Subagent name": [L.maxSubagentNameLength],
    "Sandbox environment variables": [L.maxEnvEntries, L.maxEnvValueLength],
    "Sandbox provider options": [L.maxProviderOptions],
    "Model steps per turn (`max_turns`)": [L.maxMaxTurns, 0, DEFAULTS.maxTurns],
    "Output tokens per model step (`max_output_tokens`)": [
      L.maxOutputTokens,
      0,
      DEFAULTS.maxOutputTokens,
    ],
    "Thinking budget": [
      L.minThinkingBudgetTokens,
      L.maxThinkingBudgetTokens,
      0,
      DEFAULTS.thinkingBudgetTokens,
    ],
    "Workspace path": [L.maxPathBytes, L.maxPathSegmentBytes],
    "A session's workspace": [L.maxWorkspaceFiles, L.maxWorkspaceBytes],
    "One workspace file": [L.maxFileBytes],
    "Initial files of a session": [L.maxInitialFiles, L.maxInitialFilesBytes],
    "Default files of a profile": [L.maxInitialFiles, L.maxProfileFilesBytes],
    "Message text": [L.maxMessageTextLength],
    Attachments: [L.maxAttachments, L.maxAttachmentBytes],
    "Waiting messages per session": [L.maxQueuedMessages],
    "To-do list (`TodoWrite`)": [L.maxTodos, L.maxTodoTextLength],
    "Instructions file, skill body, command prompt": [L.maxInstructionsLength],
    "Skills / commands / MCP servers per profile": [L.maxSkills, L.maxCommands, L.maxMcpServers],
    "Name of a skill, command, MCP server or instructions file": [L.maxItemNameLength],
    "Headers, arguments or environment entries of an MCP server": [L.maxMcpEntries],
    "Dependencies of a profile or a skill": [
      L.maxDependencies,
      L.maxDependencies,
      L.maxDependencySpecLength,
    ],
    Secrets: [L.maxSecretsPerTenant, L.maxSecretNameLength, L.maxSecretValueBytes],
    "Request size": [L.maxRequestBytes],
    "Page size": [
      L.defaultPageSize,
      L.maxPageSize,
      L.defaultBlockPageSize,
      L.maxBlockPageSize,
      L.defaultFilePageSize,
      L.maxFilePageSize,
    ],
    "Events a stream may fall behind": [L.maxSubscriberLagEvents],
    "Permission rules": [L.maxPermissionRules, L.maxPermissionRuleLength],
    "Approval timeout (`approval_timeout_seconds`)": [L.maxApprovalTimeoutSeconds, 30, 0],
    "Custom tools per profile": [L.maxCustomTools, L.maxCustomToolSchemaLength],
    "An answer to a tool call": [
      L.maxAnswerMessageLength,
      L.maxCustomToolOutputLength,
      L.maxToolUseIdLength,
    ],
    "Answers taken while the decision log cannot be written": [L.maxUnloggedToolDecisions],
    Webhooks: [
      L.maxWebhooksPerTenant,
      L.maxWebhookUrlLength,
      L.minWebhookSecretBytes,
      L.maxWebhookSecretBytes,
    ],
  };
  /** LIMITS entries a user never meets, so the README leaves them out. None today. */
  const internal: string[] = [];

  it("has one row for each limit a user meets, and no other", () => {
    expect([...readmeLimits().keys()].sort()).toEqual(Object.keys(expected).sort());
  });

  it("shows in every row the values LIMITS holds", () => {
    const sorted = (values: number[]) => [...values].sort((a, b) => a - b);
    for (const [label, cell] of readmeLimits()) {
      expect(sorted(numbersIn(cell)), `README limits row "${label}": ${cell}`).toEqual(
        sorted(expected[label] ?? []),
      );
    }
  });

  it("lists every entry of LIMITS", () => {
    const missing = Object.keys(LIMITS).filter((key) => !used.has(key) && !internal.includes(key));
    expect(
      missing,
      "LIMITS entries with no README row (add one, or list them as internal)",
    ).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// The tour, pasted into bash while `npm start` runs.

/** Pids of a process's descendants, from /proc. */
function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, "utf8");
    } catch {
      continue; // gone meanwhile
    }
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
  }
  const found: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()!) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Whether any process is left in the group. */
function groupAlive(pgid: number): boolean {
  return alive(-pgid);
}

async function waitFor(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

function exited(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode ?? -1);
    else child.once("close", (code) => resolve(code ?? -1));
  });
}

describe("README: A short tour", () => {
  const groups: number[] = [];
  const dirs: string[] = [];
  afterAll(async () => {
    // Whatever happened, nothing this suite started stays.
    for (const pgid of groups) {
      if (groupAlive(pgid)) process.kill(-pgid, "SIGKILL");
    }
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it("runs as written against npm start and shows the file the turn wrote", async () => {
    const tour = codeBlocks(section(README, "## A short tour")).find((b) => b.lang === "sh");
    expect(tour, "the tour's sh block").toBeDefined();

    // `npm start` as a reader runs it, in its own process group so that ending the group ends
    // npm, the shell and the server. PORT=0 picks a free port; the tour reads it from PORT.
    const dataDir = await mkdtemp(join(tmpdir(), "ar-readme-"));
    dirs.push(dataDir);
    const server = spawn("npm", ["start"], {
      cwd: REPO_ROOT,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        PATH,
        PORT: "0",
        HOST: "127.0.0.1",
        DATA_DIR: dataDir,
        MONGODB_URI: "",
      },
    });
    groups.push(server.pid!);
    const serverLog: string[] = [];
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`npm start did not listen in 60 s:\n${serverLog.join("")}`)),
        60_000,
      );
      server.stderr!.on("data", (chunk: Buffer) => serverLog.push(chunk.toString()));
      server.stdout!.on("data", (chunk: Buffer) => {
        serverLog.push(chunk.toString());
        const match = /"msg":"listening","port":(\d+)/.exec(serverLog.join(""));
        if (match) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
      });
      server.once("close", (code) => {
        clearTimeout(timer);
        reject(new Error(`npm start exited (${code}):\n${serverLog.join("")}`));
      });
    });

    // The block exactly as written, stopping at the first failing command.
    const shell = spawn("bash", ["-euo", "pipefail", "-c", tour!.code], {
      cwd: REPO_ROOT,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, PATH, PORT: String(port) },
    });
    groups.push(shell.pid!);
    let out = "";
    let err = "";
    shell.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    shell.stderr!.on("data", (chunk: Buffer) => {
      err += chunk.toString();
    });
    const killer = setTimeout(() => process.kill(-shell.pid!, "SIGKILL"), 90_000);
    const code = await exited(shell);
    clearTimeout(killer);
    const report = `exit ${code}\nstdout:\n${out}\nstderr:\n${err}`;

    expect(code, report).toBe(0);
    // The feed was followed to the end of the turn, and only then the file was read: decoded.
    const completed = out.indexOf(" turnCompleted\n");
    const note = out.indexOf(
      "# Demo note\n\nWritten by the demo model (no language model was called).\n\n" +
        "## Your message\n\n> hello\n",
    );
    expect(completed, report).toBeGreaterThan(0);
    expect(note, report).toBeGreaterThan(completed);
    expect(out, report).toContain("agentruntime.v1.SessionService/StreamEvents");
    // The approval: the session waited on the Bash call, the answer let the turn complete.
    const waited = out.indexOf("SESSION_STATE_WAITING\n");
    expect(waited, report).toBeGreaterThan(note);
    expect(out.slice(waited), report).toContain('"kind":"TOOL_DECISION_KIND_ALLOW"');
    expect(out.slice(waited).trimEnd().split("\n"), report).toContain("SESSION_STATE_IDLE");
    expect(await waitFor(() => !groupAlive(shell.pid!), 5_000), "the tour left processes").toBe(
      true,
    );

    // Stop the server as Ctrl-C would (the whole group), then nothing it started may remain:
    // npm, node, and the session's sandbox processes.
    const started = descendants(server.pid!);
    expect(started.length).toBeGreaterThan(0);
    process.kill(-server.pid!, "SIGINT");
    const stopped = await waitFor(() => !groupAlive(server.pid!), 30_000);
    expect(stopped, `npm start still runs 30 s after SIGINT:\n${serverLog.join("")}`).toBe(true);
    const left = await waitFor(() => started.every((pid) => !alive(pid)), 10_000);
    expect(
      left,
      `left behind: ${started.filter(alive).map((pid) => `${pid} ${cmdline(pid)}`)}`,
    ).toBe(true);
  }, 180_000);
});

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return "";
  }
}

// ---------------------------------------------------------------------------------------------
// The scripts CONTRIBUTING.md names, each in a throwaway repository with this one's .gitignore.

async function scratchRepo(scripts: string[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "ar-scripts-"));
  const git = (...args: string[]) => execFileSync("git", args, { cwd: dir, stdio: "pipe" });
  git("init", "-q");
  git("config", "user.email", "test@example.com");
  git("config", "user.name", "test");
  await cp(join(REPO_ROOT, ".gitignore"), join(dir, ".gitignore"));
  for (const script of scripts) await cp(join(REPO_ROOT, script), join(dir, script));
  await writeFile(join(dir, "tracked.txt"), "one\n");
  git("add", ".");
  git("commit", "-q", "-m", "start");
  return dir;
}

function run(
  dir: string,
  command: string,
  env: Record<string, string> = {},
): { code: number; out: string } {
  try {
    const out = execFileSync("bash", ["-c", command], {
      cwd: dir,
      env: { ...process.env, PATH, ...env },
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
    return { code: 0, out };
  } catch (err) {
    const e = err as { status: number; stdout: string; stderr: string };
    return { code: e.status, out: e.stdout + e.stderr };
  }
}

const porcelain = (dir: string) =>
  execFileSync("git", ["status", "--porcelain", "--untracked-files=all"], {
    cwd: dir,
    encoding: "utf8",
  });

describe("scripts/repeat-tests.sh", () => {
  it("repeats the command, says all passed, and leaves the tree clean", async () => {
    const dir = await scratchRepo(["scripts/repeat-tests.sh"]);
    try {
      const result = run(dir, "bash scripts/repeat-tests.sh 3", {
        TEST_CMD: "echo ran >>.cache/count; echo '4 passed, 0 failed'",
      });
      expect(result.code, result.out).toBe(0);
      expect(result.out).toContain("3 of 3 runs passed");
      expect(await readFile(join(dir, ".cache/count"), "utf8")).toBe("ran\nran\nran\n");
      expect(porcelain(dir)).toBe("");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("stops at the first failing run and names its log", async () => {
    const dir = await scratchRepo(["scripts/repeat-tests.sh"]);
    try {
      // Run 2 reports a failure with exit 0; run 3 must never start.
      const result = run(dir, "bash scripts/repeat-tests.sh 5", {
        TEST_CMD:
          "echo x >>.cache/count; n=$(wc -l <.cache/count); " +
          'if [ "$n" = 2 ]; then echo "3 passed, 1 failed"; else echo "4 passed, 0 failed"; fi',
      });
      expect(result.code, result.out).toBe(1);
      const log = /run 2 of 5 failed .*\(3 passed, 1 failed\); log: (\S+)/.exec(result.out)?.[1];
      expect(log, result.out).toBeDefined();
      expect(await readFile(join(dir, log!), "utf8")).toContain("3 passed, 1 failed");
      expect(result.out).toContain("1 of 5 runs passed before it");
      expect(await readFile(join(dir, ".cache/count"), "utf8")).toBe("x\nx\n");

      const crashed = run(dir, "bash scripts/repeat-tests.sh", { TEST_CMD: "exit 3" });
      expect(crashed.code).toBe(1);
      expect(crashed.out).toMatch(/run 1 of 20 failed .*\(exit 3\)/);
      expect(run(dir, "bash scripts/repeat-tests.sh 0").code).toBe(2);
      expect(porcelain(dir)).toBe("");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("scripts/check-clean-tree.sh", () => {
  it("passes on a clean tree and names what setup changed", async () => {
    const dir = await scratchRepo(["scripts/check-clean-tree.sh"]);
    const check = "bash scripts/check-clean-tree.sh";
    try {
      expect(run(dir, check).code).toBe(0);
      // Ignored files (node_modules, .cache) do not count.
      await mkdir(join(dir, ".cache"), { recursive: true });
      await writeFile(join(dir, ".cache", "x"), "ignored\n");
      expect(run(dir, check).code).toBe(0);

      await writeFile(join(dir, "tracked.txt"), "two\n");
      await writeFile(join(dir, "new.txt"), "new\n");
      const dirty = run(dir, check);
      expect(dirty.code).toBe(1);
      expect(dirty.out).toContain(" M tracked.txt");
      expect(dirty.out).toContain("?? new.txt");

      // A working copy with edits: only what changed after --save counts.
      expect(run(dir, `${check} --save .cache/before.txt`).code).toBe(0);
      expect(run(dir, `${check} --since .cache/before.txt`).code).toBe(0);
      await writeFile(join(dir, "tracked.txt"), "three\n");
      await writeFile(join(dir, "package-lock.json"), "{}\n");
      const since = run(dir, `${check} --since .cache/before.txt`);
      expect(since.code).toBe(1);
      expect(since.out).toContain("tracked.txt");
      expect(since.out).toContain("package-lock.json");
      expect(since.out).not.toContain("new.txt");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
