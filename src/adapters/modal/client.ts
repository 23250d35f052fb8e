// The narrow part of modal@0.11.1 this provider uses, and the real SDK client behind it.
// `ModalClient` satisfies ModalLike<App, Image> (checked by the compiler in createModalClient),
// and the tests drive the provider through an in-test implementation of the same interface.

import { type App, type Image, ModalClient } from "modal";

/** A web ReadableStream of text, as far as it is read here. */
export interface ModalStreamLike {
  getReader(): {
    read(): Promise<{ done: boolean; value?: string | undefined }>;
    cancel(reason?: unknown): Promise<void>;
    releaseLock(): void;
  };
}

export interface ModalProcessLike {
  stdin: { writeText(text: string): Promise<void> };
  stdout: ModalStreamLike;
  stderr: ModalStreamLike;
  wait(): Promise<number>;
}

export interface ModalFileInfoLike {
  path: string;
  type: "file" | "directory" | "symlink";
  size: number;
  /** Unix epoch seconds. */
  modifiedTime: number;
}

export interface ModalSandboxLike {
  readonly sandboxId: string;
  exec(
    command: string[],
    params?: { workdir?: string; timeoutMs?: number; env?: Record<string, string> },
  ): Promise<ModalProcessLike>;
  readonly filesystem: {
    readBytes(path: string): Promise<Uint8Array>;
    writeBytes(data: Uint8Array, path: string): Promise<void>;
    listFiles(path: string): Promise<ModalFileInfoLike[]>;
    stat(path: string): Promise<ModalFileInfoLike>;
    makeDirectory(path: string, options?: { createParents?: boolean }): Promise<void>;
    remove(path: string, options?: { recursive?: boolean }): Promise<void>;
  };
  getTags(): Promise<Record<string, string>>;
  poll(): Promise<number | null>;
  terminate(): Promise<void>;
}

export interface ModalCreateParams {
  timeoutMs?: number;
  idleTimeoutMs?: number;
  workdir?: string;
  env?: Record<string, string>;
  blockNetwork?: boolean;
  cpu?: number;
  memoryMiB?: number;
  tags?: Record<string, string>;
}

/**
 * An image definition: a registry image and the layers added on top. Modal builds a definition
 * once (with the network, whatever the sandboxes' blockNetwork) and reuses it for every later
 * definition that is the same; `build` rejects with the builder's message when a layer fails.
 */
export interface ModalImageLike<A, I> {
  dockerfileCommands(commands: string[]): I;
  build(app: A): Promise<I>;
}

/** An image of unknown kind (the default of ModalLike's image parameter). */
export interface AnyModalImage extends ModalImageLike<never, AnyModalImage> {}

export interface ModalLike<
  A extends { appId: string } = { appId: string },
  I extends ModalImageLike<A, I> = AnyModalImage,
> {
  apps: { fromName(name: string, params?: { createIfMissing?: boolean }): Promise<A> };
  images: { fromRegistry(tag: string): I };
  sandboxes: {
    create(app: A, image: I, params?: ModalCreateParams): Promise<ModalSandboxLike>;
    fromId(sandboxId: string): Promise<ModalSandboxLike>;
    list(params?: {
      appId?: string;
      tags?: Record<string, string>;
    }): AsyncIterable<ModalSandboxLike>;
  };
}

export interface ModalClientOptions {
  /** Default: MODAL_TOKEN_ID / MODAL_TOKEN_SECRET or ~/.modal.toml, as the SDK reads them. */
  tokenId?: string;
  tokenSecret?: string;
  /** Modal environment; default the profile's. */
  environment?: string;
}

/** The real Modal SDK client. */
export function createModalClient(options: ModalClientOptions): ModalLike<App, Image> {
  // Typed, not cast: the compiler checks that the real client has everything the provider uses.
  return new ModalClient({
    ...(options.tokenId ? { tokenId: options.tokenId } : {}),
    ...(options.tokenSecret ? { tokenSecret: options.tokenSecret } : {}),
    ...(options.environment ? { environment: options.environment } : {}),
  });
}
