// The shared client scenario (test/clients/scenario.json) run through the web console in headless
// Chromium: every step is done in the page the way a person would, and observed from what the
// page shows (plus the event sequences it received, which it keeps on `window` for tests). One
// JSON line per step on stdout, as every runner prints (see test/clients.test.ts).
// Usage: node --import tsx test/clients/console-runner.ts <scenario.json> with AGENT_RUNTIME_URL
// (the console's address), AGENT_RUNTIME_API_KEY and SCENARIO_NAME set.

import { readFileSync } from "node:fs";
import type { Page } from "playwright-core";
import { launchBrowser, screenshot } from "../support/browser.js";

type Step = Record<string, unknown> & { do: string };

const scenario = JSON.parse(readFileSync(process.argv[2] ?? "", "utf8")) as { steps: Step[] };
const url = process.env.AGENT_RUNTIME_URL ?? "";
const apiKey = process.env.AGENT_RUNTIME_API_KEY ?? "";
const suffix = process.env.SCENARIO_NAME ?? "";
const print = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);
const TURN_TIMEOUT_MS = 90_000;

let sessionId = "";

async function run(page: Page, step: Step, i: number): Promise<object> {
  switch (step.do) {
    case "createProfile": {
      await page.getByTestId("profile-list").getByRole("link", { name: "New" }).click();
      const form = page.getByTestId("profile-form");
      const name = suffix ? `${step.name}-${suffix}` : String(step.name);
      await form.getByLabel("Name").fill(name);
      await form.getByLabel("System prompt").fill(String(step.systemPrompt ?? ""));
      await form.getByLabel("Model provider").selectOption({
        label: step.model === "demo" ? "Demo (offline)" : "Anthropic",
      });
      await form
        .getByLabel("Model", { exact: true })
        .fill(step.model === "demo" ? "" : String(step.model ?? ""));
      await form
        .getByLabel("Tools (comma separated)")
        .fill(((step.tools as string[] | undefined) ?? []).join(", "));
      await form.getByRole("button", { name: "Create profile" }).click();
      await page.getByRole("heading", { name: `Profile ${name}` }).waitFor();
      const profileId = await page.getByTestId("profile-id").textContent();
      // The name as stored: the one the profile list shows for it.
      const listed = page.getByTestId("profile-list").locator(`a[href="#/profiles/${profileId}"]`);
      return { profileId, name: await listed.textContent() };
    }
    case "createSession": {
      await page.getByRole("link", { name: "Start a session with this profile" }).click();
      await page.getByTestId("new-session").getByRole("button", { name: "Create session" }).click();
      await page.waitForURL(/#\/sessions\/ses_/);
      sessionId = decodeURIComponent(new URL(page.url()).hash.split("/")[2] ?? "");
      await page.getByLabel("Message").waitFor();
      return { sessionId };
    }
    case "runTurn": {
      print({ step: i, do: step.do, phase: "start", sessionId });
      await page.getByLabel("Message").fill(String(step.text));
      await page.getByRole("button", { name: "Send" }).click();
      const end = page.getByTestId("turn-end").last();
      await end.waitFor({ timeout: TURN_TIMEOUT_MS });
      await screenshot(page, `clients-console-${step.do}`, console.error);
      const turnId = (await end.getAttribute("data-turn-id")) ?? "";
      const events = await page.evaluate(
        (id) => window.agentRuntimeConsole?.events[id] ?? [],
        sessionId,
      );
      const all = events.map((e) => e.sequence);
      console.error(
        `console: ${all.length} events (${all[0]}..${all.at(-1)}), reconnects ` +
          (await page.evaluate((id) => window.agentRuntimeConsole?.reconnects[id], sessionId)),
      );
      const tools = page.getByTestId("tool-call");
      const toolNames = await tools.evaluateAll((els) =>
        els.map((e) => e.getAttribute("data-tool")),
      );
      const texts = await page.getByTestId("assistant-text").allTextContents();
      // The turn's events, up to its turn_completed (as the SDKs' runTurn yields them).
      const ofTurn = events.filter((e) => e.turnId === turnId);
      const last = ofTurn.findIndex((e) => e.kind === "turnCompleted" && !e.subagentId);
      return {
        turnId,
        outcome: await end.getAttribute("data-outcome"),
        sequences: ofTurn.slice(0, last + 1).map((e) => e.sequence),
        toolNames,
        text: texts.at(-1) ?? "",
      };
    }
    case "readFile": {
      await page
        .getByTestId("files")
        .getByRole("button", { name: String(step.path) })
        .click();
      const preview = page.getByTestId("file-preview").locator("pre");
      await preview.waitFor();
      return { content: await preview.textContent() };
    }
    case "getSession": {
      await page.goto(`${url}/#/sessions/${encodeURIComponent(String(step.sessionId))}`);
      const box = page.getByTestId("session-error");
      await box.waitFor();
      await screenshot(page, `clients-console-${step.do}`, console.error);
      const field = box.getByTestId("error-field");
      return {
        code: await box.getByTestId("error-code").textContent(),
        reason: await box.getByTestId("error-reason").textContent(),
        field: (await field.count()) > 0 ? await field.textContent() : "",
      };
    }
    default:
      throw new Error(`unknown step ${JSON.stringify(step.do)}`);
  }
}

const browser = await launchBrowser();
try {
  const page = await (
    await browser.newContext({ viewport: { width: 1280, height: 900 } })
  ).newPage();
  page.setDefaultTimeout(60_000);
  page.on("pageerror", (err) => console.error(`page error: ${err.message}`));
  await page.goto(`${url}/`);
  await page.getByLabel("API key").fill(apiKey);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByTestId("profile-list").waitFor();
  for (const [i, step] of scenario.steps.entries()) {
    print({ step: i, do: step.do, ...(await run(page, step, i)) });
  }
} finally {
  await browser.close();
}
