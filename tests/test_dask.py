"""Model search on a dask cluster gives what the sequential search gives."""

import joblib
import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV

distributed = pytest.importorskip("distributed")

from fer_sklearn import FERCNNClassifier  # noqa: E402


def _search():
    return GridSearchCV(
        FERCNNClassifier(n_filters=4, n_blocks=2, convs_per_block=1, max_epochs=2,
                         random_state=0),
        {"lr": [1e-3, 3e-3], "dropout": [0.0, 0.3]},
        cv=2,
    )


def test_grid_search_on_dask_matches_sequential(one_torch_thread, patch_faces):
    X, y = patch_faces(160)
    sequential = _search().fit(X, y)

    # Loopback only, no dashboard: nothing is exposed beyond this machine.
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client, \
            distributed.get_task_stream(client) as tasks:
        with joblib.parallel_backend("dask", scatter=[X, y]):
            on_dask = _search().fit(X, y)
        workers = set(client.scheduler_info()["workers"])
    # The cross-validation fits ran in the worker processes.
    assert tasks.data and {task["worker"] for task in tasks.data} <= workers

    assert on_dask.best_params_ == sequential.best_params_
    for key in ("params", "rank_test_score"):
        assert list(on_dask.cv_results_[key]) == list(sequential.cv_results_[key])
    for key in ("split0_test_score", "split1_test_score", "mean_test_score"):
        np.testing.assert_array_equal(on_dask.cv_results_[key], sequential.cv_results_[key])
    np.testing.assert_array_equal(on_dask.predict_proba(X), sequential.predict_proba(X))
