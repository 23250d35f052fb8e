// What the package offers adapter authors: the persistence behaviour suite, to run against a
// PersistenceAdapter of their own from a vitest test file (`import ... from "agent-runtime/testing"`).
// It needs vitest (a peer: the suite calls describe/it/expect of the vitest the caller runs).

export { type PersistenceSuiteTarget, persistenceSuite } from "./persistence-suite.js";
