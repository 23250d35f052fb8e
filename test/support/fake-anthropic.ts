// A local stand-in for the Anthropic Messages API: a real HTTP server (node:http on 127.0.0.1,
// port 0) that answers POST /v1/messages from a script. It speaks the streaming protocol the
// SDK parses (SSE frames with `event:` lines) and Anthropic's JSON error shape, and records every
// request so tests can assert what was sent.
//
//   const fake = new FakeAnthropic();
//   await fake.start();
//   fake.enqueue(rateLimited(0), textResponse("Hello"));
//   new Anthropic({ baseURL: fake.url, apiKey: "test-key", maxRetries: 0 });
//   ...
//   await fake.stop();

import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type {
  BetaContextManagementResponse,
  BetaServerToolUsage,
  BetaTextCitation,
  BetaWebFetchToolResultBlock,
  BetaWebSearchToolResultBlockContent,
} from "@anthropic-ai/sdk/resources/beta/messages/messages";

export type FakeStopReason =
  | "end_turn"
  | "tool_use"
  | "max_tokens"
  | "stop_sequence"
  | "refusal"
  | "pause_turn";

export type FakeBlock =
  /** Streamed in `chunks` if given, else word by word; `citations` as citations_delta first. */
  | { type: "text"; text: string; chunks?: string[]; citations?: BetaTextCitation[] }
  /** A call of the API's own tool; its input is streamed like a tool_use's. */
  | { type: "server_tool_use"; id: string; name: "web_search" | "web_fetch"; input: unknown }
  /** Sent whole in content_block_start, as the API does. */
  | {
      type: "web_search_tool_result";
      tool_use_id: string;
      content: BetaWebSearchToolResultBlockContent;
    }
  | {
      type: "web_fetch_tool_result";
      tool_use_id: string;
      content: BetaWebFetchToolResultBlock["content"];
    }
  /** Server-side compaction: started empty, then one compaction_delta with the summary. */
  | { type: "compaction"; content: string | null; encrypted_content?: string }
  /** Streamed as thinking_delta chunks, then one signature_delta. */
  | { type: "thinking"; thinking: string; signature: string; chunks?: string[] }
  /** The input's JSON is streamed in `jsonChunks` (default 3) input_json_delta pieces. */
  | { type: "tool_use"; id?: string; name: string; input: unknown; jsonChunks?: number };

export interface FakeUsage {
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens: number;
  cache_creation_input_tokens: number;
  /** Sent in message_delta's usage when given. */
  server_tool_use?: BetaServerToolUsage;
}

export interface FakeStream {
  kind: "stream";
  content: FakeBlock[];
  /** Default: `tool_use` when a tool_use block is present, else `end_turn`. */
  stopReason?: FakeStopReason;
  usage?: Partial<FakeUsage>;
  /** Sent in message_delta: the context edits the API applied. */
  contextManagement?: BetaContextManagementResponse;
  /** Default: the model the request asked for. */
  model?: string;
  /** Delay before each event after message_start; overrides the server default. */
  chunkDelayMs?: number;
  /** Destroy the socket after this many SSE events have been written. */
  cutAfterEvents?: number;
  /** Stop writing after this many events and keep the connection open until the client leaves. */
  stallAfterEvents?: number;
  /** Write an SSE `error` event (then end the response) after this many events. */
  errorAfterEvents?: { events: number; type: string; message?: string };
  headers?: Record<string, string>;
}

export interface FakeError {
  kind: "error";
  status: number;
  /** Anthropic's error type; default derived from the status. */
  type?: string;
  message?: string;
  /** Sent as the `retry-after` header (seconds). */
  retryAfter?: number;
  headers?: Record<string, string>;
}

export type FakeResponse = FakeStream | FakeError;

/** The request body as the SDK sent it (the Messages create params). */
export type FakeRequestBody = Record<string, unknown> & {
  model?: string;
  max_tokens?: number;
  stream?: boolean;
  system?: unknown;
  messages?: Array<{ role: string; content: unknown }>;
  tools?: Array<Record<string, unknown>>;
  thinking?: Record<string, unknown>;
  context_management?: { edits?: Array<Record<string, unknown>> };
};

export type RequestOutcome = "completed" | "cut" | "client_closed";

export interface RecordedRequest {
  method: string;
  path: string;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  body: FakeRequestBody;
  /** From `x-api-key` or `Authorization: Bearer`. */
  apiKey: string | undefined;
  /** How the response ended; `client_closed` when the client went away before the end. */
  outcome: Promise<RequestOutcome>;
}

export type ScriptFunction = (request: RecordedRequest) => FakeResponse | Promise<FakeResponse>;
type ScriptEntry = FakeResponse | ScriptFunction;

export interface FakeAnthropicOptions {
  /** When set, a request with another key gets 401 authentication_error (script untouched). */
  apiKey?: string;
  /** Default delay before each streamed event after message_start. */
  chunkDelayMs?: number;
}

// ---- Script helpers ---------------------------------------------------------------------------

export function textResponse(
  text: string,
  options: Partial<Omit<FakeStream, "kind" | "content">> = {},
): FakeStream {
  return streamResponse([{ type: "text", text }], options);
}

export function streamResponse(
  content: FakeBlock[],
  options: Partial<Omit<FakeStream, "kind" | "content">> = {},
): FakeStream {
  return { kind: "stream", content, ...options };
}

export function errorResponse(
  status: number,
  options: Omit<FakeError, "kind" | "status"> = {},
): FakeError {
  return { kind: "error", status, ...options };
}

export const rateLimited = (retryAfterSeconds?: number): FakeError =>
  retryAfterSeconds === undefined
    ? errorResponse(429)
    : errorResponse(429, { retryAfter: retryAfterSeconds });
export const overloaded = (): FakeError => errorResponse(529);
export const serverError = (): FakeError => errorResponse(500);
export const unauthorized = (): FakeError => errorResponse(401);

const ERROR_TYPES: Record<number, string> = {
  400: "invalid_request_error",
  401: "authentication_error",
  403: "permission_error",
  404: "not_found_error",
  413: "request_too_large",
  429: "rate_limit_error",
  500: "api_error",
  529: "overloaded_error",
};

const ERROR_MESSAGES: Record<string, string> = {
  invalid_request_error: "Invalid request.",
  authentication_error: "invalid x-api-key",
  permission_error: "Your API key does not have permission to use the specified resource.",
  not_found_error: "The requested resource could not be found.",
  rate_limit_error: "Number of request tokens has exceeded your per-minute rate limit.",
  api_error: "Internal server error",
  overloaded_error: "Overloaded",
};

// ---- Server -----------------------------------------------------------------------------------

export class FakeAnthropic {
  readonly requests: RecordedRequest[] = [];
  private readonly queue: ScriptEntry[] = [];
  private fallback: ScriptFunction | undefined;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly stalled = new Set<ServerResponse>();
  private readonly requestWaiters: Array<{ count: number; resolve: () => void }> = [];
  private messageCounter = 0;

  constructor(private readonly options: FakeAnthropicOptions = {}) {}

  /** `http://127.0.0.1:PORT`, the SDK's `baseURL`. */
  get url(): string {
    const address = this.server?.address() as AddressInfo | null | undefined;
    if (!address) throw new Error("FakeAnthropic is not started");
    return `http://127.0.0.1:${address.port}`;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      void this.handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) {
          res.writeHead(500, { "content-type": "application/json" });
          res.end(
            JSON.stringify({ type: "error", error: { type: "api_error", message: `${error}` } }),
          );
        } else {
          res.destroy();
        }
      });
    });
    server.on("connection", (socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const res of this.stalled) res.destroy();
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Queues responses; each request takes the next one (a function is called with the request). */
  enqueue(...entries: ScriptEntry[]): this {
    this.queue.push(...entries);
    return this;
  }

  /** Answers every request the queue has no entry for. */
  scriptFromFunction(fn: ScriptFunction): this {
    this.fallback = fn;
    return this;
  }

  /** Scripted responses not yet used. */
  get pending(): number {
    return this.queue.length;
  }

  /** Resolves once `count` requests have arrived in total. */
  waitForRequests(count: number): Promise<void> {
    if (this.requests.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.requestWaiters.push({ count, resolve }));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");

    let resolveOutcome!: (outcome: RequestOutcome) => void;
    const outcome = new Promise<RequestOutcome>((resolve) => {
      resolveOutcome = resolve;
    });
    let finished = false;
    const finish = (value: RequestOutcome) => {
      if (finished) return;
      finished = true;
      resolveOutcome(value);
    };
    res.on("close", () => finish(res.writableFinished ? "completed" : "client_closed"));

    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(", ") : value;
    }
    const bearer = headers.authorization?.match(/^Bearer\s+(.+)$/i)?.[1];
    const recorded: RecordedRequest = {
      method: req.method ?? "",
      path: (req.url ?? "").split("?")[0] ?? "",
      headers,
      body: parseBody(raw),
      apiKey: headers["x-api-key"] ?? bearer,
      outcome,
    };
    this.requests.push(recorded);
    for (const waiter of this.requestWaiters.splice(0)) {
      if (this.requests.length >= waiter.count) waiter.resolve();
      else this.requestWaiters.push(waiter);
    }

    if (recorded.method !== "POST" || recorded.path !== "/v1/messages") {
      return this.sendError(res, { kind: "error", status: 404 }, finish);
    }
    if (!recorded.apiKey || (this.options.apiKey && recorded.apiKey !== this.options.apiKey)) {
      return this.sendError(res, { kind: "error", status: 401 }, finish);
    }

    const entry = this.queue.shift() ?? this.fallback;
    if (!entry) {
      return this.sendError(
        res,
        {
          kind: "error",
          status: 400,
          message: "FakeAnthropic: the script has no response left for this request",
        },
        finish,
      );
    }
    const response = typeof entry === "function" ? await entry(recorded) : entry;
    if (response.kind === "error") return this.sendError(res, response, finish);
    return this.sendStream(res, recorded, response, finish);
  }

  private sendError(
    res: ServerResponse,
    error: FakeError,
    finish: (outcome: RequestOutcome) => void,
  ): void {
    const type = error.type ?? ERROR_TYPES[error.status] ?? "api_error";
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "request-id": `req_fake_${++this.messageCounter}`,
      ...error.headers,
    };
    if (error.retryAfter !== undefined) headers["retry-after"] = String(error.retryAfter);
    res.writeHead(error.status, headers);
    res.end(
      JSON.stringify({
        type: "error",
        error: { type, message: error.message ?? ERROR_MESSAGES[type] ?? "Error" },
      }),
      () => finish("completed"),
    );
  }

  private async sendStream(
    res: ServerResponse,
    request: RecordedRequest,
    script: FakeStream,
    finish: (outcome: RequestOutcome) => void,
  ): Promise<void> {
    const number = ++this.messageCounter;
    const events = buildEvents(script, request, number);
    const delay = script.chunkDelayMs ?? this.options.chunkDelayMs ?? 0;
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      connection: "keep-alive",
      "request-id": `req_fake_${number}`,
      ...script.headers,
    });
    res.flushHeaders();

    let written = 0;
    let flushed: Promise<void> = Promise.resolve();
    for (const [name, data] of events) {
      if (res.destroyed) return;
      if (script.cutAfterEvents !== undefined && written >= script.cutAfterEvents) {
        // Let what was written reach the client first: destroy() drops unflushed data.
        await flushed;
        finish("cut");
        res.socket?.destroy();
        return;
      }
      if (script.stallAfterEvents !== undefined && written >= script.stallAfterEvents) {
        this.stalled.add(res);
        res.on("close", () => this.stalled.delete(res));
        return; // the client (or stop()) ends it
      }
      if (script.errorAfterEvents && written >= script.errorAfterEvents.events) {
        const { type, message } = script.errorAfterEvents;
        void writeEvent(res, "error", {
          type: "error",
          error: { type, message: message ?? ERROR_MESSAGES[type] ?? "Error" },
        });
        res.end();
        return;
      }
      if (written > 0 && delay > 0) await sleep(delay);
      if (res.destroyed) return;
      flushed = writeEvent(res, name, data);
      written++;
    }
    res.end();
  }
}

// ---- Event building ---------------------------------------------------------------------------

type SseEvent = [name: string, data: unknown];

function buildEvents(script: FakeStream, request: RecordedRequest, number: number): SseEvent[] {
  const id = `msg_fake_${number}`;
  const usage: FakeUsage = {
    input_tokens: 10,
    output_tokens: 5,
    cache_read_input_tokens: 0,
    cache_creation_input_tokens: 0,
    ...script.usage,
  };
  const model = script.model ?? request.body.model ?? "claude-fake";
  const hasToolUse = script.content.some((block) => block.type === "tool_use");
  const stopReason = script.stopReason ?? (hasToolUse ? "tool_use" : "end_turn");
  const events: SseEvent[] = [
    [
      "message_start",
      {
        type: "message_start",
        message: {
          id,
          type: "message",
          role: "assistant",
          model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: {
            input_tokens: usage.input_tokens,
            output_tokens: 1,
            cache_read_input_tokens: usage.cache_read_input_tokens,
            cache_creation_input_tokens: usage.cache_creation_input_tokens,
          },
        },
      },
    ],
    ["ping", { type: "ping" }],
  ];
  script.content.forEach((block, index) => {
    const delta = (delta: Record<string, unknown>): SseEvent => [
      "content_block_delta",
      { type: "content_block_delta", index, delta },
    ];
    if (block.type === "text") {
      events.push([
        "content_block_start",
        {
          type: "content_block_start",
          index,
          content_block: { type: "text", text: "", citations: null },
        },
      ]);
      for (const citation of block.citations ?? []) {
        events.push(delta({ type: "citations_delta", citation }));
      }
      for (const text of block.chunks ?? splitWords(block.text)) {
        events.push(delta({ type: "text_delta", text }));
      }
    } else if (block.type === "thinking") {
      events.push([
        "content_block_start",
        {
          type: "content_block_start",
          index,
          content_block: { type: "thinking", thinking: "", signature: "" },
        },
      ]);
      for (const thinking of block.chunks ?? splitWords(block.thinking)) {
        events.push(delta({ type: "thinking_delta", thinking }));
      }
      events.push(delta({ type: "signature_delta", signature: block.signature }));
    } else if (block.type === "server_tool_use") {
      events.push([
        "content_block_start",
        {
          type: "content_block_start",
          index,
          content_block: { type: "server_tool_use", id: block.id, name: block.name, input: {} },
        },
      ]);
      for (const partial_json of splitInPieces(JSON.stringify(block.input), 2)) {
        events.push(delta({ type: "input_json_delta", partial_json }));
      }
    } else if (block.type === "web_search_tool_result" || block.type === "web_fetch_tool_result") {
      events.push([
        "content_block_start",
        { type: "content_block_start", index, content_block: block },
      ]);
    } else if (block.type === "compaction") {
      events.push([
        "content_block_start",
        {
          type: "content_block_start",
          index,
          content_block: { type: "compaction", content: null, encrypted_content: null },
        },
      ]);
      events.push(
        delta({
          type: "compaction_delta",
          content: block.content,
          encrypted_content: block.encrypted_content ?? null,
        }),
      );
    } else {
      const toolId = block.id ?? `toolu_fake_${number}_${index}`;
      events.push([
        "content_block_start",
        {
          type: "content_block_start",
          index,
          content_block: { type: "tool_use", id: toolId, name: block.name, input: {} },
        },
      ]);
      for (const partial_json of splitInPieces(
        JSON.stringify(block.input),
        block.jsonChunks ?? 3,
      )) {
        events.push(delta({ type: "input_json_delta", partial_json }));
      }
    }
    events.push(["content_block_stop", { type: "content_block_stop", index }]);
  });
  events.push(
    [
      "message_delta",
      {
        type: "message_delta",
        delta: { stop_reason: stopReason, stop_sequence: null },
        usage: {
          output_tokens: usage.output_tokens,
          ...(usage.server_tool_use ? { server_tool_use: usage.server_tool_use } : {}),
        },
        ...(script.contextManagement ? { context_management: script.contextManagement } : {}),
      },
    ],
    ["message_stop", { type: "message_stop" }],
  );
  return events;
}

/** Resolves once the event has been handed to the socket. */
function writeEvent(res: ServerResponse, name: string, data: unknown): Promise<void> {
  return new Promise((resolve) => {
    res.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`, () => resolve());
  });
}

function splitWords(text: string): string[] {
  const parts = text.match(/\S+\s*|\s+/g);
  return parts && parts.length > 0 ? parts : [text];
}

function splitInPieces(text: string, pieces: number): string[] {
  const size = Math.max(1, Math.ceil(text.length / Math.max(1, pieces)));
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out.length > 0 ? out : [""];
}

// ---- Request checks ---------------------------------------------------------------------------

type RequestBlock = Record<string, unknown> & { type?: string; id?: string; tool_use_id?: string };

/**
 * What the real API would refuse in a request's conversation: it must start with a user message;
 * every tool_use must be answered by a tool_result in the next message, and every tool_result
 * answer a tool_use of the message before; every server_tool_use must have its result in the same
 * message (unless it is the last message: a paused turn). Empty when valid.
 */
export function transcriptProblems(body: FakeRequestBody): string[] {
  const problems: string[] = [];
  const messages = body.messages ?? [];
  const blocksOf = (i: number): RequestBlock[] => {
    const content = messages[i]?.content;
    return Array.isArray(content) ? (content as RequestBlock[]) : [];
  };
  if (messages[0]?.role !== "user") problems.push("the first message is not the user's");
  messages.forEach((message, i) => {
    const blocks = blocksOf(i);
    if (message.role === "assistant") {
      const answered = new Set(
        blocksOf(i + 1).flatMap((b) => (b.type === "tool_result" ? [b.tool_use_id] : [])),
      );
      for (const b of blocks) {
        if (b.type === "tool_use" && !answered.has(b.id)) {
          problems.push(`message ${i}: tool_use ${b.id} has no tool_result after it`);
        }
        if (b.type === "server_tool_use" && i < messages.length - 1) {
          const result = blocks.some(
            (r) => r.type?.endsWith("_tool_result") && r.tool_use_id === b.id,
          );
          if (!result) problems.push(`message ${i}: server_tool_use ${b.id} has no result`);
        }
      }
    } else {
      const calls = new Set(blocksOf(i - 1).flatMap((b) => (b.type === "tool_use" ? [b.id] : [])));
      for (const b of blocks) {
        if (b.type === "tool_result" && !calls.has(b.tool_use_id)) {
          problems.push(`message ${i}: tool_result ${b.tool_use_id} answers no tool_use`);
        }
      }
    }
  });
  return problems;
}

/** The size of a request's conversation in characters. */
export function conversationChars(body: FakeRequestBody): number {
  return JSON.stringify(body.messages ?? []).length;
}

function parseBody(raw: string): FakeRequestBody {
  if (!raw) return {};
  try {
    const parsed: unknown = JSON.parse(raw);
    return parsed && typeof parsed === "object" ? (parsed as FakeRequestBody) : {};
  } catch {
    return { unparsed: raw };
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
