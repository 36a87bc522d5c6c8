"""A stand-in for the Hugging Face Hub on 127.0.0.1: just enough of its HTTP API for `push_to_hub` and downloads.

Test infrastructure, not a Hub. Repositories live in memory: repo id -> {path: bytes}, plus a commit sha that
changes with every commit. Every request is recorded in `hub.requests` ("METHOD /path"), so a test can show what
huggingface_hub asked for. Endpoints (huggingface_hub 2.4.0, model repositories, branch `main`):

    POST /api/repos/create                        create (or find) a repo          -> {"url": ...}
    POST /api/validate-yaml                       ModelCard.push_to_hub validates  -> {}
    POST /api/models/{repo}/preupload/{rev}       upload mode per file             -> every file "regular"
    POST /api/models/{repo}/commit/{rev}          NDJSON: header, then {"key": "file", "value": {path, content
                                                  (base64)}} or "deletedFile" lines -> {"commitOid", "commitUrl"}
    GET  /api/models/{repo}/revision/{rev}        repo info: sha and siblings (snapshot_download's file list)
    GET  /api/models/{repo}                       same, no revision (model_info)
    GET  /api/models/{repo}/tree/{rev}[/{folder}] the files in a folder (AutoTokenizer lists the repo)
    HEAD/GET /{repo}/resolve/{rev}/{path}         file metadata/content with X-Repo-Commit, a per-file ETag and
                                                  Content-Length; 404 + X-Error-Code: EntryNotFound (or
                                                  RepoNotFound) when missing

Usage:

    with StandInHub() as hub:
        env = {"HF_ENDPOINT": hub.url, "HF_TOKEN": "any"}   # before huggingface_hub is imported
        ...
        hub.files("user/repo")  # {path: bytes}
        hub.commits             # [(repo id, commit message, paths written), ...] in order
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse

REPO = r"(?P<repo>[^/]+/[^/]+)"
REVISION = r"(?P<revision>[^/]+)"


class StandInHub:
    def __init__(self):
        self.repos: dict[str, dict[str, bytes]] = {}
        self.shas: dict[str, str] = {}
        self.requests: list[str] = []
        self.commits: list[tuple[str, str, list[str]]] = []  # (repo id, commit message, paths written)
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> StandInHub:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def files(self, repo_id: str) -> dict[str, bytes]:
        with self.lock:
            return dict(self.repos.get(repo_id, {}))

    # --- repository operations, called by the handler ---

    def create(self, repo_id: str) -> None:
        with self.lock:
            if repo_id not in self.repos:
                self.repos[repo_id] = {}
                self.shas[repo_id] = _sha(repo_id.encode())

    def commit(self, repo_id: str, lines: list[dict]) -> str:
        with self.lock:
            files = self.repos[repo_id]
            for line in lines:
                value = line.get("value", {})
                if line["key"] == "file":
                    files[value["path"]] = base64.b64decode(value["content"])
                elif line["key"] == "deletedFile":
                    files.pop(value["path"], None)
                elif line["key"] != "header":
                    raise ValueError(f"the stand-in Hub does not support commit lines of kind {line['key']!r}")
            header = next((line["value"] for line in lines if line["key"] == "header"), {})
            paths = [line["value"]["path"] for line in lines if line["key"] == "file"]
            self.commits.append((repo_id, header.get("summary", ""), paths))
            self.shas[repo_id] = _sha((self.shas[repo_id] + json.dumps(lines)).encode())
            return self.shas[repo_id]


def _sha(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def _handler(hub: StandInHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # quiet: the requests are recorded in hub.requests
            pass

        def do_HEAD(self):
            self._dispatch("HEAD")

        def do_GET(self):
            self._dispatch("GET")

        def do_POST(self):
            self._dispatch("POST")

        def _dispatch(self, method: str) -> None:
            path = unquote(urlparse(self.path).path)
            hub.requests.append(f"{method} {path}")
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) if method == "POST" else b""
            routes = [
                ("POST", r"/api/repos/create", self._create),
                ("POST", r"/api/validate-yaml", lambda body: self._json({})),
                ("POST", rf"/api/models/{REPO}/preupload/{REVISION}", self._preupload),
                ("POST", rf"/api/models/{REPO}/commit/{REVISION}", self._commit),
                ("GET", rf"/api/models/{REPO}(?:/revision/{REVISION})?", self._info),
                ("GET", rf"/api/models/{REPO}/tree/{REVISION}(?:/(?P<folder>.+))?", self._tree),
                ("GET", rf"/{REPO}/resolve/{REVISION}/(?P<file>.+)", self._resolve),
                ("HEAD", rf"/{REPO}/resolve/{REVISION}/(?P<file>.+)", self._resolve),
            ]
            for route_method, pattern, action in routes:
                match = re.fullmatch(pattern, path)
                if route_method == method and match:
                    return action(body, **match.groupdict()) if match.groupdict() else action(body)
            self._error(404, "EntryNotFound", f"the stand-in Hub has no route for {method} {path}")

        def _create(self, body: bytes) -> None:
            payload = json.loads(body)
            repo_id = f"{payload['organization']}/{payload['name']}" if payload.get("organization") else payload["name"]
            hub.create(repo_id)
            self._json({"url": f"{hub.url}/{repo_id}", "name": repo_id, "id": repo_id})

        def _preupload(self, body: bytes, repo: str, revision: str) -> None:
            if repo not in hub.repos:
                return self._error(404, "RepoNotFound", f"no repo {repo}")
            files = json.loads(body)["files"]
            self._json({"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]})

        def _commit(self, body: bytes, repo: str, revision: str) -> None:
            if repo not in hub.repos:
                return self._error(404, "RepoNotFound", f"no repo {repo}")
            lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
            sha = hub.commit(repo, lines)
            self._json({"commitOid": sha, "commitUrl": f"{hub.url}/{repo}/commit/{sha}", "pullRequestUrl": None})

        def _info(self, body: bytes, repo: str, revision: str | None = None) -> None:
            if repo not in hub.repos:
                return self._error(404, "RepoNotFound", f"no repo {repo}")
            files = hub.files(repo)
            self._json(
                {
                    "id": repo,
                    "modelId": repo,
                    "sha": hub.shas[repo],
                    "private": False,
                    "siblings": [{"rfilename": name, "size": len(data)} for name, data in sorted(files.items())],
                }
            )

        def _tree(self, body: bytes, repo: str, revision: str, folder: str | None = None) -> None:
            if repo not in hub.repos:
                return self._error(404, "RepoNotFound", f"no repo {repo}")
            recursive = parse_qs(urlparse(self.path).query).get("recursive", ["false"])[0].lower() in ("true", "1")
            prefix = f"{folder.rstrip('/')}/" if folder else ""
            entries = {}
            for name, data in sorted(hub.files(repo).items()):
                if not name.startswith(prefix):
                    continue
                parts = name[len(prefix) :].split("/")
                shown = parts if recursive else parts[:1]
                for depth in range(1, len(shown) + 1):
                    path = prefix + "/".join(shown[:depth])
                    if depth == len(parts):
                        entries[path] = {"type": "file", "path": path, "size": len(data), "oid": _sha(data)}
                    else:
                        entries[path] = {"type": "directory", "path": path, "oid": _sha(path.encode())}
            if folder and not entries:
                return self._error(404, "EntryNotFound", f"no folder {folder} in {repo}")
            self._json(list(entries.values()))

        def _resolve(self, body: bytes, repo: str, revision: str, file: str) -> None:
            if repo not in hub.repos:
                return self._error(404, "RepoNotFound", f"no repo {repo}")
            data = hub.files(repo).get(file)
            if data is None:
                return self._error(404, "EntryNotFound", f"{file} is not in {repo}")
            self.send_response(200)
            self.send_header("X-Repo-Commit", hub.shas[repo])
            self.send_header("ETag", f'"{_sha(data)}"')
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command == "GET":
                self.wfile.write(data)

        def _json(self, payload, status: int = 200) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, code: str, message: str) -> None:
            data = json.dumps({"error": message}).encode()
            self.send_response(status)
            self.send_header("X-Error-Code", code)
            self.send_header("X-Error-Message", message)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

    return Handler
