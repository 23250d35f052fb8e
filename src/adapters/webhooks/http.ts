// Webhook attempts over HTTP: a POST with fetch, no redirects followed, and only the start of
// the answer read (for the delivery's last_error).

/** Characters of an endpoint's answer kept. */
const ANSWER_CHARS = 200;

export async function postWebhook(
  url: string,
  headers: Record<string, string>,
  body: string,
  signal: AbortSignal,
): Promise<{ status: number; text?: string }> {
  const res = await fetch(url, { method: "POST", headers, body, signal, redirect: "manual" });
  let text = "";
  const reader = res.body?.getReader();
  if (reader) {
    try {
      const first = await reader.read();
      if (first.value) text = new TextDecoder().decode(first.value).slice(0, ANSWER_CHARS);
    } catch {
      // The answer's status is what counts.
    } finally {
      reader.cancel().catch(() => {});
    }
  }
  return { status: res.status, ...(text ? { text } : {}) };
}
