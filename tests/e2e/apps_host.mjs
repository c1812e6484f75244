// An MCP Apps host (extension io.modelcontextprotocol/ui) for end-to-end tests: it shows the
// server's tools as a host shows them to the model, runs a tool as the model would, and renders
// the tool's ui:// view in headless Chromium (Debian's) with the official AppBridge of
// @modelcontextprotocol/ext-apps (browser side: apps_host/host_entry.mjs, bundled by esbuild
// into a temp dir when the host opens). Calls the view makes go through the test's SDK client.
//
//   const s = await startClient({ capabilities: appsCapabilities });
//   const host = await openAppsHost({ client: s.client, artifactsDir });
//   const tools = await host.modelTools();              // tools/list without app-only tools
//   const { result, frame } = await host.runTool("get_deployment_status", {});
//   await frame.click("button#refresh");                // frame: the view's Playwright Frame
//   host.appToolCalls; host.modelContext; host.messages // what the view did (see openAppsHost)
//   host.page                                          // the host page (Playwright Page)
//   await host.screenshot("apps-status.png");          // relative: under artifactsDir
//   await host.close();
//
// The view: a sandboxed iframe (sandbox="allow-scripts", no allow-same-origin: opaque origin, no
// storage, forms, popups or dialogs) whose srcdoc is the resource's HTML with a CSP <meta>
// injected (viewCsp: no network unless the content's _meta.ui.csp names origins; inline script
// and style allowed; no eval). Its height follows ui/notifications/size-changed.
// The host page comes from a node:http server on 127.0.0.1 (kernel-chosen port): a real http
// origin like real hosts have, the ~1 MB bundle loaded as a normal module script, and a reachable
// server the view's CSP must keep it from (requests there other than the host's own are listed in
// host.strayRequests).
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { dirname, isAbsolute, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { chromium } from "playwright-core";
import { CallToolResultSchema } from "@modelcontextprotocol/sdk/types.js";
import { getToolUiResourceUri, isToolVisibilityAppOnly, RESOURCE_MIME_TYPE } from "@modelcontextprotocol/ext-apps/app-bridge";

const here = dirname(fileURLToPath(import.meta.url));

// Client capabilities declaring MCP Apps support, for startClient({ capabilities }) or
// new Client(info, { capabilities }). SDK 1.32's Client sends `extensions` as given.
export const appsCapabilities = { extensions: { "io.modelcontextprotocol/ui": { mimeTypes: [RESOURCE_MIME_TYPE] } } };

const hostCapabilities = {
  serverTools: {},
  serverResources: {},
  updateModelContext: { text: {} },
  message: { text: {} },
  logging: {},
};
const hostContext = {
  theme: "light",
  displayMode: "inline",
  availableDisplayModes: ["inline"],
  platform: "web",
  locale: "en-US",
  timeZone: "UTC",
  userAgent: "bluegreen-mcp e2e apps host",
  containerDimensions: { width: 800, maxHeight: 8000 },
  deviceCapabilities: { touch: false, hover: true },
};

// The CSP for a view, from its resource content's _meta.ui.csp ({ connectDomains, resourceDomains,
// frameDomains, baseUriDomains }); with none of them: no network at all.
export function viewCsp(csp = {}) {
  const origins = (list) => {
    for (const o of list ?? []) assert.match(o, /^[A-Za-z0-9*.:/[\]_-]+$/, `_meta.ui.csp: bad origin ${JSON.stringify(o)}`);
    return list?.length ? list.join(" ") : null;
  };
  const resources = origins(csp.resourceDomains);
  const plus = resources ? ` ${resources}` : "";
  return [
    "default-src 'none'",
    `script-src 'unsafe-inline'${plus}`,
    `style-src 'unsafe-inline'${plus}`,
    `img-src data: blob:${plus}`,
    `font-src data:${plus}`,
    `media-src data: blob:${plus}`,
    `connect-src ${origins(csp.connectDomains) ?? "'none'"}`,
    `frame-src ${origins(csp.frameDomains) ?? "'none'"}`,
    `base-uri ${origins(csp.baseUriDomains) ?? "'self'"}`,
    "form-action 'none'",
    "object-src 'none'",
  ].join("; ");
}

// `html` with <meta http-equiv="Content-Security-Policy" content=`policy`> before anything else
// in its head (a meta CSP only covers what follows it).
export function withCsp(html, policy) {
  const meta = `<meta http-equiv="Content-Security-Policy" content="${policy}">`;
  const after = /<head\b[^>]*>/i.exec(html) ?? /<html\b[^>]*>/i.exec(html) ?? /^\s*<!doctype[^>]*>/i.exec(html);
  if (!after) return meta + html;
  const at = after.index + after[0].length;
  return html.slice(0, at) + meta + html.slice(at);
}

const hostPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>MCP Apps test host</title><link rel="icon" href="data:,">
<style>
  body { margin: 0; background: #eef0f3; font: 14px/1.4 system-ui, sans-serif; color: #1f2937; }
  main { width: 800px; margin: 16px auto; }
  #caption { margin: 0 0 8px; color: #4b5563; }
  iframe { display: block; width: 100%; border: 1px solid #d1d5db; border-radius: 8px; background: #fff; }
</style>
<script type="module" src="/host.js"></script>
</head><body><main><p id="caption">MCP Apps test host</p><div id="views"></div></main></body></html>
`;

async function listAllTools(client) {
  const tools = [];
  let cursor;
  do {
    const page = await client.listTools(cursor ? { cursor } : {});
    tools.push(...page.tools);
    cursor = page.nextCursor;
  } while (cursor);
  return tools;
}

const jsonRpcError = (e) => ({ error: { code: Number.isSafeInteger(e?.code) ? e.code : -32603, message: String(e?.message ?? e) } });

// callTimeout: ms for the tools the host calls as the model; viewCallTimeout: ms for those the view
// calls (default callTimeout), e.g. short to see how the view takes a request that gets no reply.
export async function openAppsHost({ client, artifactsDir, name = "apps-host", callTimeout = 120000,
                                     viewCallTimeout = callTimeout } = {}) {
  const host = {
    appToolCalls: [],   // { name, arguments, result } or { name, arguments, error } per tools/call of the view
    modelContext: [],   // params of each ui/update-model-context
    messages: [],       // params of each ui/message
    logs: [],           // params of each notifications/message (logging) from the view
    openLinks: [],      // params of each ui/open-link (all refused)
    sizes: [],          // params of each ui/notifications/size-changed
    teardownRequests: [],  // ui/notifications/request-teardown from the view
    teardowns: [],      // outcome of each ui/resource-teardown the host sent ({ ok, error? })
    views: [],          // per rendered view: { tool, uri, csp, appInfo, appCapabilities }
    console: [],        // the page's console (view included) and page errors
    bridgeWarnings: [], // AppBridge's console warnings, e.g. a request before ui/notifications/initialized
    strayRequests: [],  // requests to the host's server other than the host page and its script
  };

  const workDir = mkdtempSync(join(tmpdir(), "bluegreen-apps-host-"));
  let server;
  let browser;
  try {
    await build({
      entryPoints: [join(here, "apps_host", "host_entry.mjs")],
      outfile: join(workDir, "host.js"),
      bundle: true,
      format: "esm",
      platform: "browser",
      logLevel: "silent",
    });
    const script = readFileSync(join(workDir, "host.js"));
    server = http.createServer((req, res) => {
      const headers = { "Cache-Control": "no-store" };
      if (req.url === "/") res.writeHead(200, { ...headers, "Content-Type": "text/html; charset=utf-8" }).end(hostPage);
      else if (req.url === "/host.js") res.writeHead(200, { ...headers, "Content-Type": "text/javascript" }).end(script);
      else {
        host.strayRequests.push(`${req.method} ${req.url}`);
        res.writeHead(404, headers).end();
      }
    });
    await new Promise((resolve, reject) => server.once("error", reject).listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${server.address().port}/`;

    // The browser binary itself (/usr/bin/chromium is a wrapper script); root needs --no-sandbox.
    const executablePath = existsSync("/usr/lib/chromium/chromium") ? "/usr/lib/chromium/chromium" : "/usr/bin/chromium";
    browser = await chromium.launch({ executablePath, args: ["--no-sandbox"], headless: true, timeout: 30000 });
    const viewport = { width: 832, height: 600 };
    const page = await browser.newPage({ viewport });
    page.on("console", (m) => {
      host.console.push(`${m.type()}: ${m.text()}`);
      if (/^\[(ext-apps|MCP Apps)\]/.test(m.text())) host.bridgeWarnings.push(m.text());
    });
    page.on("pageerror", (e) => host.console.push(`pageerror: ${e.message}`));

    // The view may call only tools whose _meta.ui.visibility includes "app" (the default when absent).
    await page.exposeFunction("__appsHostCallTool", async (params) => {
      const call = { name: params?.name, arguments: params?.arguments ?? {} };
      try {
        const tool = (await listAllTools(client)).find((t) => t.name === call.name);
        const visibility = tool?._meta?.ui?.visibility;
        if (!tool) throw Object.assign(new Error(`no tool "${call.name}" on this server`), { code: -32602 });
        if (Array.isArray(visibility) && !visibility.includes("app")) {
          throw Object.assign(new Error(`tool "${call.name}" is not visible to apps (visibility ${JSON.stringify(visibility)})`), { code: -32602 });
        }
        const request = { name: call.name, arguments: call.arguments, ...(params._meta && { _meta: params._meta }) };
        call.result = await client.callTool(request, CallToolResultSchema, { timeout: viewCallTimeout });
        host.appToolCalls.push(call);
        return { result: call.result };
      } catch (e) {
        call.error = jsonRpcError(e).error;
        host.appToolCalls.push(call);
        return { error: call.error };
      }
    });
    await page.exposeFunction("__appsHostServer", async (method, params) => {
      try {
        if (method === "resources/list") return { result: await client.listResources(params ?? {}) };
        if (method === "resources/templates/list") return { result: await client.listResourceTemplates(params ?? {}) };
        if (method === "resources/read") return { result: await client.readResource(params) };
        return { error: { code: -32601, message: `${method}: not proxied` } };
      } catch (e) {
        return jsonRpcError(e);
      }
    });
    await page.exposeFunction("__appsHostRecord", (kind, params) => {
      if (!Array.isArray(host[kind])) throw new Error(`unknown record kind ${kind}`);
      host[kind].push(params);
    });
    await page.goto(url, { timeout: 10000 });
    await page.waitForFunction(() => window.appsHost !== undefined, null, { timeout: 10000 });

    const teardown = async () => {
      const outcome = await page.evaluate(() => window.appsHost.teardown());
      if (host.views.length > host.teardowns.length) host.teardowns.push(outcome);
    };

    return Object.assign(host, {
      page,
      async modelTools() {
        return (await listAllTools(client)).filter((t) => !isToolVisibilityAppOnly(t));
      },
      async runTool(toolName, args = {}) {
        const tool = (await listAllTools(client)).find((t) => t.name === toolName);
        assert.ok(tool, `runTool: the server lists no tool ${toolName}`);
        assert.ok(!isToolVisibilityAppOnly(tool), `runTool: ${toolName} is app-only, the model cannot call it`);
        const result = await client.callTool({ name: toolName, arguments: args }, CallToolResultSchema, { timeout: callTimeout });
        const uri = getToolUiResourceUri(tool);
        if (!uri) return { result, frame: null };
        const contents = (await client.readResource({ uri })).contents;
        const content = contents.find((c) => c.uri === uri) ?? contents[0];
        assert.equal(content?.mimeType, RESOURCE_MIME_TYPE, `${uri}: mimeType`);
        const html = content.text ?? Buffer.from(content.blob ?? "", "base64").toString("utf8");
        const csp = viewCsp(content._meta?.ui?.csp);
        await teardown();
        await page.evaluate((caption) => (document.getElementById("caption").textContent = caption),
          `${toolName}(${JSON.stringify(args)}) → ${uri}`);
        const view = { tool: toolName, uri, csp };
        host.views.push(view);  // before show: a view that never initializes is torn down too
        Object.assign(view, await page.evaluate((options) => window.appsHost.show(options), {
          html: withCsp(html, csp),
          hostCapabilities: { ...hostCapabilities, sandbox: { csp: content._meta?.ui?.csp ?? {} } },
          hostContext: { ...hostContext, toolInfo: { tool } },
        }));
        await page.evaluate((params) => window.appsHost.sendToolInput(params), { arguments: args });
        await page.evaluate((params) => window.appsHost.sendToolResult(params), result);
        const frame = await (await page.$("iframe#app-view")).contentFrame();
        return { result, frame };
      },
      async screenshot(path) {
        const file = isAbsolute(path) || !artifactsDir ? path : join(artifactsDir, path);
        mkdirSync(dirname(file), { recursive: true });
        await page.evaluate(() => window.appsHost.settle());
        // The view is an out-of-process iframe (opaque origin): Chromium paints it only inside the
        // viewport, so the viewport grows to the whole page instead of a fullPage screenshot.
        const height = await page.evaluate(() => document.documentElement.scrollHeight);
        await page.setViewportSize({ width: viewport.width, height: Math.max(viewport.height, Math.min(height, 16000)) });
        await page.evaluate(() => window.appsHost.settle());
        await page.screenshot({ path: file });
        await page.setViewportSize(viewport);
        return file;
      },
      async close() {
        try {
          await teardown().catch(() => {});
          await browser.close();
        } finally {
          server.closeAllConnections();
          server.close();
          rmSync(workDir, { recursive: true, force: true });
          if (artifactsDir) {
            mkdirSync(artifactsDir, { recursive: true });
            writeFileSync(join(artifactsDir, `${name}-console.log`), host.console.join("\n") + "\n");
          }
        }
      },
    });
  } catch (e) {
    await browser?.close().catch(() => {});
    server?.close();
    rmSync(workDir, { recursive: true, force: true });
    throw e;
  }
}
