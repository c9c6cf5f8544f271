export * from "./generated.ts";
