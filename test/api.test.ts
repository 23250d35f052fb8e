import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ErrorDetailSchema } from "#gen/error_detail_pb.js";
import { ModelProvider } from "#gen/profile_pb.js";
import { SandboxStatus, SessionState } from "#gen/session_pb.js";
import { LIMITS } from "../src/domain/limits.js";
import type { AgentRuntime } from "../src/runtime.js";
import { type Clients, inProcessRuntime } from "./support/runtime.js";

const KEY_A = "key-a-0123456789abcdef";
const KEY_B = "key-b-0123456789abcdef";

async function rejects(p: Promise<unknown>, code: Code, field?: string): Promise<ConnectError> {
  const err = await p.then(
    () => expect.fail(`expected ${Code[code]}`),
    (e: unknown) => e,
  );
  const ce = ConnectError.from(err);
  expect(Code[ce.code], ce.message).toBe(Code[code]);
  if (field !== undefined) {
    const [detail] = ce.findDetails(ErrorDetailSchema);
    expect(detail?.field, ce.message).toBe(field);
  }
  return ce;
}

const profileInit = (name = "Helper") => ({
  name,
  systemPrompt: "You are helpful.",
  tools: ["Read", "Write", "Bash"],
});

let runtime: AgentRuntime;
let a: Clients;
let b: Clients;

beforeEach(async () => {
  const r = await inProcessRuntime({ apiKeys: { [KEY_A]: "acme", [KEY_B]: "globex" } });
  runtime = r.runtime;
  a = r.clients(KEY_A);
  b = r.clients(KEY_B);
});
afterEach(() => runtime.shutdown());

describe("agent profiles", () => {
  it("creates, gets, lists, updates and deletes", async () => {
    const { profile } = await a.profiles.createAgentProfile({
      profile: {
        ...profileInit(),
        modelProvider: ModelProvider.DEMO,
        subagents: [{ name: "researcher", description: "digs", prompt: "Dig.", tools: ["Read"] }],
        defaultFiles: [{ path: "./README.md".slice(2), content: new TextEncoder().encode("hi") }],
        sandbox: { networkAllowed: true, env: { FOO: "bar" } },
        thinking: { enabled: true, budgetTokens: 2048 },
      },
    });
    expect(profile?.id).toMatch(/^prf_[0-9a-z]{26}$/);
    expect(profile?.createTime).toBeDefined();
    const got = await a.profiles.getAgentProfile({ agentProfileId: profile!.id });
    expect(got.profile).toEqual(profile);

    const updated = await a.profiles.updateAgentProfile({
      profile: { id: profile!.id, systemPrompt: "Be brief.", name: "ignored" },
      updateMask: { paths: ["system_prompt"] },
    });
    expect(updated.profile?.systemPrompt).toBe("Be brief.");
    expect(updated.profile?.name).toBe("Helper");
    expect(updated.profile?.sandbox?.env).toEqual({ FOO: "bar" });

    // AIP-134: no mask updates the populated fields only, here the name and one sandbox field.
    const implicit = await a.profiles.updateAgentProfile({
      profile: { id: profile!.id, name: "Renamed", sandbox: { memoryMib: 512 } },
    });
    expect(implicit.profile?.name).toBe("Renamed");
    expect(implicit.profile?.systemPrompt).toBe("Be brief.");
    expect(implicit.profile?.tools).toEqual(profile?.tools);
    expect(implicit.profile?.subagents).toEqual(profile?.subagents);
    expect(implicit.profile?.sandbox?.memoryMib).toBe(512);
    expect(implicit.profile?.sandbox?.env).toEqual({ FOO: "bar" });
    expect(implicit.profile?.sandbox?.networkAllowed).toBe(true);

    const list = await a.profiles.listAgentProfiles({});
    expect(list.profiles.map((p) => p.id)).toEqual([profile!.id]);
    await a.profiles.deleteAgentProfile({ agentProfileId: profile!.id });
    await rejects(a.profiles.getAgentProfile({ agentProfileId: profile!.id }), Code.NotFound);
  });

  it("paginates oldest first", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push(
        (await a.profiles.createAgentProfile({ profile: profileInit(`p${i}`) })).profile!.id,
      );
    }
    const seen: string[] = [];
    let pageToken = "";
    do {
      const page = await a.profiles.listAgentProfiles({ pageSize: 2, pageToken });
      expect(page.profiles.length).toBeLessThanOrEqual(2);
      seen.push(...page.profiles.map((p) => p.id));
      pageToken = page.nextPageToken;
    } while (pageToken);
    expect(seen).toEqual(ids);
  });

  it("returns the first profile for a retried request_id", async () => {
    const first = await a.profiles.createAgentProfile({ profile: profileInit(), requestId: "r-1" });
    const again = await a.profiles.createAgentProfile({ profile: profileInit(), requestId: "r-1" });
    expect(again.profile?.id).toBe(first.profile?.id);
    const other = await b.profiles.createAgentProfile({ profile: profileInit(), requestId: "r-1" });
    expect(other.profile?.id).not.toBe(first.profile?.id);
    expect((await a.profiles.listAgentProfiles({})).profiles).toHaveLength(1);
  });

  it("refuses to delete a profile in use", async () => {
    const { profile } = await a.profiles.createAgentProfile({ profile: profileInit() });
    await a.sessions.createSession({ agentProfileId: profile!.id });
    const err = await rejects(
      a.profiles.deleteAgentProfile({ agentProfileId: profile!.id }),
      Code.FailedPrecondition,
    );
    expect(err.findDetails(ErrorDetailSchema)[0]?.reason).toBe("PROFILE_IN_USE");
  });

  it("rejects bad profiles naming the field", async () => {
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ ...profileInit(), name: "" }, "profile.name"],
      [{ ...profileInit(), name: "x".repeat(LIMITS.maxNameLength + 1) }, "profile.name"],
      [{ ...profileInit(), tools: ["Read", "Teleport"] }, "profile.tools[1]"],
      [{ ...profileInit(), tools: ["Read", "Read"] }, "profile.tools[1]"],
      [{ ...profileInit(), maxTurns: -1 }, "profile.max_turns"],
      [{ ...profileInit(), modelProvider: 42 }, "profile.model_provider"],
      [{ ...profileInit(), model: "bad model id" }, "profile.model"],
      [{ ...profileInit(), sandbox: { provider: 9 } }, "profile.sandbox.provider"],
      [{ ...profileInit(), sandbox: { env: { "1BAD": "x" } } }, "profile.sandbox.env"],
      [
        { ...profileInit(), thinking: { enabled: true, budgetTokens: 10 } },
        "profile.thinking.budget_tokens",
      ],
      [
        { ...profileInit(), defaultFiles: [{ path: "/etc/passwd" }] },
        "profile.default_files[0].path",
      ],
      [
        { ...profileInit(), defaultFiles: [{ path: "a/../../b" }] },
        "profile.default_files[0].path",
      ],
      [
        { ...profileInit(), subagents: [{ name: "x y", prompt: "p" }] },
        "profile.subagents[0].name",
      ],
      [
        { ...profileInit(), subagents: [{ name: "sub", tools: ["Task"] }] },
        "profile.subagents[0].tools[0]",
      ],
    ];
    for (const [profile, field] of bad) {
      await rejects(
        a.profiles.createAgentProfile({ profile: profile as never }),
        Code.InvalidArgument,
        field,
      );
    }
    await rejects(a.profiles.createAgentProfile({}), Code.InvalidArgument, "profile");
    await rejects(
      a.profiles.createAgentProfile({ profile: profileInit(), requestId: "r".repeat(129) }),
      Code.InvalidArgument,
      "request_id",
    );
    await rejects(
      a.profiles.getAgentProfile({ agentProfileId: "" }),
      Code.InvalidArgument,
      "agent_profile_id",
    );
    await rejects(
      a.profiles.getAgentProfile({ agentProfileId: "nope" }),
      Code.InvalidArgument,
      "agent_profile_id",
    );
    await rejects(
      a.profiles.getAgentProfile({ agentProfileId: "prf_00000000000000000000000000" }),
      Code.NotFound,
    );
    await rejects(
      a.profiles.listAgentProfiles({ pageSize: -1 }),
      Code.InvalidArgument,
      "page_size",
    );
    await rejects(
      a.profiles.listAgentProfiles({ pageToken: "garbage" }),
      Code.InvalidArgument,
      "page_token",
    );
    const { profile } = await a.profiles.createAgentProfile({ profile: profileInit() });
    await rejects(
      a.profiles.updateAgentProfile({
        profile: { id: profile!.id },
        updateMask: { paths: ["id"] },
      }),
      Code.InvalidArgument,
      "update_mask.paths[0]",
    );
  });
});

describe("sessions", () => {
  let profileId: string;
  beforeEach(async () => {
    profileId = (
      await a.profiles.createAgentProfile({
        profile: {
          ...profileInit(),
          defaultFiles: [
            { path: "README.md", content: new TextEncoder().encode("default") },
            { path: "keep.txt", content: new TextEncoder().encode("keep") },
          ],
        },
      })
    ).profile!.id;
  });

  it("creates a session without starting anything, with the profile's and its own files", async () => {
    const { session } = await a.sessions.createSession({
      agentProfileId: profileId,
      name: "first",
      metadata: { user: "u1" },
      initialFiles: [{ path: "README.md", content: new TextEncoder().encode("mine") }],
    });
    expect(session?.id).toMatch(/^ses_/);
    expect(session?.state).toBe(SessionState.IDLE);
    expect(session?.runtime?.loaded).toBe(false);
    expect(session?.runtime?.sandboxStatus).toBe(SandboxStatus.NONE);
    expect(runtime.sessionManager.getLoadedSessions()).toHaveLength(0);
    const files = await a.workspace.listFiles({ sessionId: session!.id });
    expect(files.files.map((f) => f.path)).toEqual(["README.md", "keep.txt"]);
    const readme = await a.workspace.readFile({ sessionId: session!.id, path: "README.md" });
    expect(new TextDecoder().decode(readme.content)).toBe("mine");
  });

  it("is idempotent by request_id", async () => {
    const one = await a.sessions.createSession({ agentProfileId: profileId, requestId: "abc" });
    const two = await a.sessions.createSession({ agentProfileId: profileId, requestId: "abc" });
    expect(two.session?.id).toBe(one.session?.id);
    expect((await a.sessions.listSessions({})).sessions).toHaveLength(1);
  });

  it("lists newest activity first across pages, filtered by profile and state", async () => {
    const other = (await a.profiles.createAgentProfile({ profile: profileInit("other") })).profile!
      .id;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push(
        (await a.sessions.createSession({ agentProfileId: profileId, name: `s${i}` })).session!.id,
      );
    }
    await a.sessions.createSession({ agentProfileId: other });
    // Touching the oldest makes it the newest.
    await a.sessions.updateSession({
      session: { id: ids[0]!, name: "touched" },
      updateMask: { paths: ["name"] },
    });
    const seen: string[] = [];
    let pageToken = "";
    let pages = 0;
    do {
      const page = await a.sessions.listSessions({
        pageSize: 2,
        pageToken,
        agentProfileId: profileId,
      });
      pages++;
      seen.push(...page.sessions.map((s) => s.id));
      pageToken = page.nextPageToken;
    } while (pageToken);
    expect(pages).toBe(3);
    expect(seen).toEqual([ids[0], ids[4], ids[3], ids[2], ids[1]]);
    expect((await a.sessions.listSessions({ state: SessionState.IDLE })).sessions).toHaveLength(6);
    expect((await a.sessions.listSessions({ state: SessionState.RUNNING })).sessions).toHaveLength(
      0,
    );
    expect((await a.sessions.listSessions({ pageSize: 10_000 })).sessions).toHaveLength(6);
  });

  it("updates name, metadata and options by mask", async () => {
    const { session } = await a.sessions.createSession({
      agentProfileId: profileId,
      name: "n",
      metadata: { a: "1" },
    });
    const res = await a.sessions.updateSession({
      session: {
        id: session!.id,
        name: "renamed",
        metadata: { b: "2" },
        options: { model: "claude-haiku-5-5" },
      },
      updateMask: { paths: ["metadata", "options.model"] },
    });
    expect(res.session?.name).toBe("n");
    expect(res.session?.metadata).toEqual({ b: "2" });
    expect(res.session?.options?.model).toBe("claude-haiku-5-5");
    // AIP-134: without a mask, the populated fields change and the others stay.
    const implicit = await a.sessions.updateSession({ session: { id: session!.id, name: "kept" } });
    expect(implicit.session?.name).toBe("kept");
    expect(implicit.session?.metadata).toEqual({ b: "2" });
    expect(implicit.session?.options?.model).toBe("claude-haiku-5-5");
    // `*` replaces every field.
    const all = await a.sessions.updateSession({
      session: { id: session!.id, name: "all" },
      updateMask: { paths: ["*"] },
    });
    expect(all.session?.name).toBe("all");
    expect(all.session?.metadata).toEqual({});
    expect(all.session?.options?.model).toBe("");
    await rejects(
      a.sessions.updateSession({ session: { id: session!.id }, updateMask: { paths: ["state"] } }),
      Code.InvalidArgument,
      "update_mask.paths[0]",
    );
  });

  it("deletes the session and everything it stored", async () => {
    const { session } = await a.sessions.createSession({ agentProfileId: profileId });
    await a.workspace.writeFile({
      sessionId: session!.id,
      path: "x.txt",
      content: new Uint8Array([1]),
    });
    await a.sessions.deleteSession({ sessionId: session!.id });
    await rejects(a.sessions.getSession({ sessionId: session!.id }), Code.NotFound);
    await rejects(a.workspace.listFiles({ sessionId: session!.id }), Code.NotFound);
    await rejects(a.sessions.deleteSession({ sessionId: session!.id }), Code.NotFound);
  });

  it("rejects bad input naming the field", async () => {
    await rejects(a.sessions.createSession({}), Code.InvalidArgument, "agent_profile_id");
    await rejects(
      a.sessions.createSession({ agentProfileId: "prf_x" }),
      Code.InvalidArgument,
      "agent_profile_id",
    );
    await rejects(
      a.sessions.createSession({ agentProfileId: "prf_00000000000000000000000000" }),
      Code.NotFound,
    );
    await rejects(
      a.sessions.createSession({ agentProfileId: profileId, name: "n".repeat(201) }),
      Code.InvalidArgument,
      "name",
    );
    const tooMany = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, "v"]));
    await rejects(
      a.sessions.createSession({ agentProfileId: profileId, metadata: tooMany }),
      Code.InvalidArgument,
      "metadata",
    );
    await rejects(
      a.sessions.createSession({ agentProfileId: profileId, metadata: { k: "v".repeat(1025) } }),
      Code.InvalidArgument,
      "metadata[k]",
    );
    await rejects(
      a.sessions.createSession({ agentProfileId: profileId, initialFiles: [{ path: "../x" }] }),
      Code.InvalidArgument,
      "initial_files[0].path",
    );
    await rejects(
      a.sessions.createSession({
        agentProfileId: profileId,
        initialFiles: [{ path: "big", content: new Uint8Array(LIMITS.maxFileBytes + 1) }],
      }),
      Code.InvalidArgument,
      "initial_files[0].content",
    );
    await rejects(a.sessions.getSession({ sessionId: "" }), Code.InvalidArgument, "session_id");
    await rejects(
      a.sessions.getSession({ sessionId: "ses_../../etc" }),
      Code.InvalidArgument,
      "session_id",
    );
    await rejects(
      a.sessions.getSession({ sessionId: "ses_00000000000000000000000000" }),
      Code.NotFound,
    );
    await rejects(a.sessions.listSessions({ pageSize: -5 }), Code.InvalidArgument, "page_size");
    await rejects(
      a.sessions.listSessions({ state: 99 as SessionState }),
      Code.InvalidArgument,
      "state",
    );
    await rejects(
      a.sessions.listSessions({ pageToken: "%%%" }),
      Code.InvalidArgument,
      "page_token",
    );
    // A token of another list is not a token of this one.
    const profilesPage = await a.profiles.listAgentProfiles({ pageSize: 1 });
    await a.profiles.createAgentProfile({ profile: profileInit("second") });
    const token = (await a.profiles.listAgentProfiles({ pageSize: 1 })).nextPageToken;
    expect(profilesPage.profiles).toHaveLength(1);
    await rejects(
      a.sessions.listSessions({ pageToken: token }),
      Code.InvalidArgument,
      "page_token",
    );
  });
});

describe("workspace", () => {
  let sessionId: string;
  beforeEach(async () => {
    const profileId = (await a.profiles.createAgentProfile({ profile: profileInit() })).profile!.id;
    sessionId = (await a.sessions.createSession({ agentProfileId: profileId })).session!.id;
  });

  it("writes, reads, lists and deletes files byte-exact", async () => {
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
    const written = await a.workspace.writeFile({
      sessionId,
      path: "dir//sub/.hidden.bin",
      content: bytes,
    });
    expect(written.file?.path).toBe("dir/sub/.hidden.bin");
    expect(written.file?.size).toBe(256n);
    expect(written.file?.sha256).toMatch(/^[0-9a-f]{64}$/);
    const read = await a.workspace.readFile({ sessionId, path: "dir/sub/.hidden.bin" });
    expect(read.content).toEqual(bytes);
    for (const p of ["b.txt", "a.txt", "dir/z.txt"]) {
      await a.workspace.writeFile({ sessionId, path: p, content: new TextEncoder().encode(p) });
    }
    const all = await a.workspace.listFiles({ sessionId });
    expect(all.files.map((f) => f.path)).toEqual([
      "a.txt",
      "b.txt",
      "dir/sub/.hidden.bin",
      "dir/z.txt",
    ]);
    const under = await a.workspace.listFiles({ sessionId, prefix: "dir" });
    expect(under.files.map((f) => f.path)).toEqual(["dir/sub/.hidden.bin", "dir/z.txt"]);
    const page1 = await a.workspace.listFiles({ sessionId, pageSize: 3 });
    const page2 = await a.workspace.listFiles({
      sessionId,
      pageSize: 3,
      pageToken: page1.nextPageToken,
    });
    expect([...page1.files, ...page2.files].map((f) => f.path)).toEqual(
      all.files.map((f) => f.path),
    );
    expect(page2.nextPageToken).toBe("");
    await a.workspace.deleteFile({ sessionId, path: "a.txt" });
    await rejects(a.workspace.readFile({ sessionId, path: "a.txt" }), Code.NotFound);
    await rejects(a.workspace.deleteFile({ sessionId, path: "a.txt" }), Code.NotFound);
  });

  it("rejects bad paths and oversized content", async () => {
    for (const path of [
      "",
      "/abs",
      "../up",
      "a/../../b",
      "a/./b",
      "a\\b",
      "nul\0byte",
      "p".repeat(1025),
    ]) {
      await rejects(
        a.workspace.writeFile({ sessionId, path, content: new Uint8Array() }),
        Code.InvalidArgument,
        "path",
      );
      await rejects(a.workspace.readFile({ sessionId, path }), Code.InvalidArgument, "path");
    }
    const err = await rejects(
      a.workspace.writeFile({
        sessionId,
        path: "big",
        content: new Uint8Array(LIMITS.maxFileBytes + 1),
      }),
      Code.InvalidArgument,
      "content",
    );
    expect(err.findDetails(ErrorDetailSchema)[0]?.reason).toBe("FILE_TOO_LARGE");
    await rejects(
      a.workspace.listFiles({ sessionId, prefix: "/" }),
      Code.InvalidArgument,
      "prefix",
    );
  });
});

describe("tenants and keys", () => {
  it("hides one tenant's profiles, sessions and files from another", async () => {
    const { profile } = await a.profiles.createAgentProfile({ profile: profileInit() });
    const { session } = await a.sessions.createSession({ agentProfileId: profile!.id });
    await a.workspace.writeFile({
      sessionId: session!.id,
      path: "secret",
      content: new Uint8Array([7]),
    });
    const pid = profile!.id;
    const sid = session!.id;
    await rejects(b.profiles.getAgentProfile({ agentProfileId: pid }), Code.NotFound);
    await rejects(
      b.profiles.updateAgentProfile({ profile: { id: pid, name: "x" } }),
      Code.NotFound,
    );
    await rejects(b.profiles.deleteAgentProfile({ agentProfileId: pid }), Code.NotFound);
    await rejects(b.sessions.createSession({ agentProfileId: pid }), Code.NotFound);
    await rejects(b.sessions.getSession({ sessionId: sid }), Code.NotFound);
    await rejects(b.sessions.updateSession({ session: { id: sid, name: "x" } }), Code.NotFound);
    await rejects(b.sessions.deleteSession({ sessionId: sid }), Code.NotFound);
    await rejects(b.workspace.readFile({ sessionId: sid, path: "secret" }), Code.NotFound);
    await rejects(
      b.workspace.writeFile({ sessionId: sid, path: "x", content: new Uint8Array() }),
      Code.NotFound,
    );
    await rejects(b.workspace.listFiles({ sessionId: sid }), Code.NotFound);
    expect((await b.profiles.listAgentProfiles({})).profiles).toHaveLength(0);
    expect((await b.sessions.listSessions({})).sessions).toHaveLength(0);
    expect((await a.sessions.getSession({ sessionId: sid })).session?.id).toBe(sid);
  });

  it("requires a valid key", async () => {
    const { clients } = await inProcessRuntime({ apiKeys: { [KEY_A]: "acme" } });
    const none = await rejects(clients().profiles.listAgentProfiles({}), Code.Unauthenticated);
    expect(none.findDetails(ErrorDetailSchema)[0]?.reason).toBe("MISSING_API_KEY");
    const wrong = await rejects(
      clients("wrong-key-0123456789").profiles.listAgentProfiles({}),
      Code.Unauthenticated,
    );
    expect(wrong.findDetails(ErrorDetailSchema)[0]?.reason).toBe("INVALID_API_KEY");
  });

  it("runs open as one tenant when no keys are configured", async () => {
    const { clients } = await inProcessRuntime();
    const { profile } = await clients().profiles.createAgentProfile({ profile: profileInit() });
    expect(
      (await clients("anything").profiles.getAgentProfile({ agentProfileId: profile!.id })).profile
        ?.id,
    ).toBe(profile!.id);
  });
});
