"""Validate label events without storing them (``annotate.store.validate_events``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa

from annotate.clock import CLOCK
from annotate.store._schema import LABEL_SCHEMA, to_pandas
from annotate.store._validate import TextLookup, TurnLookup, Validator

if TYPE_CHECKING:
    from annotate.codebook import Codebook


def validate_events(
    events: Any,
    codebook: Codebook,
    *,
    turns: TurnLookup | None = None,
    texts: TextLookup | None = None,
) -> pd.DataFrame:
    """Validate label events without storing them.

    Parameters
    ----------
    events : DataFrame, list of dict or dict
        Label events (columns of :data:`LABEL_SCHEMA`).
    codebook : Codebook
        The codebook to check against.
    turns : TurnLookup, optional
        The corpus turns, to check turn indexes and roles.
    texts : TextLookup, optional
        The corpus texts, to check evidence spans (bounds and sha256).

    Returns
    -------
    DataFrame
        The normalised events (defaults filled).

    Raises
    ------
    LabelStoreError
        With ``failure_cases`` (the failing rows and a ``reason`` column) when any is invalid.
    """
    rows = Validator(codebook, session_id=CLOCK.event_id(), turns=turns, texts=texts)(events)
    return to_pandas(pa.Table.from_pylist(rows, schema=LABEL_SCHEMA))
