"""A local stand-in for the Kubernetes API server, for the config provider tests: answers
GET /api/v1/namespaces/<ns>/<secrets|configmaps>/<name> over HTTPS from a JSON file of objects
({"secrets/<ns>/<name>": {"data": {...}}, ...}), 401 without the expected bearer token, 403
for the objects listed under "forbidden", 404 for the rest, and appends every request's path
to a log file so that the test can tell when runnel read what.

usage: kubernetes_api.py <port> <cert.pem> <key.pem> <token> <objects.json> <requests.log>
"""

import json
import ssl
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, cert, key, token, objects_path, log_path = sys.argv[1:7]


class Api(BaseHTTPRequestHandler):
    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        with open(log_path, "a") as log:
            log.write(self.path + "\n")
        if self.headers.get("Authorization") != f"Bearer {token}":
            return self.answer(401, {"kind": "Status", "reason": "Unauthorized", "code": 401})
        parts = self.path.strip("/").split("/")
        # api/v1/namespaces/<ns>/<resource>/<name>
        if len(parts) != 6 or parts[:3] != ["api", "v1", "namespaces"]:
            return self.answer(404, {"kind": "Status", "reason": "NotFound", "code": 404})
        ns, resource, name = parts[3], parts[4], parts[5]
        with open(objects_path) as f:
            objects = json.load(f)
        ref = f"{resource}/{ns}/{name}"
        if ref in objects.get("forbidden", []):
            return self.answer(403, {"kind": "Status", "reason": "Forbidden", "code": 403})
        if ref not in objects:
            return self.answer(404, {"kind": "Status", "reason": "NotFound", "code": 404})
        kind = "Secret" if resource == "secrets" else "ConfigMap"
        body = {"kind": kind, "apiVersion": "v1",
                "metadata": {"name": name, "namespace": ns}, **objects[ref]}
        return self.answer(200, body)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", int(port)), Api)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
server.socket = context.wrap_socket(server.socket, server_side=True)
print("ready", flush=True)
server.serve_forever()
