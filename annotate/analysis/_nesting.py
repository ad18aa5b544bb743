"""The nesting of the data (turns in conversations in users) and the bootstrap that keeps it.

Every interval of the analyses resamples the **highest level present**: users when the
conversations carry a ``user_id``, else conversations. With users the bootstrap is two-stage
(Davison & Hinkley 1997, §3.8, "strategy 2"; Field & Welsh 2007): a replicate draws ``G``
users with replacement and then, for each drawn user, as many of that user's conversations
with replacement as the user has. A user drawn ``c`` times thus contributes a multinomial
draw of ``c * n_u`` of its ``n_u`` conversations. The second stage adds the within-user
variation once more, so the intervals lean to the conservative side when users have few
conversations; resampling only conversations would instead treat a user's six conversations
as six independent observations (pseudo-replication).

A replicate is a vector of conversation weights (how often each conversation was drawn), so
every statistic that is a function of weighted sums of per-conversation arrays is computed
for all replicates with one matrix product. The jackknife that the BCa interval needs
(:mod:`annotate.analysis._intervals`) deletes one top-level cluster at a time: its sums are the
totals minus the cluster's sums.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from annotate.errors import AnalysisError, Errors

if TYPE_CHECKING:
    from annotate.analysis._frame import LabelFrame

#: ``nesting=`` values: ``auto`` = users when conversations carry user_id, else conversations
NESTINGS = ("auto", "users", "conversations")

#: below this many top-level clusters the analyses warn (W451): the cluster bootstrap and the
#: cluster-robust sandwich are then too narrow (docs/methods.md, "Small samples")
MIN_CLUSTERS = 20


@dataclass(frozen=True)
class Nesting:
    """Top-level cluster of each conversation of a LabelFrame."""

    level: str  #: "users" or "conversations"
    cluster: np.ndarray  #: (n_conversations,) int: top-level cluster of each conversation
    names: np.ndarray  #: (n_clusters,) cluster ids (user ids or conversation ids)

    @property
    def n_clusters(self) -> int:
        return len(self.names)

    @property
    def label(self) -> str:
        """What the intervals resample, for the ``resampled`` column of results."""
        if self.level == "users":
            return "users (two-stage: users, then their conversations)"
        return "conversations"

    def subset(self, conversations: np.ndarray) -> int:
        """Number of top-level clusters among the given conversation rows."""
        return len(np.unique(self.cluster[conversations])) if len(conversations) else 0

    def weights(self, replicates: int, rng: np.random.Generator) -> np.ndarray:
        """Bootstrap weights, shape (replicates, n_conversations): how often each conversation
        is drawn in each replicate (two-stage for users, see the module docstring)."""
        n_conv, g = len(self.cluster), self.n_clusters
        if replicates == 0 or n_conv == 0:
            return np.zeros((replicates, n_conv))
        top = _multinomial_counts(g, replicates, rng)  # (R, G) draws of the clusters
        if g == n_conv:  # one conversation per cluster: the second stage changes nothing
            return top[:, self.cluster]
        order = np.argsort(self.cluster, kind="stable")
        sizes = np.bincount(self.cluster, minlength=g)
        starts = np.r_[0, np.cumsum(sizes)[:-1]]
        out = np.zeros((replicates, n_conv))
        chunk = max(1, 2_000_000 // max(n_conv, 1))
        for lo in range(0, replicates, chunk):
            hi = min(replicates, lo + chunk)
            draws = (top[lo:hi] * sizes[None, :]).astype(np.int64)  # (r, G) conversations
            rep = np.repeat(np.arange(hi - lo), draws.sum(axis=1))
            user = np.repeat(np.tile(np.arange(g), hi - lo), draws.ravel())
            pos = starts[user] + np.floor(rng.random(len(user)) * sizes[user]).astype(np.int64)
            flat = rep * n_conv + order[pos]
            out[lo:hi] = np.bincount(flat, minlength=(hi - lo) * n_conv).reshape(hi - lo, n_conv)
        return out

    def cluster_sums(self, values: np.ndarray) -> np.ndarray:
        """Sums of per-conversation rows by top-level cluster: (n_clusters, ...)."""
        from scipy import sparse

        values = np.asarray(values, dtype=float)
        n = len(self.cluster)
        Z = sparse.csr_matrix(
            (np.ones(n), (self.cluster, np.arange(n))), shape=(self.n_clusters, n)
        )
        flat = values.reshape(n, -1)
        return np.asarray(Z @ flat).reshape(self.n_clusters, *values.shape[1:])

    def jackknife(self, values: np.ndarray) -> np.ndarray:
        """Leave-one-cluster-out sums of per-conversation rows: (n_clusters, ...)."""
        values = np.asarray(values, dtype=float)
        return values.sum(axis=0)[None, ...] - self.cluster_sums(values)


def _multinomial_counts(n: int, replicates: int, rng: np.random.Generator) -> np.ndarray:
    """(replicates, n): how often each of n units is drawn in n draws with replacement."""
    draws = rng.integers(0, n, size=(replicates, n)) + (np.arange(replicates) * n)[:, None]
    return np.bincount(draws.ravel(), minlength=replicates * n).reshape(replicates, n).astype(float)


def user_ids(frame: LabelFrame) -> np.ndarray | None:
    """user_id of each conversation (object array, None where missing), or None if the
    conversations carry no user_id at all."""
    convs = frame.conversations
    if "user_id" not in convs.columns:
        return None
    values = convs["user_id"].astype(object).where(convs["user_id"].notna(), None)
    out = np.array([None if v is None else str(v) for v in values], dtype=object)
    return out if any(v is not None for v in out) else None


def nesting_of(frame: LabelFrame, nesting: str = "auto") -> Nesting:
    """The :class:`Nesting` of a frame: ``auto`` picks users when user_id is known.

    A conversation without a user_id is a cluster of its own (a user with one conversation).
    ``nesting="users"`` without any user_id raises E458.
    """
    if nesting not in NESTINGS:
        raise AnalysisError(
            Errors.E460.format(
                option="nesting", value=nesting, problem=f"use one of {', '.join(NESTINGS)}"
            )
        )
    ids = frame.conversations["conversation_id"].astype(str).to_numpy(dtype=object)
    users = user_ids(frame) if nesting != "conversations" else None
    if nesting == "users" and users is None:
        raise AnalysisError(
            Errors.E458.format(
                analysis="nesting='users'",
                need="conversations with a user_id",
                hint="Pass corpus= (its conversations carry user_id), or nesting='conversations'.",
            )
        )
    if users is None:
        return Nesting("conversations", np.arange(len(ids)), ids)
    keys = np.array(
        [
            f"user:{u}" if u is not None else f"conversation:{c}"
            for u, c in zip(users, ids, strict=True)
        ],
        dtype=object,
    )
    codes, names = pd.factorize(pd.Series(keys), sort=True)
    labels = np.array([n.split(":", 1)[1] for n in np.asarray(names, dtype=object)], dtype=object)
    return Nesting("users", codes.astype(np.int64), labels)
