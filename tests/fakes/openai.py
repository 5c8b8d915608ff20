"""A fake OpenAI-compatible server on 127.0.0.1: ``/v1/chat/completions`` answers from a script, so the real
``ChatOpenAI`` client (tool calls, vision content, errors, timeouts) is tested without a model."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeOpenAI:
    """``/v1/chat/completions`` answering from a script: each entry is a dict (a JSON reply), an int (an
    HTTP error status) or ``("sleep", seconds)``. Records the requests it received."""

    def __init__(self, script):
        self.script, self.requests = list(script), []
        outer = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append(body)
                step = outer.script.pop(0) if outer.script else final("ok")
                if isinstance(step, tuple):
                    time.sleep(step[1])
                    step = final("late")
                if isinstance(step, int):
                    self.send_response(step)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(json.dumps({"error": {"message": "boom", "type": "server_error"}}).encode())
                    return
                data = json.dumps(step).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except BrokenPipeError:  # the client timed out and hung up: that is the test
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


def reply(message: dict, finish: str) -> dict:
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "fake",
            "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


def final(text: str) -> dict:
    return reply({"content": text}, "stop")


def tool_call(name: str, arguments: str) -> dict:
    return reply({"content": None, "tool_calls": [{"id": "call_1", "type": "function",
                                                     "function": {"name": name, "arguments": arguments}}]},
                  "tool_calls")
