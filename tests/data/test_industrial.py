"""The industrial folder layout (`data.source: mvtec`) on real images: digits PNGs with pasted defects."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import tensorflow as tf

import tfganad
from tfganad.config import DataSpec, recipe_from_dict
from tfganad.data import load_data
from tfganad.data.industrial import write_digits_folder
from tfganad.errors import DataError


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_digits_folder(tmp_path_factory.mktemp("mvtec"), size=16, n_train=60, n_test_good=20,
                               n_per_defect=10)


def test_splits_follow_the_folders_and_masks_mark_the_pasted_defects(folder):
    data = load_data(DataSpec(source="mvtec", path=str(folder)))
    assert data.info["protocol"] == "mvtec"
    assert (len(data.x_train), len(data.x_val)) == (54, 6)            # train/good minus 10 % validation
    assert len(data.x_test) == 40 and data.y_test.sum() == 20          # test/good + scratch + spot
    assert data.masks_test.shape == (40, 16, 16)
    assert not data.masks_test[data.y_test == 0].any()
    for x, mask in zip(data.x_test[data.y_test == 1], data.masks_test[data.y_test == 1]):
        assert mask.any()
        # Pasted pixels are bright (scratch 255 → 1.0) or grey (spot 160 → 0.25) in [-1, 1].
        assert np.all(np.isin(np.round(x[..., 0][mask > 0], 2), [1.0, 0.25]))
    # The validation split holds training images only: no test image in it.
    test_rows = {x.tobytes() for x in data.x_test}
    assert not any(x.tobytes() in test_rows for x in data.x_val)


def test_image_size_resizes_images_and_masks(folder):
    data = load_data(DataSpec(source="mvtec", path=str(folder), image_size=32, max_test_samples=30))
    assert data.input_shape == (32, 32, 1) and data.masks_test.shape == (30, 32, 32)
    assert set(np.unique(data.masks_test)) <= {0.0, 1.0}
    assert np.all(data.masks_test[data.y_test == 0] == 0)


def test_other_protocols_are_refused(folder):
    with pytest.raises(DataError, match="own train/test split"):
        load_data(DataSpec(source="mvtec", path=str(folder), protocol="one_normal_class", normal_class=0))


def _copy(folder, tmp_path):
    return shutil.copytree(folder, tmp_path / folder.name)


def test_malformed_trees_fail_with_one_line(folder, tmp_path):
    root = _copy(folder, tmp_path)
    shutil.rmtree(root / "train" / "good")
    with pytest.raises(DataError, match=r"no images in train/good/") as err:
        load_data(DataSpec(source="mvtec", path=str(root)))
    assert "\n" not in str(err.value)
    root = _copy(folder, tmp_path / "b")
    (root / "test" / "spot" / "003.png").unlink()
    with pytest.raises(DataError, match=r"mask 'ground_truth/spot/003_mask.png' has no image test/spot/003"):
        load_data(DataSpec(source="mvtec", path=str(root)))
    with pytest.raises(DataError, match="needs data.path"):
        load_data(DataSpec(source="mvtec"))


def test_mixed_sizes_need_image_size(folder, tmp_path):
    root = _copy(folder, tmp_path)
    big = np.zeros((20, 20, 1), np.uint8)
    (root / "test" / "good" / "999.png").write_bytes(tf.io.encode_png(big).numpy())
    with pytest.raises(DataError, match=r"different sizes: 16x16x1 .* and 20x20x1 .*set data.image_size"):
        load_data(DataSpec(source="mvtec", path=str(root)))
    assert load_data(DataSpec(source="mvtec", path=str(root), image_size=16)).input_shape == (16, 16, 1)
    (root / "ground_truth" / "scratch" / "000_mask.png").write_bytes(tf.io.encode_png(big).numpy())
    with pytest.raises(DataError, match="is 20x20 but its image is 16x16"):
        load_data(DataSpec(source="mvtec", path=str(root), image_size=16))


def test_folder_run_writes_pixel_metrics_overlays_and_hparams(folder, tmp_path, read_hparams):
    recipe = recipe_from_dict({
        "name": "folder", "output_dir": str(tmp_path),
        "model": {"name": "egbad", "latent_dim": 8, "filters": 4, "dense_units": 16},
        "data": {"source": "mvtec", "path": str(folder)},
        "train": {"epochs": 1, "steps_per_epoch": 2, "batch_size": 16, "verbose": 0, "run_eagerly": True},
        "evaluation": {"image_grid": 4}, "export": {"enabled": False, "keras_file": False},
        "cases": {"bce": {"model.score": "bce"}, "fm": {"model.score": "fm", "model.score_weight": 0.5}}})
    out = tfganad.run(recipe, echo=lambda *_: None)
    run_dir = tmp_path / out["run_dir"].split("/")[-1]
    for case in ("bce", "fm"):
        summary = json.loads((run_dir / case / "metrics.json").read_text())
        m = summary["metrics"]
        assert 0.0 <= m["pixel_auroc"] <= 1.0 and 0.0 <= m["pixel_pro"] <= 1.0 and m["pixel_images"] == 40
        assert (run_dir / case / "report" / "anomaly_maps.png").is_file()
        assert "anomaly_maps.png" in (run_dir / case / "report" / "report.md").read_text()
        events = [e for f in (run_dir / case / "logs" / "images").glob("events.*")
                  for e in tf.compat.v1.train.summary_iterator(str(f))]
        images = [v for e in events for v in e.summary.value if v.tag == "anomaly_map"]
        assert images and images[0].metadata.plugin_data.plugin_name == "images"
    experiment, groups = read_hparams(run_dir)
    infos = {h.name: h for h in experiment.hparam_infos}
    assert set(infos) == {"model.score", "model.score_weight"}              # what differs between cases
    assert [v.number_value for v in infos["model.score_weight"].domain_discrete.values] == [0.1, 0.5]
    assert {m.name.tag for m in experiment.metric_infos} >= {"hparams/pixel_auroc", "hparams/pixel_pro"}
    by_score = {g.hparams["model.score"].string_value: {m.name.tag: m.value for m in g.metric_values}
                for g in groups}
    fm = json.loads((run_dir / "fm" / "metrics.json").read_text())["metrics"]
    assert by_score["fm"]["hparams/pixel_auroc"] == pytest.approx(fm["pixel_auroc"], abs=1e-6)
    assert by_score["bce"]["hparams/auroc"] == pytest.approx(out["results"][0]["auroc"], abs=1e-6)
