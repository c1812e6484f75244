// The demo's "assistant": an MCP client built on the official TypeScript SDK that drives the real
// bluegreen-mcp server through a release and a rollback on the lab, printing exactly what an IDE
// assistant would see (tool results as text, progress notifications), with the human's approval
// answered by this script where a person would answer in chat.
//
// Usage: node demo/assistant.mjs /path/to/bluegreen-mcp /path/to/config.json
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { CallToolResultSchema } from "@modelcontextprotocol/sdk/types.js";

const [binary, config] = process.argv.slice(2);
if (!binary || !config) {
  console.error("usage: node demo/assistant.mjs /path/to/bluegreen-mcp /path/to/config.json");
  process.exit(2);
}

const bold = (s) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const dim = (s) => (process.stdout.isTTY ? `\x1b[2m${s}\x1b[0m` : s);
const say = (who, s) => console.log(`\n${bold(who + ":")} ${s}`);

const transport = new StdioClientTransport({ command: binary, args: ["--config", config, "--log-level", "warn"], stderr: "inherit" });
const client = new Client({ name: "bluegreen-demo-assistant", version: "1.0.0" });
await client.connect(transport);
const info = client.getServerVersion();
console.log(dim(`connected to ${info.name} ${info.version}; tools: ${(await client.listTools()).tools.map((t) => t.name).join(", ")}`));

async function tool(name, args = {}) {
  console.log(dim(`\n→ tools/call ${name} ${JSON.stringify(args)}`));
  const started = performance.now();
  const result = await client.callTool({ name, arguments: args }, CallToolResultSchema, {
    timeout: 300000,
    onprogress: (p) => console.log(dim(`  … ${p.message}`)),
  });
  console.log(result.content.map((c) => c.text).join("\n"));
  console.log(dim(`← ${result.isError ? "isError" : "ok"} in ${(performance.now() - started).toFixed(0)} ms`));
  if (result.isError) throw new Error(`${name} failed; the demo stops here`);
  return result.structuredContent;
}

try {
  say("Human", "What's the deployment status?");
  await tool("get_deployment_status");

  say("Human", "Deploy to standby.");
  await tool("deploy_to_standby");

  say("Human", "Switch traffic to standby.");
  const request = await tool("switch_traffic");

  say("Assistant", "Here is the plan above. Do you approve switching production traffic?");
  say("Human", "Yes, approved.");
  await tool("switch_traffic", { approvalToken: request.approvalToken });

  say("Human", "Status?");
  await tool("get_deployment_status");

  say("Human", "Users report errors on the new version. Emergency rollback!");
  const rollback = await tool("switch_traffic", { emergency: true });
  say("Assistant", "Emergency rollback plan above. Approve?");
  say("Human", "Approved, go.");
  await tool("switch_traffic", { approvalToken: rollback.approvalToken });

  say("Human", "Confirm where we are.");
  await tool("get_deployment_status");
} finally {
  await client.close();
}
