"""The ``google-genai`` SDK adapter (3.x): one CostRecord per billed Gemini request.

Gemini's public methods may send several requests per call: automatic function calling
(AFC) runs the model, your Python function and the model again; automatic continuation
follows continuation tokens; ``client.chats`` goes through ``models.generate_content``. The
response they return carries the usage of the *last* request only, so recording the public
method would drop the cost of every earlier hop. llmcost therefore patches the one method per
request that all of them go through, on ``Models`` and ``AsyncModels``:
``_generate_content``, ``_generate_content_stream`` and ``_embed_content``. These are private:
if a release renames them, the public ``generate_content``, ``generate_content_stream`` and
``embed_content`` are patched instead, with one warning that AFC and continuation hops before
the last are then not recorded (``tests/integrations/gemini/test_instrumentation.py`` removes
them to check that). ``count_tokens`` and ``compute_tokens`` are free and never patched.

The provider is ``gcp.vertex_ai`` for a Vertex AI client and ``gcp.gemini`` otherwise, read
from the SDK's API client behind the resource (``Models._api_client.vertexai``, a private
attribute read through :mod:`._seams`: without it, calls are recorded as ``gcp.gemini`` and
one warning says so).

Usage, ids and estimates are read by the pure functions of :mod:`._gemini_usage`.
"""

from __future__ import annotations

import logging
import types
from collections.abc import Mapping
from typing import Any

from llmcost import errors
from llmcost.budgets import _estimate
from llmcost.integrations import _gemini_usage as gemini
from llmcost.integrations import _seams
from llmcost.integrations._core import (
    Adapter,
    Billed,
    CallContext,
    Destination,
    Reading,
    StreamReader,
    integration_for,
)
from llmcost.integrations._fields import field

__all__ = ["ADAPTER", "INTEGRATION", "REPLAYED_HEADER", "SUPPORTED_VERSIONS"]

logger = logging.getLogger("llmcost")

#: The ``google-genai`` versions this integration is written for: ``>=3.0, <4`` (3.0 is the
#: first release built on ``httpx2``).
SUPPORTED_VERSIONS = ((3, 0), (4,))
_MODULE = "google.genai.models"
#: Response header the llmcost fake transports set: the record is marked ``replayed``.
REPLAYED_HEADER = "x-llmcost-replayed"
#: operation kind -> (per-request method, its public fallback)
_METHODS = {
    "generate": ("_generate_content", "generate_content"),
    "stream": ("_generate_content_stream", "generate_content_stream"),
    "embeddings": ("_embed_content", "embed_content"),
}
_warned: set[str] = set()


def _warn_once(key: str, message: str, *args: Any) -> None:
    if key not in _warned:
        _warned.add(key)
        logger.warning(message, *args)


def _per_request_methods() -> bool:
    """Whether the SDK still has the private per-request methods on both classes."""
    from google.genai import models

    return all(
        callable(getattr(cls, private, None))
        for cls in (models.Models, models.AsyncModels)
        for private, _ in _METHODS.values()
    )


class GeminiAdapter(Adapter):
    """Where ``google-genai`` keeps usage, ids and model."""

    name = "google.genai"
    distribution = "google-genai"
    min_version, max_version = SUPPORTED_VERSIONS
    provider = gemini.PROVIDER_GEMINI
    request_id_header = "x-goog-request-id"

    def load(self) -> None:
        import httpx2
        from google.genai import errors as genai_errors

        self.error_types = (genai_errors.APIError, httpx2.HTTPError, httpx2.StreamError)
        # The per-request stream methods return plain generators (the SDK has no stream class).
        self.stream_types = (types.GeneratorType,)
        self.async_stream_types = (types.AsyncGeneratorType,)

    def billed(self) -> list[Billed]:
        private = _per_request_methods()
        if not private:
            errors.count("google.genai.per_request_methods_missing")
            _warn_once(
                "methods",
                "llmcost: google.genai.models.Models has no _generate_content/"
                "_generate_content_stream/_embed_content (changed in this google-genai "
                "release?): the public methods are patched instead, and requests made by "
                "automatic function calling or continuation before the last are not recorded",
            )
        index = 0 if private else 1
        found: list[Billed] = []
        for cls, is_async in (("Models", False), ("AsyncModels", True)):
            generate, stream, embed = (
                _METHODS[k][index] for k in ("generate", "stream", "embeddings")
            )
            found.append(Billed(_MODULE, f"{cls}.{generate}", "generate_content", is_async))
            found.append(
                Billed(_MODULE, f"{cls}.{stream}", "generate_content", is_async, stream=True)
            )
            found.append(Billed(_MODULE, f"{cls}.{embed}", "embeddings", is_async))
        return found

    def destination(self, instance: Any, kwargs: Mapping[str, Any]) -> Destination:
        api_client = _seams.read("genai_api_client", instance)
        # vertexai is None on a Gemini Developer API client: only True means Vertex AI.
        if getattr(api_client, "vertexai", None) is True:
            return Destination(gemini.PROVIDER_VERTEX)
        return Destination(gemini.PROVIDER_GEMINI)

    def prepare(self, ctx: CallContext) -> None:
        # The tier asked for is the tier billed when the response does not say (Google
        # documents flex as served or failed, and a priority request downgraded to standard
        # is said in the response's usage or its x-gemini-service-tier header).
        tier = _estimate.requested_service_tier(ctx.operation, ctx.kwargs)
        if tier is not None:
            ctx.requested["service_tier"] = tier
        # A budget reserved this call's worst case: without config.max_output_tokens that is
        # the model's whole output limit (a thinking budget bounds only the thoughts). Say so.
        call = ctx.call
        if call is None or call.reservation is None or ctx.operation == "embeddings":
            return
        if _estimate.output_cap(ctx.operation, ctx.kwargs) is None:
            _warn_once(
                f"uncapped:{call.model}",
                "llmcost: %s calls to %r under a budget set no config.max_output_tokens: the "
                "budget reserves the model's whole output limit for each (logged once per model)",
                call.provider,
                call.model,
            )

    def read(self, operation: str, body: Any) -> Reading:
        meta = self.response_meta(body)
        if operation == "embeddings":
            return Reading(gemini.embedding_usage(body), meta)
        return Reading(gemini.usage_from_gemini(field(body, "usage_metadata")), meta)

    def response_meta(self, body: Any) -> dict[str, Any]:
        meta = {k: v for k, v in gemini.response_fields(body).items() if v is not None}
        if _replayed(body):
            meta["replayed"] = True
        return meta

    def request_id_of(self, body: Any) -> Any:
        # Read from the response's own copy of the headers (response_meta), not a private field.
        return None

    def replays(self, instance: Any) -> bool:
        # The fakes' replay header is on every response and chunk (response_meta).
        return False

    def stream_reader(self, ctx: CallContext) -> StreamReader:
        return _ChunkReader()

    def output_text(self, operation: str, body: Any) -> str:
        return gemini.output_text(body)


def _replayed(body: Any) -> bool:
    """google-genai keeps the HTTP headers on each response and chunk: the fakes' replay
    header is read there."""
    headers = field(field(body, "sdk_http_response"), "headers")
    return isinstance(headers, dict) and headers.get(REPLAYED_HEADER) == "1"


class _ChunkReader(StreamReader):
    """A stream's chunks: the last cumulative usage and the ids, read at the end."""

    def __init__(self) -> None:
        super().__init__()
        self.stream = gemini.GeminiStream()

    def on_item(self, item: Any) -> bool:
        stream = self.stream
        stream.feed(item)
        if stream.metadata is None:
            # The text only matters while no usage has come (to estimate a stream cut then).
            text = gemini.output_text(item)
            if text:
                self.text.add(text)
        return True

    def result(self) -> Reading:
        stream = self.stream
        meta = {k: v for k, v in stream.fields().items() if v is not None}
        if _replayed(stream.first):
            meta["replayed"] = True
        # Every chunk repeats the usage so far: a stream cut before its last chunk has partial
        # (but real, never summed) counts.
        return Reading(stream.usage(), meta, partial=not stream.finished())


ADAPTER = GeminiAdapter()
INTEGRATION = integration_for(ADAPTER)
