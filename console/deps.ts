// What the console uses of the TypeScript client (sdk/ts) and the React hooks (sdk/react).

export * from "../sdk/react/index.js";
export * from "../sdk/ts/src/index.js";
