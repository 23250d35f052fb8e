import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.js";

const KEY = "k".repeat(16);

describe("settings from the environment", () => {
  it("reads TENANT_MONTHLY_BUDGET_USD in micro-dollars; refuses what is not a number >= 0", () => {
    expect(loadConfig({}).tenantMonthlyBudgetMicroUsd).toBe(0);
    expect(loadConfig({ TENANT_MONTHLY_BUDGET_USD: "12.5" }).tenantMonthlyBudgetMicroUsd).toBe(
      12_500_000,
    );
    for (const bad of ["-1", "ten", "Infinity"]) {
      expect(() => loadConfig({ TENANT_MONTHLY_BUDGET_USD: bad })).toThrow(
        /TENANT_MONTHLY_BUDGET_USD/,
      );
    }
  });

  it("defaults to an open server on loopback with memory storage and the local sandbox", () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      port: 8080,
      host: "127.0.0.1",
      mongodbUri: "",
      sandboxProvider: "local",
      allowUnisolatedSandbox: false,
      idleTimeoutMs: 900_000,
      syncIntervalMs: 30_000,
      demoProfile: true,
      corsOrigins: ["*"],
    });
    expect(c.apiKeys.size).toBe(0);
  });

  it("binds keys to tenants and listens everywhere when keys exist", () => {
    const c = loadConfig({ AGENT_RUNTIME_API_KEYS: `${KEY}=acme, ${"z".repeat(20)}=globex` });
    expect([...c.apiKeys.entries()]).toEqual([
      [KEY, "acme"],
      ["z".repeat(20), "globex"],
    ]);
    expect(c.host).toBe("0.0.0.0");
  });

  it("says clearly what is wrong", () => {
    const bad: Array<[Record<string, string>, RegExp]> = [
      [{ PORT: "eighty" }, /PORT must be a whole number/],
      [{ HOST: "0.0.0.0" }, /would expose an open server/],
      [{ AGENT_RUNTIME_API_KEYS: "short=acme" }, /at least 16 characters/],
      [{ AGENT_RUNTIME_API_KEYS: `${KEY}` }, /key=tenant pairs/],
      [{ LOG_LEVEL: "loud" }, /LOG_LEVEL/],
      [{ SANDBOX_PROVIDER: "docker" }, /SANDBOX_PROVIDER must be local or modal/],
      [{ SANDBOX_PROVIDER: "modal" }, /needs MODAL_TOKEN_ID/],
      [{ MODAL_TOKEN_ID: "x" }, /both MODAL_TOKEN_ID and MODAL_TOKEN_SECRET/],
      [{ ALLOW_UNISOLATED_SANDBOX: "maybe" }, /must be true or false/],
      [{ IDLE_TIMEOUT_MS: "0" }, /IDLE_TIMEOUT_MS must be a whole number >= 1/],
    ];
    for (const [env, message] of bad) {
      expect(() => loadConfig(env)).toThrow(ConfigError);
      expect(() => loadConfig(env)).toThrow(message);
    }
  });
});
