/** Runs until SIGINT/SIGTERM, then stops everything once; a second Ctrl-C exits at once. */
export function stopOnSignal(
  stop: () => Promise<void>,
  say: (line: string) => void = (l) => console.error(l),
): Promise<void> {
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        say(`${signal} again: exiting now`);
        process.exit(130);
      }
      stopping = true;
      say(`${signal}: stopping…`);
      stop()
        .catch((err: unknown) => say(`error while stopping: ${String(err)}`))
        .finally(() => {
          process.off("SIGINT", onSignal);
          process.off("SIGTERM", onSignal);
          resolve();
        });
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
}
