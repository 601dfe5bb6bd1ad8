"""Model cards: what a version predicts, how well on data it never saw, against what, and from what.

Every registered version (the pipeline models and every prediction-builder model) gets one, logged
in its MLflow run as `model_card.md` with PNG plots under `plots/`: ROC-AUC and PR-AUC with
bootstrap intervals, log loss and Brier, a calibration curve, lift and cumulative gain by decile,
the top features with what they mean, the training window and cut-offs, row and positive counts,
and the plain baseline's figures on the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import matplotlib

matplotlib.use("Agg")  # no display: cards are drawn in pipelines and servers

import numpy as np  # noqa: E402
from matplotlib import pyplot  # noqa: E402
from matplotlib.figure import Figure as PlotFigure  # noqa: E402

from models.bootstrap import Figure  # noqa: E402
from models.evaluation import deciles  # noqa: E402
from models.promotion import Decision  # noqa: E402

_NAMES = {
    "roc_auc": "ROC-AUC",
    "pr_auc": "PR-AUC (average precision)",
    "log_loss": "log loss",
    "brier": "Brier score",
}
_LOWER_IS_BETTER = {"log_loss", "brier"}


@dataclass
class CardFacts:
    """Everything a card says about one version.

    Attributes:
        model: the registered model's name.
        question: what the score answers, in one sentence.
        training: lines describing the training data (window, cut-offs, source file).
        holdout: the holdout in words.
        n_train: training rows.
        n_train_positive: positive training rows.
        n_holdout: holdout rows.
        n_holdout_positive: positive holdout rows.
        figures: the model's holdout figures.
        baseline: the baseline in words.
        baseline_figures: the baseline's figures on the same rows.
        labels: holdout labels (0/1), for the curves.
        scores: the model's holdout scores.
        baseline_scores: the baseline's holdout scores (None when it gives no per-row score).
        probability: whether `scores` are calibrated probabilities (then the calibration curve applies).
        features: (name, share of the model's total gain, description), most important first.
        settings: parameters worth showing (LightGBM, calibration, feature service).
        sections: extra (heading, Markdown) sections, e.g. the prediction builder's dropped columns.
        classic: a classic model measured beside it, outside the gate (BG/NBD for churn).
        classic_figures: its figures on the same rows.
        classic_scores: its holdout scores.
    """

    model: str
    question: str
    training: list[str]
    holdout: str
    n_train: int
    n_train_positive: int
    n_holdout: int
    n_holdout_positive: int
    figures: dict[str, Figure]
    baseline: str
    baseline_figures: dict[str, Figure]
    labels: np.ndarray
    scores: np.ndarray
    baseline_scores: np.ndarray | None
    probability: bool
    features: list[tuple[str, float, str]]
    settings: dict[str, object] = field(default_factory=dict)
    sections: list[tuple[str, str]] = field(default_factory=list)
    classic: str | None = None
    classic_figures: dict[str, Figure] = field(default_factory=dict)
    classic_scores: np.ndarray | None = None


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "n/a"


def _cells(figure: Figure | None) -> str:
    return f"{figure.value:.3f} | {figure.lower:.3f} to {figure.upper:.3f} |" if figure else "n/a | |"


def _figure_rows(facts: CardFacts) -> list[str]:
    classic = bool(facts.classic_figures)
    header = "| figure | this model | 95% interval | baseline | 95% interval |"
    rule = "|---|---|---|---|---|"
    if classic:
        header += f" {facts.classic} | 95% interval |"
        rule += "---|---|"
    rows = [header, rule]
    for name, mine in facts.figures.items():
        label = _NAMES.get(name, name) + (" (lower is better)" if name in _LOWER_IS_BETTER else "")
        row = f"| {label} | **{mine.value:.3f}** | {mine.lower:.3f} to {mine.upper:.3f} | " + _cells(
            facts.baseline_figures.get(name)
        )
        if classic:
            row += " " + _cells(facts.classic_figures.get(name))
        rows.append(row)
    return rows


def _decile_rows(facts: CardFacts) -> list[str]:
    table = deciles(facts.labels, facts.scores)
    rows = [
        "| decile (1 = highest scores) | rows | positives | positive rate | lift | cumulative gain | mean score |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in table.iter_rows(named=True):
        rows.append(
            f"| {r['decile']} | {r['rows']:,} | {int(r['positives']):,} | {r['rate']:.1%} | "
            f"{(r['lift'] or 0):.2f} | {(r['gain'] or 0):.1%} | {r['mean_score']:.3f} |"
        )
    return rows


def _decision_text(decision: Decision | None) -> str:
    if decision is None:
        return "Not judged by the promotion gate."
    verdict = "**Promoted to champion**" if decision.promote else "**Not promoted**"
    lines = [f"{verdict}: {decision.reason}.", ""]
    for comparison in decision.comparisons:
        lines.append(
            f"- against {comparison.against}: {comparison.metric} {comparison.candidate:.3f} vs "
            f"{comparison.other:.3f}, difference {comparison.difference:+.3f}, margin {comparison.margin:.3f} "
            f"({'beaten' if comparison.beaten else 'not beaten'})"
        )
    lines += [
        "",
        "The margin is one standard error of the difference, measured over bootstrap resamples of the "
        "holdout (the same resamples for both models): a small holdout needs a larger lead.",
    ]
    return "\n".join(lines)


def render(facts: CardFacts, decision: Decision | None) -> tuple[str, dict[str, PlotFigure]]:
    """The card as Markdown, and its plots.

    Args:
        facts: what to say.
        decision: the promotion gate's verdict on this version.

    Returns:
        (Markdown text, file name -> matplotlib figure) with `calibration.png`, `gain.png` and
        `lift.png`.
    """
    lines = [
        f"# Model card: {facts.model}",
        "",
        facts.question,
        "",
        "## Promotion",
        "",
        _decision_text(decision),
        "",
        "## Holdout figures",
        "",
        f"Holdout: {facts.holdout}. {facts.n_holdout:,} rows, {facts.n_holdout_positive:,} positive "
        f"({_share(facts.n_holdout_positive, facts.n_holdout)}). The model scored here was fitted "
        "without these rows' labels. Baseline: "
        + facts.baseline
        + "."
        + (f" Also measured beside it, outside the gate: {facts.classic}." if facts.classic else ""),
        "",
        *_figure_rows(facts),
        "",
        "Intervals: 2.5th to 97.5th percentile over bootstrap resamples of the holdout (positives and "
        "negatives resampled apart).",
        "",
        "## Lift, gain and calibration by decile",
        "",
        *_decile_rows(facts),
        "",
        "![calibration](plots/calibration.png) ![cumulative gain](plots/gain.png) ![lift](plots/lift.png)",
        "",
        "## Training data",
        "",
        *[f"- {line}" for line in facts.training],
        f"- {facts.n_train:,} training rows, {facts.n_train_positive:,} positive "
        f"({_share(facts.n_train_positive, facts.n_train)})",
        "",
        "## Top features",
        "",
        "| feature | share of the model's gain | what it is |",
        "|---|---|---|",
        *[f"| `{name}` | {share:.1%} | {description} |" for name, share, description in facts.features[:15]],
        "",
    ]
    for heading, body in facts.sections:
        lines += [f"## {heading}", "", body.strip(), ""]
    if facts.settings:
        lines += ["## Settings", "", *[f"- `{k}`: {v}" for k, v in facts.settings.items()], ""]
    return "\n".join(lines), _plots(facts)


def _finish(figure: PlotFigure, axes, title: str, xlabel: str, ylabel: str, legend: str) -> PlotFigure:
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.legend(loc=legend)
    figure.tight_layout()
    return figure


def _plots(facts: CardFacts) -> dict[str, PlotFigure]:
    mine = deciles(facts.labels, facts.scores)
    others = [("baseline", facts.baseline_scores), (facts.classic, facts.classic_scores)]
    others = [(name, deciles(facts.labels, scores)) for name, scores in others if scores is not None]

    figure, axes = pyplot.subplots(figsize=(5, 4.5))
    axes.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfect calibration")
    axes.plot(mine["mean_score"], mine["rate"], marker="o", label=facts.model)
    title = "Calibration" + ("" if facts.probability else " (scores are not probabilities)")
    calibration = _finish(
        figure, axes, title, "mean predicted probability (decile)", "observed positive rate", "upper left"
    )

    figure, axes = pyplot.subplots(figsize=(5, 4.5))
    share = np.arange(0, 11) / 10
    axes.plot(share, share, color="grey", linestyle="--", linewidth=1, label="random")
    for (name, table), marker in zip([(facts.model, mine), *others], "o.x", strict=False):
        axes.plot(share, np.r_[0.0, table["gain"].fill_null(0).to_numpy()], marker=marker, label=name)
    gain = _finish(
        figure,
        axes,
        "Cumulative gain",
        "share of holdout, highest scores first",
        "share of positives found",
        "lower right",
    )

    figure, axes = pyplot.subplots(figsize=(5, 4.5))
    bars = [(facts.model, mine), *others]
    width = 0.8 / len(bars)
    x = mine["decile"].to_numpy()
    for i, (name, table) in enumerate(bars):
        axes.bar(x - 0.4 + width * (i + 0.5), table["lift"].fill_null(0).to_numpy(), width, label=name)
    axes.axhline(1.0, color="grey", linestyle="--", linewidth=1)
    axes.set_xticks(x)
    lift = _finish(
        figure,
        axes,
        "Lift by decile",
        "decile (1 = highest scores)",
        "lift (positive rate / overall rate)",
        "upper right",
    )
    return {"calibration.png": calibration, "gain.png": gain, "lift.png": lift}


def headline(facts: CardFacts, decision: Decision | None) -> str:
    """Two lines for the registry's version description and logs.

    Args:
        facts: the card's facts.
        decision: the gate's verdict.

    Returns:
        The primary figure with its interval and positives, next to the baseline, and the verdict.
    """
    name, mine = next(iter(facts.figures.items()))
    theirs = facts.baseline_figures.get(name)
    text = (
        f"{facts.model}: {name} {mine.describe()} on {facts.n_holdout:,} holdout rows "
        f"({facts.n_holdout_positive:,} positive)"
        + (f"; baseline ({facts.baseline}) {theirs.describe()}" if theirs else "")
    )
    classic = facts.classic_figures.get(name)
    if classic:
        text += f"; {facts.classic} {classic.describe()}"
    if decision is not None:
        text += f"\n{'promoted' if decision.promote else 'not promoted'}: {decision.reason}"
    return text
