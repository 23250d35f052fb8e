// The built-in tools against a real sandbox.

import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalSandboxProvider } from "../src/adapters/local-sandbox/provider.js";
import { BASH_MAX_OUTPUT_CHARS, createTools, TOOL_NAMES } from "../src/app/tools/index.js";
import { REGEX_BUDGET_MS } from "../src/app/tools/regex-worker.js";
import type { Tool, ToolResult } from "../src/app/tools/types.js";
import type { Sandbox } from "../src/ports/sandbox.js";

let dataDir: string;
let provider: LocalSandboxProvider;
let sandbox: Sandbox;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "tools-test-"));
  provider = await LocalSandboxProvider.create({ dataDir });
  expect(provider.isolated).toBe(true);
  sandbox = await provider.create({
    sessionId: "tools-test",
    settings: {
      provider: "local",
      networkAllowed: false,
      env: {},
      image: "",
      cpu: 1,
      memoryMib: 512,
      providerOptions: {},
    },
  });
});

afterAll(async () => {
  await sandbox?.terminate();
  await provider?.destroy("tools-test");
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

const tools = new Map(createTools([...TOOL_NAMES]).map((t) => [t.name, t]));

function tool(name: string): Tool {
  const t = tools.get(name);
  if (!t) throw new Error(`no tool ${name}`);
  return t;
}

function run(
  name: string,
  input: unknown,
  options: { signal?: AbortSignal; onOutput?: (chunk: string) => void } = {},
): Promise<ToolResult> {
  return tool(name).run(input, {
    sandbox: async () => sandbox,
    signal: options.signal ?? new AbortController().signal,
    ...(options.onOutput ? { onOutput: options.onOutput } : {}),
  });
}

async function ok(name: string, input: unknown): Promise<string> {
  const result = await run(name, input);
  expect(result, result.output).toMatchObject({ isError: false });
  return result.output;
}

async function error(name: string, input: unknown): Promise<string> {
  const result = await run(name, input);
  expect(result, result.output).toMatchObject({ isError: true });
  expect(result.output.startsWith(`${name}: `)).toBe(true);
  return result.output;
}

const bytes = (text: string) => new TextEncoder().encode(text);

describe("createTools", () => {
  it("returns the named built-in tools in order and skips names it does not know", () => {
    expect(TOOL_NAMES).toEqual(["Read", "Write", "Edit", "Bash", "Glob", "Grep"]);
    const picked = createTools(["Grep", "Task", "Read", "Nope", "Read"]);
    expect(picked.map((t) => t.name)).toEqual(["Grep", "Read"]);
    for (const t of createTools([...TOOL_NAMES])) {
      expect(t.description).toContain("/workspace");
      expect(t.inputSchema).toMatchObject({ type: "object", required: expect.any(Array) });
    }
  });

  it("answers input that is not an object with an error result", async () => {
    for (const name of TOOL_NAMES) {
      expect(await run(name, "nope")).toEqual({
        isError: true,
        output: `${name}: input must be an object`,
      });
    }
  });
});

describe("paths", () => {
  it("takes paths relative to the workspace or absolute under /workspace", async () => {
    await ok("Write", { file_path: "/workspace/paths/a.txt", content: "via absolute\n" });
    expect(await ok("Read", { file_path: "paths/a.txt" })).toBe("     1\tvia absolute");
    expect(await ok("Read", { file_path: "./paths/x/../a.txt" })).toBe("     1\tvia absolute");
    expect(await ok("Read", { file_path: "/workspace/paths/a.txt" })).toBe("     1\tvia absolute");
  });

  it("leaves symbolic links out of the workspace to the sandbox's checks", async () => {
    await ok("Bash", { command: "mkdir -p paths && ln -sf /etc/passwd paths/link" });
    expect(await error("Read", { file_path: "paths/link" })).toMatch(/leads out of the workspace/);
    expect(await error("Write", { file_path: "paths/link", content: "x" })).toMatch(
      /symbolic link/,
    );
    expect(await ok("Grep", { pattern: "root", path: "paths" })).toBe("No files found");
  });

  it("rejects paths outside the workspace", async () => {
    for (const file_path of ["/etc/passwd", "../x", "paths/../../x", "/workspace/../etc/passwd"]) {
      expect(await error("Read", { file_path })).toMatch(/outside the workspace/);
      expect(await error("Write", { file_path, content: "x" })).toMatch(/outside the workspace/);
      expect(await error("Edit", { file_path, old_string: "a", new_string: "b" })).toMatch(
        /outside the workspace/,
      );
    }
    expect(await error("Glob", { pattern: "*", path: "/etc" })).toMatch(/outside the workspace/);
    expect(await error("Glob", { pattern: "/etc/*" })).toMatch(/outside the workspace/);
    expect(await error("Glob", { pattern: "../*" })).toMatch(/must not contain \.\./);
    expect(await error("Grep", { pattern: "root", path: "/etc/passwd" })).toMatch(
      /outside the workspace/,
    );
  });

  it("resolves . and .., then applies the API's rule for workspace paths", async () => {
    const long = "n".repeat(256);
    for (const file_path of [
      `paths/${long}.txt`,
      `/workspace/x/../${long}`,
      `é${"n".repeat(254)}`,
    ]) {
      expect(await error("Write", { file_path, content: "x" })).toBe(
        "Write: file_path: each name in the path must be at most 255 bytes",
      );
    }
    // 255 bytes is allowed: the limit, not one byte less.
    await ok("Write", { file_path: `paths/${"n".repeat(251)}.txt`, content: "x" });
    expect(await error("Read", { file_path: "paths/a\0b" })).toBe(
      "Read: file_path: must not contain NUL",
    );
    expect(await error("Edit", { file_path: "a\\b", old_string: "a", new_string: "b" })).toBe(
      "Edit: file_path: must use / as separator",
    );
    expect(await error("Grep", { pattern: "x", path: `${"d/".repeat(600)}x` })).toBe(
      "Grep: path: must be at most 1024 bytes",
    );
    // Long input that resolves to a short path is fine; an echoed path is cut.
    expect(await ok("Read", { file_path: `${"x/../".repeat(300)}paths/a.txt` })).toBe(
      "     1\tvia absolute",
    );
    const far = await error("Read", { file_path: "../".repeat(1_000) });
    expect(far.length).toBeLessThan(400);
  });
});

describe("Read", () => {
  beforeAll(async () => {
    const lines = Array.from({ length: 2_500 }, (_, i) => `line ${i + 1}`);
    await sandbox.writeFile("read/long.txt", bytes(`${lines.join("\n")}\n`));
    await sandbox.writeFile("read/wide.txt", bytes(`short\n${"x".repeat(2_500)}\nend`));
    await sandbox.writeFile("read/crlf.txt", bytes("one\r\ntwo\r\n"));
    await sandbox.writeFile("read/empty.txt", new Uint8Array());
    await sandbox.writeFile("read/blob.bin", new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 1, 2]));
  });

  it("numbers lines like cat -n and stops at 2000 lines by default", async () => {
    const output = await ok("Read", { file_path: "read/long.txt" });
    const lines = output.split("\n");
    expect(lines[0]).toBe("     1\tline 1");
    expect(lines[1999]).toBe("  2000\tline 2000");
    expect(output).not.toContain("line 2001");
    expect(output).toMatch(/Showing lines 1-2000 of 2500\. Pass offset 2001/);
  });

  it("reads a window with offset and limit", async () => {
    const output = await ok("Read", { file_path: "read/long.txt", offset: 10, limit: 3 });
    expect(output.split("\n").slice(0, 3)).toEqual([
      "    10\tline 10",
      "    11\tline 11",
      "    12\tline 12",
    ]);
    expect(output).toMatch(/Showing lines 10-12 of 2500/);
    const tail = await ok("Read", { file_path: "read/long.txt", offset: 2_499 });
    expect(tail).toMatch(/^ {2}2499\tline 2499\n {2}2500\tline 2500\n/);
    expect(await error("Read", { file_path: "read/long.txt", offset: 2_501 })).toMatch(
      /offset 2501 is past the end .* 2500 lines/,
    );
  });

  it("truncates long lines and drops CR of CRLF", async () => {
    const output = await ok("Read", { file_path: "read/wide.txt" });
    const [first, second, third] = output.split("\n");
    expect(first).toBe("     1\tshort");
    expect(second).toBe(`     2\t${"x".repeat(2_000)}... [line truncated: 2500 chars]`);
    expect(third).toBe("     3\tend");
    expect(await ok("Read", { file_path: "read/crlf.txt" })).toBe("     1\tone\n     2\ttwo");
  });

  it("notes empty and binary files", async () => {
    expect(await ok("Read", { file_path: "read/empty.txt" })).toMatch(/exists but is empty/);
    const binary = await ok("Read", { file_path: "read/blob.bin" });
    expect(binary).toMatch(/binary file of 7 bytes/);
    expect(binary).not.toContain("PNG");
  });

  it("says when the file does not exist or is a directory", async () => {
    expect(await error("Read", { file_path: "read/none.txt" })).toBe(
      "Read: file does not exist: /workspace/read/none.txt",
    );
    expect(await error("Read", { file_path: "/workspace/read" })).toMatch(/is a directory/);
    expect(await error("Read", { file_path: "/workspace" })).toMatch(/is a directory/);
  });

  it("rejects invalid input", async () => {
    expect(await error("Read", {})).toBe("Read: file_path is required");
    expect(await error("Read", { file_path: 3 })).toBe("Read: file_path must be a string");
    expect(await error("Read", { file_path: "a", offset: "2" })).toBe(
      "Read: offset must be an integer",
    );
    expect(await error("Read", { file_path: "a", limit: 0 })).toBe(
      "Read: limit must be at least 1",
    );
  });
});

describe("Write", () => {
  it("creates files with their parent directories, then overwrites", async () => {
    expect(await ok("Write", { file_path: "write/deep/er/new.txt", content: "a\nb\n" })).toBe(
      "Created /workspace/write/deep/er/new.txt (2 lines, 4 bytes)",
    );
    expect(await ok("Write", { file_path: "write/deep/er/new.txt", content: "c" })).toBe(
      "Overwrote /workspace/write/deep/er/new.txt (1 line, 1 byte)",
    );
    expect(new TextDecoder().decode(await sandbox.readFile("write/deep/er/new.txt"))).toBe("c");
  });

  it("round-trips unicode through Read", async () => {
    const content = "héllo wörld ✓\n日本語のテキスト\nemoji 🎉👩‍👩‍👧\n";
    await ok("Write", { file_path: "write/unicode.txt", content });
    expect(new TextDecoder().decode(await sandbox.readFile("write/unicode.txt"))).toBe(content);
    expect(await ok("Read", { file_path: "/workspace/write/unicode.txt" })).toBe(
      "     1\théllo wörld ✓\n     2\t日本語のテキスト\n     3\temoji 🎉👩‍👩‍👧",
    );
  });

  it("rejects invalid input and directories", async () => {
    expect(await error("Write", { file_path: "write/x.txt" })).toBe("Write: content is required");
    expect(await error("Write", { file_path: "write/x.txt", content: 5 })).toBe(
      "Write: content must be a string",
    );
    expect(await error("Write", { content: "x" })).toBe("Write: file_path is required");
    expect(await error("Write", { file_path: "write/deep", content: "x" })).toMatch(
      /is a directory/,
    );
  });
});

describe("Edit", () => {
  const file = "edit/code.ts";
  const read = async () => new TextDecoder().decode(await sandbox.readFile(file));

  beforeAll(async () => {
    await sandbox.writeFile(
      file,
      bytes("const a = 1;\nconst b = a + 1;\nconsole.log(a, b);\nconst price = '$5';\n"),
    );
  });

  it("replaces a unique string", async () => {
    expect(
      await ok("Edit", { file_path: file, old_string: "b = a + 1", new_string: "b = a * 2" }),
    ).toBe("Edited /workspace/edit/code.ts: replaced 1 occurrence");
    expect(await read()).toContain("const b = a * 2;");
  });

  it("refuses an ambiguous string unless replace_all", async () => {
    expect(await error("Edit", { file_path: file, old_string: "a", new_string: "x" })).toMatch(
      /old_string occurs 3 times .* replace_all/,
    );
    expect(await read()).toContain("const a = 1;");
    expect(
      await ok("Edit", {
        file_path: file,
        old_string: "const",
        new_string: "let",
        replace_all: true,
      }),
    ).toBe("Edited /workspace/edit/code.ts: replaced 3 occurrences");
    expect(await read()).not.toContain("const");
  });

  it("inserts new_string literally ($ patterns included)", async () => {
    await ok("Edit", { file_path: file, old_string: "'$5'", new_string: "'$&$1$$'" });
    expect(await read()).toContain("let price = '$&$1$$';");
  });

  it("errors when old_string is missing or equal to new_string", async () => {
    expect(await error("Edit", { file_path: file, old_string: "nope", new_string: "x" })).toMatch(
      /old_string was not found/,
    );
    expect(await error("Edit", { file_path: file, old_string: "let", new_string: "let" })).toMatch(
      /are the same/,
    );
    expect(
      await error("Edit", { file_path: "edit/none.ts", old_string: "a", new_string: "b" }),
    ).toBe("Edit: file does not exist: /workspace/edit/none.ts");
    expect(await error("Edit", { file_path: file, old_string: "a" })).toBe(
      "Edit: new_string is required",
    );
    expect(
      await error("Edit", {
        file_path: file,
        old_string: "a",
        new_string: "b",
        replace_all: "yes",
      }),
    ).toBe("Edit: replace_all must be a boolean");
  });

  it("creates a file from an empty old_string, but never clobbers one", async () => {
    expect(
      await ok("Edit", { file_path: "edit/new.txt", old_string: "", new_string: "hi\n" }),
    ).toBe("Created /workspace/edit/new.txt with new_string");
    expect(await error("Edit", { file_path: file, old_string: "", new_string: "x" })).toMatch(
      /old_string is empty/,
    );
  });

  it("matches LF text in a CRLF file", async () => {
    await sandbox.writeFile("edit/crlf.txt", bytes("one\r\ntwo\r\nthree\r\n"));
    await ok("Edit", { file_path: "edit/crlf.txt", old_string: "one\ntwo", new_string: "1\n2" });
    expect(new TextDecoder().decode(await sandbox.readFile("edit/crlf.txt"))).toBe(
      "1\r\n2\r\nthree\r\n",
    );
  });
});

describe("Bash", () => {
  it("runs a command in the workspace root and returns its output", async () => {
    await sandbox.writeFile("bash/hello.txt", bytes("hello from the workspace\n"));
    expect(await ok("Bash", { command: "cat bash/hello.txt", description: "Show a file" })).toBe(
      "hello from the workspace",
    );
    expect(await ok("Bash", { command: "true" })).toBe("(no output)");
    // The paths the tools show are the paths commands see.
    expect(await ok("Bash", { command: "pwd && cat /workspace/bash/hello.txt" })).toBe(
      "/workspace\nhello from the workspace",
    );
  });

  it("combines stdout and stderr in the order they came", async () => {
    const output = await ok("Bash", {
      command: "echo out1; sleep 0.05; echo err1 >&2; sleep 0.05; echo out2",
    });
    expect(output).toBe("out1\nerr1\nout2");
  });

  it("marks non-zero exit codes as errors", async () => {
    const result = await run("Bash", { command: "echo partial; echo boom >&2; exit 3" });
    expect(result).toEqual({ isError: true, output: "partial\nboom\n\nExit code 3" });
    expect(await run("Bash", { command: "exit 1" })).toEqual({
      isError: true,
      output: "Exit code 1",
    });
  });

  it("streams output through onOutput while the command runs", async () => {
    const chunks: Array<{ chunk: string; at: number }> = [];
    const start = Date.now();
    const result = await run(
      "Bash",
      { command: "echo first; sleep 0.5; echo second" },
      { onOutput: (chunk) => chunks.push({ chunk, at: Date.now() - start }) },
    );
    expect(result).toEqual({ isError: false, output: "first\nsecond" });
    expect(chunks.map((c) => c.chunk).join("")).toBe("first\nsecond\n");
    const first = chunks.find((c) => c.chunk.includes("first"))!;
    const second = chunks.find((c) => c.chunk.includes("second"))!;
    expect(second.at - first.at).toBeGreaterThan(300);
  });

  it("kills a command at its timeout", async () => {
    const start = Date.now();
    const result = await run("Bash", { command: "echo started; sleep 10", timeout: 500 });
    expect(Date.now() - start).toBeLessThan(5_000);
    expect(result.isError).toBe(true);
    expect(result.output).toMatch(/^started\n\nCommand timed out after 500 ms/);
  });

  it("keeps the head and tail of long output for the model", async () => {
    const result = await run("Bash", { command: "seq 1 20000" });
    expect(result.isError).toBe(false);
    expect(result.output.length).toBeLessThan(BASH_MAX_OUTPUT_CHARS + 300);
    expect(result.output).toMatch(/^1\n2\n3\n/);
    expect(result.output).toMatch(/characters of output omitted/);
    expect(result.output).toMatch(/19999\n20000\n\nOutput was 108894 characters/);
  });

  it("says when the sandbox cut a command's output and killed it", async () => {
    const result = await run("Bash", { command: "yes abcdefghij | head -c 3000000; echo done" });
    expect(result.isError).toBe(true);
    expect(result.output).toMatch(/^abcdefghij\n/);
    expect(result.output).toContain(
      "Command was killed: it printed more output than the sandbox keeps.",
    );
    expect(result.output).not.toContain("done");
    expect(result.output.length).toBeLessThan(BASH_MAX_OUTPUT_CHARS + 300);
  });

  it("on cancel, kills the process and returns its output so far, marked cancelled", async () => {
    const marker = `sleep 30.${process.pid}`;
    const controller = new AbortController();
    let seen = "";
    const running = run(
      "Bash",
      { command: `echo started; ${marker}; echo never` },
      {
        signal: controller.signal,
        onOutput: (chunk) => {
          seen += chunk;
        },
      },
    );
    // Running, and its first output read (the pipe may lag behind the process on a busy host).
    await waitFor(
      () => seen.includes("started") && hostProcesses().some((p) => p.includes(marker)),
    );
    const start = Date.now();
    controller.abort(new Error("turn cancelled"));
    const result = await running;
    expect(Date.now() - start).toBeLessThan(3_000);
    expect(result).toMatchObject({ isError: true, cancelled: true });
    expect(result.output).toMatch(
      /^started\n\nCommand was killed after \d+\.\d s: the turn was cancelled\.$/,
    );
    await waitFor(() => !hostProcesses().some((p) => p.includes(marker)));
  });

  it("rejects invalid input", async () => {
    expect(await error("Bash", {})).toBe("Bash: command is required");
    expect(await error("Bash", { command: " " })).toBe("Bash: command must not be empty");
    expect(await error("Bash", { command: "true", timeout: 0 })).toBe(
      "Bash: timeout must be between 1 and 600000",
    );
    expect(await error("Bash", { command: "true", timeout: 600_001 })).toBe(
      "Bash: timeout must be between 1 and 600000",
    );
    expect(await error("Bash", { command: "true", timeout: "5" })).toBe(
      "Bash: timeout must be an integer",
    );
  });
});

describe("Glob", () => {
  beforeAll(async () => {
    for (const path of [
      "glob/a.ts",
      "glob/b.ts",
      "glob/c.md",
      "glob/notes.txt",
      "glob/src/x.ts",
      "glob/src/y.tsx",
      "glob/src/deep/z.ts",
      "glob/.hidden/h.ts",
      "glob/.env",
    ]) {
      await sandbox.writeFile(path, bytes(path));
    }
    // Distinct modification times, newest last in this list.
    await ok("Bash", {
      command: [
        "cd glob",
        "touch -d '2021-01-01' a.ts",
        "touch -d '2022-01-01' src/deep/z.ts",
        "touch -d '2023-01-01' b.ts",
        "touch -d '2024-01-01' src/x.ts",
      ].join(" && "),
    });
  });

  const glob = async (input: Record<string, unknown>) =>
    (await ok("Glob", input)).split("\n").map((p) => p.replace("/workspace/glob/", ""));

  it("matches ** across directories, newest first", async () => {
    expect(await glob({ pattern: "**/*.ts", path: "glob" })).toEqual([
      "src/x.ts",
      "b.ts",
      "src/deep/z.ts",
      "a.ts",
    ]);
  });

  it("supports *, ?, {a,b} and character classes", async () => {
    expect(await glob({ pattern: "*.ts", path: "glob" })).toEqual(["b.ts", "a.ts"]);
    expect(await glob({ pattern: "glob/src/?.ts*" })).toEqual(["src/y.tsx", "src/x.ts"]);
    expect((await glob({ pattern: "glob/*.{md,txt}" })).sort()).toEqual(["c.md", "notes.txt"]);
    expect(await glob({ pattern: "glob/[a-b].ts" })).toEqual(["b.ts", "a.ts"]);
    expect(await glob({ pattern: "glob/[!a].ts" })).toEqual(["b.ts"]);
    expect(await glob({ pattern: "/workspace/glob/src/**/*.{ts,tsx}" })).toContain("src/deep/z.ts");
    expect(await glob({ pattern: "glob/{src/deep,nope}/*.ts" })).toEqual(["src/deep/z.ts"]);
    expect(await glob({ pattern: "glob/a.ts" })).toEqual(["a.ts"]);
    expect(await glob({ pattern: "a.ts/*", path: "glob" })).toEqual(["No files found"]);
    expect((await glob({ pattern: "src/**", path: "glob" })).sort()).toEqual([
      "src/deep/z.ts",
      "src/x.ts",
      "src/y.tsx",
    ]);
  });

  it("skips dot files unless the pattern names the dot", async () => {
    expect(await glob({ pattern: "glob/**/h.ts" })).toEqual(["No files found"]);
    expect(await glob({ pattern: "glob/.hidden/*.ts" })).toEqual([".hidden/h.ts"]);
    expect(await glob({ pattern: "glob/.env" })).toEqual([".env"]);
  });

  it("caps the results at 100 with a note", async () => {
    await ok("Bash", {
      command: "mkdir -p glob/many && for i in $(seq 1 120); do : > glob/many/f$i.log; done",
    });
    const lines = await glob({ pattern: "many/*.log", path: "/workspace/glob" });
    expect(lines).toHaveLength(101);
    expect(lines[100]).toMatch(/Showing the 100 newest of 120 matches/);
  });

  it("reports no matches and bad paths", async () => {
    expect(await ok("Glob", { pattern: "**/*.rs" })).toBe("No files found");
    expect(await error("Glob", { pattern: "*", path: "glob/none" })).toMatch(/does not exist/);
    expect(await error("Glob", { pattern: "*", path: "glob/a.ts" })).toMatch(/is a file/);
    expect(await error("Glob", {})).toBe("Glob: pattern is required");
  });
});

describe("Grep", () => {
  beforeAll(async () => {
    await sandbox.writeFile(
      "grep/src/app.ts",
      bytes("import x from 'y';\nfunction main() {\n  log('Error: one');\n  return 1;\n}\n"),
    );
    await sandbox.writeFile(
      "grep/src/util.js",
      bytes("// helper\nexport function helper() {}\nconst ERROR = 'error';\n"),
    );
    await sandbox.writeFile("grep/README.md", bytes("# Title\nNo errors here.\n"));
    await sandbox.writeFile("grep/.git/config", bytes("error in hidden\n"));
    await sandbox.writeFile("grep/bin.dat", new Uint8Array([...bytes("Error"), 0, 1, 2]));
    await sandbox.writeFile("grep/big.txt", bytes(`Error\n${"x".repeat(1024 * 1024)}`));
    await ok("Bash", {
      command: "cd grep && touch -d '2020-01-01' src/util.js && touch -d '2021-01-01' README.md",
    });
  });

  it("lists matching files by default, newest first, skipping hidden, binary and big files", async () => {
    expect(await ok("Grep", { pattern: "Error|error", path: "grep" })).toBe(
      "Found 3 files\n/workspace/grep/src/app.ts\n/workspace/grep/README.md\n/workspace/grep/src/util.js",
    );
  });

  it("shows content with line numbers, case-insensitively and with context", async () => {
    expect(await ok("Grep", { pattern: "error", path: "grep/src", output_mode: "content" })).toBe(
      "/workspace/grep/src/util.js:3:const ERROR = 'error';",
    );
    expect(
      await ok("Grep", { pattern: "error:", path: "grep/src", output_mode: "content", "-i": true }),
    ).toBe("/workspace/grep/src/app.ts:3:  log('Error: one');");
    expect(
      await ok("Grep", {
        pattern: "function",
        path: "grep/src",
        output_mode: "content",
        "-A": 1,
        "-n": false,
      }),
    ).toBe(
      [
        "/workspace/grep/src/app.ts:function main() {",
        "/workspace/grep/src/app.ts-  log('Error: one');",
        "/workspace/grep/src/util.js:export function helper() {}",
        "/workspace/grep/src/util.js-const ERROR = 'error';",
      ].join("\n"),
    );
    expect(
      await ok("Grep", {
        pattern: "return",
        path: "grep/src/app.ts",
        output_mode: "content",
        "-C": 1,
      }),
    ).toBe(
      [
        "/workspace/grep/src/app.ts-3-  log('Error: one');",
        "/workspace/grep/src/app.ts:4:  return 1;",
        "/workspace/grep/src/app.ts-5-}",
      ].join("\n"),
    );
    expect(
      await ok("Grep", {
        pattern: "^import|^}",
        path: "grep/src/app.ts",
        output_mode: "content",
        "-B": 1,
      }),
    ).toBe(
      [
        "/workspace/grep/src/app.ts:1:import x from 'y';",
        "--",
        "/workspace/grep/src/app.ts-4-  return 1;",
        "/workspace/grep/src/app.ts:5:}",
      ].join("\n"),
    );
  });

  it("counts matches per file and filters by glob", async () => {
    expect(
      await ok("Grep", { pattern: "e", path: "grep", glob: "*.{ts,js}", output_mode: "count" }),
    ).toBe(
      "Found 5 matches in 2 files\n/workspace/grep/src/app.ts:2\n/workspace/grep/src/util.js:3",
    );
    expect(await ok("Grep", { pattern: "Title", glob: "grep/**/*.md" })).toBe(
      "Found 1 file\n/workspace/grep/README.md",
    );
  });

  it("limits output with head_limit", async () => {
    const output = await ok("Grep", {
      pattern: ".",
      path: "grep/src/app.ts",
      output_mode: "content",
      head_limit: 2,
    });
    expect(output).toBe(
      [
        "/workspace/grep/src/app.ts:1:import x from 'y';",
        "/workspace/grep/src/app.ts:2:function main() {",
        "(Showing the first 2 of 5 lines: head_limit.)",
      ].join("\n"),
    );
  });

  it("matches across lines with multiline", async () => {
    expect(await ok("Grep", { pattern: "main\\(\\) \\{\\n\\s+log", path: "grep" })).toBe(
      "No files found",
    );
    expect(
      await ok("Grep", {
        pattern: "main\\(\\) \\{.*?log",
        path: "grep",
        multiline: true,
        output_mode: "content",
      }),
    ).toBe(
      "/workspace/grep/src/app.ts:2:function main() {\n/workspace/grep/src/app.ts:3:  log('Error: one');",
    );
  });

  it("answers an invalid regex or bad input with an error result", async () => {
    expect(await error("Grep", { pattern: "(unclosed" })).toMatch(
      /^Grep: invalid regular expression: .*Unterminated group/,
    );
    expect(await error("Grep", { pattern: "x", output_mode: "lines" })).toBe(
      'Grep: output_mode must be one of "content", "files_with_matches", "count"',
    );
    expect(await error("Grep", { pattern: "x", "-A": -1 })).toBe("Grep: -A must be at least 0");
    expect(await error("Grep", { pattern: "x", path: "grep/none" })).toMatch(/does not exist/);
  });
});

describe("matching that backtracks without end", () => {
  beforeAll(async () => {
    await sandbox.writeFile("redos/line.txt", bytes(`ok\n${"a".repeat(64)}b\n`));
    await sandbox.writeFile(`redos/${"a".repeat(200)}`, bytes("x"));
  });

  /** Runs `during` while measuring the longest time the event loop did not tick. */
  async function longestStall<T>(during: () => Promise<T>): Promise<{ value: T; stallMs: number }> {
    let last = performance.now();
    let stallMs = 0;
    const ticker = setInterval(() => {
      const now = performance.now();
      stallMs = Math.max(stallMs, now - last);
      last = now;
    }, 10);
    try {
      return { value: await during(), stallMs };
    } finally {
      clearInterval(ticker);
    }
  }

  it("stops a Grep regex and a Glob at the budget while the server keeps running", async () => {
    const start = performance.now();
    const { value, stallMs } = await longestStall(() =>
      Promise.all([
        run("Grep", { pattern: "(a+)+$", path: "redos", output_mode: "content" }),
        run("Glob", { pattern: "*a*a*a*a*a*a*a*a*b", path: "redos" }),
      ]),
    );
    const elapsed = performance.now() - start;
    const [grep, glob] = value;
    expect(grep).toEqual({
      isError: true,
      output:
        `Grep: the search took over ${REGEX_BUDGET_MS / 1000} s to match and was stopped; ` +
        "simplify it (nested or repeated wildcards can take exponential time) or search fewer files",
    });
    expect(glob.isError).toBe(true);
    expect(glob.output).toMatch(/^Glob: pattern took over \d+ s to match and was stopped/);
    expect(elapsed).toBeGreaterThanOrEqual(REGEX_BUDGET_MS - 50);
    expect(elapsed).toBeLessThan(REGEX_BUDGET_MS + 3_000);
    expect(stallMs).toBeLessThan(300);
    // The same files with harmless patterns.
    expect(await ok("Grep", { pattern: "a+b$", path: "redos", output_mode: "count" })).toBe(
      "Found 1 match in 1 file\n/workspace/redos/line.txt:1",
    );
    expect(await ok("Glob", { pattern: "*a*b", path: "redos" })).toBe("No files found");
  }, 20_000);

  it("stops the matching at once on cancel", async () => {
    const controller = new AbortController();
    const running = run(
      "Grep",
      { pattern: "(a+)+$", path: "redos" },
      { signal: controller.signal },
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    const start = performance.now();
    controller.abort(new Error("turn cancelled"));
    await expect(running).rejects.toThrow("turn cancelled");
    expect(performance.now() - start).toBeLessThan(200);
  });
});

describe("cancellation", () => {
  it("rejects every tool when the turn is already cancelled", async () => {
    const controller = new AbortController();
    controller.abort(new Error("cancelled before"));
    const inputs: Record<string, unknown> = {
      Read: { file_path: "paths/a.txt" },
      Write: { file_path: "cancel.txt", content: "x" },
      Edit: { file_path: "paths/a.txt", old_string: "via", new_string: "by" },
      Bash: { command: "touch cancel.txt" },
      Glob: { pattern: "**" },
      Grep: { pattern: "x" },
    };
    for (const name of TOOL_NAMES) {
      await expect(run(name, inputs[name], { signal: controller.signal })).rejects.toThrow(
        "cancelled before",
      );
    }
    expect(await sandbox.stat("cancel.txt")).toBeNull();
  });
});

describe("Bash with a fake sandbox", () => {
  /** A sandbox whose exec prints `printed`, then waits for the signal and reports a kill. */
  function killedAfter(printed: string, durationMs: number, exec?: Sandbox["exec"]): Sandbox {
    return {
      exec:
        exec ??
        ((options) =>
          new Promise((resolve) => {
            options.onStdout?.(printed);
            options.signal?.addEventListener("abort", () =>
              resolve({
                exitCode: null,
                stdout: printed,
                stderr: "",
                timedOut: false,
                cancelled: true,
                truncated: false,
                durationMs,
              }),
            );
          })),
    } as Sandbox;
  }

  function runBash(fake: Sandbox, signal: AbortSignal, command = "make") {
    return tool("Bash").run({ command }, { sandbox: async () => fake, signal });
  }

  it("returns what the command printed and for how long it ran", async () => {
    const controller = new AbortController();
    const running = runBash(killedAfter("compiling a\ncompiling b\n", 612), controller.signal);
    await new Promise((resolve) => setTimeout(resolve, 20));
    controller.abort(new Error("turn cancelled"));
    expect(await running).toEqual({
      output: "compiling a\ncompiling b\n\nCommand was killed after 0.6 s: the turn was cancelled.",
      isError: true,
      cancelled: true,
    });
  });

  it("says so when the command ended on its own as the turn was cancelled", async () => {
    const controller = new AbortController();
    const fake = killedAfter("", 0, async () => {
      controller.abort(new Error("turn cancelled"));
      return {
        exitCode: 0,
        stdout: "done\n",
        stderr: "",
        timedOut: false,
        cancelled: false,
        truncated: false,
        durationMs: 1_500,
      };
    });
    expect(await runBash(fake, controller.signal)).toEqual({
      output: "done\n\nThe turn was cancelled as the command ended (after 1.5 s).",
      isError: true,
      cancelled: true,
    });
  });

  it("passes on that the sandbox killed a process for memory", async () => {
    const fake = killedAfter("", 0, async () => ({
      exitCode: 137,
      stdout: "",
      stderr: "Killed\n",
      timedOut: false,
      cancelled: false,
      truncated: false,
      oomKilled: true,
      durationMs: 300,
    }));
    expect(await runBash(fake, new AbortController().signal)).toEqual({
      output:
        "Killed\n\nExit code 137\n" +
        "A process of the command was killed for going over the sandbox's memory limit.",
      isError: true,
    });
  });

  it("rejects when the command never started or its end is unknown", async () => {
    const before = new AbortController();
    before.abort(new Error("cancelled before"));
    await expect(runBash(killedAfter("", 0), before.signal)).rejects.toThrow("cancelled before");

    // Cancelled while the sandbox was still starting.
    const starting = new AbortController();
    const running = tool("Bash").run(
      { command: "make" },
      { sandbox: () => new Promise<Sandbox>(() => {}), signal: starting.signal },
    );
    starting.abort(new Error("cancelled while starting"));
    await expect(running).rejects.toThrow("cancelled while starting");

    // The sandbox failed after the cancel: what the command did is unknown.
    const failing = new AbortController();
    const fake = killedAfter("", 0, async () => {
      failing.abort(new Error("cancelled, sandbox gone"));
      throw new Error("sandbox terminated");
    });
    await expect(runBash(fake, failing.signal)).rejects.toThrow("cancelled, sandbox gone");
  });
});

function hostProcesses(): string[] {
  return execFileSync("ps", ["-eo", "args"], { encoding: "utf8" }).split("\n");
}

async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
