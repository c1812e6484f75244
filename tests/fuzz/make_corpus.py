#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets: tests/fuzz/make_corpus.py tests/fuzz/corpus

parse_message/: single messages (valid, malformed, edge cases). server_session/: whole sessions,
one message per line. The files are checked in; rerun this after changing it and review the diff.
"""
import json, os, sys
root = sys.argv[1]
P = os.path.join(root, 'parse_message'); S = os.path.join(root, 'server_session')
os.makedirs(P, exist_ok=True); os.makedirs(S, exist_ok=True)

def j(o): return json.dumps(o, separators=(',', ':'), ensure_ascii=False)
def req(id, method, params=None):
    m = {"jsonrpc": "2.0", "id": id, "method": method}
    if params is not None: m["params"] = params
    return j(m)
def note(method, params=None):
    m = {"jsonrpc": "2.0", "method": method}
    if params is not None: m["params"] = params
    return j(m)
def call(id, name, args=None, token=None):
    p = {"name": name}
    if args is not None: p["arguments"] = args
    if token is not None: p["_meta"] = {"progressToken": token}
    return req(id, "tools/call", p)
def init(id=0, caps=None, version="2025-06-18"):
    return req(id, "initialize", {"protocolVersion": version, "capabilities": caps or {},
                                  "clientInfo": {"name": "fuzz-client", "version": "1.0"}})
INITIALIZED = note("notifications/initialized")

def write(d, name, data):
    if isinstance(data, str): data = data.encode('utf-8', 'surrogateescape')
    with open(os.path.join(d, name), 'wb') as f: f.write(data)

# --- single messages ---
singles = {
  'initialize.json': init(1),
  'initialize_old_version.json': init("a", version="2024-11-05"),
  'initialize_elicitation.json': init(1, {"elicitation": {}}),
  'initialized.json': INITIALIZED,
  'ping.json': req(7, "ping"),
  'tools_list.json': req(2, "tools/list", {}),
  'tools_call_echo.json': call(3, "test_echo", {"text": "hello"}),
  'tools_call_echo_bad_type.json': call(3, "test_echo", {"text": 42}),
  'tools_call_sleep_progress.json': call("s1", "test_sleep", {"ms": 5, "steps": 5}, token="p1"),
  'tools_call_deploy.json': call(9, "deploy_to_standby", {"ref": "main", "target": "green", "runMigrations": False}),
  'tools_call_switch.json': call(10, "switch_traffic", {"approvalToken": "approve-" + "0"*32, "emergency": True}),
  'cancel.json': note("notifications/cancelled", {"requestId": "s1", "reason": "user"}),
  'response_result.json': j({"jsonrpc": "2.0", "id": "srv-1", "result": {"action": "accept", "content": {"approve": True}}}),
  'response_error.json': j({"jsonrpc": "2.0", "id": "srv-1", "error": {"code": -1, "message": "no"}}),
  'set_level.json': req(4, "logging/setLevel", {"level": "debug"}),
  'prompts_get.json': req(5, "prompts/get", {"name": "emergency_rollback", "arguments": {"reason": "500s"}}),
  'batch.json': '[' + req(1, "ping") + ',' + INITIALIZED + ']',
  'empty_batch.json': '[]',
  'scalar.json': '-1.5e+300',
  'huge_numbers.json': '{"jsonrpc":"2.0","id":18446744073709551616,"method":"ping","params":{"a":1e400,"b":-9223372036854775809,"c":123456789012345678901234567890}}',
  'negative_id.json': req(-9223372036854775808, "ping"),
  'float_id.json': '{"jsonrpc":"2.0","id":1.0,"method":"ping"}',
  'null_id.json': '{"jsonrpc":"2.0","id":null,"method":"ping"}',
  'escapes.json': '{"jsonrpc":"2.0","id":"\\u0000\\ud83d\\ude00\\n","method":"te\\"st","params":{"\\\\":"\\/"}}',
  'lone_surrogate.json': '{"jsonrpc":"2.0","id":1,"method":"ping","params":{"s":"\\ud800"}}',
  'invalid_utf8.json': b'{"jsonrpc":"2.0","id":1,"method":"\xff\xfe\xc0\x80"}',
  'overlong_utf8.json': b'{"jsonrpc":"2.0","id":"\xe0\x80\xaf","method":"ping"}',
  'duplicate_keys.json': '{"jsonrpc":"2.0","id":1,"id":"x","method":"ping","method":"tools/list"}',
  'wrong_version.json': '{"jsonrpc":"1.0","id":1,"method":"ping"}',
  'params_array.json': '{"jsonrpc":"2.0","id":1,"method":"ping","params":[1,2]}',
  'truncated.json': '{"jsonrpc":"2.0","id":1,"method":"pi',
  'deep_ok.json': '{"jsonrpc":"2.0","id":1,"method":"ping","params":{"a":' + '['*120 + ']'*120 + '}}',
  'deep_too_deep.json': '{"jsonrpc":"2.0","id":1,"method":"ping","params":{"a":' + '['*3000 + ']'*3000 + '}}',
  'deep_in_string.json': '{"jsonrpc":"2.0","id":1,"method":"ping","params":{"a":"' + '['*500 + '\\"{' + '"}}',
  'deep_unbalanced.json': '{' * 200,
  'bom.json': b'\xef\xbb\xbf' + req(1, "ping").encode(),
}
for name, data in singles.items(): write(P, name, data)

# --- sessions (one message per line) ---
def session(name, lines, sep='\n'):
    write(S, name, sep.join(lines) + '\n')

session('basic.jsonl', [init(), INITIALIZED, req(1, "tools/list"), req(2, "ping"), req(3, "prompts/list"),
                        req(4, "resources/list"), note("notifications/unknown", {"x": 1})])
def modern(params=None, caps=None, level=None):
    p = dict(params or {})
    p["_meta"] = {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                  "io.modelcontextprotocol/clientCapabilities": caps if caps is not None else {},
                  "io.modelcontextprotocol/clientInfo": {"name": "fuzz-modern", "version": "1"}}
    if level: p["_meta"]["io.modelcontextprotocol/logLevel"] = level
    return p
session('modern.jsonl', [req(1, "server/discover", modern()), req(2, "tools/list", modern()),
    req(3, "tools/call", modern({"name": "test_echo", "arguments": {"text": "m"}}, level="debug")),
    req(4, "ping", modern()), req(5, "initialize", modern({"protocolVersion": "2026-07-28"})),
    req(6, "tools/list", {"_meta": {"io.modelcontextprotocol/protocolVersion": "2099-01-01"}}),
    req(7, "tools/list", {"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}),
    req(8, "tools/call", modern({"name": "fuzz_elicit", "arguments": {}}, caps={"elicitation": {}})),
    req(9, "tools/call", modern({"name": "fuzz_elicit", "arguments": {},
        "inputResponses": {"elicitation": {"action": "accept", "content": {"approve": True}}},
        "requestState": "v1.1.00000000000000000000000000000000." + "0" * 64}, caps={"elicitation": {}})),
    init(10), INITIALIZED, req(11, "tools/list"), req(12, "resources/read", modern({"uri": "nope://x"}))])
session('before_initialize.jsonl', [req(1, "tools/list"), call(2, "test_echo", {"text": "x"}), req(3, "ping"),
                                    init(4), init(5), INITIALIZED, req(6, "initialize", {})])
session('initialize_bad.jsonl', [req(1, "initialize", {"protocolVersion": 2025}), req(2, "initialize"),
                                 req(3, "initialize", {"protocolVersion": "1999-01-01", "capabilities": [],
                                                       "clientInfo": "x"}), req(4, "tools/list")])
session('initialize_client_info_types.jsonl', [  # regression: a null name once failed initialize
    req(1, "initialize", {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": None, "version": 1}}),
    INITIALIZED, req(2, "tools/list")])
session('echo_arguments.jsonl', [init(), INITIALIZED,
    call(1, "test_echo", {"text": "hello \u00e9\u4e16\U0001F600"}),
    call(2, "test_echo", {"text": 42}),
    call(3, "test_echo", {}),
    call(4, "test_echo", {"text": "x", "extra": True}),
    call(5, "test_echo", {"text": "y" * 3000}),
    call(6, "test_echo", [1, 2]),
    call(7, "test_echo"),
    call(8, "test_echo", None),
    req(9, "tools/call", {"arguments": {"text": "no name"}}),
    req(10, "tools/call", {"name": 5}),
    call(11, "no_such_tool", {}),
    call(12, "test_fail", {"message": "boom"}),
    call(13, "test_fail", {"message": None})])
session('sleep_cancel.jsonl', [init(), INITIALIZED, req(1, "logging/setLevel", {"level": "debug"}),
    call("a", "test_sleep", {"ms": 20, "steps": 4}, token="ta"),
    call("b", "test_sleep", {"ms": 60000, "steps": 1000}, token=7),
    note("notifications/cancelled", {"requestId": "b", "reason": "changed my mind"}),
    note("notifications/cancelled", {"requestId": "nope"}),
    note("notifications/cancelled", {"requestId": {"x": 1}}),
    note("notifications/cancelled", {}),
    call("b", "test_sleep", {"ms": 1, "steps": 1}),
    call("a", "test_sleep", {"ms": 1}),
    call(3, "test_sleep", {"ms": 5.0, "steps": 2.0}),
    call(4, "test_sleep", {"ms": -1}),
    call(5, "test_sleep", {"ms": 1.5}),
    call(6, "test_sleep", {"ms": 1e300}),
    call(7, "test_sleep", {"ms": 10, "steps": 0})])
session('busy.jsonl', [init(), INITIALIZED] + [call(i, "test_sleep", {"ms": 600000}) for i in range(1, 7)] +
        [note("notifications/cancelled", {"requestId": 2}), call(7, "test_echo", {"text": "after"}),
         call(1, "test_echo", {"text": "same id"})])
session('elicitation_accept.jsonl', [init(1, {"elicitation": {}}), INITIALIZED,
    call(2, "fuzz_elicit", {"question": "Switch?"}),
    j({"jsonrpc": "2.0", "id": "srv-1", "result": {"action": "accept", "content": {"approve": True, "note": "ok", "count": 3}}}),
    call(3, "fuzz_elicit", {}),
    j({"jsonrpc": "2.0", "id": "srv-2", "result": {"action": "accept", "content": {"approve": "yes", "count": 11}}}),
    call(4, "fuzz_elicit", {}),
    j({"jsonrpc": "2.0", "id": "srv-3", "result": {"action": "decline"}}),
    call(5, "fuzz_elicit", {}),
    j({"jsonrpc": "2.0", "id": "srv-4", "error": {"code": -32601, "message": "not supported"}}),
    j({"jsonrpc": "2.0", "id": "srv-4", "result": {"action": "accept"}}),
    j({"jsonrpc": "2.0", "id": "srv-99", "result": {}})])
session('elicitation_malformed.jsonl', [init(1, {"elicitation": {}}), INITIALIZED,
    call(2, "fuzz_elicit", {"question": "?"}),
    j({"jsonrpc": "2.0", "id": "srv-1", "result": "accept"}),
    call(3, "fuzz_elicit", {}),
    j({"jsonrpc": "2.0", "id": "srv-2", "result": {"action": "accept", "content": None}}),
    call(4, "fuzz_elicit", {}),
    j({"jsonrpc": "2.0", "id": "srv-3", "error": "bad"}),
    call(5, "fuzz_elicit", {}),
    note("notifications/cancelled", {"requestId": 5}),
    call(6, "fuzz_elicit", {}),
    j({"jsonrpc": "2.0", "id": "srv-5", "result": {"action": "cancel", "content": {"x": [1]}}})])
session('elicitation_unsupported.jsonl', [init(), INITIALIZED, call(1, "fuzz_elicit", {"question": "?"}),
    j({"jsonrpc": "2.0", "id": "srv-1", "result": {"action": "accept", "content": {"approve": True}}})])
session('deployment_tools.jsonl', [init(), INITIALIZED,
    call(1, "get_deployment_status", {}),
    call(2, "get_deployment_status", {"app": "shop"}),
    call(3, "get_deployment_status", {"app": "-rf"}),
    call(4, "deploy_to_standby", {"app": "shop", "ref": "v1.2.3", "pullGithub": True, "runMigrations": True,
                                  "createBackup": False, "target": "blue"}),
    call(5, "deploy_to_standby", {"ref": "$(touch /tmp/pwned)"}),
    call(6, "deploy_to_standby", {"ref": "--output=/etc/passwd"}),
    call(7, "deploy_to_standby", {"target": "purple"}),
    call(8, "switch_traffic", {"requireApproval": False, "emergency": True}),
    call(9, "switch_traffic", {"approvalToken": "approve-0123456789abcdef0123456789abcdef"}),
    call(10, "switch_traffic", {"approvalToken": "approve-x; rm -rf /"}),
    call(11, "switch_traffic", {"app": "a\nb"})])
session('prompts.jsonl', [init(), INITIALIZED, req(1, "prompts/list"),
    req(2, "prompts/get", {"name": "release_to_production", "arguments": {"app": "shop", "ref": "main"}}),
    req(3, "prompts/get", {"name": "release_to_production", "arguments": {"app": "`id`"}}),
    req(4, "prompts/get", {"name": "emergency_rollback", "arguments": {"reason": "site down"}}),
    req(5, "prompts/get", {"name": "emergency_rollback", "arguments": {"reason": 5}}),
    req(6, "prompts/get", {"name": "nope"}),
    req(7, "prompts/get", {"name": "release_to_production", "arguments": [1]}),
    req(8, "prompts/get", {})])
session('logging.jsonl', [init(), INITIALIZED, req(1, "logging/setLevel", {"level": "emergency"}),
    req(2, "logging/setLevel", {"level": "loud"}), req(3, "logging/setLevel", {}),
    req(4, "logging/setLevel", {"level": "debug"}), call(5, "test_sleep", {"ms": 1, "steps": 1}, token="t")])
session('malformed_lines.jsonl', [init(), INITIALIZED, '{not json', '[]', '[' + req(1, "ping") + ']', '42', 'null',
    '"ping"', '{"jsonrpc":"2.0","id":true,"method":"ping"}', '{"jsonrpc":"2.0","id":2}',
    '{"jsonrpc":"2.0","id":3,"result":{},"error":{}}', '{"jsonrpc":"2.0","result":{}}',
    '{"jsonrpc":"2.0","id":4,"method":""}', '{"id":5,"method":"ping"}', '   ', '\t', req(6, "ping")])
session('ids.jsonl', [init(), INITIALIZED, req(1, "ping"), req("1", "ping"), req(1, "ping"), req("", "ping"),
    req(-1, "ping"), req(18446744073709551615, "ping"), req("\u00e9", "ping"),
    call(2, "test_sleep", {"ms": 50}), req(2, "ping"), call(2, "test_echo", {"text": "dup"})])
session('crlf.jsonl', [init(), INITIALIZED, req(1, "ping"), req(2, "tools/list")], sep='\r\n')
session('no_trailing_newline.jsonl', [init(), INITIALIZED, req(1, "ping")])
with open(os.path.join(S, 'no_trailing_newline.jsonl'), 'rb+') as f:
    data = f.read().rstrip(b'\n'); f.seek(0); f.write(data); f.truncate()
session('oversized.jsonl', [init(), INITIALIZED, call(1, "test_echo", {"text": "z" * 5000}), req(2, "ping")])
session('deep_nesting.jsonl', [init(), INITIALIZED,
    call(1, "test_echo", {"text": "x", "deep": json.loads('[' * 100 + ']' * 100)}),
    '{"jsonrpc":"2.0","id":2,"method":"ping","params":{"a":' + '[' * 1000 + ']' * 1000 + '}}',
    req(3, "ping")])
write(S, 'invalid_utf8.jsonl', (init() + '\n' + INITIALIZED + '\n').encode() +
      b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"test_echo","arguments":{"text":"\xff\xfe"}}}\n' +
      b'\xc3\x28\n' + (req(2, "ping") + '\n').encode())
