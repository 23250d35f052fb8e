// What the Modal provider does with a profile's secret env, dependencies and a command that
// asks for the network (against the fake Modal API).

import { afterEach, describe, expect, it } from "vitest";
import { ModalSandboxProvider } from "../src/adapters/modal/provider.js";
import { silentLogger } from "../src/app/shared/logger.js";
import { defaultSettings } from "./sandbox.suite.js";
import { FakeModal } from "./support/fake-modal.js";

describe("modal provider extras", () => {
  let modal: FakeModal;
  afterEach(() => modal?.cleanup());

  it("sets secret env like env, refuses dependencies and per-command network clearly", async () => {
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
    await expect(
      p.create({
        sessionId: "ses_b",
        settings: defaultSettings(),
        dependencies: { npm: [], pip: ["six"] },
      }),
    ).rejects.toMatchObject({ reason: "SANDBOX_START_FAILED" });
    expect(modal.created).toHaveLength(1);
  });
});
