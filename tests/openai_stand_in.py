"""A real OpenAI-compatible HTTP server on 127.0.0.1 that stands in for an LLM in tests.

No LLM can run on the test machines, so tests start this small server in a thread: it serves
`POST /v1/chat/completions` like any OpenAI-compatible endpoint, records every request it receives
(headers and JSON body), and answers with a sentence holding every placeholder (`<PERSON_1>`) it
was sent, in the order it first saw them. It can also answer late, fail with an HTTP status, or
refuse calls without the right key, to test the error paths.

Example:
    with StandInLlm() as llm:
        config = ... llm: {base_url: llm.base_url, model: stand-in} ...
        generate(...)
        assert llm.requests[0]["model"] == "stand-in"
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PLACEHOLDER = re.compile(r"<[A-Z_]+_(?:\d+|[0-9a-f]{10})>")


class StandInLlm:
    """The stand-in server; a context manager that starts and stops it.

    Args:
        status: the HTTP status to answer with (200, or an error such as 500).
        delay: seconds to wait before answering (longer than the client's timeout to test it).
        require_key: refuse (401) calls whose `Authorization` is not `Bearer <require_key>`.
        extra_text: text the answer adds after the placeholders (to carry something personal).
    """

    def __init__(
        self, *, status: int = 200, delay: float = 0.0, require_key: str | None = None, extra_text: str = ""
    ) -> None:
        self.status = status
        self.delay = delay
        self.require_key = require_key
        self.extra_text = extra_text
        self.requests: list[dict] = []
        self.headers: list[dict[str, str]] = []  # names in lower case
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """The URL to put in `llm.base_url`."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def raw_requests(self) -> str:
        """Everything received, as one text: to search for what must not have been sent."""
        return json.dumps({"headers": self.headers, "bodies": self.requests}, ensure_ascii=False)

    def __enter__(self) -> StandInLlm:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _answer(self, body: dict) -> str:
        sent = " ".join(m.get("content") or "" for m in body.get("messages", []) if m.get("role") == "user")
        placeholders = list(dict.fromkeys(PLACEHOLDER.findall(sent)))
        return f"Dear {' '.join(placeholders)}, thank you.{self.extra_text}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                stand_in.requests.append(body)
                stand_in.headers.append({name.lower(): value for name, value in self.headers.items()})
                if stand_in.delay:
                    time.sleep(stand_in.delay)
                if not self.path.endswith("/chat/completions"):
                    return self._reply(404, {"error": {"message": "not found"}})
                if (
                    stand_in.require_key
                    and self.headers.get("Authorization") != f"Bearer {stand_in.require_key}"
                ):
                    return self._reply(401, {"error": {"message": "invalid api key"}})
                if stand_in.status != 200:
                    return self._reply(stand_in.status, {"error": {"message": "the model is overloaded"}})
                content = stand_in._answer(body)
                return self._reply(
                    200,
                    {
                        "id": f"chatcmpl-{len(stand_in.requests)}",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": body.get("model"),
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": content},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {"prompt_tokens": 50, "completion_tokens": 9, "total_tokens": 59},
                    },
                )

            def _reply(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:  # quiet test output
                pass

        return Handler
