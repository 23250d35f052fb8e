// A profile's npm and pip packages on Modal: an image layer on top of the profile's image that
// installs them under MODAL_DEPS_DIR and sets NODE_PATH, PYTHONPATH and PATH (the same layout and
// variables as the local sandbox's, dependencies-env.ts). Modal builds a layer with the network
// whatever the sandbox's blockNetwork, and caches it by its definition: the next sandbox with the
// same image and specs (sorted by the caller) starts from the built image without installing.

import { depsEnv } from "../local-sandbox/dependencies-env.js";

/** Where the packages are installed in the image. */
export const MODAL_DEPS_DIR = "/opt/agent-deps";

const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/** A shell test that fails the build with a clear line when the image lacks a tool. */
const need = (test: string, what: string) =>
  `if ! ${test} >/dev/null 2>&1; then echo ${q(`the image has no ${what}`)} >&2; exit 1; fi`;

/** The Dockerfile commands of the layer that installs `specs`. */
export function dependencyLayer(specs: { npm: string[]; pip: string[] }): string[] {
  const env = depsEnv(MODAL_DEPS_DIR, "$PATH");
  const commands: string[] = [];
  if (specs.pip.length > 0) {
    commands.push(
      `RUN ${need("python3 -m pip --version", "pip (python3 -m pip) for the pip dependencies")}; ` +
        "python3 -m pip install --no-cache-dir --disable-pip-version-check --no-input " +
        `--progress-bar off --no-warn-script-location --target ${q(env.PYTHONPATH!)} ` +
        specs.pip.map(q).join(" "),
    );
  }
  if (specs.npm.length > 0) {
    commands.push(
      `RUN ${need("npm --version", "npm for the npm dependencies")}; ` +
        'export HOME=/tmp/agent-deps-home && mkdir -p "$HOME" && ' +
        `npm install --prefix ${q(`${MODAL_DEPS_DIR}/node`)} --no-audit --no-fund ` +
        "--no-update-notifier --cache /tmp/agent-deps-npm " +
        `${specs.npm.map(q).join(" ")} && rm -rf /tmp/agent-deps-npm "$HOME"`,
    );
  }
  // ENV values in double quotes: $PATH is the base image's, expanded by the builder.
  const vars = Object.entries(env).map(([k, v]) => `${k}="${v}"`);
  commands.push(`ENV ${vars.join(" ")}`);
  return commands;
}
