// Images for the fake Modal (fake-modal.ts): definitions (a registry tag and Dockerfile layers)
// and their builds, each definition built once, as Modal caches builds by definition.

import { spawn } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { ModalImageLike } from "../../src/adapters/modal/provider.js";

export interface FakeApp {
  appId: string;
  name: string;
}

/** A built image: a directory standing in for its filesystem under /opt, and its ENV. */
export interface BuiltImage {
  imageId: string;
  root: string;
  env: Record<string, string>;
}

/**
 * An image definition, as the SDK's Image: a registry tag and the layers added on top (each a
 * list of Dockerfile commands); build() builds it once per definition (FakeModal.buildImage).
 */
export class FakeImage implements ModalImageLike<FakeApp, FakeImage> {
  built: BuiltImage | undefined;
  constructor(
    private readonly builder: ImageBuilder,
    readonly image: string,
    readonly layers: string[][] = [],
  ) {}
  dockerfileCommands(commands: string[]): FakeImage {
    if (commands.length === 0) return this;
    return new FakeImage(this.builder, this.image, [...this.layers, [...commands]]);
  }
  async build(_app: FakeApp): Promise<FakeImage> {
    if (this.layers.length > 0) this.built ??= await this.builder.buildImage(this);
    return this;
  }
}
/** Runs `sh -c command` in `cwd`, with its stdout and stderr together. */
function runHere(
  command: string,
  cwd: string,
  env: Record<string, string>,
): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn("sh", ["-c", command], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => {
      output += d;
    });
    child.stderr.on("data", (d) => {
      output += d;
    });
    child.on("error", (err) => resolve({ code: 127, output: String(err) }));
    child.on("close", (code) => resolve({ code: code ?? 1, output: output.trim() }));
  });
}

export class ImageBuilder {
  private n = 0;
  constructor(
    readonly dir: string,
    private readonly prefix: string,
  ) {}

  /** Every image definition built (a definition built before is reused, as Modal does). */
  readonly builds: string[][][] = [];
  private readonly imageCache = new Map<string, Promise<BuiltImage>>();

  /**
   * Builds a definition's layers, or returns the build of the same definition. RUN commands run
   * with `sh -c` on this machine (with its network) in the image's directory, with /opt/ mapped
   * into it; ENV sets variables (expanding $VAR from the ENV before). A failing RUN fails the
   * build with an error shaped like the SDK's, carrying the command's output, and is not cached.
   */
  buildImage(image: FakeImage): Promise<BuiltImage> {
    const key = JSON.stringify([image.image, image.layers]);
    let built = this.imageCache.get(key);
    if (!built) {
      built = this.runBuild(image);
      this.imageCache.set(key, built);
      built.catch(() => this.imageCache.delete(key));
    }
    return built;
  }

  private async runBuild(image: FakeImage): Promise<BuiltImage> {
    this.builds.push(image.layers);
    const imageId = `im-${this.prefix}${++this.n}`;
    const root = join(this.dir, imageId);
    await mkdir(join(root, "root"), { recursive: true });
    const mapOpt = (text: string) => text.replace(/(^|[\s'"=:])\/opt\//g, `$1${root}/opt/`);
    const env: Record<string, string> = { PATH: process.env.PATH ?? "/usr/bin:/bin" };
    for (const command of image.layers.flat()) {
      const [, instruction, rest = ""] = /^\s*(\w+)\s+([\s\S]*)$/.exec(command) ?? [];
      if (instruction === "ENV") {
        const expanded: Record<string, string> = {};
        for (const [, k, v] of rest.matchAll(/(\w+)="([^"]*)"/g)) {
          expanded[k!] = mapOpt(v!).replace(/\$\{?(\w+)\}?/g, (_, name: string) => env[name] ?? "");
        }
        Object.assign(env, expanded);
      } else if (instruction === "RUN") {
        const { code, output } = await runHere(mapOpt(rest), root, {
          ...env,
          HOME: join(root, "root"),
        });
        if (code !== 0) {
          throw new Error(
            `Image build for ${imageId} failed with the exception:\n${output}\n` +
              `the command '/bin/sh -c ${rest}' returned a non-zero code: ${code}`,
          );
        }
      } else {
        throw new Error(`fake modal: unsupported Dockerfile command ${command}`);
      }
    }
    return { imageId, root, env };
  }
}
