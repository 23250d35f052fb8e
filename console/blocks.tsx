// The conversation: user and assistant text (Markdown), thinking, tool calls that open to show
// their input and output, subagents with their own blocks, to-do lists, system notes and errors.

import { Fragment } from "react";
import { type Block, type SessionView, type ToolCall, TurnOutcome } from "./deps.js";
import {
  inputSummary,
  prettyJson,
  subagentStatusName,
  todoStatusName,
  tokens,
  toolStatusName,
  usd,
} from "./format.js";
import { Markdown } from "./markdown.js";

export function Conversation({ view }: { view: SessionView }) {
  const main = view.blocks.filter((b) => !b.subagentId);
  if (view.blocks.length === 0) return <p className="muted">No messages yet. Send one below.</p>;
  return (
    <div className="conversation" data-testid="conversation">
      {main.map((b, i) => (
        <Fragment key={b.id}>
          <BlockView block={b} view={view} />
          {main[i + 1]?.turnId !== b.turnId && <TurnEnd view={view} turnId={b.turnId} />}
        </Fragment>
      ))}
    </div>
  );
}

/** Where a turn ended: how (completed, cancelled, ...), with its usage. */
function TurnEnd({ view, turnId }: { view: SessionView; turnId: string }) {
  const turn = view.conversation.turns.get(turnId);
  if (!turn?.outcome) return null;
  const outcome = TurnOutcome[turn.outcome] ?? "UNSPECIFIED";
  return (
    <div
      className={`turn-end ${outcome.toLowerCase()}`}
      data-testid="turn-end"
      data-turn-id={turn.id}
      data-outcome={outcome}
    >
      Turn {outcome.toLowerCase().replaceAll("_", " ")} · {tokens(turn.usage)} ·{" "}
      {usd(turn.usage?.costUsd ?? 0)}
    </div>
  );
}

function BlockView({ block, view }: { block: Block; view: SessionView }) {
  const c = block.content;
  const streaming = !view.conversation.isComplete(block.id);
  switch (c.case) {
    case "userMessage":
      return (
        <div className="block user" data-testid="user-message">
          <div className="who">You</div>
          <Markdown text={c.value.text} />
        </div>
      );
    case "assistantText":
      return (
        <div
          className={`block assistant${streaming ? " streaming" : ""}`}
          data-testid="assistant-text"
        >
          <Markdown text={c.value.text} />
        </div>
      );
    case "thinking":
      return (
        <details className="block thinking" data-testid="thinking">
          <summary>Thinking{streaming ? "…" : ""}</summary>
          <pre>{c.value.thinking}</pre>
        </details>
      );
    case "toolUse": {
      const call = view.toolCalls.get(c.value.toolUseId);
      return call ? <ToolCallView call={call} /> : null;
    }
    case "toolResult":
      // Shown with its call; a result without a call (none is expected) shows on its own.
      return view.toolCalls.has(c.value.toolUseId) ? null : (
        <pre className="block tool-output">{c.value.output}</pre>
      );
    case "subagent": {
      const s = c.value;
      const inner = view.blocks.filter((b) => b.subagentId === s.subagentId);
      return (
        <details className="block subagent" data-testid="subagent" open>
          <summary>
            Subagent <strong>{s.name}</strong>{" "}
            <span className="badge">{subagentStatusName(s.status)}</span>
          </summary>
          <div className="muted">{s.prompt}</div>
          {inner.map((b) => (
            <BlockView key={b.id} block={b} view={view} />
          ))}
          {s.result && <Markdown text={s.result} />}
        </details>
      );
    }
    case "todoList":
      return <TodoList items={c.value.items} />;
    case "system":
      return <div className="block system">{c.value.text}</div>;
    case "error":
      return (
        <div className="block error" role="alert">
          <strong>{c.value.reason}</strong>: {c.value.message}
        </div>
      );
    case "compaction":
      return (
        <details className="block system">
          <summary>Context compacted ({c.value.messagesCompacted} messages)</summary>
          <Markdown text={c.value.summary} />
        </details>
      );
    default:
      return null;
  }
}

export function ToolCallView({ call }: { call: ToolCall }) {
  const status = toolStatusName(call.status);
  return (
    <details className={`block tool ${status}`} data-testid="tool-call" data-tool={call.name}>
      <summary>
        <span className="tool-name">{call.name}</span>{" "}
        <code className="tool-summary">{inputSummary(call.input)}</code>{" "}
        <span className={`badge ${status}`}>{status}</span>
      </summary>
      <div className="tool-body">
        <div className="label">Input</div>
        <pre data-testid="tool-input">{prettyJson(call.inputJson)}</pre>
        <div className="label">Output</div>
        <pre data-testid="tool-output" className={call.result?.isError ? "error" : ""}>
          {call.result ? call.result.output : "(no output yet)"}
        </pre>
      </div>
    </details>
  );
}

export function TodoList({
  items,
}: {
  items: { content: string; status: number; activeForm: string }[];
}) {
  if (items.length === 0) return null;
  return (
    <ul className="todos" data-testid="todos">
      {items.map((item, i) => (
        <li key={`${i}:${item.content}`} className={todoStatusName(item.status).replace(" ", "-")}>
          <span className="todo-mark">
            {item.status === 3 ? "☑" : item.status === 2 ? "▶" : "☐"}
          </span>{" "}
          {item.status === 2 && item.activeForm ? item.activeForm : item.content}
        </li>
      ))}
    </ul>
  );
}
