"""Packaging for tfganad: GAN-based anomaly detection on Keras 3 / TensorFlow 2."""

import pathlib
import re

from setuptools import find_packages, setup

HERE = pathlib.Path(__file__).parent
VERSION = re.search(r'__version__ = "([^"]+)"', (HERE / "tfganad" / "version.py").read_text()).group(1)

setup(
    name="tfganad",
    version=VERSION,
    description="GAN-based anomaly detection (EGBAD, GANomaly, ALAD, AnoGAN, ...) on Keras 3 / TensorFlow 2",
    long_description=(HERE / "README.md").read_text(encoding="utf-8") if (HERE / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.11,<3.14",
    packages=find_packages(include=["tfganad", "tfganad.*"]),
    package_data={"tfganad": ["recipes/*.yaml", "data/*.yaml"]},
    install_requires=[
        "tensorflow>=2.21,<2.22",
        "keras>=3.12,<4",
        # TF 2.21 no longer depends on tensorboard; callbacks and tf.summary need it.
        "tensorboard>=2.21,<2.22",
        "tensorflow-datasets>=4.9.9,<4.10",
        # tensorflow/datasets#11212: tfds needs it on Python >= 3.9 but only declares it for < 3.9.
        "importlib_resources>=6",
        "numpy>=1.26",
        # 1.6: validate_data, __sklearn_tags__ and ensure_all_finite, which the Detector uses.
        "scikit-learn>=1.6",
        "scipy>=1.10",
        "click>=8.1",
        "pyyaml>=6",
        "matplotlib>=3.7",
        # Python-Markdown (tables extension) renders a sweep's report.html instead of a hand-written converter;
        # tensorboard already depends on it. 3.4: the release line that supports Python 3.11.
        "markdown>=3.4",
    ],
    extras_require={
        "gpu": ["tensorflow[and-cuda]>=2.21,<2.22"],
        # pandas: the test of the Detector's DataFrame input (feature_names_in_) needs it.
        "dev": ["pytest>=8", "pytest-xdist>=3", "nbclient>=0.10", "nbformat>=5.10", "ipykernel>=6.29", "pandas>=2"],
    },
    entry_points={
        "console_scripts": [
            "tfganad-train = tfganad.cli.main:train",
            "tfganad-export = tfganad.cli.main:export",
            "tfganad-score = tfganad.cli.main:score",
            "tfganad-sweep = tfganad.cli.sweep:sweep",
            "tfganad-report = tfganad.cli.report:report",
        ]
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
