import { LocalSandboxProvider } from "../../src/adapters/local-sandbox/provider.js";
import { silentLogger } from "../../src/app/shared/logger.js";
import type { SandboxProvider } from "../../src/ports/sandbox.js";

/** The real local provider (bubblewrap) over a test's data directory. */
export function localSandboxProvider(dataDir: string): Promise<SandboxProvider> {
  return LocalSandboxProvider.create({ dataDir, logger: silentLogger });
}
