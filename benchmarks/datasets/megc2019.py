"""MEGC 2019 composite: SMIC-HS + CASME II + SAMM in three classes (See et al., FG 2019).

The composite is defined by the organisers' official list of 442 clip names
(``registry/data/megc2019_composite_442.txt``), not by the label rule: the rule (each
part's 3-class set) keeps two CASME II clips the organisers left out. The rule is used
only to check the list, and every difference is reported. Subjects are prefixed with
their part (``casme2-sub01``, ``samm-006``, ``smic-s01``) so they stay unique, and
:func:`part_of` lets the runner report per-part metrics next to the composite's.
"""

from __future__ import annotations

import re
from dataclasses import replace
from importlib import resources
from pathlib import Path

from benchmarks.datasets._tables import IndexBuilder, find_folder
from benchmarks.records import ClassSet, DatasetIndex
from registry import CLASS_SETS, DATASETS

CITATION = (
    "See, J., Yap, M. H., Li, J., Hong, X., Wang, S.-J. MEGC 2019 - The Second Facial "
    "Micro-Expressions Grand Challenge. IEEE FG 2019."
)
LIST_FILE = "megc2019_composite_442.txt"
# part -> (dataset, folder names it may have under the composite's root, its 3-class set)
PARTS = {
    "smic": ("smic-hs", ("smic-hs", "smic", "SMIC", "SMIC_all_raw")),
    "casme2": ("casme2", ("casme2", "CASME2", "CASME II")),
    "samm": ("samm", ("samm", "SAMM")),
}
LABELS = ("negative", "positive", "surprise")

CLASS_SETS.add(
    "megc2019-3",
    ClassSet(
        name="megc2019-3",
        classes=LABELS,
        mapping={label: label for label in LABELS},
        reference_counts={"negative": 250, "positive": 109, "surprise": 83},
        reference_subjects=68,
        source="See et al. 2019 / official 442-clip list: SMIC 164 (70/51/43), CASME II 145 "
        "(88/32/25), SAMM 133 (92/26/15); 68 subjects",
    ),
    summary="MEGC 2019 composite 3 classes: negative, positive, surprise",
)


def official_names() -> list[str]:
    """The 442 ``<subject>_<clip>`` names, in the published order."""
    text = resources.files("registry").joinpath("data", LIST_FILE).read_text()
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def part_of_name(name: str) -> str:
    """Which part a name of the official list belongs to, from its subject's form."""
    if name.startswith("sub"):
        return "casme2"
    return "smic" if re.match(r"^s\d", name) else "samm"


def part_of(key: str) -> str:
    """The part of a composite clip key (``casme2-sub01/EP02_01f`` -> ``casme2``)."""
    return key.split("-", 1)[0]


def read_megc2019(root: Path, errata: bool = True) -> DatasetIndex:
    """Read the three parts from ``root/<part>/`` and keep the official 442 clips."""
    from benchmarks.datasets import class_set_for

    builder = IndexBuilder("megc2019", root)
    wanted = official_names()
    for part, (dataset, folders) in PARTS.items():
        part_root = find_folder(root, folders, f"MEGC 2019 {part} part",
                                f"put the {dataset} release under {root}/{folders[0]}/")
        index = DATASETS.get(dataset).obj(part_root, errata=errata)
        class_set = class_set_for(dataset, "3")
        builder.warnings.extend(f"{part}: {w}" for w in index.warnings)
        builder.excluded.extend(replace(e, row=f"{part}: {e.row}") for e in index.excluded)
        found = {f"{c.subject}_{c.clip}": c for c in index.clips}
        listed = [name for name in wanted if part_of_name(name) == part]
        for name in listed:
            clip = found.get(name)
            label = None if clip is None else class_set.label_of(clip.emotion, clip.source_row)
            if clip is None:
                builder.exclude(f"{LIST_FILE}: {name}", f"not found among the {part} clips read "
                                f"from {part_root} (see that part's excluded rows)")
            elif label is None:
                builder.exclude(f"{part}: {clip.source_row}", f"official list names {name} but "
                                f"{class_set.name} leaves out its label '{clip.emotion}'")
            else:
                builder.clips.append(replace(
                    clip, dataset="megc2019", subject=f"{part}-{clip.subject}",
                    emotion=class_set.classes[label], source_row=f"{part}: {clip.source_row}"))
        in_list = set(listed)
        rule_only = [n for n, c in found.items()
                     if n not in in_list and class_set.label_of(c.emotion, c.source_row) is not None]
        for name in rule_only:
            builder.exclude(f"{part}: {found[name].source_row}",
                            f"{name} has a {class_set.name} label but is not in the official list")
        if rule_only:
            builder.warn(f"{part}: the label rule keeps {len(rule_only)} clip(s) the official "
                         f"list leaves out ({', '.join(rule_only)}); following the list")
    return builder.build()


DATASETS.register(
    "megc2019",
    citation=CITATION,
    summary="MEGC 2019 composite: SMIC-HS + CASME II + SAMM, 68 subjects, 442 clips, 3 classes",
    class_sets={"3": "megc2019-3"},
    restricted=True,
    composite=tuple(PARTS),
    part_of=part_of,
    errata=(),
)(read_megc2019)
