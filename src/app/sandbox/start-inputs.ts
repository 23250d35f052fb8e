// What a sandbox of a profile starts with besides its settings: the secret environment and the
// packages of the profile and its skills.

import { AppError } from "../../domain/errors.js";
import { profileExtras } from "../../domain/profile-extras.js";
import type { AgentProfile } from "../../domain/types.js";
import type { SecretStore } from "../../ports/secrets.js";

const startFailed = (message: string) =>
  new AppError("unavailable", "SANDBOX_START_FAILED", `the sandbox could not start: ${message}`);

/**
 * The profile's `sandbox.secret_env` with the secrets' values. A secret that does not exist
 * fails the start, naming the secret and the variable (never a value).
 */
export async function secretEnvironment(
  secrets: SecretStore | undefined,
  profile: AgentProfile,
): Promise<Record<string, string>> {
  const wanted = Object.entries(profile.sandbox.secretEnv ?? {});
  if (wanted.length === 0) return {};
  if (!secrets) throw startFailed("this server has no secret store for the profile's secret_env");
  const names = [...new Set(wanted.map(([, name]) => name))];
  const values = await secrets.resolve(profile.tenantId, names);
  const env: Record<string, string> = {};
  for (const [variable, name] of wanted) {
    const value = values[name];
    if (value === undefined) {
      throw startFailed(`the secret ${JSON.stringify(name)} (for ${variable}) does not exist`);
    }
    env[variable] = value;
  }
  return env;
}

/** The npm and pip specs of the profile and its skills, each once, in a stable order. */
export function sandboxDependencies(
  profile: AgentProfile,
): { dependencies: { npm: string[]; pip: string[] } } | Record<string, never> {
  const extras = profileExtras(profile);
  const all = [extras.dependencies, ...extras.skills.map((s) => s.dependencies)];
  const npm = [...new Set(all.flatMap((d) => d.npm))].sort();
  const pip = [...new Set(all.flatMap((d) => d.pip))].sort();
  return npm.length + pip.length > 0 ? { dependencies: { npm, pip } } : {};
}
