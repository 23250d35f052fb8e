// Which local sandboxes are live: one marker file per sandbox (`<dataDir>/sandboxes/<id>.json`),
// so a restarted server finds them again and re-attaches.

import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { readdir, readFile, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { SandboxSettings } from "../../domain/types.js";

export interface Marker {
  sandboxId: string;
  sessionId: string;
  settings: SandboxSettings;
  /** Secret variables (the file is the server's alone: mode 0600), for a sandbox found again. */
  secretEnv?: Record<string, string>;
  /** Its installed dependencies' host directory. */
  depsDir?: string;
  createTime: string;
}

const SESSION_ID = /^[A-Za-z0-9_-]{1,128}$/;
const SANDBOX_ID = /^local-([A-Za-z0-9_-]{1,128})-[0-9a-f]{8}$/;

/** Whether `id` may name a session's workspace directory. */
export const isSessionId = (id: string): boolean => SESSION_ID.test(id);

/** A fresh id for a sandbox of the session. */
export const newSandboxId = (sessionId: string): string =>
  `local-${sessionId}-${randomBytes(4).toString("hex")}`;

/** The session a local sandbox id names; undefined for any other id. */
export const sessionOfSandbox = (sandboxId: string): string | undefined =>
  SANDBOX_ID.exec(sandboxId)?.[1];

export class Markers {
  constructor(private readonly dir: string) {}

  private pathOf(sandboxId: string): string | undefined {
    return SANDBOX_ID.test(sandboxId) ? join(this.dir, `${sandboxId}.json`) : undefined;
  }

  async write(marker: Marker): Promise<void> {
    await writeFile(this.pathOf(marker.sandboxId)!, JSON.stringify(marker), { mode: 0o600 });
  }

  /** The sandbox's marker; undefined when it is not live (or not a local sandbox's id). */
  async read(sandboxId: string): Promise<Marker | undefined> {
    const path = this.pathOf(sandboxId);
    if (!path) return undefined;
    try {
      return JSON.parse(await readFile(path, "utf8")) as Marker;
    } catch {
      return undefined;
    }
  }

  async list(): Promise<Array<{ sandboxId: string; sessionId: string }>> {
    const out: Array<{ sandboxId: string; sessionId: string }> = [];
    for (const name of await readdir(this.dir).catch(() => [] as string[])) {
      if (!name.endsWith(".json")) continue;
      try {
        const marker = JSON.parse(await readFile(join(this.dir, name), "utf8")) as Marker;
        out.push({ sandboxId: marker.sandboxId, sessionId: marker.sessionId });
      } catch {
        // a marker being written or removed
      }
    }
    return out;
  }

  exists(sandboxId: string): boolean {
    const path = this.pathOf(sandboxId);
    return path !== undefined && existsSync(path);
  }

  async remove(sandboxId: string): Promise<void> {
    const path = this.pathOf(sandboxId);
    if (path) await unlink(path).catch(() => {});
  }
}
