// Client traffic for the fault suite (test/faults.test.ts): real connect-node gRPC clients against
// a server process that the test kills or starves of its database. It keeps a record of every
// acknowledged write and every event a client saw, then checks what is stored against it.
//
// Workers each drive one session at a time (sometimes switching to a new one): WriteFile to a
// fresh path, SendMessage (the demo profile: a file write and a command per turn), wait for the
// turn to end (at most `turnWaitMs`, so a few turns may queue). Every session has one live
// subscriber (StreamEvents) from its creation on, resuming with after_sequence after any error.

import { createHash } from "node:crypto";
import { setMaxListeners } from "node:events";
import { equals } from "@bufbuild/protobuf";
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { type SessionEvent, SessionEventSchema } from "#gen/event_pb.js";
import { AgentProfileService } from "#gen/profile_service_pb.js";
import { SessionState, TurnOutcome } from "#gen/session_pb.js";
import { SessionService } from "#gen/session_service_pb.js";
import { WorkspaceService } from "#gen/workspace_service_pb.js";
import { Health } from "#grpc/health/v1/health_pb.js";

export interface FaultClients {
  profiles: Client<typeof AgentProfileService>;
  sessions: Client<typeof SessionService>;
  workspace: Client<typeof WorkspaceService>;
  health: Client<typeof Health>;
}

export function faultClients(baseUrl: string): FaultClients {
  const transport = createGrpcTransport({ baseUrl });
  return {
    profiles: createClient(AgentProfileService, transport),
    sessions: createClient(SessionService, transport),
    workspace: createClient(WorkspaceService, transport),
    health: createClient(Health, transport),
  };
}

/** mulberry32: a small seeded generator, so a printed seed replays the same choices. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The server the clients talk to: up (with clients) or down (callers wait for it). */
export class Target {
  private current: FaultClients | undefined;
  private waiters: (() => void)[] = [];
  url = "";

  setUp(url: string): void {
    this.url = url;
    this.current = faultClients(url);
    for (const w of this.waiters.splice(0)) w();
  }

  setDown(): void {
    this.current = undefined;
  }

  get isUp(): boolean {
    return this.current !== undefined;
  }

  clients(): FaultClients {
    if (!this.current) throw new ConnectError("the test took the server down", Code.Unavailable);
    return this.current;
  }

  whenUp(): Promise<void> {
    return this.current ? Promise.resolve() : new Promise((r) => this.waiters.push(r));
  }

  /** Lets every waiter go (the run is over). */
  release(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

export interface CallRecord {
  method: string;
  start: number;
  /** Unset while the call runs. */
  end?: number;
  /** "OK", the gRPC code's name, or "PENDING" while it runs. */
  outcome: string;
  message?: string;
}

export interface StreamErrorRecord {
  sessionId: string;
  time: number;
  code: string;
  message: string;
}

export class SessionTrack {
  readonly seen = new Map<number, SessionEvent>();
  last = 0;
  readonly started = new Set<string>();
  readonly completed = new Set<string>();
  /** Problems a live stream showed as they happened (a skipped or repeated sequence). */
  readonly liveProblems: string[] = [];
  private readonly turnWaiters = new Map<string, (() => void)[]>();
  subscriber: Promise<void> | undefined;

  constructor(
    readonly id: string,
    readonly key: string,
  ) {}

  receive(event: SessionEvent): void {
    const seq = Number(event.sequence);
    const before = this.seen.get(seq);
    if (before) {
      this.liveProblems.push(
        `${this.id}: sequence ${seq} delivered again${equals(SessionEventSchema, before, event) ? "" : " with different content"} (stream resumed after ${this.last})`,
      );
    } else if (seq <= this.last) {
      this.liveProblems.push(`${this.id}: sequence ${seq} arrived after ${this.last}`);
    } else if (seq > this.last + 1) {
      this.liveProblems.push(
        `${this.id}: stream skipped ${this.last + 1}..${seq - 1} (next was ${seq})`,
      );
    }
    if (!before) this.seen.set(seq, event);
    this.last = Math.max(this.last, seq);
    const p = event.payload;
    if (p.case === "turnStarted" && p.value.turn) this.started.add(p.value.turn.id);
    if (p.case === "turnCompleted" && p.value.turn) {
      this.completed.add(p.value.turn.id);
      for (const w of this.turnWaiters.get(p.value.turn.id) ?? []) w();
      this.turnWaiters.delete(p.value.turn.id);
    }
  }

  waitTurn(turnId: string, ms: number): Promise<void> {
    if (this.completed.has(turnId)) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      const list = this.turnWaiters.get(turnId) ?? [];
      list.push(() => {
        clearTimeout(timer);
        resolve();
      });
      this.turnWaiters.set(turnId, list);
    });
  }

  /** Turns this session started (as seen) that have not completed (as seen). */
  openTurns(): string[] {
    return [...this.started].filter((t) => !this.completed.has(t));
  }
}

export interface WorkloadOptions {
  target: Target;
  profileId: string;
  /** Concurrent workers, each with one session at a time. */
  workers: number;
  random: () => number;
  /** A client deadline for unary calls: longer than any bound the test checks. */
  callDeadlineMs: number;
  /** How long a worker waits for its turn before sending the next message. */
  turnWaitMs?: number;
  /** Chance per iteration that a worker moves to a new session. */
  newSessionChance?: number;
  /** A tag in request ids and metadata, unique per run. */
  tag: string;
}

export interface AckedWrite {
  sessionId: string;
  path: string;
  sha256: string;
  time: number;
}

export class Workload {
  readonly tracks = new Map<string, SessionTrack>();
  readonly ackedSessions: { key: string; id: string; time: number }[] = [];
  readonly ackedWrites: AckedWrite[] = [];
  /** `session/path` of every WriteFile tried. */
  readonly writtenPaths = new Set<string>();
  readonly ackedTurns: { sessionId: string; turnId: string; time: number }[] = [];
  readonly calls: CallRecord[] = [];
  readonly streamErrors: StreamErrorRecord[] = [];
  liveEvents = 0;
  private stopped = false;
  private subscribersStopped = false;
  private readonly abort = new AbortController();
  private workers: Promise<void>[] = [];
  private eventListeners = new Set<() => void>();
  private writeCounter = 0;

  constructor(private readonly o: WorkloadOptions) {
    // Every call and stream listens on this one signal.
    setMaxListeners(0, this.abort.signal);
  }

  get tag(): string {
    return this.o.tag;
  }

  start(): void {
    for (let i = 0; i < this.o.workers; i++) this.workers.push(this.worker(i));
  }

  /** Stops sending (running calls finish); subscribers keep reading until close(). */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.workers);
  }

  /** Ends the subscribers. */
  async close(): Promise<void> {
    this.stopped = true;
    this.subscribersStopped = true;
    this.abort.abort();
    this.o.target.release();
    await Promise.all([...this.tracks.values()].map((t) => t.subscriber));
  }

  /** Resolves after `n` more live events (any session), or after `timeoutMs`. */
  waitLiveEvents(n: number, timeoutMs: number): Promise<boolean> {
    const goal = this.liveEvents + n;
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.eventListeners.delete(check);
        resolve(ok);
      };
      const check = () => {
        if (this.liveEvents >= goal) done(true);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      this.eventListeners.add(check);
    });
  }

  /** Sessions with a turn started and not completed, as the subscribers saw them. */
  openTurnCount(): number {
    let n = 0;
    for (const t of this.tracks.values()) n += t.openTurns().length;
    return n;
  }

  /** One unary call, recorded with its outcome and duration (`end` unset while it runs). */
  async call<T>(method: string, fn: (c: FaultClients, signal: AbortSignal) => Promise<T>) {
    const record: CallRecord = { method, start: Date.now(), outcome: "PENDING" };
    this.calls.push(record);
    try {
      const clients = this.o.target.clients();
      const result = await fn(clients, this.abort.signal);
      record.outcome = "OK";
      return result;
    } catch (err) {
      const e = ConnectError.from(err);
      record.outcome = Code[e.code] ?? String(e.code);
      record.message = e.rawMessage;
      throw e;
    } finally {
      record.end = Date.now();
    }
  }

  private opts() {
    return { timeoutMs: this.o.callDeadlineMs, signal: this.abort.signal };
  }

  /** Creates a session with a request id, retrying with the same id until acknowledged. */
  async createSession(key: string): Promise<SessionTrack | undefined> {
    for (let attempt = 0; ; attempt++) {
      // Once stopped, a create that was never acknowledged is given up (it is not counted).
      if (this.subscribersStopped || (this.stopped && attempt > 0)) return undefined;
      try {
        const res = await this.call("CreateSession", (c) =>
          c.sessions.createSession(
            {
              agentProfileId: this.o.profileId,
              name: key,
              metadata: { fault_key: key },
              requestId: key,
            },
            this.opts(),
          ),
        );
        const id = res.session!.id;
        this.ackedSessions.push({ key, id, time: Date.now() });
        let track = this.tracks.get(id);
        if (!track) {
          track = new SessionTrack(id, key);
          this.tracks.set(id, track);
          track.subscriber = this.subscribe(track);
        }
        return track;
      } catch {
        await this.afterError();
      }
    }
  }

  /** WriteFile of random content to a fresh path; returns whether it was acknowledged. */
  async writeFile(track: SessionTrack, random: () => number, prefix: string): Promise<boolean> {
    const n = ++this.writeCounter;
    const path = `client/${prefix}-${n}.txt`;
    const size = 16 + Math.floor(random() * 2048);
    const content = new Uint8Array(size);
    for (let i = 0; i < size; i++) content[i] = 32 + Math.floor(random() * 95);
    const sha256 = createHash("sha256").update(content).digest("hex");
    this.writtenPaths.add(`${track.id}/${path}`);
    try {
      await this.call("WriteFile", (c) =>
        c.workspace.writeFile({ sessionId: track.id, path, content }, this.opts()),
      );
      this.ackedWrites.push({ sessionId: track.id, path, sha256, time: Date.now() });
      return true;
    } catch {
      return false;
    }
  }

  async sendMessage(track: SessionTrack, text: string): Promise<string | undefined> {
    try {
      const res = await this.call("SendMessage", (c) =>
        c.sessions.sendMessage({ sessionId: track.id, text }, this.opts()),
      );
      this.ackedTurns.push({ sessionId: track.id, turnId: res.turnId, time: Date.now() });
      return res.turnId;
    } catch {
      return undefined;
    }
  }

  private async afterError(): Promise<void> {
    await this.o.target.whenUp();
    await sleep(100 + Math.floor(this.o.random() * 200));
  }

  private async worker(index: number): Promise<void> {
    const random = seededRandom(Math.floor(this.o.random() * 2 ** 32));
    let sessionNo = 0;
    let track = await this.createSession(`${this.o.tag}-w${index}-s${sessionNo}`);
    let n = 0;
    while (!this.stopped && track) {
      n++;
      if (n > 1 && random() < (this.o.newSessionChance ?? 0.15)) {
        const next = await this.createSession(`${this.o.tag}-w${index}-s${++sessionNo}`);
        if (!next) break;
        track = next;
      }
      const wrote = await this.writeFile(track, random, `w${index}`);
      if (this.stopped) break;
      const turnId = await this.sendMessage(track, `fault message ${index}.${n}`);
      // Reads, so calls of every kind meet a fault.
      await this.call("GetSession", (c) =>
        c.sessions.getSession({ sessionId: track!.id }, this.opts()),
      ).catch(() => undefined);
      if (n % 3 === 0) {
        await this.call("ListFiles", (c) =>
          c.workspace.listFiles({ sessionId: track!.id }, this.opts()),
        ).catch(() => undefined);
      }
      if (turnId) await track.waitTurn(turnId, this.o.turnWaitMs ?? 2_500);
      if (!wrote || !turnId) await this.afterError();
    }
  }

  private async subscribe(track: SessionTrack): Promise<void> {
    while (!this.subscribersStopped) {
      try {
        const clients = this.o.target.clients();
        for await (const res of clients.sessions.streamEvents(
          { sessionId: track.id, afterSequence: BigInt(track.last) },
          { signal: this.abort.signal },
        )) {
          if (!res.event) continue;
          track.receive(res.event);
          this.liveEvents++;
          for (const l of this.eventListeners) l();
        }
      } catch (err) {
        if (this.subscribersStopped) break;
        const e = ConnectError.from(err);
        this.streamErrors.push({
          sessionId: track.id,
          time: Date.now(),
          code: Code[e.code] ?? String(e.code),
          message: e.rawMessage,
        });
      }
      if (this.subscribersStopped) break;
      await this.o.target.whenUp();
      await sleep(150);
    }
  }

  /**
   * Starts a call of some kind every `everyMs` (without waiting for the previous ones) until
   * `until()` says stop, then waits for them all: workers spend most of an outage waiting for
   * turns, and a call that hangs must not hide the ones after it.
   */
  async probe(until: () => boolean, everyMs = 300): Promise<void> {
    const random = seededRandom(Math.floor(this.o.random() * 2 ** 32));
    const track = [...this.tracks.values()][0];
    if (!track) return;
    const running: Promise<unknown>[] = [];
    for (let n = 0; !until(); n++) {
      const sessionId = track.id;
      // ReadFile reads a file whose WriteFile was acknowledged: it must be there (a file a
      // turn writes may not be yet). Without one yet, GetSession instead.
      const acked = this.ackedWrites.find((w) => w.sessionId === sessionId)?.path;
      const kind = n % 4 === 3 && !acked ? 2 : n % 4;
      running.push(
        kind === 0
          ? this.writeFile(track, random, "probe")
          : kind === 1
            ? this.call("ListSessions", (c) =>
                c.sessions.listSessions({ pageSize: 10 }, this.opts()),
              ).catch(() => undefined)
            : kind === 2
              ? this.call("GetSession", (c) =>
                  c.sessions.getSession({ sessionId }, this.opts()),
                ).catch(() => undefined)
              : this.call("ReadFile", (c) =>
                  c.workspace.readFile({ sessionId, path: acked ?? "" }, this.opts()),
                ).catch(() => undefined),
      );
      await sleep(everyMs);
    }
    await Promise.all(running);
  }

  /** Waits until every acknowledged turn and every started turn has completed (as seen live). */
  async settle(timeoutMs: number): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const open = this.unsettled();
      if (open.length === 0 || Date.now() > deadline) return open;
      await sleep(250);
    }
  }

  private unsettled(): string[] {
    const open: string[] = [];
    for (const t of this.ackedTurns) {
      if (!this.tracks.get(t.sessionId)?.completed.has(t.turnId))
        open.push(`${t.sessionId}/${t.turnId}`);
    }
    for (const track of this.tracks.values()) {
      for (const turn of track.openTurns()) {
        const name = `${track.id}/${turn}`;
        if (!open.includes(name)) open.push(name);
      }
    }
    return open;
  }
}

// --- reading back what is stored, and the invariants ---

export interface StoredState {
  /** Every event of each tracked session, replayed from sequence 0. */
  feeds: Map<string, SessionEvent[]>;
  /** Sessions as listed (all pages). */
  listed: { id: string; key: string; state: SessionState }[];
  /** Stored files of each tracked session: path -> sha256 of the content read back. */
  files: Map<string, Map<string, { sha256: string; listedSha256: string }>>;
  /** Reads that failed. */
  readErrors: string[];
}

/** Replays a session's feed from 0 until `idleMs` pass without an event after `atLeast`. */
async function replay(
  clients: FaultClients,
  sessionId: string,
  atLeast: number,
  idleMs = 500,
  hardMs = 30_000,
): Promise<SessionEvent[]> {
  const events: SessionEvent[] = [];
  const abort = new AbortController();
  const hard = setTimeout(() => abort.abort(), hardMs);
  let idle: NodeJS.Timeout | undefined;
  const armIdle = () => {
    clearTimeout(idle);
    const last = Number(events.at(-1)?.sequence ?? 0);
    if (last >= atLeast) idle = setTimeout(() => abort.abort(), idleMs);
  };
  armIdle();
  try {
    for await (const res of clients.sessions.streamEvents(
      { sessionId, afterSequence: 0n },
      { signal: abort.signal },
    )) {
      if (res.event) events.push(res.event);
      armIdle();
    }
  } catch (err) {
    if (!abort.signal.aborted) throw err;
  } finally {
    clearTimeout(hard);
    clearTimeout(idle);
  }
  return events;
}

/**
 * Waits until every tracked session is idle: a turn's record lets it go (step 5) after its
 * turn_completed, and after a store failure that write is tried again, so idle comes a little
 * later than the last event. Returns the sessions still not idle at the deadline.
 */
export async function waitIdle(
  clients: FaultClients,
  workload: Workload,
  timeoutMs: number,
): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let busy = [...workload.tracks.keys()];
  while (busy.length > 0 && Date.now() < deadline) {
    const states = await Promise.all(
      busy.map((sessionId) =>
        clients.sessions.getSession({ sessionId }, { timeoutMs: 5_000 }).then(
          (s) => s.session?.state,
          () => undefined,
        ),
      ),
    );
    busy = busy.filter((_, i) => states[i] !== SessionState.IDLE);
    if (busy.length > 0) await sleep(250);
  }
  return busy;
}

export async function readStored(clients: FaultClients, workload: Workload): Promise<StoredState> {
  const state: StoredState = { feeds: new Map(), listed: [], files: new Map(), readErrors: [] };
  // A server that cannot answer would make this read for minutes: stop after a few errors.
  const MAX_ERRORS = 3;
  let pageToken = "";
  try {
    do {
      const page = await clients.sessions.listSessions(
        { pageSize: 500, pageToken },
        { timeoutMs: 15_000 },
      );
      for (const s of page.sessions) {
        state.listed.push({ id: s.id, key: s.metadata.fault_key ?? "", state: s.state });
      }
      pageToken = page.nextPageToken;
    } while (pageToken);
  } catch (err) {
    state.readErrors.push(`ListSessions: ${ConnectError.from(err).message}`);
  }
  // FerretDB over SQLite answers slowly under a burst of reads (it filters in Go, with no index):
  // a read that gets UNAVAILABLE ("try again later") is tried again, as a client would, for up
  // to about 15 s.
  const retrying = async <T>(read: () => Promise<T>): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await read();
      } catch (err) {
        if (attempt >= 8 || ConnectError.from(err).code !== Code.Unavailable) throw err;
        await sleep(500 * attempt);
      }
    }
  };
  const readOne = async (track: SessionTrack) => {
    if (state.readErrors.length >= MAX_ERRORS) return;
    try {
      const { session } = await retrying(() =>
        clients.sessions.getSession({ sessionId: track.id }, { timeoutMs: 15_000 }),
      );
      const atLeast = Math.max(track.last, Number(session?.lastSequence ?? 0));
      state.feeds.set(track.id, await retrying(() => replay(clients, track.id, atLeast)));
    } catch (err) {
      state.readErrors.push(`feed of ${track.id}: ${ConnectError.from(err).message}`);
    }
    try {
      const files = new Map<string, { sha256: string; listedSha256: string }>();
      let token = "";
      do {
        const page = await retrying(() =>
          clients.workspace.listFiles(
            { sessionId: track.id, pageSize: 1000, pageToken: token },
            { timeoutMs: 15_000 },
          ),
        );
        for (const f of page.files) {
          const read = await retrying(() =>
            clients.workspace.readFile(
              { sessionId: track.id, path: f.path },
              { timeoutMs: 15_000 },
            ),
          );
          files.set(f.path, {
            sha256: createHash("sha256").update(read.content).digest("hex"),
            listedSha256: f.sha256,
          });
        }
        token = page.nextPageToken;
      } while (token);
      state.files.set(track.id, files);
    } catch (err) {
      state.readErrors.push(`files of ${track.id}: ${ConnectError.from(err).message}`);
    }
  };
  // A few sessions at a time: each replay ends after a quiet moment.
  const queue = [...workload.tracks.values()];
  await Promise.all(
    Array.from({ length: 2 }, async () => {
      for (let t = queue.shift(); t; t = queue.shift()) await readOne(t);
    }),
  );
  if (state.readErrors.length >= MAX_ERRORS)
    state.readErrors.push(`gave up reading after ${MAX_ERRORS} errors`);
  return state;
}

/** The invariants, by name; each holds when its list of violations is empty. */
export function checkInvariants(workload: Workload, stored: StoredState): Map<string, string[]> {
  const v = new Map<string, string[]>();
  const add = (name: string, problem?: string) => {
    const list = v.get(name) ?? [];
    if (problem !== undefined) list.push(problem);
    v.set(name, list);
  };
  const SESSIONS = "every acknowledged CreateSession is stored exactly once";
  const WRITES = "every acknowledged WriteFile is stored with its content";
  const TURNS =
    "every acknowledged SendMessage turn has exactly one turn_started and one turn_completed";
  const ONCE = "every turn in the feed started once and completed exactly once";
  const SEEN = "every event a client saw is in the feed with the same sequence and content";
  const LIVE = "live streams never skipped or repeated a sequence";
  const SEQ = "feed sequences are 1..N with no gap and no duplicate";
  const HASH = "every stored file's hash matches the feed's last file event for its path";
  const FEEDFILES = "every path whose last file event is a create or modify is stored";
  const IDLE = "every session is idle once its turns completed";
  const READ = "the stored state can be read back";
  for (const name of [SESSIONS, WRITES, TURNS, ONCE, SEEN, LIVE, SEQ, HASH, FEEDFILES, IDLE, READ])
    add(name);

  for (const e of stored.readErrors) add(READ, e);

  // Sessions.
  const byId = new Map<string, number>();
  const byKey = new Map<string, number>();
  for (const s of stored.listed) {
    byId.set(s.id, (byId.get(s.id) ?? 0) + 1);
    if (s.key) byKey.set(s.key, (byKey.get(s.key) ?? 0) + 1);
  }
  for (const s of workload.ackedSessions) {
    const n = byId.get(s.id) ?? 0;
    if (n !== 1) add(SESSIONS, `${s.id} (${s.key}) listed ${n} times`);
  }
  for (const [key, n] of byKey) {
    if (key.startsWith(`${workload.tag}-`) && n > 1)
      add(SESSIONS, `${n} sessions stored for request id ${key}`);
  }
  const ackedKeys = new Map<string, Set<string>>();
  for (const s of workload.ackedSessions) {
    const ids = ackedKeys.get(s.key) ?? new Set();
    ids.add(s.id);
    ackedKeys.set(s.key, ids);
  }
  for (const [key, ids] of ackedKeys) {
    if (ids.size > 1) add(SESSIONS, `request id ${key} acknowledged as ${[...ids].join(", ")}`);
  }

  // Files written by clients.
  for (const w of workload.ackedWrites) {
    const files = stored.files.get(w.sessionId);
    if (!files) continue; // a read error, reported above
    const f = files.get(w.path);
    if (!f) add(WRITES, `${w.sessionId} ${w.path}: missing`);
    else if (f.sha256 !== w.sha256)
      add(
        WRITES,
        `${w.sessionId} ${w.path}: content ${f.sha256.slice(0, 12)}, written ${w.sha256.slice(0, 12)}`,
      );
  }

  for (const track of workload.tracks.values()) {
    const feed = stored.feeds.get(track.id);
    if (!feed) continue;
    const id = track.id;

    // Sequences.
    const counts = new Map<number, number>();
    for (const e of feed) counts.set(Number(e.sequence), (counts.get(Number(e.sequence)) ?? 0) + 1);
    const max = Math.max(0, ...counts.keys());
    const gaps: number[] = [];
    for (let s = 1; s <= max; s++) if (!counts.has(s)) gaps.push(s);
    if (gaps.length) add(SEQ, `${id}: missing ${ranges(gaps)} of 1..${max}`);
    const dups = [...counts].filter(([, n]) => n > 1).map(([s]) => s);
    if (dups.length) add(SEQ, `${id}: duplicated ${ranges(dups)}`);
    for (let i = 1; i < feed.length; i++) {
      if (feed[i]!.sequence < feed[i - 1]!.sequence) {
        add(SEQ, `${id}: ${feed[i]!.sequence} after ${feed[i - 1]!.sequence}`);
        break;
      }
    }

    // What clients saw.
    const stored1 = new Map<number, SessionEvent>();
    for (const e of feed) if (!stored1.has(Number(e.sequence))) stored1.set(Number(e.sequence), e);
    for (const [seq, seen] of track.seen) {
      const now = stored1.get(seq);
      if (!now) add(SEEN, `${id}: seen ${seq} (${seen.payload.case}) is not in the feed`);
      else if (!equals(SessionEventSchema, seen, now))
        add(SEEN, `${id}: ${seq} was ${describe(seen)}, now ${describe(now)}`);
    }
    for (const p of track.liveProblems) add(LIVE, p);

    // Turns.
    // Each turn's turn_started and turn_completed events, by sequence (and outcome).
    const started = new Map<string, string[]>();
    const completed = new Map<string, string[]>();
    for (const e of feed) {
      const p = e.payload;
      if (p.case === "turnStarted" && p.value.turn)
        started.set(p.value.turn.id, [...(started.get(p.value.turn.id) ?? []), `${e.sequence}`]);
      if (p.case === "turnCompleted" && p.value.turn)
        completed.set(p.value.turn.id, [
          ...(completed.get(p.value.turn.id) ?? []),
          `${e.sequence} ${TurnOutcome[p.value.turn.outcome]}${p.value.reason ? ` "${p.value.reason.slice(0, 60)}"` : ""}`,
        ]);
    }
    const turnStory = (turn: string) => {
      const s = started.get(turn) ?? [];
      const c = completed.get(turn) ?? [];
      const list = (l: string[]) => (l.length ? ` (at ${l.join(", ")})` : "");
      return {
        ok: s.length === 1 && c.length === 1,
        text: `${id}/${turn}: ${s.length} turn_started${list(s)}, ${c.length} turn_completed${list(c)}; feed ends at ${feed.at(-1)?.sequence ?? 0}`,
      };
    };
    for (const t of workload.ackedTurns.filter((t) => t.sessionId === id)) {
      const story = turnStory(t.turnId);
      if (!story.ok) add(TURNS, story.text);
    }
    for (const turn of new Set([...started.keys(), ...completed.keys()])) {
      const story = turnStory(turn);
      if (!story.ok) add(ONCE, story.text);
    }

    // Files against the feed.
    const lastFileEvent = new Map<string, SessionEvent>();
    for (const e of feed) {
      const p = e.payload;
      if (p.case === "fileCreated" || p.case === "fileModified") {
        if (p.value.file) lastFileEvent.set(p.value.file.path, e);
      } else if (p.case === "fileDeleted") {
        lastFileEvent.set(p.value.path, e);
      }
    }
    const files = stored.files.get(id);
    if (files) {
      for (const [path, f] of files) {
        if (f.sha256 !== f.listedSha256)
          add(
            HASH,
            `${id} ${path}: ListFiles says ${f.listedSha256.slice(0, 12)}, content is ${f.sha256.slice(0, 12)}`,
          );
        const e = lastFileEvent.get(path);
        const p = e?.payload;
        if (!e || !p) {
          const client = workload.writtenPaths.has(`${id}/${path}`);
          const acked = workload.ackedWrites.some((w) => w.sessionId === id && w.path === path);
          const how = client
            ? `its WriteFile was ${acked ? "acknowledged" : "not acknowledged"}`
            : "written by the agent";
          add(HASH, `${id} ${path}: stored, but no file event in the feed (${how})`);
        } else if (p.case === "fileDeleted")
          add(HASH, `${id} ${path}: stored, but the feed's last event (${e.sequence}) deletes it`);
        else if (
          (p.case === "fileCreated" || p.case === "fileModified") &&
          p.value.file?.sha256 !== f.sha256
        )
          add(
            HASH,
            `${id} ${path}: stored ${f.sha256.slice(0, 12)}, feed's last event (${e.sequence}) says ${p.value.file?.sha256.slice(0, 12)}`,
          );
      }
      for (const [path, e] of lastFileEvent) {
        if (e.payload.case !== "fileDeleted" && !files.has(path))
          add(FEEDFILES, `${id} ${path}: event ${e.sequence} (${e.payload.case}) but not stored`);
      }
    }

    const listed = stored.listed.find((s) => s.id === id);
    if (listed && listed.state !== SessionState.IDLE)
      add(IDLE, `${id}: ${SessionState[listed.state]}`);
  }
  return v;
}

function describe(e: SessionEvent): string {
  const p = e.payload;
  const turn = p.case === "turnStarted" || p.case === "turnCompleted" ? ` ${p.value.turn?.id}` : "";
  return `${p.case}${turn}`;
}

/** [1,2,3,7] -> "1-3, 7" (at most 10 ranges). */
export function ranges(ns: number[]): string {
  const sorted = [...ns].sort((a, b) => a - b);
  const out: string[] = [];
  let i = 0;
  while (i < sorted.length) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    out.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return out.length > 10
    ? `${out.slice(0, 10).join(", ")}, ... (${sorted.length} in all)`
    : out.join(", ");
}

/** Prints a part's result: counts, then each invariant with up to `examples` violations. */
export function report(
  title: string,
  lines: string[],
  violations: Map<string, string[]>,
  examples = 6,
) {
  const out = [`--- ${title}`, ...lines.map((l) => `  ${l}`)];
  for (const [name, list] of violations) {
    out.push(
      `  ${list.length === 0 ? "ok  " : "FAIL"} ${name}${list.length ? ` (${list.length})` : ""}`,
    );
    for (const p of list.slice(0, examples)) out.push(`         ${p}`);
  }
  console.log(out.join("\n"));
}
