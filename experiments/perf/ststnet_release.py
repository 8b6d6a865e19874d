"""Is mer-zoo's STSTNet reproduction distinguishable from the authors' own runs? (issue #21)

STSTNet's repository (github.com/christy1206/STSTNet) publishes the predictions behind two of
its figures: ``STSTNet_python_logfile.txt``, the official PyTorch ``main.py`` run (UF1 .7209),
as each subject's predicted and true labels, and ``STSTNet_logfile.txt``, the MATLAB run behind
the paper's table (UF1 .7353), as one line per clip. Both test the same 442 clips as
``megc2019-flow``, so mer-zoo's paired subject-level test (:mod:`benchmarks.significance`, as
``zoo compare`` runs it) applies: the difference of UF1 and UAR (whole composite and each part),
its paired bootstrap interval over subjects and the permutation p-value of swapping each
subject's predictions between the two sides. The PyTorch log names no clips, but a subject's
confusion counts need only its true and predicted labels: each subject's labels must then match
the ones mer-zoo tests, class by class.

    python -m experiments.perf.ststnet_release --release PATH/TO/STSTNet   # a clone of the repository

writes ``experiments/perf/results/ststnet_release.{json,md}`` from the published STSTNet LOSO
runs on ``megc2019-flow`` (``leaderboard/results/``): the registered recipe's three seeds and,
once published, the three of ``--order by-class`` (the release's batch order).
"""

from __future__ import annotations

import argparse
import ast
import json
from collections import Counter
from itertools import combinations
from pathlib import Path

import numpy as np

from benchmarks import significance
from benchmarks.records import subject_of_key
from experiments.perf._evidence import SUMMARY, existing
from leaderboard.check import registered_part_of
from registry.errors import ConfigError

DATASET = "megc2019-flow"
SEEDS = (0, 1, 2)
PYTORCH_LOG = "STSTNet_python_logfile.txt"
MATLAB_LOG = "STSTNet_logfile.txt"
DATABASES = ("casme2", "smic", "samm")


def read_clip_log(path: Path) -> list[dict]:
    """``STSTNet_logfile.txt``: a ``<database> <subject>`` line before each subject's clips, then
    ``<clip> <true> <predicted>`` per clip; as result-file samples (clip keys ``db-subject/clip``)."""
    samples, subject = [], None
    for number, line in enumerate(path.read_text().splitlines(), 1):
        fields = line.split()
        if len(fields) == 2 and fields[0] in DATABASES:
            subject = f"{fields[0]}-{fields[1]}"
        elif len(fields) == 3 and subject is not None and fields[1].isdigit() and fields[2].isdigit():
            samples.append({"clip": f"{subject}/{fields[0]}", "label": int(fields[1]), "prediction": int(fields[2])})
        elif fields:
            raise ConfigError(f"{path}, line {number}: expected '<database> <subject>' or '<clip> <true> <predicted>', "
                              f"got {line!r}")
    return samples


def read_subject_log(path: Path) -> dict[str, tuple[list[int], list[int]]]:
    """``STSTNet_python_logfile.txt``: per ``Subject:`` its ``Predicted`` and ``Ground Truth``
    lists, as ``{subject folder: (true, predicted)}``."""
    subjects: dict[str, tuple[list[int], list[int]]] = {}
    subject = predicted = None
    for number, line in enumerate(path.read_text().splitlines(), 1):
        head, _, value = line.partition(":")
        head = head.strip()
        if head == "Subject":
            subject, predicted = value.strip(), None
        elif head == "Predicted":
            predicted = ast.literal_eval(value.strip())
        elif head == "Ground Truth":
            truth = ast.literal_eval(value.strip())
            if subject is None or predicted is None or len(truth) != len(predicted):
                raise ConfigError(f"{path}, line {number}: a 'Ground Truth' list needs a 'Subject' and a "
                                  "'Predicted' list of the same length before it")
            subjects[subject] = (truth, predicted)
    return subjects


def clip_log_entry(samples: list[dict]) -> str:
    """One subject's clips (result-file samples) in the format :func:`read_clip_log` reads."""
    database, subject = subject_of_key(samples[0]["clip"]).split("-", 1)
    return "".join([f"{database} {subject}\n"] + [f"{s['clip'].split('/', 1)[1]} {s['label']} {s['prediction']}\n"
                                                     for s in samples])


def subject_counts_of_lists(lists: dict[str, tuple[list[int], list[int]]],
                            like: significance.SubjectCounts) -> significance.SubjectCounts:
    """The counts of per-subject label lists, on the subjects and clips of ``like``: a log's
    subject ``006`` is mer-zoo's ``samm-006``. Each subject must have the same true labels as in
    ``like`` (the clips cannot be matched one by one, their labels can)."""
    by_folder = {subject.split("-", 1)[1]: subject for subject in like.subjects}
    if sorted(by_folder) != sorted(lists):
        raise ConfigError(f"the log's subjects ({len(lists)}) are not the benchmark's ({len(like.subjects)}): "
                          f"{sorted(set(lists) ^ set(by_folder))[:4]}")
    counts = np.zeros_like(like.counts)
    row = {subject: i for i, subject in enumerate(like.subjects)}
    for folder, (truth, predicted) in lists.items():
        i = row[by_folder[folder]]
        np.add.at(counts[i], (truth, predicted), 1)
        if not np.allclose(counts[i].sum(1), like.counts[i].sum(1)):  # like: a seed-mean
            raise ConfigError(f"subject {folder}: the log's true labels {dict(Counter(truth))} are not the "
                              f"benchmark's {np.round(like.counts[i].sum(1)).astype(int).tolist()} (per class)")
    return significance.SubjectCounts(like.subjects, like.clips, counts, like.classes)


# mer-zoo's configurations of the official recipe: registered (shuffled) and in the release's
# batch order; one is reported once all its seeds are published
CONFIGURATIONS = {"mer-zoo": {"epochs": 800}, "mer-zoo by-class": {"epochs": 800, "order": "by-class"}}
OFFICIAL_HERE = "official script here"  # main.py's recipe re-run on these CPUs (--rerun)


def metrics_of(counts: significance.SubjectCounts, parts: dict[str, set[str]]) -> dict:
    """UF1 and UAR of one run, whole set and each part."""
    def of(c: significance.SubjectCounts) -> dict:
        return {metric: float(significance.metric_of(c.counts.sum(0), metric)) for metric in significance.METRICS}
    return {"all": of(counts), **{part: of(counts.part(subjects)) for part, subjects in sorted(parts.items())}}


def agreement(a: list[dict], b: list[dict]) -> float:
    """The share of clips two runs predict alike (on the clips of ``a``)."""
    predicted = {sample["clip"]: sample["prediction"] for sample in b}
    return sum(predicted[sample["clip"]] == sample["prediction"] for sample in a) / len(a)


def comparisons(release: Path, reruns: dict[int, Path] | None = None) -> dict:
    """Every comparison of the report, A minus B: paired over subjects; across seeds between
    mer-zoo's configurations; and, given ``reruns`` (seed -> the clip log of the official script's
    recipe run here at that seed), each re-run against mer-zoo's runs of the same seed, which
    start from the same initialisation (the same seed of each fold), and how many clips they
    predict alike."""
    published = {name: [existing("ststnet", {}, seed, DATASET, overrides=overrides) for seed in SEEDS]
                 for name, overrides in CONFIGURATIONS.items()}
    published = {name: results for name, results in published.items() if None not in results}
    if "mer-zoo" not in published:
        raise ConfigError(f"the STSTNet LOSO runs of seeds {SEEDS} on {DATASET} are not all published")
    classes = published["mer-zoo"][0]["dataset"]["classes"]
    runs = {name: {r["seed"]: [s for f in r["folds"] for s in f["samples"]] for r in results}
            for name, results in published.items()}
    if reruns:
        runs[OFFICIAL_HERE] = {seed: read_clip_log(path) for seed, path in sorted(reruns.items())}
    seeds = {name: {seed: significance.subject_counts([run], classes) for seed, run in by_seed.items()}
             for name, by_seed in runs.items()}
    means = {name: significance.subject_counts(list(by_seed.values()), classes) for name, by_seed in runs.items()}
    pytorch = subject_counts_of_lists(read_subject_log(release / PYTORCH_LOG), means["mer-zoo"])
    matlab = significance.subject_counts([read_clip_log(release / MATLAB_LOG)], classes)
    parts = significance.subjects_by_part((clip for clip, _ in pytorch.clips), registered_part_of(DATASET))
    mean_of = {name: f"{name} seed-mean (seeds {', '.join(map(str, by_seed))})" for name, by_seed in seeds.items()}
    pairs = [("official PyTorch re-run", pytorch, "paper's MATLAB run", matlab)]
    for name, by_seed in seeds.items():
        pairs += [(mean_of[name], means[name], "official PyTorch re-run", pytorch)]
        pairs += [(f"{name} seed {seed}", counts, "official PyTorch re-run", pytorch) for seed, counts in by_seed.items()]
        pairs += [(mean_of[name], means[name], "paper's MATLAB run", matlab)]
        pairs += [(f"{name} seed {a}", by_seed[a], f"{name} seed {b}", by_seed[b])
                  for a, b in combinations(by_seed, 2)]
    # mer-zoo's configurations against its registered one, across seeds too
    between = [(name, "mer-zoo") for name in published if name != "mer-zoo"]
    pairs += [(mean_of[a], means[a], mean_of[b], means[b]) for a, b in between]
    # each re-run of the official script against mer-zoo's runs from the same initialisation
    matched = [(OFFICIAL_HERE, name, seed) for seed in (reruns or {}) for name in published if seed in runs[name]]
    pairs += [(f"{a} seed {seed}", seeds[a][seed], f"{b} seed {seed}", seeds[b][seed]) for a, b, seed in matched]
    labelled = {f"{name} seed {seed}": run for name, by_seed in runs.items() for seed, run in by_seed.items()}
    agreeing = [(f"{a} seed {seed}", f"{b} seed {seed}")
                for a, b, seed in matched + [(a, b, seed) for a, b in between for seed in runs[a] if seed in runs[b]]]
    agreeing += [(f"{name} seed {a}", f"{name} seed {b}") for name, by_seed in runs.items() for a, b in combinations(by_seed, 2)]
    return {"runs": {f"{name} seed {r['seed']}": r["run_id"] for name, results in published.items() for r in results},
            "reruns": {str(seed): path.name for seed, path in sorted((reruns or {}).items())},
            "metrics": {"official PyTorch re-run": metrics_of(pytorch, parts), "paper's MATLAB run": metrics_of(matlab, parts),
                        **{f"{name} seed {seed}": metrics_of(counts, parts)
                           for name, by_seed in seeds.items() for seed, counts in by_seed.items()}},
            "agreement": [{"a": a, "b": b, "share": agreement(labelled[a], labelled[b])} for a, b in agreeing],
            "comparisons": [{"a": a, "b": b, **significance.compare(x, y, parts)} for a, x, b, y in pairs],
            "across_seeds": [{"a": mean_of[a], "b": mean_of[b],
                              **significance.across_seeds(list(seeds[a].values()), list(seeds[b].values()), parts)}
                             for a, b in between]}


def markdown(report: dict) -> str:
    lines = ["# STSTNet: mer-zoo's reproduction against the authors' own runs", "",
             "Written by `python -m experiments.perf.ststnet_release --release CLONE` (a clone of "
             "github.com/christy1206/STSTNet) from the published STSTNet LOSO runs on `megc2019-flow` "
             f"({', '.join(f'{k}: `{v}`' for k, v in report['runs'].items())})"
             + (f" and the official script's recipe re-run here (seed {', seed '.join(f'{k}: `{v}`' for k, v in report['reruns'].items())}; "
                "`experiments.perf.shortest_loop ststnet --order by-class --seed N --log FILE`, which seeds each fold as "
                "mer-zoo's run of seed N does)" if report["reruns"] else "")
             + ".", "", "## Each run", "", "| run | UF1 | UAR | " + " | ".join(
                 f"{part} UF1" for part in list(next(iter(report["metrics"].values())))[1:]) + " |",
             "|---|---|---|" + "---|" * (len(next(iter(report["metrics"].values()))) - 1)]
    for run, metrics in report["metrics"].items():
        lines.append(f"| {run} | {metrics['all']['uf1']:.3f} | {metrics['all']['uar']:.3f} | "
                     + " | ".join(f"{m['uf1']:.3f}" for part, m in metrics.items() if part != "all") + " |")
    lines += ["", "## Clips predicted alike", "", "Runs of one seed start from the same initialisation (each fold's "
              "seed is the same); runs of two seeds do not.", "", "| A | B | clips predicted alike |", "|---|---|---|"]
    lines += [f"| {row['a']} | {row['b']} | {row['share']:.1%} |" for row in report["agreement"]]
    if report["across_seeds"]:
        lines += ["", "## Across seeds", "", "Each seed's run one draw of its recipe: the difference of the means over "
                  "seeds and an exact permutation test dealing the pooled runs out to the two sides (sees training "
                  "noise; p cannot go below 2 / the number of deals).", "",
                  "| A | B | part | Δ UF1 | p | Δ UAR | p | deals |", "|---|---|---|---|---|---|---|---|"]
        for row in report["across_seeds"]:
            for part, result in significance.by_scope(row):
                uf1, uar, part = result["uf1"], result["uar"], part or "all"
                lines.append(f"| {row['a']} | {row['b']} | {part} | {uf1['difference']:+.3f} | {uf1['p_value']:.3f} | "
                             f"{uar['difference']:+.3f} | {uar['p_value']:.3f} | {uf1['splits']} |")
    lines += ["", "## Paired over subjects", "", "A minus B; 95 % paired bootstrap interval over subjects; p: paired "
              "permutation test swapping each subject's predictions (holds both sides' trained models fixed).", "",
              "| A | B | part | Δ UF1 [95 % CI] | p | Δ UAR [95 % CI] | p |", "|---|---|---|---|---|---|---|"]
    for row in report["comparisons"]:
        for part, result in significance.by_scope(row):
            uf1, uar, part = result["uf1"], result["uar"], part or "all"
            lines.append(f"| {row['a']} | {row['b']} | {part} | {uf1['difference']:+.3f} [{uf1['ci'][0]:+.3f}, "
                         f"{uf1['ci'][1]:+.3f}] | {uf1['p_value']:.3f} | {uar['difference']:+.3f} "
                         f"[{uar['ci'][0]:+.3f}, {uar['ci'][1]:+.3f}] | {uar['p_value']:.3f} |")
    return "\n".join(lines) + f"\n\n{report['comparisons'][0]['test']}.\n"


def rerun_of(text: str) -> tuple[int, Path]:
    """``--rerun SEED=FILE``."""
    seed, _, path = text.partition("=")
    if not seed.isdigit() or not path:
        raise ConfigError(f"--rerun {text!r}: expected SEED=FILE, e.g. 0=logs/official-script/ststnet-s0.log")
    return int(seed), Path(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--release", type=Path, required=True,
                        help=f"a clone of github.com/christy1206/STSTNet (holding {PYTORCH_LOG} and {MATLAB_LOG})")
    parser.add_argument("--rerun", action="append", default=[], metavar="SEED=FILE",
                        help="the clip log of the official script's recipe run here at SEED "
                             "(experiments.perf.shortest_loop ststnet --order by-class --seed SEED --log FILE)")
    args = parser.parse_args()
    try:  # a bad argument or log: one line naming it, not a traceback
        report = comparisons(args.release, dict(rerun_of(text) for text in args.rerun))
    except (ConfigError, OSError) as error:
        parser.error(str(error))
    (SUMMARY / "ststnet_release.json").write_text(json.dumps(report, indent=1) + "\n")
    (SUMMARY / "ststnet_release.md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
