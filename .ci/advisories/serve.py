#!/usr/bin/env python3
"""Serves the advisory snapshot of this folder as a NuGet audit source, on 127.0.0.1 and a free port.

NuGet reads advisories from a source's service index (resource VulnerabilityInfo/6.7.0): an index of pages, each page a
JSON object of lower-case package id -> [{url, severity 0-3, versions (a NuGet range)}]. This serves advisories.json (and
any page-*.json beside it, as refresh writes them) in that form. Prints the service index URL on its first line, then
serves until killed. Used by .ci/run (docs/security.md, "Dependencies").
"""
import datetime
import glob
import http.server
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        base = f"http://127.0.0.1:{self.server.server_address[1]}"
        pages = sorted(os.path.basename(p) for p in glob.glob(os.path.join(HERE, "page-*.json"))) or ["advisories.json"]
        if self.path == "/index.json":
            body = {"version": "3.0.0", "resources": [{"@id": f"{base}/vulnerability/index.json", "@type": "VulnerabilityInfo/6.7.0"}]}
        elif self.path == "/vulnerability/index.json":
            updated = max(os.path.getmtime(os.path.join(HERE, p)) for p in pages)
            body = [{"@name": p[:-5], "@id": f"{base}/vulnerability/{p}", "@updated": datetime.datetime.fromtimestamp(int(updated), datetime.timezone.utc).isoformat()} for p in pages]
        elif self.path.startswith("/vulnerability/") and os.path.basename(self.path) in pages:
            with open(os.path.join(HERE, os.path.basename(self.path)), encoding="utf-8") as f:
                body = json.load(f)
        else:
            self.send_error(404)
            return
        data = json.dumps(body).encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"http://127.0.0.1:{server.server_address[1]}/index.json", flush=True)
sys.stdout.close()
server.serve_forever()
