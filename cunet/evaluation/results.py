"""The scores of an evaluation in long form, and SiSEC 2018's aggregation of them.

One row per (method, track, target, metric) holds the median over that track's frames;
a method's score on a target is the median of those over tracks. NaN (silent frames,
tracks with no scorable frame) is ignored at both levels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from cunet.evaluation.scoring import METRICS, frame_median

COLUMNS = ["method", "track", "target", "metric", "score"]


@dataclass
class Result:
    """What an evaluation run scored.

    Attributes:
        methods: the `Method`s, in table order.
        tracks: the track names, in scoring order.
        targets: the targets, in table order.
        subset: "test" or "train".
        scores: DataFrame with `COLUMNS`, one row per method, track, target and metric;
            score = the median over the track's frames.
        scored: (method, track) pairs scored in this run.
        reused: pairs read back from stored JSON.
    """

    methods: list
    tracks: list
    targets: list
    subset: str
    scores: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=COLUMNS))
    scored: int = 0
    reused: int = 0

    def track_scores(self, method: str, target: str, metric: str) -> list:
        """The per-track scores of `method` on `target` in `metric`, in track order."""
        s = self.scores
        chosen = (s["method"] == method) & (s["target"] == target) & (s["metric"] == metric)
        return s.loc[chosen, "score"].astype(float).tolist()

    def aggregate(self, method: str, target: str, metric: str) -> float:
        """SiSEC 2018: median over tracks of the per-track frame medians (NaN tracks ignored)."""
        return frame_median(self.track_scores(method, target, metric))

    def summary(self) -> pd.DataFrame:
        """One row per method, target and metric (in table order): "score" (the aggregate)
        and "tracks" (how many tracks have a score)."""
        keys = ["method", "target", "metric"]
        grouped = self.scores.astype({"score": float}).groupby(keys, sort=False)["score"]
        table = pd.DataFrame({"score": grouped.agg(frame_median), "tracks": grouped.count()})
        order = pd.MultiIndex.from_product(
            [[m.name for m in self.methods], list(self.targets), list(METRICS)], names=keys
        )
        table = table.reindex(order)
        table["tracks"] = table["tracks"].fillna(0).astype(int)
        return table.reset_index()
