"""The industrial folder layout (MVTec AD convention, as anomalib users keep data) as data source `mvtec`.

    <category>/train/good/*.png                      normal training images
    <category>/test/good/*.png                       normal test images
    <category>/test/<defect>/*.png                   anomalous test images, one folder per defect type
    <category>/ground_truth/<defect>/<name>_mask.png pixel mask of test/<defect>/<name>.png (optional)

Protocol `mvtec` (chosen automatically for this source): train on train/good minus a normal-only
validation split (`data.validation_fraction`, 10 % as for `one_anomalous_class`), test on every image
under test/ (label 1 = a defect folder); masks (1 = defect pixel) give pixel AUROC/PRO. A defect image
without a mask is kept for image metrics and left out of pixel metrics. Any image format TensorFlow
decodes (.png, .jpg, .bmp, .gif); masks are read as "> 0 = defect".

`write_digits_folder` writes a small real-image example in this layout (scikit-learn's handwritten
digits with pasted scratches and spots, and their masks), for tests, docs and trying the recipe.
"""

from __future__ import annotations

import pathlib

import numpy as np

from tfganad.data.base import AnomalyData, LabeledData
from tfganad.data.protocols import _fraction, carve_validation, register_protocol
from tfganad.data.sources import IMAGE_SUFFIXES, register_source
from tfganad.errors import DataError

LAYOUT = ("<category>/train/good/, <category>/test/good/ and test/<defect>/, "
          "<category>/ground_truth/<defect>/<name>_mask.png")


def _images(folder: pathlib.Path) -> list:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _decode(path: pathlib.Path, channels: int) -> np.ndarray:
    import tensorflow as tf

    try:
        return tf.io.decode_image(tf.io.read_file(str(path)), channels=channels, expand_animations=False).numpy()
    except tf.errors.InvalidArgumentError:
        raise DataError(f"cannot decode image {str(path)!r}") from None


def _resize(img: np.ndarray, size: int, method: str) -> np.ndarray:
    import tensorflow as tf

    if img.shape[:2] == (size, size):
        return img
    return tf.image.resize(img, (size, size), method=method).numpy()


def load_mvtec_folder(root, channels=None, image_size=None) -> LabeledData:
    """Reads one category folder in the MVTec AD layout → LabeledData with masks and origin train/test.

    Raises:
        DataError: a malformed tree (no train/good images, no test images, a mask without its image or of
            another size), mixed sizes without `image_size`, or mixed channel counts without `channels`.
    """
    root = pathlib.Path(root)
    if not root.is_dir():
        raise DataError(f"data.path {str(root)!r} is not a directory; expected a category folder: {LAYOUT}")
    good = root / "train" / "good"
    if not good.is_dir() or not _images(good):
        raise DataError(f"{str(root)!r} has no images in train/good/; the layout is {LAYOUT}")
    test = root / "test"
    defects = sorted(p.name for p in test.iterdir() if p.is_dir()) if test.is_dir() else []
    entries = [(p, 0, "train", None) for p in _images(good)]
    for defect in defects:
        entries += [(p, int(defect != "good"), "test", defect) for p in _images(test / defect)]
    if not any(origin == "test" for _, _, origin, _ in entries):
        raise DataError(f"{str(root)!r} has no images in test/<good|defect>/; the layout is {LAYOUT}")
    masks_by_image = {}
    truth = root / "ground_truth"
    for folder in sorted(p for p in truth.iterdir() if p.is_dir()) if truth.is_dir() else []:
        stems = {p.stem: p for p in _images(test / folder.name)} if (test / folder.name).is_dir() else {}
        for mask in _images(folder):
            stem = mask.stem[:-len("_mask")] if mask.stem.endswith("_mask") else mask.stem
            if stem not in stems:
                raise DataError(f"mask {str(mask.relative_to(root))!r} has no image test/{folder.name}/{stem}.* "
                                f"(a mask of test/<defect>/<name>.png is ground_truth/<defect>/<name>_mask.png)")
            masks_by_image[stems[stem]] = mask
    xs, labels, origin, masks = [], [], [], []
    first = {}
    for path, label, where, _ in entries:
        img = _decode(path, channels or 0)
        mask_path = masks_by_image.get(path)
        if mask_path is not None:
            mask = _decode(mask_path, 1)[..., 0]
            if mask.shape != img.shape[:2]:
                raise DataError(f"mask {str(mask_path.relative_to(root))!r} is {mask.shape[0]}x{mask.shape[1]} but "
                                f"its image is {img.shape[0]}x{img.shape[1]}")
            mask = (mask > 0).astype(np.float32)
        else:
            # A normal image has no defect pixel; a defect image without a mask has an unknown one (NaN).
            mask = np.full(img.shape[:2], 0.0 if label == 0 else np.nan, np.float32)
        if image_size:
            img = _resize(img, int(image_size), "bilinear")
            mask = _resize(mask[..., None], int(image_size), "nearest")[..., 0]
        first.setdefault(img.shape, path)
        if len(first) > 1:
            (a, pa), (b, pb) = list(first.items())[:2]
            what = "channel counts" if a[:2] == b[:2] else "sizes"
            fix = "data.channels" if what == "channel counts" else "data.image_size"
            raise DataError(f"images of {str(root)!r} have different {what}: {'x'.join(map(str, a))} "
                            f"({pa.relative_to(root)}) and {'x'.join(map(str, b))} ({pb.relative_to(root)}); "
                            f"set {fix}")
        xs.append(img)
        labels.append(label)
        origin.append(where)
        masks.append(mask)
    masks = np.stack(masks).astype(np.float32)
    labels = np.asarray(labels, np.int64)
    known = bool(np.any(labels[~np.isnan(masks).reshape(len(masks), -1).any(1)] == 1))
    return LabeledData(x=np.stack(xs).astype(np.float32), labels=labels, origin=np.asarray(origin),
                       value_range=(0.0, 255.0), name=root.name, binary=True,
                       masks=masks if known else None, protocol="mvtec")


@register_source("mvtec")
def load_mvtec_source(spec) -> LabeledData:
    """A category folder in the MVTec AD layout in `data.path` (see the module docstring)."""
    if not spec.path:
        raise DataError(f"data.source 'mvtec' needs data.path: a category folder laid out as {LAYOUT}")
    return load_mvtec_folder(spec.path, spec.channels, spec.image_size)


@register_protocol("mvtec")
def mvtec_protocol(data: LabeledData, spec, seed: int) -> AnomalyData:
    """The layout's own split: train = train/good minus a normal validation split, test = all of test/."""
    if data.origin is None or data.protocol != "mvtec":
        raise DataError("protocol 'mvtec' needs data.source: mvtec (a folder with train/good/ and test/)")
    rng = np.random.default_rng(seed)
    train_idx = np.flatnonzero((data.origin == "train") & (data.labels == 0))
    test_idx = np.flatnonzero(data.origin == "test")
    x_train, x_val = carve_validation(data.x[train_idx], _fraction(spec.validation_fraction, 0.1,
                                                                   "validation_fraction"), rng)
    return AnomalyData(x_train=x_train, x_val=x_val, x_test=data.x[test_idx], y_test=data.labels[test_idx],
                       masks_test=None if data.masks is None else data.masks[test_idx],
                       info={"protocol": "mvtec", "test_indices": test_idx, "train_indices": train_idx})


# ---------------------------------------------------------------------------------------------- example
def _paste_scratch(img, rng, size):
    mask = np.zeros((size, size), bool)
    y0, x0 = rng.integers(size // 4, 3 * size // 4, 2)
    angle = rng.uniform(0, np.pi)
    for t in np.linspace(-size / 4, size / 4, 4 * size):
        y, x = int(round(y0 + t * np.sin(angle))), int(round(x0 + t * np.cos(angle)))
        mask[max(y - 1, 0):y + 1, max(x - 1, 0):x + 1] = True
    img[mask] = 255
    return mask


def _paste_spot(img, rng, size):
    yy, xx = np.mgrid[:size, :size]
    cy, cx = rng.integers(size // 5, 4 * size // 5, 2)
    mask = (yy - cy) ** 2 + (xx - cx) ** 2 <= (size / 8) ** 2
    img[mask] = 160
    return mask


def write_digits_folder(root, category: str = "digits", size: int = 32, n_train: int = 1190, n_test_good: int = 300,
                        n_per_defect: int = 150, seed: int = 0) -> pathlib.Path:
    """Writes scikit-learn's real handwritten digits in the MVTec AD layout → the category folder.

    Digits (8×8, upsampled to `size`) are the "good" parts; defects `scratch` (a bright line) and `spot`
    (a grey disc) are pasted on other digits, with their masks in ground_truth/. Refuses to write into an
    existing category folder.
    """
    import tensorflow as tf
    from sklearn.datasets import load_digits

    out = pathlib.Path(root) / category
    if out.exists():
        raise DataError(f"{str(out)!r} already exists; choose another folder")
    digits = load_digits().images.astype(np.float32) / 16.0 * 255.0
    need = n_train + n_test_good + 2 * n_per_defect
    if need > len(digits):
        raise DataError(f"the digits data set has {len(digits)} images; {need} were asked for")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(digits))[:need]
    images = tf.image.resize(digits[order][..., None], (size, size), method="bilinear").numpy()
    images = np.clip(np.round(images), 0, 255).astype(np.uint8)

    def save(path, array):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(tf.io.encode_png(array).numpy())

    plan = [("train/good", n_train, None), ("test/good", n_test_good, None),
            ("test/scratch", n_per_defect, _paste_scratch), ("test/spot", n_per_defect, _paste_spot)]
    k = 0
    for folder, count, paste in plan:
        for i in range(count):
            img = images[k].copy()
            k += 1
            if paste is not None:
                mask = paste(img[..., 0], rng, size)
                save(out / "ground_truth" / folder.split("/")[1] / f"{i:03d}_mask.png",
                     (mask[..., None] * 255).astype(np.uint8))
            save(out / folder / f"{i:03d}.png", img)
    return out
