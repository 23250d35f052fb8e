// What the Modal provider does with a profile's secret env, dependencies and a command that
// asks for the network (against the fake Modal API, whose image builds really run).

import { existsSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { MODAL_DEPS_DIR, ModalSandboxProvider } from "../src/adapters/modal/provider.js";
import { silentLogger } from "../src/app/shared/logger.js";
import { defaultSettings } from "./sandbox.suite.js";
import { agentHarness, readEvents, turnsCompleted } from "./support/agent.js";
import { streamResponse, textResponse } from "./support/fake-anthropic.js";
import { FakeModal } from "./support/fake-modal.js";

describe("modal provider extras", () => {
  let modal: FakeModal;
  afterEach(() => modal?.cleanup());

  it("sets secret env like env; per-command network is refused clearly", async () => {
    modal = await FakeModal.start();
    const p = new ModalSandboxProvider({ client: modal, appName: "a", logger: silentLogger });
    const sandbox = await p.create({
      sessionId: "ses_a",
      settings: defaultSettings({ env: { A: "1" } }),
      secretEnv: { TOKEN: "t0ken" },
    });
    expect((modal.created[0]!.params as { env: unknown }).env).toEqual({ A: "1", TOKEN: "t0ken" });
    const r = await sandbox.exec({ command: 'echo "$A $TOKEN"' });
    expect(r.stdout.trim()).toBe("1 t0ken");
    await expect(sandbox.exec({ command: "true", allowNetwork: true })).rejects.toMatchObject({
      reason: "SANDBOX_NETWORK_FIXED",
    });
    // No dependencies: the registry image as it is, no build.
    expect(modal.created[0]!.image.layers).toEqual([]);
    expect(modal.builds).toHaveLength(0);
  });

  it("installs dependencies as an image layer built once per specs; commands see them", async () => {
    modal = await FakeModal.start();
    const p = new ModalSandboxProvider({ client: modal, appName: "a", logger: silentLogger });
    const progress: string[] = [];
    const dependencies = { npm: [], pip: ["six==1.16.0"] };
    const settings = defaultSettings({ networkAllowed: false });
    const one = await p.create({
      sessionId: "ses_1",
      settings,
      dependencies,
      onProgress: (m) => progress.push(m),
    });
    expect(progress.join("\n")).toContain("six==1.16.0");
    expect(modal.builds).toHaveLength(1);
    const layer = modal.builds[0]!.flat();
    expect(layer.some((c) => c.startsWith("RUN ") && c.includes("'six==1.16.0'"))).toBe(true);
    expect(layer.at(-1)).toContain(`PYTHONPATH="${MODAL_DEPS_DIR}/python"`);
    // The sandbox itself keeps its network off; the build had it.
    expect(modal.created[0]!.params.blockNetwork).toBe(true);
    // From the layer (the fake maps the image's /opt/ to a directory of its own).
    const r = await one.exec({
      command: 'python3 -c "import six; print(six.__version__, six.__file__)"',
    });
    expect(r.stdout.trim()).toMatch(/^1\.16\.0 \S*\/opt\/agent-deps\/python\/six\.py$/);
    expect((await one.exec({ command: "echo $PATH" })).stdout).toContain("/opt/agent-deps/");

    // The same specs again: Modal's cached build, no second install.
    const two = await p.create({ sessionId: "ses_2", settings, dependencies });
    expect(modal.builds).toHaveLength(1);
    expect(modal.created[1]!.image.built?.imageId).toBe(modal.created[0]!.image.built?.imageId);
    const r2 = await two.exec({ command: 'python3 -c "import six; print(six.__version__)"' });
    expect(r2.stdout.trim()).toBe("1.16.0");
  }, 120_000);

  it("a failing install is SANDBOX_START_FAILED with the builder's output; no sandbox", async () => {
    modal = await FakeModal.start();
    const p = new ModalSandboxProvider({ client: modal, appName: "a", logger: silentLogger });
    const create = () =>
      p.create({
        sessionId: "ses_f",
        settings: defaultSettings(),
        dependencies: { npm: [], pip: ["agent-runtime-no-such-package-zz==0.0.1"] },
      });
    const err = await create().catch((e: unknown) => e);
    expect(err).toMatchObject({ reason: "SANDBOX_START_FAILED" });
    expect((err as Error).message).toContain("installing its dependencies into the image failed");
    expect((err as Error).message).toContain("agent-runtime-no-such-package-zz");
    expect((err as Error).message).toMatch(/No matching distribution|Could not find a version/);
    expect(modal.created).toHaveLength(0);
    // A failed build is not cached: the next start tries again.
    await expect(create()).rejects.toMatchObject({ reason: "SANDBOX_START_FAILED" });
    expect(modal.builds).toHaveLength(2);
  }, 120_000);

  it("quotes specs in the RUN lines: a spec is one argument, never shell", async () => {
    modal = await FakeModal.start();
    const p = new ModalSandboxProvider({ client: modal, appName: "a", logger: silentLogger });
    const marker = `${modal.builder.dir}/pwned`;
    const err = await p
      .create({
        sessionId: "ses_q",
        settings: defaultSettings(),
        dependencies: { npm: [], pip: [`six==1.16.0;touch ${marker}`] },
      })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ reason: "SANDBOX_START_FAILED" });
    expect(existsSync(marker)).toBe(false);
    expect(modal.builds[0]!.flat()[0]).toContain(`'six==1.16.0;touch ${marker}'`);
  }, 120_000);

  it("a start aborted while the image builds rejects at once and starts no sandbox", async () => {
    modal = await FakeModal.start();
    const p = new ModalSandboxProvider({ client: modal, appName: "a", logger: silentLogger });
    const abort = new AbortController();
    const started = p.create({
      sessionId: "ses_x",
      settings: defaultSettings(),
      dependencies: { npm: [], pip: ["six==1.16.0"] },
      signal: abort.signal,
      onProgress: (m) => {
        if (m.startsWith("building")) setTimeout(() => abort.abort(new Error("stop")), 20);
      },
    });
    await expect(started).rejects.toThrow("stop");
    expect(modal.created).toHaveLength(0);
  }, 120_000);

  it("through the API: the agent's command on Modal sees the profile's package", async () => {
    modal = await FakeModal.start();
    const provider = new ModalSandboxProvider({
      client: modal,
      appName: "a",
      logger: silentLogger,
    });
    const h = await agentHarness({
      sandboxProviders: [provider],
      profile: { tools: ["Bash"], dependencies: { npm: [], pip: ["six==1.16.0"] } },
    });
    try {
      const sessionId = await h.newSession();
      h.fake.enqueue(
        streamResponse([
          {
            type: "tool_use",
            id: "toolu_1",
            name: "Bash",
            input: { command: 'python3 -c "import six; print(six.__version__, six.__file__)"' },
          },
        ]),
        textResponse("done"),
      );
      await h.client.sessions.sendMessage({ sessionId, text: "go" });
      await readEvents(h.client, sessionId, turnsCompleted(1), 0n, 60_000);
      const last = h.fake.requests[1]!.body.messages!.at(-1)!;
      expect(JSON.stringify(last.content)).toMatch(
        /1\.16\.0 \S*\/opt\/agent-deps\/python\/six\.py/,
      );
      expect(modal.builds).toHaveLength(1);
      expect(modal.created[0]!.params.blockNetwork).toBe(true);
    } finally {
      await h.close();
    }
  }, 120_000);
});
