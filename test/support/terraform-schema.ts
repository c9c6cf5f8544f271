import { parse } from "@cdktf/hcl2json";

/**
 * The arguments of the provider resources our modules use, from the
 * providers' documentation (digitalocean/digitalocean 2.x, hetznercloud/hcloud
 * 1.x). `terraform validate` needs the providers, which cannot be downloaded
 * here; this is the schema check in its place: every argument must exist and
 * every required one be set.
 */
export const PROVIDER_SCHEMA: Record<
  string,
  {
    required: string[];
    optional: string[];
    blocks?: Record<string, { required: string[]; optional: string[] }>;
  }
> = {
  digitalocean_droplet: {
    required: ["image", "name", "size"],
    optional: [
      "region",
      "backups",
      "monitoring",
      "ipv6",
      "vpc_uuid",
      "ssh_keys",
      "resize_disk",
      "tags",
      "user_data",
      "volume_ids",
      "droplet_agent",
      "graceful_shutdown",
      "lifecycle",
    ],
  },
  digitalocean_firewall: {
    required: ["name"],
    optional: ["droplet_ids", "tags", "inbound_rule", "outbound_rule"],
    blocks: {
      inbound_rule: {
        required: ["protocol"],
        optional: ["port_range", "source_addresses", "source_droplet_ids", "source_tags"],
      },
      outbound_rule: {
        required: ["protocol"],
        optional: ["port_range", "destination_addresses", "destination_droplet_ids", "destination_tags"],
      },
    },
  },
  hcloud_server: {
    required: ["name", "server_type"],
    optional: [
      "image",
      "location",
      "datacenter",
      "user_data",
      "ssh_keys",
      "public_net",
      "keep_disk",
      "iso",
      "rescue",
      "labels",
      "backups",
      "firewall_ids",
      "network",
      "placement_group_id",
      "delete_protection",
      "rebuild_protection",
      "allow_deprecated_images",
      "shutdown_before_deletion",
      "lifecycle",
    ],
  },
  hcloud_firewall: {
    required: ["name"],
    optional: ["labels", "rule", "apply_to"],
    blocks: {
      rule: {
        required: ["direction", "protocol"],
        optional: ["port", "source_ips", "destination_ips", "description"],
      },
    },
  },
};

export const PROVIDER_SOURCES: Record<string, string> = {
  digitalocean: "digitalocean/digitalocean",
  hcloud: "hetznercloud/hcloud",
};

type Json = Record<string, unknown>;

/** Problems found in a module's .tf files (empty when it passes). */
export async function checkTerraformModule(files: Record<string, string>): Promise<string[]> {
  const problems: string[] = [];
  const parsed: Json[] = [];
  for (const [name, text] of Object.entries(files)) {
    if (!name.endsWith(".tf")) continue;
    try {
      parsed.push((await parse(name, text)) as Json);
    } catch (err) {
      problems.push(`${name}: HCL does not parse: ${String(err)}`);
    }
  }
  const blocks = (kind: string) => parsed.flatMap((p) => (p[kind] ? [p[kind] as Json] : []));

  // Providers: known sources, pinned versions.
  const providers = blocks("terraform").flatMap(
    (t) => ((t as unknown as Json[])[0]?.required_providers as Json[] | undefined) ?? [],
  );
  if (providers.length === 0) problems.push("no required_providers");
  for (const rp of providers) {
    for (const [local, spec] of Object.entries(rp)) {
      const s = spec as { source?: string; version?: string };
      if (PROVIDER_SOURCES[local] !== s.source)
        problems.push(`provider ${local}: unexpected source ${s.source}`);
      if (!s.version) problems.push(`provider ${local}: version not pinned`);
    }
  }

  // Variables: every reference declared, every declaration typed and described.
  const declared = new Map<string, Json>();
  for (const v of blocks("variable"))
    for (const [name, body] of Object.entries(v)) declared.set(name, (body as Json[])[0] as Json);
  for (const [name, body] of declared) {
    if (!body.type) problems.push(`variable ${name}: no type`);
    if (!body.description) problems.push(`variable ${name}: no description`);
  }
  const allText = Object.values(files).join("\n");
  for (const m of allText.matchAll(/\bvar\.([a-z_][a-z0-9_]*)/g)) {
    if (!declared.has(m[1] as string)) problems.push(`var.${m[1]} is used but not declared`);
  }
  const localsDeclared = new Set(
    blocks("locals").flatMap((l) => (l as unknown as Json[]).flatMap((x) => Object.keys(x))),
  );
  for (const m of allText.matchAll(/\blocal\.([a-z_][a-z0-9_]*)/g)) {
    if (!localsDeclared.has(m[1] as string)) problems.push(`local.${m[1]} is used but not declared`);
  }

  // Resources: only arguments the provider has, all required ones set.
  for (const r of blocks("resource")) {
    for (const [type, byName] of Object.entries(r)) {
      const schema = PROVIDER_SCHEMA[type];
      if (!schema) {
        problems.push(`resource type ${type} is not in the provider schema`);
        continue;
      }
      for (const [name, bodies] of Object.entries(byName as Json)) {
        const body = (bodies as Json[])[0] as Json;
        for (const req of schema.required)
          if (!(req in body)) problems.push(`${type}.${name}: missing ${req}`);
        for (const arg of Object.keys(body)) {
          if (!schema.required.includes(arg) && !schema.optional.includes(arg))
            problems.push(`${type}.${name}: unknown argument ${arg}`);
        }
        for (const [block, bs] of Object.entries(schema.blocks ?? {})) {
          for (const b of (body[block] as Json[] | undefined) ?? []) {
            for (const req of bs.required)
              if (!(req in b)) problems.push(`${type}.${name}.${block}: missing ${req}`);
            for (const arg of Object.keys(b))
              if (!bs.required.includes(arg) && !bs.optional.includes(arg))
                problems.push(`${type}.${name}.${block}: unknown argument ${arg}`);
          }
        }
      }
    }
  }

  // templatefile(): the variables passed are exactly those the template uses.
  const call = /templatefile\("\$\{path\.module\}\/([^"]+)",\s*\{([^}]*)\}\)/s.exec(allText);
  if (!call) problems.push("no templatefile() call");
  else {
    const template = files[call[1] as string];
    if (template === undefined) problems.push(`template ${call[1]} missing`);
    else {
      const passed = new Set(
        [...(call[2] as string).matchAll(/^\s*([a-z_]+)\s*=/gm)].map((m) => m[1] as string),
      );
      const used = new Set(
        [...template.matchAll(/\$\{(?:jsonencode\()?([a-z_]+)\)?\}/g)].map((m) => m[1] as string),
      );
      for (const u of used) if (!passed.has(u)) problems.push(`template uses ${u}, not passed`);
      for (const p of passed) if (!used.has(p)) problems.push(`passed ${p}, template never uses it`);
    }
  }
  return problems;
}

/** templatefile() for the two expression forms our template uses: ${name} and ${jsonencode(name)}. */
export function renderTemplate(template: string, vars: Record<string, unknown>): string {
  return template.replace(
    /\$\{(jsonencode\()?([a-z_]+)\)?\}/g,
    (_m, json: string | undefined, name: string) => {
      if (!(name in vars)) throw new Error(`template variable ${name} not given`);
      return json ? JSON.stringify(vars[name]) : String(vars[name]);
    },
  );
}
