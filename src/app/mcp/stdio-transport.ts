// The MCP SDK's Transport over a process in the session's sandbox: newline-delimited JSON-RPC on
// its stdin and stdout, its stderr's end kept to say why it failed.

import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import { type JSONRPCMessage, JSONRPCMessageSchema } from "@modelcontextprotocol/sdk/types.js";
import { MCP_LIMITS } from "../../domain/limits.js";
import type { Sandbox, SandboxProcess } from "../../ports/sandbox.js";

/** Quotes one word for bash. */
export const shellQuote = (word: string) => `'${word.replaceAll("'", `'\\''`)}'`;

export class SandboxStdioTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  private process: SandboxProcess | undefined;
  private buffer = "";
  private stderr = "";
  private closed = false;
  /** The process's exit status once it ended. */
  exitCode: number | null | undefined;

  constructor(
    private readonly sandbox: Sandbox,
    private readonly command: string,
    private readonly args: string[],
    private readonly env: Record<string, string>,
  ) {}

  /** The end of what the server wrote to stderr. */
  get stderrTail(): string {
    return this.stderr.trim();
  }

  get alive(): boolean {
    return !this.closed;
  }

  async start(): Promise<void> {
    // The profile's command is a bash command line; its arguments are quoted onto it.
    const command = [this.command, ...this.args.map(shellQuote)].join(" ");
    this.process = await this.sandbox.spawn({
      command,
      env: this.env,
      onStdout: (chunk) => this.read(chunk),
      onStderr: (chunk) => {
        this.stderr = (this.stderr + chunk).slice(-MCP_LIMITS.stderrTailChars);
      },
    });
    void this.process.exited.then((code) => {
      this.exitCode = code;
      this.end();
    });
  }

  private read(chunk: string): void {
    this.buffer += chunk;
    for (;;) {
      const nl = this.buffer.indexOf("\n");
      if (nl < 0) break;
      const line = this.buffer.slice(0, nl).replace(/\r$/, "");
      this.buffer = this.buffer.slice(nl + 1);
      if (line.trim() === "") continue;
      let message: JSONRPCMessage;
      try {
        message = JSONRPCMessageSchema.parse(JSON.parse(line));
      } catch {
        this.onerror?.(
          new Error(`the server wrote a line that is not JSON-RPC: ${line.slice(0, 200)}`),
        );
        continue;
      }
      this.onmessage?.(message);
    }
    if (Buffer.byteLength(this.buffer) > MCP_LIMITS.maxMessageBytes) {
      this.buffer = "";
      this.onerror?.(
        new Error(`the server wrote a message over ${MCP_LIMITS.maxMessageBytes} bytes`),
      );
      void this.close();
    }
  }

  async send(message: JSONRPCMessage): Promise<void> {
    if (!this.process || this.closed) throw new Error("the MCP server's process is not running");
    await this.process.write(`${JSON.stringify(message)}\n`);
  }

  async close(): Promise<void> {
    this.process?.kill();
    this.end();
  }

  private end(): void {
    if (this.closed) return;
    this.closed = true;
    this.onclose?.();
  }
}
