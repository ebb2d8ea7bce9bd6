"""The server from Node.js clients: the live page in headless Chromium (page_test.mjs,
driven by npm's playwright-core) and the official OpenAI client (openai_test.mjs). The npm
packages go into a directory of the build tree, installed from the registry on the first
run (pinned versions; they support Debian 12's Node.js 18). A missing node, npm, chromium
or registry fails the test: it is not skipped.

usage: test_node.py page|openai SERVER MODEL BUILD_DIR NODE NPM [CHROMIUM]
"""

import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from server_harness import Server  # noqa: E402

PACKAGES = {"page": ("playwright-core", "1.61.1"), "openai": ("openai", "5.23.2")}
API_KEY = "sk-difflm-test"


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def npm_install(npm, node, prefix, name, version):
    """Installs name@version under prefix/node_modules unless that version is there."""
    have = os.path.join(prefix, "node_modules", name, "package.json")
    if os.path.exists(have):
        with open(have) as f:
            if json.load(f).get("version") == version:
                return
    os.makedirs(prefix, exist_ok=True)
    env = dict(os.environ, npm_config_update_notifier="false")
    # npm runs its scripts with the node next to it; name ours first on PATH
    env["PATH"] = os.path.dirname(node) + os.pathsep + env.get("PATH", "")
    t0 = time.monotonic()
    p = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--no-save", "--prefix", prefix,
                        f"{name}@{version}"], capture_output=True, timeout=600, env=env)
    if p.returncode:
        fail(f"npm install {name}@{version} failed ({p.returncode}): "
             f"{p.stderr.decode(errors='replace')[-2000:]}")
    print(f"npm: installed {name}@{version} in {time.monotonic() - t0:.1f} s")


def main():
    kind, exe, model, build_dir, node, npm = sys.argv[1:7]
    chromium = sys.argv[7] if len(sys.argv) > 7 else ""
    for what, path in [("node", node), ("npm", npm)] + ([("chromium", chromium)] if kind == "page" else []):
        if not path or not shutil.which(path):
            fail(f"{what} not found ({path!r}): tools/install-deps.sh installs it")
    prefix = os.path.join(build_dir, "node-" + kind)
    npm_install(npm, node, prefix, *PACKAGES[kind])
    modules = os.path.join(prefix, "node_modules")
    args = ["--contexts", "2"] + (["--api-key", API_KEY] if kind == "openai" else [])
    t0 = time.monotonic()
    with Server(exe, model, *args) as srv:
        base = f"http://127.0.0.1:{srv.port}"
        script = os.path.join(HERE, f"{kind}_test.mjs")
        extra = [chromium] if kind == "page" else [API_KEY]
        p = subprocess.run([node, script, modules, base] + extra, timeout=300)
        if p.returncode:
            fail(f"{os.path.basename(script)} exited with {p.returncode}")
        h = srv.health()
        if h["busy"] or h["waiting"]:
            fail(f"the server is still busy after the client: {h}")
    print(f"{kind}: ok in {time.monotonic() - t0:.2f} s")


if __name__ == "__main__":
    main()
