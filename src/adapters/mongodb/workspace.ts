import type { Document } from "mongodb";
import type { FileInfo } from "../../domain/types.js";
import type { StoredFile, WorkspaceUsage } from "../../ports/persistence.js";
import { bytes, toBson } from "./bson.js";
import type { Collections, Run } from "./collections.js";
import { type FileDoc, fileInfoFromDoc } from "./documents.js";
import { retryOnDuplicate } from "./writes.js";

/** A session's workspace files: MongoPersistence's methods for them. */
export class MongoWorkspace {
  constructor(
    private readonly collections: Collections,
    private readonly run: Run,
  ) {}

  async saveWorkspaceFile(sessionId: string, file: StoredFile): Promise<void> {
    const { path, size, sha256, modifyTime } = file.info;
    const doc = toBson<FileDoc>({
      sessionId,
      path,
      size,
      sha256,
      modifyTime,
      content: file.content,
    });
    await this.run("saveWorkspaceFile", () =>
      retryOnDuplicate(() =>
        this.collections.files.replaceOne({ sessionId, path }, doc, { upsert: true }),
      ),
    );
  }

  async deleteSessionFile(sessionId: string, path: string): Promise<void> {
    await this.run("deleteSessionFile", () =>
      this.collections.files.deleteOne({ sessionId, path }),
    );
  }

  async listWorkspaceFiles(sessionId: string): Promise<FileInfo[]> {
    const docs = await this.run("listWorkspaceFiles", () =>
      this.collections.files.find({ sessionId }, { projection: { _id: 0, content: 0 } }).toArray(),
    );
    // Sorted here rather than by the server so the order is JavaScript's string order, the
    // same as every other adapter's (servers may compare by UTF-8 bytes).
    return docs
      .map(fileInfoFromDoc)
      .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  async readWorkspaceFile(sessionId: string, path: string): Promise<StoredFile | null> {
    const doc = await this.run("readWorkspaceFile", () =>
      this.collections.files.findOne({ sessionId, path }),
    );
    return doc ? { info: fileInfoFromDoc(doc), content: bytes(doc.content) } : null;
  }

  /**
   * Two indexed aggregations with one accumulator each: FerretDB v1 fills only the first
   * accumulator of a $group (the others come back 0).
   */
  async workspaceUsage(sessionId: string): Promise<WorkspaceUsage> {
    const total = (accumulator: Document) =>
      this.collections.files
        .aggregate<{ n: number }>([
          { $match: { sessionId } },
          { $group: { _id: null, n: accumulator } },
        ])
        .toArray()
        .then(([row]) => row?.n ?? 0);
    const [files, bytes] = await this.run("workspaceUsage", () =>
      Promise.all([total({ $sum: 1 }), total({ $sum: "$size" })]),
    );
    return { files, bytes };
  }
}
