// The workspace's files: a list, a preview of the one picked (text, or an image) and a download.

import { useEffect, useState } from "react";
import { type FileInfo, type SessionView, useClient } from "./deps.js";
import { size } from "./format.js";

const IMAGE_TYPES: Record<string, string> = {
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
};
const PREVIEW_LIMIT = 200_000;

function mediaType(path: string): string | undefined {
  return IMAGE_TYPES[path.split(".").pop()?.toLowerCase() ?? ""];
}

export function Files({ sessionId, view }: { sessionId: string; view: SessionView }) {
  const [open, setOpen] = useState<string | undefined>(undefined);
  // The profile's skills and instructions (.claude/) are shown on request.
  const [all, setAll] = useState(false);
  const hidden = view.files.filter((f) => f.path.startsWith(".claude/")).length;
  const visible = all ? view.files : view.files.filter((f) => !f.path.startsWith(".claude/"));
  return (
    <section className="panel files" data-testid="files">
      <h2>Workspace</h2>
      {visible.length === 0 && <p className="muted">No files yet.</p>}
      {hidden > 0 && (
        <label className="check">
          <input type="checkbox" checked={all} onChange={(e) => setAll(e.target.checked)} /> Show
          {hidden === 1 ? " the file" : ` the ${hidden} files`} under .claude/
        </label>
      )}
      <ul className="file-list">
        {visible.map((f) => (
          <li key={f.path}>
            <button
              type="button"
              className={`link${open === f.path ? " selected" : ""}`}
              onClick={() => setOpen(open === f.path ? undefined : f.path)}
            >
              {f.path}
            </button>{" "}
            <span className="muted">{size(f.size)}</span>
          </li>
        ))}
      </ul>
      {open && (
        <Preview sessionId={sessionId} file={view.files.find((f) => f.path === open)} path={open} />
      )}
    </section>
  );
}

function Preview(props: { sessionId: string; path: string; file: FileInfo | undefined }) {
  const client = useClient();
  const [content, setContent] = useState<Uint8Array | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [url, setUrl] = useState<string | undefined>(undefined);
  const sha = props.file?.sha256 ?? "";
  // Read again when the content changes (its sha256).
  useEffect(() => {
    const controller = new AbortController();
    setError(undefined);
    client
      .readFile(props.sessionId, props.path, { signal: controller.signal })
      .then(setContent)
      .catch((err: { reason?: string; message?: string }) => {
        if (!controller.signal.aborted) setError(`${err.reason ?? ""} ${err.message ?? ""}`);
      });
    return () => controller.abort();
  }, [client, props.sessionId, props.path, sha]);
  useEffect(() => {
    if (!content) return;
    const blob = new Blob([content as Uint8Array<ArrayBuffer>], {
      type: mediaType(props.path) ?? "application/octet-stream",
    });
    const u = URL.createObjectURL(blob);
    setUrl(u);
    return () => URL.revokeObjectURL(u);
  }, [content, props.path]);

  const name = props.path.split("/").pop() ?? "file";
  const image = mediaType(props.path);
  // A NUL byte near the start: not text.
  const binary = !image && content !== undefined && content.subarray(0, 8192).includes(0);
  return (
    <div className="preview" data-testid="file-preview">
      <div className="preview-head">
        <strong>{props.path}</strong>
        {url && (
          <a className="button" href={url} download={name}>
            Download
          </a>
        )}
      </div>
      {error && <p role="alert">{error}</p>}
      {content && image && url && <img src={url} alt={props.path} />}
      {binary && <p className="muted">A binary file ({size(content!.byteLength)}): download it.</p>}
      {content && !image && !binary && (
        <pre>
          {new TextDecoder().decode(content.subarray(0, PREVIEW_LIMIT))}
          {content.byteLength > PREVIEW_LIMIT ? "\n…" : ""}
        </pre>
      )}
    </div>
  );
}
