/** Structured JSON-lines logger, namespaced, with secrets redacted by field name. */
export type LogLevel = "debug" | "info" | "warn" | "error";
const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Field names whose values are never written, at any depth. */
const SECRET_FIELD = /(private|secret|password|token|streamkey|^key$|mnemonic)/i;

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(namespace: string): Logger;
}

export interface LoggerOptions {
  level?: LogLevel;
  /** Where lines go; default process.stderr so stdout stays for command output. */
  write?: (line: string) => void;
}

function redact(value: unknown, depth = 0): unknown {
  if (value instanceof Error) {
    const err = value as Error & { code?: unknown; cause?: unknown };
    return {
      name: err.name,
      code: err.code,
      message: err.message,
      cause: depth < 3 ? redact(err.cause, depth + 1) : undefined,
    };
  }
  if (typeof value === "bigint") return value.toString();
  if (value === null || typeof value !== "object" || depth > 4) return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET_FIELD.test(k) ? "[redacted]" : redact(v, depth + 1);
  }
  return out;
}

export function createLogger(namespace: string, options: LoggerOptions = {}): Logger {
  const minRank =
    LEVEL_RANK[options.level ?? (process.env.SRP_LOG_LEVEL as LogLevel | undefined) ?? "info"] ?? 20;
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const log = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (LEVEL_RANK[level] < minRank) return;
    const record = {
      t: new Date().toISOString(),
      level,
      ns: namespace,
      msg,
      ...(redact(fields ?? {}) as object),
    };
    write(`${JSON.stringify(record)}\n`);
  };
  return {
    debug: (m, f) => log("debug", m, f),
    info: (m, f) => log("info", m, f),
    warn: (m, f) => log("warn", m, f),
    error: (m, f) => log("error", m, f),
    child: (ns) => createLogger(`${namespace}.${ns}`, options),
  };
}

/** A logger that drops everything: for tests that assert on behaviour, not logs. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child: () => silentLogger,
};
