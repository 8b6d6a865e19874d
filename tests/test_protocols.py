import pytest

from benchmarks.protocols.holdout import holdout_folds
from benchmarks.protocols.loso import loso_folds

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
