"""``llmcost price`` (price one call from token counts), ``llmcost models`` (list the catalog)
and ``llmcost prices diff`` (what an override file or a newer catalog directory would change).

Exit codes: 0 success (``prices diff``: no differences); 1 unknown model or a malformed
catalog or override; 2 bad arguments; 3 ``prices diff`` found differences.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmcost.pricing import Catalog

__all__ = ["register"]


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of tokens: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"token counts cannot be negative: {text!r}")
    return value


def _instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date or time: {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``price`` and ``models`` to the ``llmcost`` command line."""
    price = subparsers.add_parser(
        "price",
        help="price one call from its token counts",
        description=(
            "Print what one call costs, part by part, from the bundled catalog (plus an "
            "optional override file). Input counts ALL input tokens, cache reads and writes "
            "included; reasoning tokens are a part of output."
        ),
    )
    price.add_argument("model", help="model name as sent or reported (aliases resolve)")
    price.add_argument("--input", type=_count, required=True, help="all input tokens")
    price.add_argument("--output", type=_count, default=0, help="all output tokens")
    price.add_argument("--cache-read", type=_count, default=0, help="input tokens read from cache")
    price.add_argument(
        "--cache-write", type=_count, default=0, help="input tokens written to cache (all)"
    )
    price.add_argument(
        "--cache-write-1h",
        type=_count,
        default=0,
        help="the part of --cache-write with long retention (Anthropic 1h, OpenAI 12h)",
    )
    price.add_argument("--reasoning", type=_count, default=0, help="reasoning part of output")
    price.add_argument("--input-audio", type=_count, default=0, help="audio part of input")
    price.add_argument("--output-audio", type=_count, default=0, help="audio part of output")
    price.add_argument(
        "--cache-read-audio", type=_count, default=0, help="audio part of --cache-read"
    )
    price.add_argument("--input-image", type=_count, default=0, help="image part of input")
    price.add_argument(
        "--cache-read-image", type=_count, default=0, help="image part of --cache-read"
    )
    price.add_argument("--output-image", type=_count, default=0, help="image part of output")
    price.add_argument("--web-searches", type=_count, default=0, help="web search requests")
    price.add_argument(
        "--web-search-preview",
        type=_count,
        default=0,
        help="the part of --web-searches made with OpenAI's web_search_preview tool",
    )
    price.add_argument("--batch", action="store_true", help="priced as a batch API call")
    price.add_argument("--service-tier", help="flex, priority, ... (as the provider reports it)")
    price.add_argument("--speed", help="Anthropic speed mode, e.g. fast")
    price.add_argument("--inference-geo", help="Anthropic inference geography, e.g. us")
    price.add_argument("--data-residency", help="OpenAI data-residency region, e.g. eu")
    price.add_argument("--provider", help="provider hint: openai, anthropic, azure, bedrock ...")
    price.add_argument("--at", type=_instant, help="when the call happened (ISO; default now)")
    price.add_argument("--catalog", help="a JSON override file layered on the bundled catalog")
    price.add_argument("--format", choices=("table", "json"), default="table")
    price.set_defaults(func=_run_price)

    models = subparsers.add_parser(
        "models",
        help="list the models the catalog prices",
        description="List the catalog's models with today's standard rates (USD per 1M tokens).",
    )
    models.add_argument("--provider", help="only this provider's models")
    models.add_argument("--catalog", help="a JSON override file layered on the bundled catalog")
    models.add_argument("--format", choices=("table", "json"), default="table")
    models.set_defaults(func=_run_models)

    prices = subparsers.add_parser(
        "prices",
        help="work with price catalogs (diff)",
        description="Work with price catalogs and override layers.",
    )
    prices_commands = prices.add_subparsers(dest="prices_command", metavar="SUBCOMMAND")
    diff = prices_commands.add_parser(
        "diff",
        help="show what an override file or a newer catalog directory would change",
        description=(
            "Compare the prices in force (the bundled catalog, or --base) with an override "
            "file or a directory of <provider>.json files, price by price. Exit status 0: no "
            "differences; 3: differences; 1: a file cannot be read or is malformed."
        ),
    )
    diff.add_argument("source", help="an override JSON file, or a directory of provider files")
    diff.add_argument("--base", help="compare against this override file or directory instead")
    diff.add_argument("--provider", help="only this provider's models")
    diff.add_argument("--at", type=_instant, help="compare the prices in force then (ISO)")
    diff.add_argument("--format", choices=("table", "json"), default="table")
    diff.set_defaults(func=_run_prices_diff)
    prices.set_defaults(func=lambda args: _usage(prices))


def _catalog(path: str | None) -> Catalog:
    from llmcost.pricing import get_catalog, load_catalog

    return load_catalog(path) if path else get_catalog()


def _money(value: Any) -> str:
    return "-" if value is None else f"${value}"


def _run_price(args: argparse.Namespace) -> int:
    from llmcost.errors import CatalogError
    from llmcost.pricing import cost, use_catalog
    from llmcost.types import Usage

    try:
        usage = Usage(
            input_tokens=args.input,
            output_tokens=args.output,
            cache_read_tokens=args.cache_read,
            cache_write_tokens=args.cache_write,
            cache_write_1h_tokens=args.cache_write_1h,
            reasoning_tokens=args.reasoning,
            input_audio_tokens=args.input_audio,
            output_audio_tokens=args.output_audio,
            web_search_requests=args.web_searches,
            cache_read_audio_tokens=args.cache_read_audio,
            input_image_tokens=args.input_image,
            cache_read_image_tokens=args.cache_read_image,
            output_image_tokens=args.output_image,
            web_search_preview_requests=args.web_search_preview,
        )
    except ValueError as exc:
        print(f"llmcost price: {_first_line(exc)}", file=sys.stderr)
        return 2
    try:
        catalog = _catalog(args.catalog)
    except CatalogError as exc:
        print(f"llmcost price: {exc}", file=sys.stderr)
        return 1
    previous = None
    if args.catalog:
        from llmcost.pricing import get_catalog

        previous = get_catalog()
        use_catalog(catalog)
    try:
        result = cost(
            args.model,
            usage,
            provider=args.provider,
            at=args.at,
            batch=args.batch,
            service_tier=args.service_tier,
            speed=args.speed,
            inference_geo=args.inference_geo,
            data_residency=args.data_residency,
        )
    finally:
        if previous is not None:
            use_catalog(previous)
    if not result.priced:
        names = [name for m in catalog.models() for name in (m.id, *m.aliases)]
        print(
            f"llmcost price: no price for model {args.model!r} in catalog {catalog.version}"
            f"{_did_you_mean(args.model, names)}; see `llmcost models`",
            file=sys.stderr,
        )
        return 1
    parts = [
        ("input (uncached)", result.input_cost_usd),
        ("cache read", result.cache_read_cost_usd),
        ("cache write", result.cache_write_cost_usd),
        ("output", result.output_cost_usd),
        ("tools", result.tool_cost_usd),
    ]
    if args.format == "json":
        payload = {
            "model": args.model,
            "priced_as": result.priced_as,
            "catalog_version": result.catalog_version,
            **{
                name: str(getattr(result, name))
                for name in (
                    "input_cost_usd",
                    "cache_read_cost_usd",
                    "cache_write_cost_usd",
                    "output_cost_usd",
                    "tool_cost_usd",
                    "total_cost_usd",
                )
            },
        }
        print(json.dumps(payload, indent=2))
        return 0
    print(f"{args.model} priced as {result.priced_as} (catalog {result.catalog_version})")
    width = max(len(name) for name, _ in parts)
    for name, value in parts:
        print(f"  {name:<{width}}  {_money(value)}")
    print(f"  {'total':<{width}}  {_money(result.total_cost_usd)}")
    return 0


def _did_you_mean(word: str, choices: list[str]) -> str:
    """``"; did you mean 'gpt-4o'?"`` for a near miss (gpt4o, GPT-4o), else nothing."""
    import difflib

    folded = {choice.lower().replace("-", "").replace(".", ""): choice for choice in choices}
    key = word.lower().replace("-", "").replace(".", "")
    close = [folded[k] for k in difflib.get_close_matches(key, list(folded), n=3, cutoff=0.75)]
    if not close:
        return ""
    return "; did you mean " + " or ".join(repr(name) for name in dict.fromkeys(close)) + "?"


def _first_line(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)  # a pydantic ValidationError
    if callable(errors):
        return "; ".join(str(e.get("msg", e)) for e in errors())
    return str(exc) or type(exc).__name__


def _run_models(args: argparse.Namespace) -> int:
    from llmcost.errors import CatalogError

    try:
        catalog = _catalog(args.catalog)
    except CatalogError as exc:
        print(f"llmcost models: {exc}", file=sys.stderr)
        return 1
    models = catalog.models(args.provider)
    if args.provider and not models:
        providers = sorted({m.provider for m in catalog.models()})
        print(
            f"llmcost models: no provider {args.provider!r} in catalog {catalog.version}"
            f"{_did_you_mean(args.provider, providers)}; providers: {', '.join(providers)}",
            file=sys.stderr,
        )
        return 1
    if args.format == "json":
        rows = []
        for m in models:
            rates = m.rates
            rows.append(
                {
                    "id": m.id,
                    "provider": m.provider,
                    "aliases": list(m.aliases),
                    "context_window": m.context_window,
                    "max_output_tokens": m.max_output_tokens,
                    "tokenizer": m.tokenizer,
                    "rates_per_million": {k: str(v) for k, v in rates.items()},
                    "long_context_above": m.long_context_threshold,
                    "batch": m.batch_discounted,
                    "service_tiers": list(m.service_tiers),
                    "source": m.source,
                    "checked": m.checked.isoformat(),
                }
            )
        print(json.dumps(rows, indent=2))
        return 0
    header = ("provider", "model", "input", "cached", "output", "context", "max out")
    table = [header]
    for m in models:
        rates = m.rates
        table.append(
            (
                m.provider,
                m.id,
                f"${rates['input']}",
                f"${rates['cache_read']}",
                f"${rates['output']}",
                str(m.context_window or "-"),
                str(m.max_output_tokens or "-"),
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    print(f"{len(models)} models, USD per 1M tokens, catalog {catalog.version}")
    return 0


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _change(value: Any) -> str:
    return "-" if value is None else str(value)


def _run_prices_diff(args: argparse.Namespace) -> int:
    from llmcost.errors import CatalogError
    from llmcost.pricing import diff_catalogs, get_catalog, load_catalog

    try:
        old = load_catalog(args.base) if args.base else get_catalog()
        new = load_catalog(args.source, base=old)
    except CatalogError as exc:
        print(f"llmcost prices diff: {exc}", file=sys.stderr)
        return 1
    changes = list(diff_catalogs(old, new, provider=args.provider, at=args.at))
    if args.format == "json":
        payload = {
            "old_version": old.version,
            "new_version": new.version,
            "changes": [
                {
                    "provider": c.provider,
                    "model": c.model,
                    "kind": c.kind,
                    "dimension": c.dimension,
                    "old": None if c.old is None or c.dimension == "model" else str(c.old),
                    "new": None if c.new is None or c.dimension == "model" else str(c.new),
                }
                for c in changes
            ],
        }
        print(json.dumps(payload, indent=2))
        return 3 if changes else 0
    print(f"catalog {old.version} -> {new.version}")
    if not changes:
        print("no price differences")
        return 0
    table = [("provider", "model", "price", "old", "new", "change")]
    for c in changes:
        if c.dimension == "model":
            table.append((c.provider, c.model, "(model)", "", "", c.kind))
            continue
        if c.old is not None and c.new is not None and c.old:
            change = f"{(c.new - c.old) / c.old * 100:+.1f}%"
        else:
            change = c.kind
        table.append((c.provider, c.model, c.dimension, _change(c.old), _change(c.new), change))
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    models = len({(c.provider, c.model) for c in changes})
    print(
        f"{len(changes)} price(s) differ across {models} model(s); "
        "USD per 1M tokens, per-request fees in USD"
    )
    return 3
