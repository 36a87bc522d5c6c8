"""Accuracy and F1 of class predictions in one `evaluate` metric, computed by scikit-learn.

Load it offline with `evaluate.load("<path>/accuracy_f1")` or `hf_rnn.metrics.load_metric("accuracy_f1")`.
"""

import datasets
import evaluate
from sklearn.metrics import accuracy_score, f1_score

_DESCRIPTION = """
Accuracy (the fraction of predictions equal to the reference) and F1 (the harmonic mean of precision and
recall), both from `sklearn.metrics`. F1 is averaged over classes as `average` says: "macro" (default: every
class weighs the same), "micro", "weighted", or "binary" (the `pos_label` class only).
"""

_CITATION = """
@article{scikit-learn,
  title={Scikit-learn: Machine Learning in {P}ython},
  author={Pedregosa, F. and Varoquaux, G. and Gramfort, A. and Michel, V. and Thirion, B. and Grisel, O. and
          Blondel, M. and Prettenhofer, P. and Weiss, R. and Dubourg, V. and Vanderplas, J. and Passos, A. and
          Cournapeau, D. and Brucher, M. and Perrot, M. and Duchesnay, E.},
  journal={Journal of Machine Learning Research},
  volume={12},
  pages={2825--2830},
  year={2011}
}
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list[int]`): predicted class ids.
    references (`list[int]`): true class ids.
    average (`str`, defaults to "macro"): how F1 averages over classes (see `sklearn.metrics.f1_score`).
    labels (`list[int]`, optional): the classes F1 averages over (default: those present in either list).
    pos_label (`int`, defaults to 1): the positive class when `average="binary"`.

Returns:
    accuracy (`float`), f1 (`float`), both in [0, 1].

Example:
    >>> metric = evaluate.load("path/to/accuracy_f1")
    >>> metric.compute(predictions=[0, 1, 1, 2], references=[0, 1, 2, 2])
    {'accuracy': 0.75, 'f1': 0.7777777777777777}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class AccuracyF1(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}),
            reference_urls=["https://scikit-learn.org/stable/modules/model_evaluation.html"],
        )

    def _compute(self, predictions, references, average="macro", labels=None, pos_label=1):
        return {
            "accuracy": float(accuracy_score(references, predictions)),
            "f1": float(
                f1_score(references, predictions, average=average, labels=labels, pos_label=pos_label, zero_division=0)
            ),
        }
