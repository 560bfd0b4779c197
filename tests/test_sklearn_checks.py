"""scikit-learn's full estimator check suite, on small architectures.

Every check runs; none is marked as an expected failure.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from fer_sklearn import FERCNNClassifier, FERDNNClassifier

# Small enough for the suite's time budget, trained long enough to pass the
# accuracy bar of check_classifiers_train (> 0.83 on 3 Gaussian blobs).
ESTIMATORS = [
    FERCNNClassifier(n_filters=4, n_blocks=2, convs_per_block=1, max_epochs=15,
                     batch_size=32, lr=1e-2, augment="none", lr_schedule="none",
                     random_state=0),
    FERDNNClassifier(hidden_layer_sizes=(16,), max_epochs=15, batch_size=32, lr=1e-2,
                     augment="none", lr_schedule="none", random_state=0),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
