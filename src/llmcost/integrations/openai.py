"""The ``openai`` SDK adapter: every billed call, sync and async, streamed or not.

Patched methods (sync and async resource classes each):

- ``chat.completions.create`` (``.stream()``, ``with_raw_response`` and
  ``with_streaming_response`` all reach it) and ``chat.completions.parse`` (which posts
  directly, not through ``create``);
- ``responses.create`` (``.stream()`` reaches it) and ``responses.parse`` (posts directly);
- ``embeddings.create``; the legacy ``completions.create``.

Each user call goes through exactly one patched method, so it is recorded exactly once. The
``close()`` of the ``.stream()`` helpers is patched too (no record of its own): they close
the HTTP response directly, not the recording stream they hold, which is ended there.

What the call path does is the core's (:mod:`._core`); this module says where OpenAI's usage
lives. On the official API host (and Azure OpenAI from API version 2024-09-01) llmcost asks a
Chat Completions stream for its final usage chunk (``stream_options.include_usage``) when the
user did not, and hides that chunk, so the user's loop sees exactly the chunks it would have
seen; elsewhere it never changes the request and estimates with :mod:`llmcost.tokens`.

Where a call goes decides its provider (:data:`GATEWAY_HOSTS`, one table): OpenAI's own API,
Azure OpenAI (``model=`` names a deployment, recorded as ``deployment``), or an
OpenAI-compatible gateway (its host recorded as ``endpoint_host``), whose calls are never
priced as OpenAI's unless the user says so. A cost the gateway reports (OpenRouter's
``usage.cost``, a LiteLLM proxy's ``x-litellm-response-cost`` header) is recorded as such.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Mapping
from typing import Any

from llmcost._context import state
from llmcost.integrations import _openai_usage, _seams
from llmcost.integrations._core import (
    Adapter,
    Billed,
    CallContext,
    Destination,
    Reading,
    StreamReader,
    as_mapping,
    integration_for,
)
from llmcost.integrations._fields import field, view
from llmcost.integrations._streams import AsyncRecordingStream, RecordingStream
from llmcost.types import Usage

__all__ = ["ADAPTER", "INTEGRATION", "SUPPORTED_VERSIONS"]

#: The openai versions this integration is written and tested against (``>=3.0, <4``).
SUPPORTED_VERSIONS = ((3, 0), (4,))

_DATA_RESIDENCY_HOSTS = frozenset({"us", "eu", "ae", "au", "in", "jp"})
_OFFICIAL_HOST = "api.openai.com"
_OFFICIAL_SUFFIX = ".api.openai.com"

#: Azure OpenAI's OpenTelemetry ``gen_ai.provider.name``.
AZURE = "azure.ai.openai"
#: The provider of an OpenAI-compatible endpoint whose host is not in :data:`GATEWAY_HOSTS`.
COMPATIBLE = "openai_compatible"
#: The hosts of Azure OpenAI resources (and Azure AI Foundry's, which serve the same API).
AZURE_HOST_SUFFIXES = (
    ".openai.azure.com",
    ".cognitiveservices.azure.com",
    ".services.ai.azure.com",
)
#: OpenAI-compatible endpoints reached through the ``openai`` client with another ``base_url``:
#: host -> the provider on their records, OpenTelemetry's well-known ``gen_ai.provider.name``
#: where one exists. A host matches itself and its subdomains; any other host is
#: :data:`COMPATIBLE`. The catalog prices none of them as OpenAI (see docs/integrations/openai.md).
GATEWAY_HOSTS = {
    "openrouter.ai": "openrouter",
    "api.groq.com": "groq",
    "api.deepseek.com": "deepseek",
    "api.mistral.ai": "mistral_ai",
    "api.x.ai": "x_ai",
    "api.perplexity.ai": "perplexity",
    "generativelanguage.googleapis.com": "gcp.gemini",
    "api.together.xyz": "together",
    "api.together.ai": "together",
    "api.fireworks.ai": "fireworks",
}
#: The header in which a LiteLLM proxy reports what a call cost (USD).
LITELLM_COST_HEADER = "x-litellm-response-cost"
#: Azure API versions from this date on accept ``stream_options.include_usage``.
_AZURE_STREAM_USAGE_SINCE = "2024-09-01"
_AZURE_DEPLOYMENT_PATH = re.compile(r"/deployments/([^/]+)")
_API_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
#: Responses API statuses of a response that is not finished: no usage yet (``background``).
_NOT_DONE = frozenset({"queued", "in_progress"})


def _host_of(client: Any) -> str:
    try:
        url = client.base_url if client is not None else None
    except Exception:  # an exotic client: no host
        return ""
    return str(getattr(url, "host", "") or "").lower()


@functools.lru_cache(maxsize=256)
def provider_for_host(host: str) -> str:
    """The provider of calls to ``host`` (an ``openai`` client's ``base_url`` host).

    Example:
        >>> provider_for_host("api.openai.com"), provider_for_host("openrouter.ai")
        ('openai', 'openrouter')
        >>> provider_for_host("my-res.openai.azure.com"), provider_for_host("localhost")
        ('azure.ai.openai', 'openai_compatible')
    """
    if not host or _is_official(host):
        return "openai"
    if host.endswith(AZURE_HOST_SUFFIXES):
        return AZURE
    for known, provider in GATEWAY_HOSTS.items():
        if host == known or host.endswith("." + known):
            return provider
    return COMPATIBLE


def _data_residency(client: Any, host: str) -> str | None:
    """The data residency of an OpenAI client: its ``data_residency=`` option, else the
    region its host names (``eu.api.openai.com``)."""
    client_class: type = type(client)
    if client is not None and _has_residency_option(client_class):
        residency = _seams.read("data_residency", client)
        if isinstance(residency, str):
            return residency
    prefix = host[: -len(_OFFICIAL_SUFFIX)] if host.endswith(_OFFICIAL_SUFFIX) else ""
    return prefix if prefix in _DATA_RESIDENCY_HOSTS else None


def _azure_deployment(client: Any) -> str | None:
    """The deployment in an Azure client's public ``base_url`` (``azure_deployment=``)."""
    try:
        path = str(client.base_url.path)
    except Exception:  # an exotic client: no path
        return None
    found = _AZURE_DEPLOYMENT_PATH.search(path)
    return found.group(1) if found else None


def _azure_reports_stream_usage(client: Any) -> bool:
    """Whether the Azure API version the client uses accepts ``stream_options``: dated
    versions from 2024-09-01 on, and the undated v1 API (``"preview"``, ``"latest"``)."""
    try:
        version = client.default_query.get("api-version")
    except Exception:  # no public default query: leave the request alone
        return False
    if not isinstance(version, str) or not version:
        return False
    if _API_DATE.match(version):
        return version >= _AZURE_STREAM_USAGE_SINCE
    return True


@functools.cache
def _has_residency_option(client_class: type) -> bool:
    """Whether this SDK's client takes ``data_residency=`` (openai 3.x releases before it
    do not: their clients have no such attribute, and that is no missing seam)."""
    try:
        return "data_residency" in inspect.signature(client_class).parameters
    except (TypeError, ValueError):
        return False


def _is_official(host: str) -> bool:
    return host == _OFFICIAL_HOST or host.endswith(_OFFICIAL_SUFFIX)


def _response_facts(body: Any) -> dict[str, Any]:
    """``response_id``, ``response_model`` and ``service_tier`` of a response or chunk."""
    fields = view(body)
    meta: dict[str, Any] = {}
    for name, key in (("id", "response_id"), ("model", "response_model"), ("service_tier", None)):
        value = fields.get(name)
        if isinstance(value, str):
            meta[key or name] = value
    return meta


class OpenAIAdapter(Adapter):
    """Where the ``openai`` SDK keeps usage, ids and model."""

    name = "openai"
    distribution = "openai"
    min_version, max_version = SUPPORTED_VERSIONS
    provider = "openai"
    request_id_header = "x-request-id"
    cost_header = LITELLM_COST_HEADER
    #: The SDK's Azure clients (set by load()).
    azure_types: tuple[type, ...] = ()

    def load(self) -> None:
        import httpx2
        import openai

        self.azure_types = (openai.AzureOpenAI, openai.AsyncAzureOpenAI)
        self.stream_types = (openai.Stream,)
        self.async_stream_types = (openai.AsyncStream,)
        self.error_types = (openai.OpenAIError, httpx2.HTTPError, httpx2.StreamError)

    def billed(self) -> list[Billed]:
        chat = "openai.resources.chat.completions.completions"
        responses = "openai.resources.responses.responses"
        found: list[Billed] = []
        for module, class_name, method, operation in (
            (chat, "Completions", "create", "chat"),
            (chat, "Completions", "parse", "chat"),
            (responses, "Responses", "create", "responses"),
            (responses, "Responses", "parse", "responses"),
            ("openai.resources.embeddings", "Embeddings", "create", "embeddings"),
            ("openai.resources.completions", "Completions", "create", "completions"),
        ):
            found.append(Billed(module, f"{class_name}.{method}", operation, False))
            found.append(Billed(module, f"Async{class_name}.{method}", operation, True))
        for module, class_name in (
            ("openai.lib.streaming.chat._completions", "ChatCompletionStream"),
            ("openai.lib.streaming.responses._responses", "ResponseStream"),
        ):
            found.append(Billed(module, f"{class_name}.close", "", False, wrapper=_close))
            found.append(Billed(module, f"Async{class_name}.close", "", True, wrapper=_async_close))
        return found

    def _reports_stream_usage(self, instance: Any) -> bool:
        """Whether ``stream_usage="auto"`` asks this client's streams for their usage chunk."""
        client = _seams.read("client", instance)
        if _is_official(_host_of(client)):
            return True
        return isinstance(client, self.azure_types) and _azure_reports_stream_usage(client)

    def _provider(self, client: Any, host: str) -> str:
        if isinstance(client, self.azure_types):
            return AZURE
        return provider_for_host(host)

    def destination(self, instance: Any, kwargs: Mapping[str, Any]) -> Destination:
        client = _seams.read("client", instance)
        host = _host_of(client)
        provider = self._provider(client, host)
        residency = _data_residency(client, host)
        if provider == "openai":
            return Destination(provider, residency)
        deployment = None
        if provider == AZURE:
            # `model=` names a deployment, unless the client is bound to one (its base_url).
            model = kwargs.get("model")
            deployment = _azure_deployment(client) or (model if isinstance(model, str) else None)
        return Destination(provider, residency, deployment or None, host or None)

    def prepare(self, ctx: CallContext) -> None:
        kwargs = ctx.kwargs
        if kwargs.get("stream") is not True or ctx.operation not in ("chat", "completions"):
            return
        extra_headers = as_mapping(kwargs.get("extra_headers"))
        if "X-Stainless-Raw-Response" in extra_headers:
            return  # a raw response: the user reads the bytes, so the request stays as asked
        config = state.config
        policy = config.stream_usage if config is not None else "auto"
        if policy == "estimate":
            return
        if policy == "auto" and not self._reports_stream_usage(ctx.instance):
            return
        options = kwargs.get("stream_options")
        # Only when the user said nothing about usage: their explicit choice is passed through.
        # (The SDK's `omit` / `not_given` sentinels are falsy, like None.)
        if isinstance(options, dict) and "include_usage" in options:
            return
        if options and not isinstance(options, dict):
            return
        kwargs["stream_options"] = {**as_mapping(options), "include_usage": True}
        ctx.options["hide_usage_chunk"] = True

    def read(self, operation: str, body: Any) -> Reading:
        meta = _response_facts(body)
        _add_reported_cost(meta, field(body, "usage"))
        if operation == "responses" and field(body, "status") in _NOT_DONE:
            # `background=True`: the usage comes with a later retrieve, which llmcost does not
            # follow. Unknown, never a guessed $0.
            return Reading(meta=meta, unknown=field(body, "usage") is None)
        return Reading(_openai_usage.usage_for(operation, body), meta)

    def response_meta(self, body: Any) -> dict[str, Any]:
        return _response_facts(body)

    def stream_reader(self, ctx: CallContext) -> StreamReader:
        if ctx.operation == "responses":
            return _ResponsesReader()
        return _ChunkReader(ctx.operation, bool(ctx.options.get("hide_usage_chunk")))

    def output_text(self, operation: str, body: Any) -> str:
        parts: list[str] = []
        if operation == "responses":
            for item in field(body, "output") or ():
                for content in field(item, "content") or ():
                    text = field(content, "text")
                    if isinstance(text, str):
                        parts.append(text)
                arguments = field(item, "arguments")
                if isinstance(arguments, str):
                    parts.append(arguments)
        elif operation in ("chat", "completions"):
            for choice in field(body, "choices") or ():
                message = field(choice, "message")
                text = field(message, "content") if message is not None else field(choice, "text")
                if isinstance(text, str):
                    parts.append(text)
                for tool_call in field(message, "tool_calls") or ():
                    arguments = field(field(tool_call, "function"), "arguments")
                    if isinstance(arguments, str):
                        parts.append(arguments)
        return "".join(parts)


def _add_reported_cost(meta: dict[str, Any], usage: Any) -> None:
    """A cost the usage block reports (OpenRouter's ``usage.cost``, USD), to be recorded."""
    cost = field(usage, "cost")
    if cost is not None:
        meta["reported_cost"] = cost


class _ChunkReader(StreamReader):
    """Chat and legacy Completions chunks; hides the usage-only chunk llmcost asked for."""

    def __init__(self, operation: str, hide: bool) -> None:
        super().__init__()
        self.operation = operation
        self.hide = hide
        self.usage: Any = None
        self.meta: dict[str, Any] = {}

    def on_item(self, item: Any) -> bool:
        if not self.meta:
            self.meta = _response_facts(item)
        usage = getattr(item, "usage", None)
        choices = getattr(item, "choices", None)
        if usage is not None:
            self.usage = usage
            if self.hide and not choices:
                return False
        elif self.hide:
            # Once usage is asked for, the server adds "usage": null to every chunk: drop it
            # from the chunk's set fields (pydantic's public model_fields_set), so the chunk
            # serialises exactly as without llmcost.
            fields_set = getattr(item, "model_fields_set", None)
            if isinstance(fields_set, set):
                fields_set.discard("usage")
        for choice in choices or ():
            if self.operation == "completions":
                text = getattr(choice, "text", None)
                if text:
                    self.text.add(text)
                continue
            delta = choice.delta
            if delta.content:
                self.text.add(delta.content)
            for tool_call in delta.tool_calls or ():
                function = tool_call.function
                if function is not None and function.arguments:
                    self.text.add(function.arguments)
        return True

    def result(self) -> Reading:
        if self.usage is None:
            return Reading(meta=self.meta)
        # The model too: a chat completion from a search model made one web search.
        body = {"usage": self.usage, "model": self.meta.get("response_model")}
        usage = _openai_usage.usage_for(self.operation, body)
        meta = dict(self.meta)
        _add_reported_cost(meta, self.usage)
        return Reading(usage or Usage(), meta)


_RESPONSE_ENDINGS = frozenset({"response.completed", "response.incomplete", "response.failed"})
_RESPONSE_TEXT_DELTAS = frozenset(
    {
        "response.output_text.delta",
        "response.function_call_arguments.delta",
        "response.refusal.delta",
    }
)


class _ResponsesReader(StreamReader):
    """Responses API events: usage comes in ``response.completed`` (or incomplete/failed)."""

    def __init__(self) -> None:
        super().__init__()
        self.response: Any = None

    def on_item(self, item: Any) -> bool:
        kind = getattr(item, "type", None)
        if kind in _RESPONSE_TEXT_DELTAS:
            delta = getattr(item, "delta", None)
            if isinstance(delta, str):
                self.text.add(delta)
        elif kind == "response.created" or kind in _RESPONSE_ENDINGS:
            response = getattr(item, "response", None)
            if response is not None:
                self.response = response
        return True

    def result(self) -> Reading:
        response = self.response
        if response is None:
            return Reading()
        meta = _response_facts(response)
        usage = getattr(response, "usage", None)
        if usage is None:
            return Reading(meta=meta)
        _add_reported_cost(meta, usage)
        searches = _openai_usage.web_search_counts(response)  # (searches, preview searches)
        return Reading(_openai_usage.responses_usage(usage, *searches), meta)


def _end_helper_stream(instance: Any) -> None:
    raw = _seams.read("raw_stream", instance)
    if isinstance(raw, (RecordingStream, AsyncRecordingStream)):
        raw._self_end(None, False)


def _close(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``close()`` of a ``.stream()`` helper closes the HTTP response, not our proxy: end it."""
    try:
        return wrapped(*args, **kwargs)
    finally:
        _end_helper_stream(instance)


def _async_close(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    async def close() -> Any:
        try:
            return await wrapped(*args, **kwargs)
        finally:
            _end_helper_stream(instance)

    return close()


ADAPTER = OpenAIAdapter()
INTEGRATION = integration_for(ADAPTER)
