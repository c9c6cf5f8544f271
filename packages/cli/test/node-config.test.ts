import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadNodeConfig, renderNodeConfig } from "@streamrp2p/cli";
import { describe, expect, it } from "vitest";
import { tempDir } from "../../../test/support/tools.ts";

const C = "http://127.0.0.1:7700";

function file(name: string, text: string): string {
  const f = join(tempDir("node-config"), name);
  writeFileSync(f, text);
  return f;
}

describe("relay configuration: file < SRP_* env < flags, one schema", () => {
  it("runs with no config at all, on documented defaults (the local network's coordinator)", () => {
    const { config } = loadNodeConfig({ argv: [], env: {} });
    expect(config).toMatchObject({
      coordinator: [C],
      port: 8080,
      ingest: false,
      support: [],
      dataDir: ".data/relay",
    });
  });

  it("layers file, env and flags, flags winning", () => {
    const f = file(
      "relay.yaml",
      `coordinator: ${C}\nport: 9000\nregion: eu\nsupport: [alice]\ncapacityMbps: 50\ningest: true\n`,
    );
    const { config } = loadNodeConfig({
      argv: ["--config", f, "--port", "9100"],
      env: {
        SRP_REGION: "us",
        SRP_SUPPORT: "bob, 0xAbCdEf0000000000000000000000000000000001",
        SRP_PORT: "9050",
      },
    });
    expect(config.port).toBe(9100); // flag over env over file
    expect(config.region).toBe("us"); // env over file
    expect(config.capacityMbps).toBe(50); // file
    expect(config.ingest).toBe(true);
    expect(config.support).toEqual(["bob", "0xabcdef0000000000000000000000000000000001"]);
  });

  it("reads JSON files and SRP_CONFIG, and takes 'false' from env as false", () => {
    const f = file("relay.json", JSON.stringify({ coordinator: C, ingest: true }));
    const { config, file: used } = loadNodeConfig({ argv: [], env: { SRP_CONFIG: f, SRP_INGEST: "false" } });
    expect(used).toBe(f);
    expect(config.ingest).toBe(false);
  });

  it("round-trips through the YAML it writes", () => {
    const { config } = loadNodeConfig({
      argv: ["--coordinator", C, "--support", "a,b", "--ingest"],
      env: {},
    });
    const f = file("out.yaml", renderNodeConfig(config));
    expect(loadNodeConfig({ argv: ["--config", f], env: {} }).config).toEqual(config);
  });

  it("names each bad value and where it came from", () => {
    const f = file("bad.yaml", `coordinator: ${C}\nport: 70000\ncolour: blue\n`);
    const err = (() => {
      try {
        loadNodeConfig({ argv: ["--config", f, "--capacity-mbps=-5"], env: { SRP_LOG_LEVEL: "loud" } });
      } catch (e) {
        return e as Error & { code: string };
      }
      throw new Error("accepted a bad config");
    })();
    expect(err.code).toBe("VALIDATION_FAILED");
    expect(err.message).toMatch(/port \(from .*bad\.yaml\)/);
    expect(err.message).toMatch(/capacityMbps \(from --capacity-mbps\)/);
    expect(err.message).toMatch(/logLevel \(from SRP_LOG_LEVEL\)/);
    expect(err.message).toMatch(/colour/);
  });

  it("takes coordinator replicas as a list: commas in a flag or env, a list in the file, repeated flags", () => {
    const D = "https://c2.example.org";
    const E = "https://c3.example.org";
    const fromFlag = loadNodeConfig({ argv: ["--coordinator", `${C}/, ${D}`], env: {} }).config;
    expect(fromFlag.coordinator).toEqual([C, D]);
    const repeated = loadNodeConfig({ argv: ["--coordinator", C, "--coordinator", `${D},${C}`], env: {} });
    expect(repeated.config.coordinator).toEqual([C, D]); // duplicates dropped, first place kept
    expect(loadNodeConfig({ argv: [], env: { SRP_COORDINATOR: `${D},${E}` } }).config.coordinator).toEqual([
      D,
      E,
    ]);
    const yaml = file("list.yaml", `coordinator:\n  - ${E}\n  - ${D}\n`);
    expect(loadNodeConfig({ argv: ["--config", yaml], env: {} }).config.coordinator).toEqual([E, D]);
    const single = file("single.yaml", `coordinator: ${D}\n`); // configs written before lists still load
    const { config } = loadNodeConfig({ argv: ["--config", single], env: {} });
    expect(config.coordinator).toEqual([D]);
    const again = file("again.yaml", renderNodeConfig(fromFlag));
    expect(loadNodeConfig({ argv: ["--config", again], env: {} }).config.coordinator).toEqual([C, D]);
    // One bad URL in the list, an empty list, or more than 16 replicas are refused.
    expect(() => loadNodeConfig({ argv: ["--coordinator", `${C},ftp://x`], env: {} })).toThrow(/coordinator/);
    expect(() =>
      loadNodeConfig({ argv: ["--config", file("e.yaml", "coordinator: []\n")], env: {} }),
    ).toThrow(/at least one/);
    const many = Array.from({ length: 17 }, (_, i) => `http://10.0.0.${i + 1}:7700`).join(",");
    expect(() => loadNodeConfig({ argv: ["--coordinator", many], env: {} })).toThrow(/at most 16/);
  });

  it("refuses a bad coordinator, a missing file, broken YAML, a non-mapping, bad support entries and unknown flags", () => {
    expect(() => loadNodeConfig({ argv: ["--coordinator", "ftp://x"], env: {} })).toThrow(/coordinator/);
    expect(() => loadNodeConfig({ argv: ["--config", "/nonexistent/relay.yaml"], env: {} })).toThrow(
      /does not exist/,
    );
    expect(() => loadNodeConfig({ argv: ["--config", file("b.yaml", "port: [1,\n")], env: {} })).toThrow(
      /not valid YAML/,
    );
    expect(() => loadNodeConfig({ argv: ["--config", file("c.yaml", "- 1\n- 2\n")], env: {} })).toThrow(
      /mapping/,
    );
    expect(() =>
      loadNodeConfig({ argv: ["--coordinator", C, "--support", "Not A Stream!"], env: {} }),
    ).toThrow(/support/);
    expect(() => loadNodeConfig({ argv: ["--coordinator", C, "--prot", "1"], env: {} })).toThrow(/prot/);
  });

  it("HTTPS: off by default; acme needs an identifier, files needs both files; goes with workers; timings", () => {
    expect(loadNodeConfig({ argv: [], env: {} }).config).toMatchObject({
      tls: "off",
      acmeChallengePort: 80,
      tlsRenewBeforeFraction: 1 / 3,
    });
    const { config } = loadNodeConfig({
      argv: ["--tls", "acme", "--acme-identifier", "203.0.113.7", "--acme-contact", "mailto:ops@example.org"],
      env: { SRP_TLS_RENEW_BEFORE_FRACTION: "0.5", SRP_ACME_PROFILE: "shortlived" },
    });
    expect(config).toMatchObject({
      tls: "acme",
      acmeIdentifier: "203.0.113.7",
      acmeContact: "mailto:ops@example.org",
      acmeProfile: "shortlived",
      tlsRenewBeforeFraction: 0.5,
      acmeDirectory: "https://acme-v02.api.letsencrypt.org/directory",
    });
    expect(
      loadNodeConfig({ argv: ["--tls", "acme", "--acme-identifier", "relay.example.org"], env: {} }).config
        .acmeIdentifier,
    ).toBe("relay.example.org");
    expect(() => loadNodeConfig({ argv: ["--tls", "acme"], env: {} })).toThrow(/acmeIdentifier/);
    expect(() =>
      loadNodeConfig({ argv: ["--tls", "acme", "--acme-identifier", "not a name!"], env: {} }),
    ).toThrow(/acmeIdentifier/);
    expect(() => loadNodeConfig({ argv: ["--tls", "files", "--tls-cert-file", "c.pem"], env: {} })).toThrow(
      /tlsCertFile/,
    );
    expect(
      loadNodeConfig({
        argv: ["--tls", "acme", "--acme-identifier", "203.0.113.7", "--workers", "2"],
        env: {},
      }).config.workers,
    ).toBe(2);
    // Request deadlines with units: defaults, and a head deadline never longer than the request's.
    expect(loadNodeConfig({ argv: [], env: {} }).config).toMatchObject({
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 60_000,
      keepAliveTimeoutMs: 65_000,
      acmeRequestTimeoutMs: 15_000,
    });
    expect(
      loadNodeConfig({
        argv: ["--request-timeout-ms", "20000"],
        env: { SRP_ACME_REQUEST_TIMEOUT_MS: "5000" },
      }).config,
    ).toMatchObject({ requestTimeoutMs: 20_000, acmeRequestTimeoutMs: 5_000 });
    expect(() =>
      loadNodeConfig({ argv: ["--headers-timeout-ms", "30000", "--request-timeout-ms", "20000"], env: {} }),
    ).toThrow(/headersTimeoutMs/);
    expect(() => loadNodeConfig({ argv: ["--acme-request-timeout-ms", "10"], env: {} })).toThrow(
      /acmeRequestTimeoutMs/,
    );
    expect(() =>
      loadNodeConfig({
        argv: ["--tls", "acme", "--acme-identifier", "203.0.113.7", "--acme-contact", "ops"],
        env: {},
      }),
    ).toThrow(/acmeContact/);
    expect(() => loadNodeConfig({ argv: ["--tls-renew-before-fraction", "1"], env: {} })).toThrow(/tlsRenew/);
    expect(() => loadNodeConfig({ argv: ["--tls", "maybe"], env: {} })).toThrow(/tls/);
  });
});
