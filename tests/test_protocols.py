import pytest

from benchmarks.protocols.holdout import holdout_folds
from benchmarks.protocols.lodo import lodo_folds
from benchmarks.protocols.loso import loso_folds
from registry.errors import ConfigError

SUBJECTS = ["sub02", "sub10", "sub01", "sub02", "sub10", "sub10", "sub03"]


def test_loso_one_fold_per_subject_in_natural_order():
    folds = loso_folds(SUBJECTS)
    assert [f.name for f in folds] == ["sub01", "sub02", "sub03", "sub10"]
    by_name = {f.name: f for f in folds}
    assert by_name["sub10"].test == (1, 4, 5)
    assert by_name["sub10"].train == (0, 2, 3, 6)
    assert sorted(i for f in folds for i in f.test) == list(range(len(SUBJECTS)))
    for fold in folds:
        assert not {SUBJECTS[i] for i in fold.train} & {SUBJECTS[i] for i in fold.test}


def test_holdout_is_seeded_subject_split():
    subjects = [f"s{i}" for i in range(8) for _ in range(3)]
    a, b = holdout_folds(subjects, seed=1)[0], holdout_folds(subjects, seed=1)[0]
    assert a == b and len(a.test_subjects) == 2 and len(a.test) == 6
    assert not {subjects[i] for i in a.train} & set(a.test_subjects)
    with pytest.raises(ValueError, match="two subjects"):
        holdout_folds(["only"] * 4)


def test_lodo_one_fold_per_database_no_subject_or_database_on_both_sides():
    subjects = ["casme2-sub01", "smic-s01", "samm-006", "casme2-sub02", "smic-s01", "samm-007", "casme2-sub01"]
    databases = [s.split("-")[0] for s in subjects]
    folds = lodo_folds(subjects, 0, databases=databases)
    assert [f.name for f in folds] == ["casme2", "samm", "smic"]
    by_name = {f.name: f for f in folds}
    assert by_name["casme2"].test == (0, 3, 6) and by_name["casme2"].train == (1, 2, 4, 5)
    assert by_name["casme2"].test_subjects == ("casme2-sub01", "casme2-sub02")
    assert by_name["smic"].test == (1, 4) and by_name["samm"].test_subjects == ("samm-006", "samm-007")
    assert sorted(i for f in folds for i in f.test) == list(range(len(subjects)))
    for fold in folds:
        assert not {subjects[i] for i in fold.train} & {subjects[i] for i in fold.test}
        assert {databases[i] for i in fold.test} == {fold.name}
        assert fold.name not in {databases[i] for i in fold.train}


def test_lodo_on_the_fixture_composite_holds_out_each_part(tmp_path):
    from fixtures.mer_layouts import write_megc2019_flow

    from benchmarks.datasets import load_dataset
    from benchmarks.protocols import make_folds

    index = load_dataset("megc2019-flow", write_megc2019_flow(tmp_path))
    keys, subjects = [c.key for c in index.clips], [c.subject for c in index.clips]
    folds = make_folds("lodo", "megc2019-flow", keys, subjects, 0)
    assert [(f.name, len(f.test), len(f.test_subjects)) for f in folds] == [
        ("casme2", 145, 24), ("samm", 133, 28), ("smic", 164, 16)]
    for fold in folds:
        assert all(keys[i].startswith(fold.name + "-") for i in fold.test)
        assert not any(keys[i].startswith(fold.name + "-") for i in fold.train)


def test_lodo_is_refused_on_a_single_database_before_anything_runs(tmp_path):
    from zoo.bench import BenchSpec, plan_benchmark

    with pytest.raises(ConfigError, match=r"^--protocol lodo leaves one source database out, but synth is a "
                                          r"single database; use it on a composite \(.*megc2019-flow.*\) or "
                                          r"use --protocol loso$"):
        plan_benchmark(BenchSpec(model="ststnet", protocol="lodo", out=tmp_path / "results"))
    assert not (tmp_path / "results").exists()
    with pytest.raises(ConfigError, match="each sample's source database"):
        lodo_folds(["a", "b"])
    with pytest.raises(ConfigError, match="more than one database"):
        lodo_folds(["a", "a", "b"], databases=["x", "y", "y"])
