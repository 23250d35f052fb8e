// One behaviour suite for every PersistenceAdapter, so the adapters cannot drift apart.
// test/persistence.test.ts runs it against each implementation; the package exports it as
// "agent-runtime/testing" for adapters written elsewhere. The parts live in *-suite.ts.

import { afterEach, beforeEach, describe } from "vitest";
import type { PersistenceAdapter } from "../ports/persistence.js";
import { contentSuite } from "./content-suite.js";
import { coordinationSuite } from "./coordination-suite.js";
import { decisionLogSuite } from "./decisions-suite.js";
import { eventSuite } from "./events-suite.js";
import { listingSuite } from "./listing-suite.js";
import { profileSuite } from "./profiles-suite.js";
import { sessionRecordSuite } from "./sessions-suite.js";

export interface PersistenceSuiteTarget {
  /** A fresh, empty adapter; called before every test. */
  create(): Promise<PersistenceAdapter>;
  /** Called after every test with the adapter create() gave (default: close()). */
  cleanup?(adapter: PersistenceAdapter): Promise<void>;
}

export function persistenceSuite(name: string, target: PersistenceSuiteTarget): void {
  describe(`PersistenceAdapter: ${name}`, () => {
    let store: PersistenceAdapter;

    beforeEach(async () => {
      store = await target.create();
    });

    afterEach(async () => {
      if (target.cleanup) await target.cleanup(store);
      else await store.close?.();
    });

    const current = () => store;
    sessionRecordSuite(current);
    listingSuite(current);
    decisionLogSuite(current);
    contentSuite(current);
    profileSuite(current);
    eventSuite(current);
    coordinationSuite(current);
  });
}
