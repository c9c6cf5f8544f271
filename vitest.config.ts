import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["packages/*/src/**/*.test.ts", "packages/*/test/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 60_000, // ms: integration tests run real ffmpeg
    hookTimeout: 60_000, // ms
    pool: "forks",
    // One test file at a time: most files start several services, ffmpeg or chromium, and their
    // timing assertions (stalls, live-edge gaps) must not depend on what another file runs on
    // the same 2 cores.
    fileParallelism: false,
    globalSetup: ["test/support/global-setup.ts"],

    reporters: ["default"],
  },
});
