"""Sample-quality metrics. Definitions and derivations: docs/derivations.md,
"Evaluation metrics".

Pure array functions (any feature/sample arrays, NumPy or CuPy; results are Python floats):

* ``feature_stats``, ``frechet_distance``, ``frechet_distance_features``  (frechet.py)
* ``precision_recall`` (k-NN manifolds), ``emd_1d``, ``emd_discrete``      (distances.py)
* ``inception_score_from_probs``, ``mode_coverage``                      (scores.py)
* ``code_class_accuracy`` (best one-to-one code-to-class match)           (matching.py)
* ``parzen_log_likelihood``, ``parzen_select_sigma``, ``parzen_log_densities`` (parzen.py)

MNIST metrics on the features of tinygan's own classifier (mnist.py, tinygan.classifier):

* ``fid``, ``inception_score``, ``parzen_mnist``, ``precision_recall_mnist``,
  ``evaluate_mnist`` (all of them as a dict), ``reference_mnist`` (real data's figures)
"""
from .frechet import feature_stats, frechet_distance, frechet_distance_features, sqrtm_psd
from .distances import (
    PrecisionRecall, emd_1d, emd_discrete, knn_radii_sq, pairwise_sq_distances, precision_recall,
)
from .scores import InceptionScore, ModeCoverage, inception_score_from_probs, mode_coverage
from .matching import CodeMatch, code_class_accuracy, min_cost_assignment
from .parzen import (
    PARZEN_SIGMAS, ParzenResult, parzen_log_densities, parzen_log_likelihood, parzen_select_sigma,
)
from .mnist import (
    evaluate_mnist, fid, inception_score, parzen_mnist, precision_recall_mnist, reference_mnist,
)

__all__ = [
    "feature_stats", "frechet_distance", "frechet_distance_features", "sqrtm_psd",
    "PrecisionRecall", "emd_1d", "emd_discrete", "knn_radii_sq", "pairwise_sq_distances",
    "precision_recall", "InceptionScore", "ModeCoverage", "inception_score_from_probs",
    "mode_coverage", "CodeMatch", "code_class_accuracy", "min_cost_assignment",
    "PARZEN_SIGMAS", "ParzenResult", "parzen_log_densities",
    "parzen_log_likelihood", "parzen_select_sigma", "evaluate_mnist", "fid",
    "inception_score", "parzen_mnist", "precision_recall_mnist", "reference_mnist",
]
