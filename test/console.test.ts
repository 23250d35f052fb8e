// The web console in a real browser: the server (with API keys) serves it at `/`, headless
// Chromium (Debian's package, driven by playwright-core) uses it the way a person would, and each
// case saves screenshots under .cache/screenshots/ (their paths are printed).

import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type AgentRuntimeClient, createClient } from "../sdk/ts/src/index.js";
import { launchBrowser, pageErrors, screenshot } from "./support/browser.js";
import { type StartedServer, startServer } from "./support/server.js";

const KEY = "console-test-key-0123456789";
// Generous: the machine may be busy. A case that passes does not wait for these.
const CASE_TIMEOUT_MS = 180_000;
const STEP_TIMEOUT_MS = 90_000;
let server: StartedServer;
let browser: Browser;
let api: AgentRuntimeClient;
let context: BrowserContext | undefined;

beforeAll(async () => {
  [server, browser] = await Promise.all([
    startServer({ env: { AGENT_RUNTIME_API_KEYS: `${KEY}=acme` } }),
    launchBrowser(),
  ]);
  api = createClient({ baseUrl: server.url, apiKey: KEY });
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

afterEach(async (test) => {
  // A case that failed leaves a picture of what the page showed then.
  const page = context?.pages()[0];
  if (test.task.result?.state === "fail" && page) {
    const name = test.task.name.replace(/\W+/g, "-").slice(0, 60);
    await screenshot(page, `failed-${name}`).catch(() => {});
  }
  await context?.close();
  context = undefined;
});

/** A fresh browser context on the console, signed in with the key. */
async function openConsole(hash = ""): Promise<{ page: Page; errors: string[] }> {
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  const errors = pageErrors(page);
  await page.goto(`${server.url}/${hash}`);
  await page.getByLabel("API key").fill(KEY);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Sessions" }).waitFor();
  return { page, errors };
}

/** Creates a session of the named profile through the form and opens it. */
async function newSession(page: Page, profile: string): Promise<string> {
  await page.getByTestId("session-list").getByRole("link", { name: "New" }).click();
  const form = page.getByTestId("new-session");
  await form.getByLabel("Profile").selectOption({ label: profile });
  await form.getByRole("button", { name: "Create session" }).click();
  await page.waitForURL(/#\/sessions\/ses_/);
  return decodeURIComponent(new URL(page.url()).hash.split("/")[2]!);
}

async function send(page: Page, text: string): Promise<void> {
  await page.getByLabel("Message").fill(text);
  await page.getByRole("button", { name: "Send" }).click();
}

/** Waits until the session's first turn ended (its end is marked) and the session is idle. */
async function turnEnded(page: Page): Promise<void> {
  await page.getByTestId("turn-end").first().waitFor({ timeout: STEP_TIMEOUT_MS });
  await page.getByTestId("session-state").getByText("idle").waitFor();
}

describe("the web console", { timeout: CASE_TIMEOUT_MS }, () => {
  it("is served at / beside the API, /healthz and CORS", async () => {
    const pageRes = await fetch(`${server.url}/`);
    expect(pageRes.status).toBe(200);
    expect(pageRes.headers.get("content-type")).toMatch(/^text\/html/);
    expect(pageRes.headers.get("content-security-policy")).toContain("default-src 'self'");
    const html = await pageRes.text();
    expect(html).toContain('<script type="module" src="/console/app.js">');
    const script = await fetch(`${server.url}/console/app.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get("content-type")).toMatch(/^text\/javascript/);
    const etag = script.headers.get("etag")!;
    expect(
      (await fetch(`${server.url}/console/app.js`, { headers: { "if-none-match": etag } })).status,
    ).toBe(304);
    expect((await fetch(`${server.url}/console/app.css`)).status).toBe(200);

    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    const missing = await fetch(`${server.url}/nothing-here`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ code: "not_found" });
    const preflight = await fetch(`${server.url}/agentruntime.v1.SessionService/ListSessions`, {
      method: "OPTIONS",
      headers: { origin: "https://app.example", "access-control-request-method": "POST" },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("*");
    // The API answers as before: a key is needed, and with it the demo profiles are there.
    const names = (await api.listProfiles()).map((p) => p.name);
    expect(names).toEqual(expect.arrayContaining(["demo", "demo-approvals"]));
  });

  it("asks for the API key and turns a wrong one away", async () => {
    context = await browser.newContext();
    const page = await context.newPage();
    page.setDefaultTimeout(STEP_TIMEOUT_MS);
    await page.goto(`${server.url}/`);
    await page.getByText("This server needs an API key.").waitFor();
    await page.getByLabel("API key").fill("not-the-right-key-at-all");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByText("That API key was not accepted.").waitFor();
    await screenshot(page, "console-api-key");
    await page.getByLabel("API key").fill(KEY);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page
      .getByTestId("profile-list")
      .getByRole("link", { name: "demo", exact: true })
      .waitFor();
  });

  it("runs the demo profile: streaming text, tool calls, files, usage", async () => {
    const { page, errors } = await openConsole();
    const sessionId = await newSession(page, "demo");
    // Watch the page as a person would: record the assistant's text while it streamed, and the
    // progress shown while the sandbox started.
    await page.evaluate(() => {
      const w = window as unknown as { seen: string[]; starting: string[] };
      w.seen = [];
      w.starting = [];
      new MutationObserver(() => {
        const starting = document.querySelector('[data-testid="sandbox-starting"]');
        if (starting) w.starting.push(starting.textContent ?? "");
        for (const el of Array.from(document.querySelectorAll('[data-testid="assistant-text"]')))
          w.seen.push(el.textContent ?? "");
      }).observe(document.body, { subtree: true, childList: true, characterData: true });
    });
    await send(page, "Write a short note about otters");
    await page.getByTestId("user-message").getByText("Write a short note about otters").waitFor();
    await turnEnded(page);
    await screenshot(page, "console-demo-turn");

    // The text arrived in pieces: some text was shown that was a strict prefix of its final form.
    const finals = await page.getByTestId("assistant-text").allTextContents();
    expect(finals.length).toBeGreaterThanOrEqual(2);
    const seen = await page.evaluate(() => (window as unknown as { seen: string[] }).seen);
    const partial = seen.filter((s) => s && finals.some((f) => f !== s && f.startsWith(s)));
    expect(partial.length).toBeGreaterThan(0);
    const starting = await page.evaluate(
      () => (window as unknown as { starting: string[] }).starting,
    );
    expect(starting.some((s) => s.includes("Starting the sandbox"))).toBe(true);

    // Tool calls, closed; opening one shows its input and output.
    const write = page.locator('[data-testid="tool-call"][data-tool="Write"]');
    const bash = page.locator('[data-testid="tool-call"][data-tool="Bash"]');
    await expect(write.getByText("succeeded").isVisible()).resolves.toBe(true);
    await expect(bash.getByText("succeeded").isVisible()).resolves.toBe(true);
    await expect(write.getByTestId("tool-input").isVisible()).resolves.toBe(false);
    await write.locator("summary").click();
    await expect(write.getByTestId("tool-input").textContent()).resolves.toContain("notes/demo.md");
    await bash.locator("summary").click();
    const bashOutput = await bash.getByTestId("tool-output").textContent();
    expect(bashOutput).toContain("demo.md");
    await screenshot(page, "console-demo-tool-calls");

    // The file the agent wrote: listed, previewed, downloadable; the same as the API reads.
    const files = page.getByTestId("files");
    await files.getByRole("button", { name: "notes/demo.md" }).click();
    const preview = page.getByTestId("file-preview");
    const content = await api.readText(sessionId, "notes/demo.md");
    expect(content.length).toBeGreaterThan(0);
    await preview.locator("pre").getByText(content.trim().split("\n")[0]!).waitFor();
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      preview.getByRole("link", { name: "Download" }).click(),
    ]);
    expect(download.suggestedFilename()).toBe("demo.md");

    // Usage and cost as the server counted them.
    const session = await api.getSession(sessionId);
    const usage = page.getByTestId("usage");
    const tokens = Number(session.usage!.inputTokens).toLocaleString("en");
    await usage.getByText(`${tokens} in`).first().waitFor();
    await expect(page.getByTestId("cost").textContent()).resolves.toMatch(/^\$\d+\.\d+$/);
    await screenshot(page, "console-demo-files");

    // A file the application writes shows up by its event; files under .claude/ on request.
    await api.writeFile(sessionId, ".claude/extra.md", "# Extra\n");
    await api.writeFile(sessionId, "notes/second.md", "second\n");
    await files.getByRole("button", { name: "notes/second.md" }).waitFor();
    await expect(files.getByRole("button", { name: ".claude/extra.md" }).count()).resolves.toBe(0);
    await files.getByLabel("Show the file under .claude/").check();
    await files.getByRole("button", { name: ".claude/extra.md" }).waitFor();
    expect(errors).toEqual([]);
  });

  it("answers an approval on the demo-approvals profile", async () => {
    const { page, errors } = await openConsole();
    const sessionId = await newSession(page, "demo-approvals");
    await send(page, "hello");
    const approval = page.getByTestId("approval");
    await approval.getByText("Bash").first().waitFor({ timeout: STEP_TIMEOUT_MS });
    await page.getByTestId("session-state").getByText("waiting").waitFor();
    await screenshot(page, "console-approval-waiting");
    await approval.getByRole("button", { name: "Allow" }).click();
    await turnEnded(page);
    await expect(page.getByTestId("approval").count()).resolves.toBe(0);
    const bash = page.locator('[data-testid="tool-call"][data-tool="Bash"]');
    await expect(bash.getByText("succeeded").isVisible()).resolves.toBe(true);
    const decisions = await api.raw.sessions.listToolDecisions({ sessionId });
    expect(decisions.decisions.map((d) => d.toolName)).toEqual(["Bash"]);
    await screenshot(page, "console-approval-answered");
    expect(errors).toEqual([]);
  });

  it("cancels a turn that waits for an approval", async () => {
    const { page, errors } = await openConsole();
    const sessionId = await newSession(page, "demo-approvals");
    const item = page.locator(
      `[data-testid="session-item"]:has(a[href="#/sessions/${sessionId}"])`,
    );
    await send(page, "hello");
    await page.getByTestId("approval").waitFor({ timeout: STEP_TIMEOUT_MS });
    await page.getByTestId("session-state").getByText("waiting").waitFor();
    await page.getByRole("button", { name: "Cancel" }).click();
    const end = page.getByTestId("turn-end");
    await end.waitFor();
    await expect(end.getAttribute("data-outcome")).resolves.toBe("CANCELLED");
    await expect(end.textContent()).resolves.toContain("Turn cancelled");
    await turnEnded(page);
    await expect(page.getByTestId("approval").count()).resolves.toBe(0);
    await expect(page.getByRole("button", { name: "Cancel" }).count()).resolves.toBe(0);
    await page.getByTestId("session-state").getByText("idle").waitFor();
    await item.waitFor();
    await screenshot(page, "console-cancelled");
    expect(errors).toEqual([]);
  });

  it("creates and edits a profile, shows its thinking, and deletes a session", async () => {
    const { page, errors } = await openConsole();
    await page.getByTestId("profile-list").getByRole("link", { name: "New" }).click();
    const form = page.getByTestId("profile-form");
    await form.getByLabel("Name").fill("console-made");
    await form.getByLabel("Description").fill("made in the console");
    await form.getByLabel("Extended thinking").check();
    await form.getByRole("button", { name: "Create profile" }).click();
    await page.getByRole("heading", { name: "Profile console-made" }).waitFor();
    await page.getByTestId("profile-list").getByRole("link", { name: "console-made" }).waitFor();
    await form.getByLabel("Description").fill("edited in the console");
    await form.getByRole("button", { name: "Save profile" }).click();
    await form.getByText("Saved.").waitFor();
    const stored = await api.findProfile("console-made");
    expect(stored.description).toBe("edited in the console");
    expect(stored.tools).toEqual(["Read", "Write", "Bash"]);
    expect(stored.thinking?.enabled).toBe(true);

    // A session of it, started from the profile's page: the demo model's thinking shows, closed.
    await page.getByRole("link", { name: "Start a session with this profile" }).click();
    await page.getByTestId("new-session").getByLabel("Name (optional)").fill("to-delete");
    await page.getByRole("button", { name: "Create session" }).click();
    await page.waitForURL(/#\/sessions\/ses_/);
    await send(page, "think first");
    await turnEnded(page);
    const thinking = page.getByTestId("thinking").first();
    await expect(thinking.getByText("Demo reasoning").isVisible()).resolves.toBe(false);
    await thinking.locator("summary").click();
    await thinking.getByText("Demo reasoning, step 1").waitFor();
    await screenshot(page, "console-thinking");

    // A profile that breaks a rule: the form shows the typed error's reason and field.
    await page.getByTestId("profile-list").getByRole("link", { name: "New" }).click();
    await form.getByLabel("Name").fill("bad-tools");
    await form.getByLabel("Tools (comma separated)").fill("NoSuchTool");
    await form.getByRole("button", { name: "Create profile" }).click();
    await form.getByRole("alert").getByText("INVALID_ARGUMENT").waitFor();
    await screenshot(page, "console-profile-error");

    const [session] = await api.listSessions({ agentProfileId: stored.id });
    expect(session?.name).toBe("to-delete");
    const item = page.getByTestId("session-item").filter({ hasText: "to-delete" });
    await item.getByRole("button", { name: "Delete to-delete" }).click();
    await item.getByRole("button", { name: "Confirm delete" }).click();
    await item.waitFor({ state: "detached" });
    const left = (await api.listSessions()).map((s) => s.id);
    expect(left).not.toContain(session!.id);
    expect(errors).toEqual([]);
  });

  it("shows a missing session's NOT_FOUND and its reason", async () => {
    const { page } = await openConsole("#/sessions/ses_00000000000000000000000000");
    const box = page.getByTestId("session-error");
    await box.waitFor();
    await expect(box.getByTestId("error-code").textContent()).resolves.toBe("NOT_FOUND");
    await expect(box.getByTestId("error-reason").textContent()).resolves.toBe("SESSION_NOT_FOUND");
    await screenshot(page, "console-not-found");
  });
});
