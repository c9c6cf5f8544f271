import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["packages/*/src/**/*.test.ts", "packages/*/test/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 60_000, // ms: integration tests run real ffmpeg
    hookTimeout: 60_000, // ms
    pool: "forks",
    globalSetup: ["test/support/global-setup.ts"],

    reporters: ["default"],
  },
});
