// A profile's npm and pip packages, installed once per set of specs: into
// `<dataDir>/deps/<hash of the specs>`, by a command of the new sandbox that may use the network
// (whatever the profile says) and sees that directory writable; every later sandbox with the
// same specs gets it read-only, with NODE_PATH, PYTHONPATH and PATH set (dependencies-env.ts).

import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chown, mkdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { AppError } from "../../domain/errors.js";
import type { FileOwner } from "./files.js";
import type { LocalSandbox } from "./sandbox.js";

export interface DependencySpecs {
  npm: string[];
  pip: string[];
}

/** Characters of the installer's output a failure shows. */
const FAILURE_OUTPUT_CHARS = 4_000;
/** Installer settings of the server passed on to the install (a private index, a mirror). */
const REGISTRY_ENV = [
  "PIP_INDEX_URL",
  "PIP_EXTRA_INDEX_URL",
  "PIP_TRUSTED_HOST",
  "npm_config_registry",
];

const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/** The shell command that installs `specs` under $AGENT_DEPS_DIR. */
export function installCommand(specs: DependencySpecs): string {
  const lines = [
    "set -e",
    "export HOME=/tmp/agent-deps-home",
    'mkdir -p "$HOME"',
    // npm trusts the system's CA store too (pip already does), as a TLS proxy may need.
    "CA=/etc/ssl/certs/ca-certificates.crt",
    'if [ -f "$CA" ]; then export NODE_EXTRA_CA_CERTS="$CA"; fi',
  ];
  if (specs.pip.length > 0) {
    lines.push(
      `echo "+ pip install ${specs.pip.join(" ")}"`,
      "python3 -m pip install --no-cache-dir --disable-pip-version-check --no-input " +
        `--progress-bar off --no-warn-script-location --target "$AGENT_DEPS_DIR/python" ${specs.pip.map(q).join(" ")}`,
    );
  }
  if (specs.npm.length > 0) {
    lines.push(
      `echo "+ npm install ${specs.npm.join(" ")}"`,
      'npm install --prefix "$AGENT_DEPS_DIR/node" --no-audit --no-fund --no-update-notifier ' +
        `--cache /tmp/agent-deps-npm ${specs.npm.map(q).join(" ")}`,
    );
  }
  return lines.join("\n");
}

export class DependencyCache {
  private readonly installing = new Map<string, Promise<string>>();

  constructor(
    private readonly dir: string,
    private readonly owner: FileOwner | undefined,
    private readonly timeoutMs: number,
  ) {}

  /** The cache directory's name for a set of specs. */
  static key(specs: DependencySpecs): string {
    const canonical = JSON.stringify({ npm: [...specs.npm].sort(), pip: [...specs.pip].sort() });
    return createHash("sha256").update(canonical).digest("hex").slice(0, 32);
  }

  /** The host directory holding `specs`, installed by `sandbox` when no sandbox did before. */
  ensure(
    specs: DependencySpecs,
    sandbox: LocalSandbox,
    onProgress?: (message: string) => void,
  ): Promise<string> {
    const key = DependencyCache.key(specs);
    const done = join(this.dir, key);
    if (existsSync(done)) return Promise.resolve(done);
    let pending = this.installing.get(key);
    if (!pending) {
      pending = this.install(specs, sandbox, done, onProgress).finally(() =>
        this.installing.delete(key),
      );
      this.installing.set(key, pending);
    }
    return pending;
  }

  private async install(
    specs: DependencySpecs,
    sandbox: LocalSandbox,
    done: string,
    onProgress?: (message: string) => void,
  ): Promise<string> {
    const staging = `${done}.tmp-${randomBytes(4).toString("hex")}`;
    await mkdir(staging, { recursive: true, mode: 0o755 });
    if (this.owner) await chown(staging, this.owner.uid, this.owner.gid);
    try {
      onProgress?.(`installing dependencies (${[...specs.pip, ...specs.npm].join(", ")})`);
      const env: Record<string, string> = {};
      for (const name of REGISTRY_ENV) {
        const value = process.env[name];
        if (value) env[name] = value;
      }
      const r = await sandbox.install(
        { command: installCommand(specs), allowNetwork: true, timeoutMs: this.timeoutMs, env },
        staging,
      );
      if (r.exitCode !== 0) {
        const output = `${r.stdout}${r.stderr}`.trim().slice(-FAILURE_OUTPUT_CHARS);
        const how = r.timedOut
          ? `timed out after ${this.timeoutMs} ms`
          : r.exitCode === null
            ? "was killed"
            : `exited with ${r.exitCode}`;
        throw new AppError(
          "unavailable",
          "SANDBOX_START_FAILED",
          `the sandbox could not start: installing its dependencies ${how}:\n${output}`,
        );
      }
      await rename(staging, done).catch(async (err: NodeJS.ErrnoException) => {
        // Another server process installed the same specs meanwhile: theirs is as good.
        if (!existsSync(done)) throw err;
        await rm(staging, { recursive: true, force: true });
      });
      return done;
    } catch (err) {
      await rm(staging, { recursive: true, force: true }).catch(() => {});
      throw err;
    }
  }
}
