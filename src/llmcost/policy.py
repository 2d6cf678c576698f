"""The model policy: which models each environment may call, and whether calls must cap output.

A policy is set once with ``llmcost.configure(policy=llmcost.Policy(...))`` and is checked by
the recorder before every instrumented call is sent (see ``docs/policy.md``).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["OUTPUT_CAP_PARAMETERS", "Policy"]

RequireMaxTokens = Literal["warn", "raise", False]

#: The request parameter that caps output, per operation, in the order llmcost looks for it.
#: The first name is the one ``default_max_tokens`` fills in.
OUTPUT_CAP_PARAMETERS: Mapping[str, tuple[str, ...]] = {
    "chat": ("max_completion_tokens", "max_tokens"),
    "responses": ("max_output_tokens",),
    "completions": ("max_tokens",),
    "messages": ("max_tokens",),
}


@dataclass(frozen=True)
class Policy:
    """Governance rules applied to every instrumented call before it is sent.

    Args:
        allowed_models: Per environment, the model names allowed there, as ``fnmatch`` globs
            (``"gpt-*-mini"``, ``"claude-haiku-*"``). The environment is the innermost
            ``track_cost`` scope's, else the configured one. The key ``"*"`` applies to
            environments not listed; an environment with neither is unrestricted. A call to
            another model raises :class:`llmcost.PolicyViolation` before it is sent.
        require_max_tokens: What to do with a call that does not cap its output
            (``max_tokens`` / ``max_completion_tokens`` / ``max_output_tokens``): ``"warn"``
            logs once per model, ``"raise"`` raises :class:`llmcost.PolicyViolation`,
            ``False`` allows it. Embeddings have no output and are never affected.
        default_max_tokens: Opt-in: a cap llmcost adds to calls that set none (chat →
            ``max_completion_tokens``, responses → ``max_output_tokens``, Anthropic messages
            and legacy completions → ``max_tokens``). A call that gets it satisfies
            ``require_max_tokens``. This changes what is sent; it never lowers a cap the
            caller set.

    Raises:
        ValueError: a setting has a value outside those above.
        TypeError: ``allowed_models`` is not a mapping of environment to a list of globs.

    Example:
        >>> import llmcost
        >>> policy = llmcost.Policy(
        ...     allowed_models={"development": ["gpt-*-mini", "claude-haiku-*"]},
        ...     require_max_tokens="raise",
        ... )
        >>> policy.allows("gpt-4o-mini", "development"), policy.allows("gpt-4o", "development")
        (True, False)
        >>> policy.allows("gpt-4o", "production")
        True
    """

    allowed_models: Mapping[str, Sequence[str]] | None = None
    require_max_tokens: RequireMaxTokens = False
    default_max_tokens: int | None = None
    _globs: Mapping[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.require_max_tokens not in ("warn", "raise", False):
            raise ValueError(
                "Policy(require_max_tokens=...) must be 'warn', 'raise' or False, got "
                f"{self.require_max_tokens!r}"
            )
        default = self.default_max_tokens
        if default is not None and (
            isinstance(default, bool) or not isinstance(default, int) or default <= 0
        ):
            raise ValueError(
                f"Policy(default_max_tokens=...) must be a positive int or None, got {default!r}"
            )
        globs: dict[str, tuple[str, ...]] = {}
        if self.allowed_models is not None:
            if not isinstance(self.allowed_models, Mapping):
                raise TypeError(
                    "Policy(allowed_models=...) must map an environment name to a list of "
                    f"model globs, got {type(self.allowed_models).__name__}"
                )
            for environment, patterns in self.allowed_models.items():
                if isinstance(patterns, str) or not isinstance(patterns, Sequence):
                    raise TypeError(
                        f"Policy(allowed_models={{{environment!r}: ...}}) must be a list of "
                        f"model globs, got {patterns!r}"
                    )
                for pattern in patterns:
                    if not isinstance(pattern, str) or not pattern:
                        raise TypeError(
                            f"Policy(allowed_models={{{environment!r}: ...}}) holds "
                            f"{pattern!r}, which is not a model glob string"
                        )
                globs[str(environment)] = tuple(patterns)
        object.__setattr__(self, "_globs", globs)

    def allowed_for(self, environment: str | None) -> tuple[str, ...] | None:
        """The globs that apply in ``environment``, or None when it is unrestricted."""
        globs = self._globs
        if environment is not None and environment in globs:
            return globs[environment]
        return globs.get("*")

    def allows(self, model: str | None, environment: str | None) -> bool:
        """Whether ``model`` may be called in ``environment`` (globs ignore case)."""
        patterns = self.allowed_for(environment)
        if patterns is None:
            return True
        if not model:
            return False
        name = model.lower()
        return any(fnmatch.fnmatchcase(name, pattern.lower()) for pattern in patterns)
