// The shared client scenario's harness (test/clients/scenario.json): reads a runner's JSON lines,
// watches the turn on the server directly when the runner starts it, cuts every connection of
// the runner's proxy after the turn's Nth events, and checks each step's expectations.

import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { SessionService } from "#gen/session_service_pb.js";
import type { CutProxy } from "./cut-proxy.js";
import { REPO_ROOT } from "./server.js";

export type Matcher = {
  equals?: unknown;
  prefix?: string;
  contains?: string;
  includes?: unknown[];
  contiguous?: boolean;
  sameAsServer?: boolean;
};
export interface ScenarioStep {
  do: string;
  expect?: Record<string, Matcher>;
  [key: string]: unknown;
}
export interface Scenario {
  cutAfterEvents: number[];
  steps: ScenarioStep[];
}
export type StepLine = { step: number; do: string; phase?: string } & Record<string, unknown>;

export const SCENARIO_FILE = join(REPO_ROOT, "test/clients/scenario.json");

export function loadScenario(): Scenario {
  return JSON.parse(readFileSync(SCENARIO_FILE, "utf8")) as Scenario;
}

/** One run of the scenario by one client: feed it the client's output lines. */
export class ScenarioObserver {
  readonly lines: StepLine[] = [];
  readonly problems: string[] = [];
  /** Sequences of the turn's events as the server sent them (not through the proxy). */
  serverSequences: number[] = [];
  /** Cuts that destroyed connections while the turn still ran. */
  cutsDuringTurn = 0;
  private watching: Promise<void> | undefined;
  private readonly stop = new AbortController();

  constructor(
    readonly scenario: Scenario,
    private readonly server: { url: string; apiKey: string },
    private readonly proxy: CutProxy,
    readonly name: string,
  ) {}

  /** A line the client printed on stdout. */
  handleLine(text: string): void {
    if (!text.trim()) return;
    let line: StepLine;
    try {
      line = JSON.parse(text) as StepLine;
    } catch {
      this.problems.push(`not a JSON line on stdout: ${text}`);
      return;
    }
    if (line.phase === "start") {
      if (line.do === "runTurn" && !this.watching)
        this.watching = this.watch(String(line.sessionId));
      return;
    }
    this.lines.push(line);
  }

  /** Waits for the watch of the turn (after the client is done). */
  async finish(): Promise<void> {
    const timer = setTimeout(() => this.stop.abort(), 10_000);
    await this.watching?.catch((err: unknown) => {
      this.problems.push(`watching the turn on the server failed: ${String(err)}`);
    });
    clearTimeout(timer);
  }

  private async watch(sessionId: string): Promise<void> {
    const transport = createConnectTransport({
      baseUrl: this.server.url,
      httpVersion: "1.1",
      interceptors: [
        (next) => (req) => {
          req.header.set("Authorization", `Bearer ${this.server.apiKey}`);
          return next(req);
        },
      ],
    });
    const sessions = createClient(SessionService, transport);
    const turnEvents: Array<{ sequence: number; turnId: string }> = [];
    const stream = sessions.streamEvents({ sessionId }, { signal: this.stop.signal });
    for await (const { event } of stream) {
      if (!event?.turnId) continue;
      turnEvents.push({ sequence: Number(event.sequence), turnId: event.turnId });
      const ended = event.payload.case === "turnCompleted" && !event.subagentId;
      if (!ended && this.scenario.cutAfterEvents.includes(turnEvents.length)) {
        if (this.proxy.cut() > 0) this.cutsDuringTurn++;
      }
      if (ended) break;
    }
    const turnId = turnEvents.at(-1)?.turnId;
    this.serverSequences = turnEvents.filter((e) => e.turnId === turnId).map((e) => e.sequence);
  }

  /** Everything that did not go as the scenario expects ([] when all went well). */
  failures(): string[] {
    const out = [...this.problems];
    const steps = this.scenario.steps;
    if (this.lines.length !== steps.length) {
      out.push(`expected ${steps.length} step lines, got ${this.lines.length}`);
    }
    for (const [i, step] of steps.entries()) {
      const line = this.lines.find((l) => l.step === i);
      if (!line) {
        out.push(`step ${i} (${step.do}): no line`);
        continue;
      }
      if (line.do !== step.do) out.push(`step ${i}: do is ${line.do}, expected ${step.do}`);
      for (const [key, matcher] of Object.entries(step.expect ?? {})) {
        const problem = this.check(line[key], matcher);
        if (problem) out.push(`step ${i} (${step.do}) ${key}: ${problem}`);
      }
      if (step.do === "runTurn" && this.cutsDuringTurn === 0) {
        out.push(`step ${i} (runTurn): no connection was cut while the turn ran`);
      }
    }
    return out;
  }

  private check(value: unknown, m: Matcher): string | undefined {
    const shown = JSON.stringify(value)?.slice(0, 300);
    const expected =
      typeof m.equals === "string" ? m.equals.replaceAll("{SCENARIO_NAME}", this.name) : m.equals;
    if ("equals" in m && JSON.stringify(value) !== JSON.stringify(expected)) {
      return `${shown} is not ${JSON.stringify(expected)}`;
    }
    if (m.prefix !== undefined && !(typeof value === "string" && value.startsWith(m.prefix))) {
      return `${shown} does not start with ${m.prefix}`;
    }
    if (m.contains !== undefined && !(typeof value === "string" && value.includes(m.contains))) {
      return `${shown} does not contain ${JSON.stringify(m.contains)}`;
    }
    if (m.includes && !(Array.isArray(value) && m.includes.every((x) => value.includes(x)))) {
      return `${shown} does not include all of ${JSON.stringify(m.includes)}`;
    }
    if (m.contiguous || m.sameAsServer) {
      if (!Array.isArray(value) || value.length === 0) return `${shown} is not a list of sequences`;
      const seqs = value as number[];
      const broken = seqs.findIndex((s, i) => i > 0 && s !== seqs[i - 1]! + 1);
      if (m.contiguous && broken >= 0) {
        return `gap or duplicate at index ${broken}: ${seqs[broken - 1]} then ${seqs[broken]}`;
      }
      if (m.sameAsServer && JSON.stringify(seqs) !== JSON.stringify(this.serverSequences)) {
        return `${seqs.length} sequences (${seqs[0]}..${seqs.at(-1)}), the server sent ${this.serverSequences.length} (${this.serverSequences[0]}..${this.serverSequences.at(-1)})`;
      }
    }
    return undefined;
  }
}

export interface ProgramResult {
  code: number | null;
  stderr: string;
}

/** Runs a runner program, feeding its stdout lines to the observer. */
export function runProgram(
  observer: ScenarioObserver,
  command: string,
  args: string[],
  env: Record<string, string>,
  timeoutMs: number,
): Promise<ProgramResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: REPO_ROOT, env: { ...process.env, ...env } });
    let stderr = "";
    let rest = "";
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      rest += chunk;
      for (let nl = rest.indexOf("\n"); nl >= 0; nl = rest.indexOf("\n")) {
        observer.handleLine(rest.slice(0, nl));
        rest = rest.slice(nl + 1);
      }
    });
    child.stderr.on("data", (chunk: string) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      stderr += `\n(killed after ${timeoutMs} ms)`;
    }, timeoutMs);
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      if (rest) observer.handleLine(rest);
      resolve({ code, stderr });
    });
  });
}
