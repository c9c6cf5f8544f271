import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type NodeConfig, NodeConfigSchema, SrpError } from "@streamrp2p/protocol";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { parseFlags } from "./args.ts";

/** Every config key, as `--kebab-case` flag and `SRP_UPPER_SNAKE` env var. */
const KEYS = Object.keys(NodeConfigSchema.shape) as Array<keyof NodeConfig>;
const BOOLEAN_KEYS = new Set<string>(["ingest"]);
const LIST_KEYS = new Set<string>(["support", "coordinator"]);

export const kebab = (key: string): string => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
export const envName = (key: string): string => `SRP_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;

export interface NodeConfigSources {
  argv: string[];
  env: NodeJS.ProcessEnv;
}

export interface LoadedNodeConfig {
  config: NodeConfig;
  /** The config file read, if any. */
  file: string | undefined;
  /** `--write-config PATH`: write the merged config there instead of running. */
  writeTo: string | undefined;
  /** `--print-config`: print the merged config instead of running. */
  print: boolean;
}

function readConfigFile(file: string): Record<string, unknown> {
  if (!existsSync(file)) throw new SrpError("BAD_REQUEST", `config file ${file} does not exist`);
  const text = readFileSync(file, "utf8");
  let value: unknown;
  try {
    value = file.endsWith(".json") ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new SrpError(
      "VALIDATION_FAILED",
      `config file ${file} is not valid ${file.endsWith(".json") ? "JSON" : "YAML"}: ${(err as Error).message}`,
    );
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== "object" || Array.isArray(value))
    throw new SrpError("VALIDATION_FAILED", `config file ${file} must hold a mapping of options`);
  return value as Record<string, unknown>;
}

/**
 * The relay's configuration: defaults < file < SRP_* env < flags, validated
 * once by NodeConfigSchema; every problem is named with where it came from.
 */
export function loadNodeConfig({ argv, env }: NodeConfigSources): LoadedNodeConfig {
  const spec: Record<string, { type: "string" | "boolean"; multiple?: boolean }> = {
    config: { type: "string" },
    "write-config": { type: "string" },
    "print-config": { type: "boolean" },
    // Older spelling of --support, kept so scripts do not break.
    stream: { type: "string", multiple: true },
  };
  for (const key of KEYS) {
    spec[kebab(key)] = BOOLEAN_KEYS.has(key)
      ? { type: "boolean" }
      : { type: "string", multiple: LIST_KEYS.has(key) };
  }
  const flags = parseFlags(argv, spec);

  const file = (flags.config as string | undefined) ?? env.SRP_CONFIG;
  const fromFile = file ? readConfigFile(file) : {};
  const fromEnv: Record<string, unknown> = {};
  const fromFlags: Record<string, unknown> = {};
  for (const key of KEYS) {
    const e = env[envName(key)];
    if (e !== undefined && e !== "")
      fromEnv[key] = LIST_KEYS.has(key)
        ? e
            .split(",")
            .map((s) => s.trim())
            .filter(Boolean)
        : e;
    const f = flags[kebab(key)];
    if (f !== undefined)
      fromFlags[key] = LIST_KEYS.has(key) ? (f as string[]).flatMap((s) => s.split(",")) : f;
  }
  if (flags.stream)
    fromFlags.support = [...((fromFlags.support as string[]) ?? []), ...(flags.stream as string[])];

  const merged = { ...fromFile, ...fromEnv, ...fromFlags };
  const parsed = NodeConfigSchema.safeParse(merged);
  if (!parsed.success) {
    const origin = (key: string) =>
      key in fromFlags ? `--${kebab(key)}` : key in fromEnv ? envName(key) : (file ?? "defaults");
    const problems = parsed.error.issues.map((i) => {
      const key = String(i.path[0] ?? (i.code === "unrecognized_keys" ? i.keys.join(", ") : "?"));
      return `${key} (from ${origin(key)}): ${i.message}`;
    });
    throw new SrpError("VALIDATION_FAILED", `invalid node config:\n  ${problems.join("\n  ")}`);
  }
  return {
    config: parsed.data,
    file,
    writeTo: flags["write-config"] as string | undefined,
    print: flags["print-config"] === true,
  };
}

export function keyFileOf(config: NodeConfig): string {
  return config.keyFile ?? join(config.dataDir, "node.key");
}

/** The config as a commented YAML file, the form operators edit. */
export function renderNodeConfig(config: NodeConfig): string {
  return `# streamrp2p relay configuration. Every key can also be set as SRP_<KEY> or --<key>.
# Validated at start; unknown keys are an error.
${stringifyYaml(config)}`;
}

export function writeNodeConfig(file: string, config: NodeConfig): void {
  writeFileSync(file, renderNodeConfig(config));
}
