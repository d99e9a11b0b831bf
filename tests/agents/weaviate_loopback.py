"""A loopback stand-in for a Weaviate server, for the real weaviate-client v4 to talk to.

No Weaviate can run here (no Docker engine; embedded Weaviate downloads a binary). The v4 client
speaks REST for meta and schema and gRPC for batch import, batch delete and search, and it ships
the generated protobuf stubs of that gRPC API (``weaviate.proto.v1``). So this module serves:

* REST (``http.server``): ``GET /v1/meta``, the OIDC discovery probe (404: no OIDC),
  ``GET /v1/schema/<Class>`` (exists), ``POST /v1/schema`` (create);
* gRPC (``grpcio`` with the client's own ``WeaviateServicer``): the health check, ``BatchObjects``
  (upsert by uuid), ``BatchDelete`` and ``Search`` (filters: and/or/not, equal, not-equal,
  contains-any on text properties; ``near_vector`` by cosine distance; the ``after`` cursor the
  client's iterator uses; requested properties and metadata).

What it does not model: HNSW (search is exact, as Weaviate's is at this size), tenants,
consistency levels, references, tokenization (filters compare whole values, i.e. ``FIELD``
tokenization, which the chunk collection declares), other operators. Every request is recorded
in ``calls`` so tests can assert which API was used; unknown REST paths answer 404 and are
recorded too, so a client upgrade that calls something new fails loudly.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from uuid import UUID

import grpc
import numpy as np
from google.protobuf.json_format import MessageToDict
from weaviate.proto.v1 import (
    base_pb2,
    batch_delete_pb2,
    batch_pb2,
    health_weaviate_pb2,
    properties_pb2,
    search_get_pb2,
    weaviate_pb2_grpc,
)

SERVER_VERSION = "1.30.0"
Op = base_pb2.Filters


@dataclass
class Stored:
    properties: dict[str, Any]
    vector: np.ndarray


@dataclass
class FakeWeaviate:
    http_port: int = 0
    grpc_port: int = 0
    schemas: dict[str, dict] = field(default_factory=dict)
    objects: dict[str, dict[str, Stored]] = field(default_factory=dict)  # collection -> uuid -> object
    calls: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def collection(self, name: str) -> dict[str, Stored]:
        return self.objects.setdefault(name, {})


# --- REST ---------------------------------------------------------------------------------------
def _rest_handler(state: FakeWeaviate) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _json(self, status: int, payload: object) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            state.calls.append(f"GET {self.path}")
            if self.path == "/v1/meta":
                return self._json(200, {"version": SERVER_VERSION, "hostname": "loopback", "modules": {}})
            if self.path.startswith("/v1/schema/"):
                name = self.path.rsplit("/", 1)[1]
                if name in state.schemas:
                    return self._json(200, state.schemas[name])
            self._json(404, {"error": [{"message": f"not served here: {self.path}"}]})

        def do_POST(self) -> None:
            state.calls.append(f"POST {self.path}")
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
            if self.path == "/v1/schema":
                state.schemas[body["class"]] = body
                return self._json(200, body)
            self._json(404, {"error": [{"message": f"not served here: {self.path}"}]})

    return Handler


# --- gRPC ---------------------------------------------------------------------------------------
def _vector(message: Any) -> np.ndarray:
    """The single vector of a BatchObject or NearVector, in whichever encoding the client used."""
    if message.vector_bytes:
        return np.frombuffer(message.vector_bytes, dtype="<f4").astype(np.float64)
    for named in message.vectors:
        return np.frombuffer(named.vector_bytes, dtype="<f4").astype(np.float64)
    return np.asarray(list(message.vector), dtype=np.float64)


def _filter_value(f: base_pb2.Filters) -> Any:
    kind = f.WhichOneof("test_value")
    value = getattr(f, kind)
    return list(value.values) if kind.endswith("_array") else value


def _matches(f: base_pb2.Filters, uuid: str, props: dict[str, Any]) -> bool:
    if f.operator == Op.OPERATOR_AND:
        return all(_matches(sub, uuid, props) for sub in f.filters)
    if f.operator == Op.OPERATOR_OR:
        return any(_matches(sub, uuid, props) for sub in f.filters)
    if f.operator == Op.OPERATOR_NOT:
        return not _matches(f.filters[0], uuid, props)
    path = f.target.property if f.HasField("target") else f.on[0]
    actual = uuid if path == "_id" else props.get(path)
    expected = _filter_value(f)
    if f.operator == Op.OPERATOR_EQUAL:
        return actual == expected
    if f.operator == Op.OPERATOR_NOT_EQUAL:
        return actual != expected
    if f.operator == Op.OPERATOR_CONTAINS_ANY:
        values = actual if isinstance(actual, list) else [actual]
        return any(v in expected for v in values)
    raise NotImplementedError(f"filter operator {Op.Operator.Name(f.operator)} not modelled")


def _value(schema: dict, name: str, value: Any) -> properties_pb2.Value:
    kind = next((p["dataType"][0] for p in schema.get("properties", []) if p["name"] == name), "text")
    if kind == "int":
        return properties_pb2.Value(int_value=int(value))
    if kind == "date":
        return properties_pb2.Value(date_value=str(value))
    if kind == "number":
        return properties_pb2.Value(number_value=float(value))
    return properties_pb2.Value(text_value=str(value))


class _Servicer(weaviate_pb2_grpc.WeaviateServicer):
    def __init__(self, state: FakeWeaviate) -> None:
        self.state = state

    def BatchObjects(self, request, context):
        self.state.calls.append("grpc BatchObjects")
        with self.state.lock:
            for obj in request.objects:
                props = MessageToDict(obj.properties.non_ref_properties)
                for arrays in (obj.properties.text_array_properties, obj.properties.int_array_properties):
                    for array in arrays:
                        props[array.prop_name] = list(array.values)
                self.state.collection(obj.collection)[obj.uuid] = Stored(props, _vector(obj))
        return batch_pb2.BatchObjectsReply(took=0.0)

    def BatchDelete(self, request, context):
        self.state.calls.append("grpc BatchDelete")
        with self.state.lock:
            objects = self.state.collection(request.collection)
            doomed = [u for u, o in objects.items() if _matches(request.filters, u, o.properties)]
            if not request.dry_run:
                for uuid in doomed:
                    del objects[uuid]
        return batch_delete_pb2.BatchDeleteReply(
            took=0.0, matches=len(doomed), successful=len(doomed), failed=0
        )

    def Search(self, request, context):
        kind = "near_vector" if request.HasField("near_vector") else "fetch"
        self.state.calls.append(f"grpc Search {kind}")
        schema = self.state.schemas.get(request.collection, {})
        with self.state.lock:
            items = sorted(self.state.collection(request.collection).items())
        if request.HasField("filters"):
            items = [(u, o) for u, o in items if _matches(request.filters, u, o.properties)]
        distances: dict[str, float] = {}
        if kind == "near_vector":
            query = _vector(request.near_vector)
            query = query / max(np.linalg.norm(query), 1e-12)
            for uuid, obj in items:
                norm = max(np.linalg.norm(obj.vector), 1e-12)
                distances[uuid] = float(1.0 - obj.vector @ query / norm)
            items.sort(key=lambda item: distances[item[0]])
        elif request.after:
            items = [(u, o) for u, o in items if u > request.after]
        items = items[: request.limit or 10]
        wanted = request.properties
        results = []
        for uuid, obj in items:
            names = (
                list(obj.properties)
                if wanted.return_all_nonref_properties or not wanted.non_ref_properties
                else list(wanted.non_ref_properties)
            )
            fields = {n: _value(schema, n, obj.properties[n]) for n in names if n in obj.properties}
            metadata = search_get_pb2.MetadataResult(id=uuid, id_as_bytes=UUID(uuid).bytes)
            if uuid in distances and request.metadata.distance:
                metadata.distance, metadata.distance_present = distances[uuid], True
            results.append(
                search_get_pb2.SearchResult(
                    properties=search_get_pb2.PropertiesResult(
                        non_ref_props=properties_pb2.Properties(fields=fields)
                    ),
                    metadata=metadata,
                )
            )
        return search_get_pb2.SearchReply(took=0.0, results=results)


def _health_handler() -> grpc.GenericRpcHandler:
    def check(request, context):
        return health_weaviate_pb2.WeaviateHealthCheckResponse(
            status=health_weaviate_pb2.WeaviateHealthCheckResponse.SERVING
        )

    return grpc.method_handlers_generic_handler(
        "grpc.health.v1.Health",
        {
            "Check": grpc.unary_unary_rpc_method_handler(
                check,
                request_deserializer=health_weaviate_pb2.WeaviateHealthCheckRequest.FromString,
                response_serializer=health_weaviate_pb2.WeaviateHealthCheckResponse.SerializeToString,
            )
        },
    )


@contextmanager
def fake_weaviate() -> Iterator[FakeWeaviate]:
    """Start REST and gRPC on free loopback ports; stop both on exit."""
    state = FakeWeaviate()
    rest = ThreadingHTTPServer(("127.0.0.1", 0), _rest_handler(state))
    rest.daemon_threads = True
    state.http_port = rest.server_address[1]
    threading.Thread(target=rest.serve_forever, daemon=True).start()
    rpc = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    weaviate_pb2_grpc.add_WeaviateServicer_to_server(_Servicer(state), rpc)
    rpc.add_generic_rpc_handlers((_health_handler(),))
    state.grpc_port = rpc.add_insecure_port("127.0.0.1:0")
    rpc.start()
    try:
        yield state
    finally:
        rpc.stop(grace=None)
        rest.shutdown()
        rest.server_close()
