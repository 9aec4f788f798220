"""The WebSocket contract, fuzzed: frames generated from the client actions' schemas in
docs/asyncapi.yaml, sent over real sockets to a running local gateway. The generator is
schemathesis's own (valid and invalid data, as for the HTTP API): each action's payload
becomes a request body of a one-operation OpenAPI document built here.

- A schema-valid frame is never refused as malformed (no `error` VALIDATION_ERROR);
- a schema-invalid frame is refused with an `error` event;
- no frame ever gets an INTERNAL or UNAVAILABLE error;
- every event the server sends conforms to its schema in the document.

Each frame goes on a connection of its own (frames of one connection run concurrently, as on
API Gateway, so answers could not be told apart otherwise). A valid frame's answers are read
until the connection has been quiet for a moment: a late refusal can be missed (never invented).

    python scripts/fuzz-ws.py BASE_URL TOKEN [--examples N] [--seed S]
"""

import argparse
import json
import random
import sys
from pathlib import Path

import jsonschema
import schemathesis
import yaml
from hypothesis import HealthCheck, Phase, given, seed as hypothesis_seed, settings
from schemathesis.generation import GenerationMode
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parent.parent
DOC = yaml.safe_load((ROOT / "docs" / "asyncapi.yaml").read_text())
COMPONENTS = DOC["components"]
QUIET_S = 0.15
ANSWER_TIMEOUT_S = 10
# API Gateway's WebSocket frame limit (the local gateway enforces it too).
FRAME_LIMIT = 32 * 1024


def messages(action):
    ops = [op for op in DOC["operations"].values() if op["action"] == action]
    return [m["$ref"].rsplit("/", 1)[1] for op in ops for m in op["messages"]]


def payload_schema(name):
    return {"$ref": f"#/components/messages/{name}/payload", "components": COMPONENTS}


def validator(name):
    return jsonschema.Draft202012Validator(payload_schema(name))


EVENTS = {name: validator(name) for name in messages("receive")}
ACTIONS = [name for name in messages("send")]


class Failure(AssertionError):
    pass


def check_event(frame):
    name = frame.get("event") if isinstance(frame, dict) else None
    if name not in EVENTS:
        raise Failure(f"an event the document does not list as received: {frame}")
    errors = [f"{e.message} at {list(e.absolute_path)}" for e in EVENTS[name].iter_errors(frame)]
    if errors:
        raise Failure(f"`{name}` does not conform to docs/asyncapi.yaml: {errors}\n{frame}")
    if name == "error" and frame["data"]["code"] in ("INTERNAL", "UNAVAILABLE"):
        raise Failure(f"a fault: {frame}")


def exchange(ws_url, frame, want_error):
    """Sends `frame` on a new connection; returns the events it got (all checked). A frame
    above API Gateway's 32 KB ends its connection with 1009 instead, as on AWS: that is its
    refusal."""
    events = []
    text = json.dumps(frame)
    if len(text.encode()) > FRAME_LIMIT:
        with connect(ws_url, open_timeout=ANSWER_TIMEOUT_S, max_size=2**20) as ws:
            ws.send(text)
            try:
                while True:
                    check_event(json.loads(ws.recv(timeout=ANSWER_TIMEOUT_S)))
            except ConnectionClosed as closed:
                if closed.rcvd is None or closed.rcvd.code != 1009:
                    raise Failure(f"a frame above {FRAME_LIMIT} bytes did not end with 1009: {closed}")
            except TimeoutError:
                raise Failure(f"a frame above {FRAME_LIMIT} bytes left its connection open")
        return events
    with connect(ws_url, open_timeout=ANSWER_TIMEOUT_S, max_size=2**20) as ws:
        ws.send(text)
        waited_for_error = want_error
        while True:
            try:
                raw = ws.recv(timeout=ANSWER_TIMEOUT_S if waited_for_error else QUIET_S)
            except TimeoutError:
                if waited_for_error:
                    raise Failure(f"no `error` event within {ANSWER_TIMEOUT_S} s for {frame}")
                return events
            event = json.loads(raw)
            check_event(event)
            events.append(event)
            if want_error and event["event"] == "error":
                return events


def actions_as_openapi():
    """Each client action's payload as the body of `POST /<action>`, for schemathesis."""
    schemas = dict(COMPONENTS["schemas"])
    paths = {}
    for name in ACTIONS:
        schemas[f"Action_{name}"] = COMPONENTS["messages"][name]["payload"]
        body = {"$ref": f"#/components/schemas/Action_{name}"}
        paths[f"/{name}"] = {
            "post": {
                "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
                "responses": {"200": {"description": "answered with events"}},
            }
        }
    info = {"title": "WebSocket actions", "version": "1"}
    return schemathesis.openapi.from_dict({"openapi": "3.1.0", "info": info, "paths": paths, "components": {"schemas": schemas}})


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("base")
    parser.add_argument("token")
    parser.add_argument("--examples", type=int, default=25)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    print(f"fuzz-ws: seed {seed} (--seed to replay)")
    ws_url = args.base.replace("http://", "ws://") + f"/ws?token={args.token}"
    counts = {"valid": 0, "invalid": 0, "events": 0}

    api = actions_as_openapi()
    for name in ACTIONS:
        operation = api[f"/{name}"]["POST"]
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            valid = mode == GenerationMode.POSITIVE

            @hypothesis_seed(seed)
            @settings(
                max_examples=args.examples,
                deadline=None,
                database=None,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def frames(case):
                if not isinstance(case.body, (dict, list, str, int, float, bool)) and case.body is not None:
                    return  # raw bytes: a binary frame, which API Gateway refuses before any route
                events = exchange(ws_url, case.body, want_error=not valid)
                counts["valid" if valid else "invalid"] += 1
                counts["events"] += len(events)
                refused = [e for e in events if e["event"] == "error" and e["data"]["code"] == "VALIDATION_ERROR"]
                if valid and refused:
                    raise Failure(f"a schema-valid `{name}` frame refused as malformed: {case.body} -> {refused}")

            try:
                frames()
            except Failure as e:
                print(f"fuzz-ws: FAILED on `{name}` ({mode.value}): {e}", file=sys.stderr)
                return 1
        print(f"fuzz-ws: {name}: ok")
    print(f"fuzz-ws: passed: {counts['valid']} valid and {counts['invalid']} invalid frames, {counts['events']} events checked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
