"""Shared fixtures: tiny deterministic data, no network, no ../shared required."""

from __future__ import annotations

import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

SHARED_DATA = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _seed():
    import keras

    keras.utils.set_random_seed(0)
    yield


@pytest.fixture(scope="session")
def tiny_images():
    """32 images 16×16×1 in [-1, 1], deterministic."""
    rng = np.random.default_rng(0)
    return rng.uniform(-1, 1, (32, 16, 16, 1)).astype("float32")


@pytest.fixture(scope="session")
def tiny_rows():
    """32 rows with 12 features, deterministic."""
    rng = np.random.default_rng(1)
    return rng.normal(size=(32, 12)).astype("float32")


@pytest.fixture
def shared_data():
    """Path of ../shared/data; skips the test when the folder is absent (a user's fresh clone)."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


@pytest.fixture(scope="session")
def read_hparams():
    """logdir → (experiment, session groups) as TensorBoard's HParams tab gets them from its backend.

    Runs the HParams plugin's own request handlers (GetExperiment, ListSessionGroups) on the event files.
    """

    def read(logdir):
        from tensorboard import context
        from tensorboard.backend.event_processing import data_provider
        from tensorboard.backend.event_processing import plugin_event_multiplexer as pem
        from tensorboard.plugins import base_plugin
        from tensorboard.plugins.hparams import api_pb2, backend_context, get_experiment, list_session_groups

        mux = pem.EventMultiplexer()
        mux.AddRunsFromDirectory(str(logdir))
        mux.Reload()
        provider = data_provider.MultiplexerDataProvider(mux, str(logdir))
        ctx = backend_context.Context(base_plugin.TBContext(logdir=str(logdir), multiplexer=mux,
                                                            data_provider=provider))
        request_context = context.RequestContext()
        experiment = get_experiment.Handler(request_context, ctx, "", api_pb2.GetExperimentRequest()).run()
        request = api_pb2.ListSessionGroupsRequest(start_index=0, slice_size=1000,
                                                   allowed_statuses=[api_pb2.STATUS_UNKNOWN, api_pb2.STATUS_SUCCESS])
        for info in experiment.hparam_infos:
            request.col_params.add(hparam=info.name)
        for info in experiment.metric_infos:
            request.col_params.add(metric=info.name)
        groups = list_session_groups.Handler(request_context, ctx, "", request).run().session_groups
        return experiment, groups

    return read
