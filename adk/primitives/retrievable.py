"""``Retrievable``: a RAG record with a trust tier (PRIMITIVES.md §8, ``retrievable.ts``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from adk.errors import E_INVALID_INITIAL_RETRIEVABLE_VALUE, AdkError
from adk.primitives._base import (
    Errors,
    Primitive,
    check_bool,
    check_choice,
    check_datetime,
    check_opt_str,
    check_str,
    check_unit,
    force_setattr,
)
from adk.primitives._raw import snake_keys
from adk.primitives._text import check_text
from adk.primitives.tokenizable import Tokenizable

__all__ = ["Retrievable", "RetrievableTrustTier"]

RetrievableTrustTier = Literal["first-party", "third-party-public", "third-party-private"]
"""Where a retrieved record comes from; there is no default, it must be chosen."""

_TRUST_TIERS: tuple[str, ...] = ("first-party", "third-party-public", "third-party-private")


def _check_content(value: Any, errors: Errors) -> Any:
    # The one place that decides what ``content`` may be. Text only for now; spooled
    # ``SpooledArtifact`` content is accepted here once the byte conduits exist.
    return check_text(value, "content", errors)


class Retrievable(Primitive, frozen=True, kw_only=True, eq=False):
    """A retrieved (RAG) record, tagged with a trust tier chosen by the producer.

    Construction validates every field and raises one error naming all bad fields.
    Instances are immutable and compare by identity.

    Null rule (PRIMITIVES.md §1.2, our decision): an explicit ``None`` for ``source``,
    ``kind``, ``score`` or ``inline`` counts as absent (the ADK rejects ``null`` there).

    Not yet ported (arrives with ``SpooledArtifact`` and the byte conduits): spooled
    artifact ``content``, auto-spooling on store, and ``artifact_constructor`` (the
    zero-argument callable returning the ``SpooledArtifact`` class used when spooling).

    Attributes:
        id: Caller-supplied non-empty id; it doubles as the nonce of the closing tag of
            rendered envelopes, so producers should make it unguessable.
        content: The body (a non-empty ``str`` is wrapped in a Tokenizable).
        trust_tier: ``"first-party"``, ``"third-party-public"`` or
            ``"third-party-private"``; required, no default.
        source: Provenance pointer (non-empty ``str``), or ``None``.
        kind: Semantic label (non-empty ``str``), or ``None``.
        score: Relevance, a finite number in ``[0, 1]`` (numeric strings converted), or
            ``None``.
        inline: ``False`` (default) renders spooled content as a handle; ``True`` inlines
            the body. The strings ``"true"``/``"false"`` are converted.
        created_at: Creation time (aware UTC ``datetime``; an ISO-8601 string or epoch
            milliseconds is converted; naive values are taken as UTC).
        updated_at: Last update time (same forms).

    Raises:
        E_INVALID_INITIAL_RETRIEVABLE_VALUE: a bad, missing or unknown field (all named).
    """

    __adk_error__: ClassVar[type[AdkError]] = E_INVALID_INITIAL_RETRIEVABLE_VALUE

    id: str
    content: Tokenizable
    trust_tier: RetrievableTrustTier
    source: str | None = None
    kind: str | None = None
    score: float | None = None
    inline: bool = False
    created_at: datetime
    updated_at: datetime

    if TYPE_CHECKING:

        def __init__(
            self,
            *,
            id: str,
            content: str | Tokenizable,
            trust_tier: RetrievableTrustTier,
            source: str | None = None,
            kind: str | None = None,
            score: float | str | None = None,
            inline: bool | None = False,
            created_at: datetime | str | float,
            updated_at: datetime | str | float,
        ) -> None: ...

    def __post_init__(self) -> None:
        errors = Errors(type(self))
        check_str(self.id, "id", errors)
        content = _check_content(self.content, errors)
        check_choice(self.trust_tier, "trust_tier", _TRUST_TIERS, errors)
        check_opt_str(self.source, "source", errors)
        check_opt_str(self.kind, "kind", errors)
        score: Any = self.score
        if score is not None:
            score = check_unit(score, "score", errors)
        inline: Any = self.inline
        if inline is not False:
            inline = False if inline is None else check_bool(inline, "inline", errors)
        created = check_datetime(self.created_at, "created_at", errors)
        updated = check_datetime(self.updated_at, "updated_at", errors)
        errors.raise_if_any()
        if content is not self.content:
            force_setattr(self, "content", content)
        if score is not self.score:
            force_setattr(self, "score", score)
        if inline is not self.inline:
            force_setattr(self, "inline", inline)
        if created is not self.created_at:
            force_setattr(self, "created_at", created)
        if updated is not self.updated_at:
            force_setattr(self, "updated_at", updated)

    @property
    def size_unknown(self) -> bool:
        """Whether the handle cannot state the body's size.

        True only for non-inline spooled content without size hints; text content always
        gives ``False`` (the only content kind until the byte conduits exist).
        """
        return False

    def estimate_tokens(self, encoding: str) -> int | None:
        """Estimated tokens of what the model will see for this record.

        For text content this delegates to ``content.estimate_tokens`` (cached per
        encoding). With spooled content (future) a non-inline artifact with size hints
        will cost its handle text instead of its body.

        Args:
            encoding: A ``TokenEncoding`` or a registered custom encoding name.

        Returns:
            The count, or ``None`` for an unknown encoding.

        Raises:
            E_TOKENIZABLE_EVALUATOR_INVALID: a dynamic content evaluator failed.
            E_EXTRA_MISSING: a tiktoken encoding without the ``tokens`` extra (outside
                runners).
        """
        return self.content.estimate_tokens(encoding)

    async def content_string(self) -> str:
        """The full body as text (a dynamic Tokenizable is rendered without a context).

        Raises:
            E_TOKENIZABLE_EVALUATOR_INVALID: a dynamic content evaluator failed.
        """
        return self.content.render(None)

    @classmethod
    def from_raw(cls, raw: Mapping[str, Any]) -> Retrievable:
        """Build from a snapshot mapping in camelCase (ADK) or snake_case keys.

        Args:
            raw: ``{"id", "content", "trustTier", "source", "kind", "score", "inline",
                "createdAt", "updatedAt"}`` (snake_case keys work too). The derived
                ``sizeUnknown`` key is rejected like any unknown key, as in the ADK.

        Raises:
            E_INVALID_INITIAL_RETRIEVABLE_VALUE: ``raw`` is not a mapping with string keys,
                or as the constructor.
        """
        return cls(**snake_keys(raw, cls))

    def to_raw(self) -> dict[str, Any]:
        """The snapshot (snake_case keys) with live nested values.

        ``source``, ``kind`` and ``score`` are omitted when ``None`` (PRIMITIVES.md §1.7).
        """
        raw: dict[str, Any] = {
            "id": self.id,
            "content": self.content,
            "trust_tier": self.trust_tier,
            "inline": self.inline,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }
        if self.source is not None:
            raw["source"] = self.source
        if self.kind is not None:
            raw["kind"] = self.kind
        if self.score is not None:
            raw["score"] = self.score
        return raw
