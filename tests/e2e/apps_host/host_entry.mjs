// Browser side of the MCP Apps test host (tests/e2e/apps_host.mjs drives it; see there for use).
//
// apps_host.mjs bundles this file with esbuild when a test runs (nothing is built or committed)
// and serves it to headless Chromium as the host page's script. It renders a view (the server's
// ui:// HTML) in a sandboxed iframe and talks to it with the official AppBridge of
// @modelcontextprotocol/ext-apps over PostMessageTransport, as real hosts do. It has no MCP
// client of its own (AppBridge gets `null`): every call the view makes to the server goes to
// Node through functions apps_host.mjs exposes on the page (window.__appsHost*), which use the
// test's connected SDK client and decide what the view may call.
//
// window.appsHost:
//   show({ html, hostCapabilities, hostContext }) renders `html` (CSP already injected) in a new
//     iframe, connects a new AppBridge, and resolves once the view sent ui/notifications/initialized
//     ({ appInfo, appCapabilities }); a view shown before is torn down first.
//   sendToolInput(params), sendToolResult(params): the notifications, to the current view.
//   teardown(): ui/resource-teardown to the current view, then removes it ({ ok } or { ok, error }).
//   settle(): resolves when the view has not reported a new size for a moment.
import { AppBridge, PostMessageTransport } from "@modelcontextprotocol/ext-apps/app-bridge";

const hostInfo = { name: "bluegreen-mcp-e2e-apps-host", version: "1.0.0" };
const record = (kind, params) => window.__appsHostRecord(kind, params ?? null);
// A refusal or server error from Node ({ error: { code, message } }) as a JSON-RPC error to the view.
const unwrap = (answer) => {
  if (answer.error) throw Object.assign(new Error(answer.error.message), { code: answer.error.code });
  return answer.result;
};

let current = null;  // { bridge, iframe }
let lastSizeChange = 0;

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

async function show({ html, hostCapabilities, hostContext }) {
  if (current) await teardown();
  const iframe = document.createElement("iframe");
  iframe.id = "app-view";
  iframe.title = "MCP App view";
  iframe.setAttribute("sandbox", "allow-scripts");  // no allow-same-origin: an opaque origin
  iframe.style.height = "300px";                    // until the view reports its size
  document.getElementById("views").append(iframe);

  const bridge = new AppBridge(null, hostInfo, hostCapabilities, { hostContext });
  const initialized = new Promise((resolve) => (bridge.oninitialized = resolve));
  bridge.oncalltool = async (params) => unwrap(await window.__appsHostCallTool(params));
  bridge.onlistresources = async (params) => unwrap(await window.__appsHostServer("resources/list", params));
  bridge.onlistresourcetemplates = async (params) =>
    unwrap(await window.__appsHostServer("resources/templates/list", params));
  bridge.onreadresource = async (params) => unwrap(await window.__appsHostServer("resources/read", params));
  bridge.onupdatemodelcontext = async (params) => (await record("modelContext", params), {});
  bridge.onmessage = async (params) => (await record("messages", params), {});
  bridge.onopenlink = async (params) => (await record("openLinks", params), { isError: true });  // refused
  bridge.onloggingmessage = (params) => record("logs", params);
  bridge.onrequestteardown = (params) => record("teardownRequests", params);
  bridge.onsizechange = (params) => {
    lastSizeChange = performance.now();
    record("sizes", params);
    if (typeof params.height === "number" && params.height > 0) {
      iframe.style.height = `${Math.min(Math.ceil(params.height), 8000)}px`;
    }
  };
  // Connected before the view's document loads, so its first ui/initialize is not missed; the
  // iframe's WindowProxy stays the same when srcdoc navigates it.
  await bridge.connect(new PostMessageTransport(iframe.contentWindow, iframe.contentWindow));
  current = { bridge, iframe };
  iframe.srcdoc = html;
  await withTimeout(initialized, 10000, "ui/notifications/initialized from the view");
  return { appInfo: bridge.getAppVersion() ?? null, appCapabilities: bridge.getAppCapabilities() ?? null };
}

async function teardown() {
  if (!current) return { ok: true };
  const { bridge, iframe } = current;
  current = null;
  let outcome = { ok: true };
  try {
    await bridge.teardownResource({}, { timeout: 5000 });
  } catch (e) {
    outcome = { ok: false, error: String(e?.message ?? e) };
  }
  await bridge.close().catch(() => {});
  iframe.remove();
  return outcome;
}

function requireView() {
  if (!current) throw new Error("no view is shown");
  return current.bridge;
}

window.appsHost = {
  show,
  teardown,
  sendToolInput: (params) => requireView().sendToolInput(params),
  sendToolResult: (params) => requireView().sendToolResult(params),
  async settle({ quietMs = 200, maxMs = 3000 } = {}) {
    const start = performance.now();
    while (performance.now() - start < maxMs && performance.now() - Math.max(lastSizeChange, start) < quietMs) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
  },
};
