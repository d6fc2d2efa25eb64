"""The Python peer of benches/codec_server.rs: a codec server built the way Temporal's Python
encryption sample builds its own (aiohttp, protojson `Payloads` through protobuf's json_format, the
payload codec applied to the whole list), with the payload format of docs/payload-format.md through
the Python worker codec in examples/workers/python (`cryptography` AESGCM, AES-256-GCM per payload).

It holds one random data key, so the benchmark first asks it to /encode the payloads it will then
/decode. Usage: python_codec_server.py --port PORT
"""

import argparse
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from pathlib import Path

from aiohttp import hdrs, web
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples" / "workers" / "python"))
from engram_codec import DataKey, EncryptionCodec, Keyring  # noqa: E402

ALLOWED_HEADERS = "authorization,authorization-extras,content-type,x-namespace"


def build_codec_server(origin: str) -> web.Application:
    """The aiohttp application: POST /encode and /decode, CORS for `origin`."""

    async def cors_options(req: web.Request) -> web.Response:
        resp = web.Response()
        if req.headers.get(hdrs.ORIGIN) == origin:
            resp.headers[hdrs.ACCESS_CONTROL_ALLOW_ORIGIN] = origin
            resp.headers[hdrs.ACCESS_CONTROL_ALLOW_CREDENTIALS] = "true"
            resp.headers[hdrs.ACCESS_CONTROL_ALLOW_METHODS] = "POST"
            resp.headers[hdrs.ACCESS_CONTROL_ALLOW_HEADERS] = ALLOWED_HEADERS
        return resp

    async def apply(
        fn: Callable[[Sequence[Payload]], Awaitable[list[Payload]]], req: web.Request
    ) -> web.Response:
        if req.content_type != "application/json":
            raise web.HTTPBadRequest(text="expected application/json")
        payloads = json_format.Parse(await req.read(), Payloads())
        payloads = Payloads(payloads=await fn(payloads.payloads))
        resp = await cors_options(req)
        resp.content_type = "application/json"
        resp.text = json_format.MessageToJson(payloads)
        return resp

    codec = EncryptionCodec(Keyring([DataKey("bench", os.urandom(32))]), namespace="default")
    app = web.Application(client_max_size=4 << 20)
    app.add_routes(
        [
            web.post("/encode", partial(apply, codec.encode)),
            web.post("/decode", partial(apply, codec.decode)),
            web.options("/encode", cors_options),
            web.options("/decode", cors_options),
        ]
    )
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--origin", default="http://127.0.0.1:8233")
    args = parser.parse_args()
    web.run_app(build_codec_server(args.origin), host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
