"""Preprocessing cache: reuse, invalidation, concurrency, worker pool, face crop, channels."""

from __future__ import annotations

import os
import threading

import cv2
import numpy as np
import pytest
import torch
from fixtures.mer_layouts import write_casme2
from skimage.data import astronaut

import benchmarks.preprocess as pre
from benchmarks.datasets.casme2 import read_casme2
from benchmarks.preprocess import PreprocessConfig, face_box, optical_strain, prepare

ROWS = [(1, "EP01_01", 1, 2, 3, "happiness"), (1, "EP01_02", 1, 2, 4, "disgust"),
        (2, "EP02_01", 2, 3, 4, "surprise"), (2, "EP02_02", 1, 3, 5, "others")]
CONFIG = PreprocessConfig(size=16, flow_size=24)


@pytest.fixture
def counted(monkeypatch):
    """Counts clips actually computed (workers=1 keeps them in this process)."""
    calls = []
    original = pre.prepare_clip

    def counting(clip, config):
        calls.append(clip.key)
        return original(clip, config)

    monkeypatch.setattr(pre, "prepare_clip", counting)
    return calls


def test_cache_is_reused_and_invalidated_by_frames_and_config(tmp_path, counted):
    root = write_casme2(tmp_path / "data", ROWS, "cropped")
    first = prepare(read_casme2(root), CONFIG, tmp_path / "cache", workers=1)
    assert len(counted) == 4
    again = prepare(read_casme2(root), CONFIG, tmp_path / "cache", workers=1)
    assert len(counted) == 4 and again.path == first.path
    assert torch.equal(again.tensors["flow"], first.tensors["flow"])
    rows = again.rows(["sub02/EP02_01", "sub01/EP01_01"])
    assert rows["apex"].shape == (2, 3, 16, 16) and rows["apex"].dtype == torch.uint8
    assert rows["flow"].shape == (2, 2, 16, 16) and rows["flow"].dtype == torch.float32
    assert {k: tuple(v.shape[1:]) for k, v in rows.items() if k in ("strain", "magnitude", "diff")} \
        == {"strain": (1, 16, 16), "magnitude": (1, 16, 16), "diff": (1, 16, 16)}

    apex = root / "Cropped" / "sub01" / "EP01_01" / "reg_img2.jpg"
    stat = apex.stat()
    os.utime(apex, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    changed = prepare(read_casme2(root), CONFIG, tmp_path / "cache", workers=1)
    assert changed.path != first.path and len(counted) == 8

    prepare(read_casme2(root), PreprocessConfig(size=16, flow_size=32), tmp_path / "cache", workers=1)
    assert len(counted) == 12


def test_concurrent_runs_compute_once(tmp_path, counted):
    index = read_casme2(write_casme2(tmp_path / "data", ROWS, "cropped"))
    results = []
    threads = [threading.Thread(target=lambda: results.append(
        prepare(index, CONFIG, tmp_path / "cache", workers=1))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(counted) == 4
    assert results[0].path == results[1].path
    assert [p.name for p in (tmp_path / "cache" / "prepared").iterdir() if not p.name.endswith(".lock")] \
        == [results[0].path.name]


def test_worker_pool_matches_serial(tmp_path):
    index = read_casme2(write_casme2(tmp_path / "data", ROWS, "cropped"))
    progress = []
    pooled = prepare(index, CONFIG, tmp_path / "pool", on_clip=lambda d, t: progress.append((d, t)),
                     workers=2)
    serial = prepare(index, CONFIG, tmp_path / "serial", workers=1)
    assert progress == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert pooled.keys == serial.keys
    for name in serial.tensors:
        assert torch.equal(pooled.tensors[name], serial.tensors[name]), name


def test_face_detection_on_a_real_photo_and_crop(tmp_path):
    photo = astronaut()
    top, left, bottom, right = face_box(photo)
    assert bottom - top == right - left
    assert top < 117 < bottom and left < 221 < right  # the astronaut's face centre (row, col)
    assert face_box(np.random.default_rng(0).integers(0, 255, (240, 320, 3), dtype=np.uint8)) is None

    root = write_casme2(tmp_path / "data", ROWS[:2], "raw")
    for frame in (root / "CASME2_RAW_selected").rglob("*.jpg"):
        cv2.imwrite(str(frame), photo[..., ::-1])
    prepared = prepare(read_casme2(root), PreprocessConfig(size=32, flow_size=32, crop="detect"),
                       tmp_path / "cache", workers=1)
    assert prepared.tensors["face_found"].tolist() == [1, 1]
    decoded = cv2.imread(str(next((root / "CASME2_RAW_selected").rglob("img1.jpg"))))[..., ::-1]
    top, left, bottom, right = face_box(decoded)
    face = cv2.resize(decoded[top:bottom, left:right], (32, 32), interpolation=cv2.INTER_AREA)
    assert np.array_equal(prepared.tensors["onset"][0].numpy().transpose(1, 2, 0), face)


def test_optical_strain_of_translation_and_stretch():
    _ys, xs = np.mgrid[0:8, 0:8].astype(np.float32)
    translation = np.stack([np.full_like(xs, 2.0), np.full_like(xs, -1.0)], axis=2)
    stretch = np.stack([0.5 * xs, np.zeros_like(xs)], axis=2)
    assert np.allclose(optical_strain(translation), 0)
    assert np.allclose(optical_strain(stretch), 0.5)


def test_config_rejects_unknown_crop():
    from registry.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown crop 'mtcnn'; choose none, detect"):
        PreprocessConfig(crop="mtcnn")
