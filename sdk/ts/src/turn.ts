// One call runs a turn: learn the session's current sequence, open the feed there, send the
// message, then yield the turn's events until it ends, across dropped connections.

import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import type { AttachmentSchema } from "../../../gen/ts/agentruntime/v1/block_pb.js";
import type { SessionEvent, TurnCompleted } from "../../../gen/ts/agentruntime/v1/event_pb.js";
import {
  type PendingToolCall,
  type Turn,
  TurnOutcome,
} from "../../../gen/ts/agentruntime/v1/session_pb.js";
import type {
  SendPolicy,
  SessionService,
} from "../../../gen/ts/agentruntime/v1/session_service_pb.js";
import { type ToolAnswer, toAnswerRequest } from "./answers.js";
import { Conversation } from "./conversation.js";
import { call } from "./errors.js";
import { linkedSignal, type RetryOptions, watchEvents } from "./feed.js";

/** What to send: the text, or the whole request (attachments, policy) without the session id. */
export type TurnInput =
  | string
  | {
      text?: string;
      attachments?: MessageInitShape<typeof AttachmentSchema>[];
      policy?: SendPolicy;
    };

export interface RunTurnOptions {
  /** Aborting stops the run (it throws an AgentRuntimeError with code CANCELED). */
  signal?: AbortSignal;
  /** Also cancel the turn on the server when the signal fires. Default true. */
  cancelOnAbort?: boolean;
  retry?: RetryOptions;
  /**
   * Answers the turn's tool calls that wait (approvals, custom tools) as they come; return
   * undefined to leave one for someone else.
   */
  onToolCall?: (call: PendingToolCall) => Promise<ToolAnswer | undefined> | ToolAnswer | undefined;
  /** Called before each reconnection of the feed. */
  onReconnect?: (info: { afterSequence: number; attempt: number; error: unknown }) => void;
}

/** The name of an outcome: `COMPLETED`, `CANCELLED`, `FAILED`, ... ("" while unset). */
export function outcomeName(outcome: TurnOutcome | undefined): string {
  return outcome ? (TurnOutcome[outcome] ?? "") : "";
}

/**
 * A running turn: iterate it for the turn's events (once); `turnId` is set once the message is
 * sent, `turn` and `outcome` once it ended, and `conversation` folds every event yielded.
 */
export class TurnRun implements AsyncIterable<SessionEvent> {
  turnId = "";
  /** The turn as it ended (from its turn_completed event). */
  turn: Turn | undefined;
  /** Why it ended that way (for example `max_turns reached (50)`), when the server says. */
  reason = "";
  readonly conversation = new Conversation();
  private started = false;
  private settle: { resolve(): void; reject(err: unknown): void } | undefined;
  /** Settles when the iteration ends: resolved at the turn's end, rejected with its error. */
  private readonly ended = new Promise<void>((resolve, reject) => {
    this.settle = { resolve, reject };
  });

  constructor(
    private readonly sessions: Client<typeof SessionService>,
    readonly sessionId: string,
    private readonly input: TurnInput,
    private readonly options: RunTurnOptions = {},
  ) {}

  get outcome(): TurnOutcome | undefined {
    return this.turn?.outcome;
  }

  [Symbol.asyncIterator](): AsyncIterator<SessionEvent> {
    if (this.started) throw new Error("a TurnRun can be iterated once");
    this.started = true;
    return this.run();
  }

  /** Runs the turn to its end (or, while a loop iterates it, waits for that) and returns it. */
  async done(): Promise<this> {
    if (!this.started) for await (const _ of this) void _;
    await this.ended;
    return this;
  }

  private async *run(): AsyncGenerator<SessionEvent, void, undefined> {
    this.ended.catch(() => {});
    try {
      yield* this.events();
      this.settle?.resolve();
    } catch (err) {
      this.settle?.reject(err);
      throw err;
    } finally {
      // A loop that stopped early: the turn goes on, this run is over.
      this.settle?.resolve();
    }
  }

  private async *events(): AsyncGenerator<SessionEvent, void, undefined> {
    const { signal } = this.options;
    const controller = linkedSignal(signal);
    const session = await call(
      () => this.sessions.getSession({ sessionId: this.sessionId }),
      signal,
    );
    const feed = watchEvents(this.sessions, this.sessionId, {
      afterSequence: session.session?.lastSequence ?? 0n,
      signal: controller.signal,
      ...(this.options.retry ? { retry: this.options.retry } : {}),
      ...(this.options.onReconnect ? { onReconnect: this.options.onReconnect } : {}),
    });
    // Open the feed before sending, so the stream is there when the first event is.
    let next = feed.next();
    next.catch(() => {});
    try {
      const request = typeof this.input === "string" ? { text: this.input } : this.input;
      const sent = await call(
        () => this.sessions.sendMessage({ ...request, sessionId: this.sessionId }),
        signal,
      );
      this.turnId = sent.turnId;
      for (;;) {
        const { done, value: event } = await next;
        if (done) return;
        if (event.turnId === this.turnId) {
          this.conversation.apply(event);
          yield event;
          if (event.payload.case === "toolCallWaiting") await this.answer(event);
          if (event.payload.case === "turnCompleted" && !event.subagentId) {
            this.finish(event.payload.value);
            return;
          }
        }
        next = feed.next();
      }
    } catch (err) {
      if (signal?.aborted && this.turnId && this.options.cancelOnAbort !== false) {
        const turn = { sessionId: this.sessionId, turnId: this.turnId };
        await this.sessions.cancelTurn(turn, { timeoutMs: 5_000 }).catch(() => {});
      }
      throw err;
    } finally {
      controller.abort();
      await feed.return().catch(() => {});
    }
  }

  private finish(completed: TurnCompleted): void {
    this.turn = completed.turn;
    this.reason = completed.reason;
  }

  private async answer(event: SessionEvent): Promise<void> {
    const { onToolCall } = this.options;
    const pending = event.payload.case === "toolCallWaiting" ? event.payload.value.call : undefined;
    if (!onToolCall || !pending) return;
    const answer = await onToolCall(pending);
    if (!answer) return;
    await call(
      () =>
        this.sessions.answerToolCall(toAnswerRequest(this.sessionId, pending.toolUseId, answer)),
      this.options.signal,
    );
  }
}
