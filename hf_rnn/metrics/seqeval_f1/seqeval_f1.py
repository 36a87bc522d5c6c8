"""Entity-level precision, recall and F1 of tag sequences in one `evaluate` metric, computed by seqeval.

Load it offline with `evaluate.load("<path>/seqeval_f1")` or `hf_rnn.metrics.load_metric("seqeval_f1")`.
"""

import datasets
import evaluate
from seqeval.metrics import accuracy_score, classification_report, f1_score, precision_score, recall_score
from seqeval.scheme import IOB2

_DESCRIPTION = """
Entity-level scores of tagged sequences from the `seqeval` library (the CoNLL evaluation): an entity counts as
found only if its type and its exact span match. By default the scheme is strict IOB2 (`mode="strict"`,
`scheme=IOB2`): an entity starts with B-, and an I- tag without its B- is not an entity. Pass `mode=None` for
conlleval's lenient reading. Also reports per-type scores and token accuracy.
"""

_CITATION = """
@misc{seqeval,
  title={{seqeval}: A Python framework for sequence labeling evaluation},
  url={https://github.com/chakki-works/seqeval},
  author={Hiroki Nakayama},
  year={2018},
}
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list[list[str]]`): predicted tags, one list per sentence.
    references (`list[list[str]]`): true tags, one list per sentence, as long as its prediction.
    mode (`str` or None, defaults to "strict"): seqeval's mode; None for the lenient conlleval reading.
    scheme (seqeval scheme class, defaults to `seqeval.scheme.IOB2`): the tagging scheme in strict mode.

Returns:
    precision, recall, f1 (micro-averaged over entities), accuracy (per token), and for each entity type
    `{type: {"precision", "recall", "f1", "number"}}`.

Example:
    >>> metric = evaluate.load("path/to/seqeval_f1")
    >>> metric.compute(predictions=[["B-PER", "I-PER", "O"]], references=[["B-PER", "I-PER", "O"]])["f1"]
    1.0
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class SeqevalF1(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            homepage="https://github.com/chakki-works/seqeval",
            features=datasets.Features(
                {
                    "predictions": datasets.Sequence(datasets.Value("string", id="label"), id="sequence"),
                    "references": datasets.Sequence(datasets.Value("string", id="label"), id="sequence"),
                }
            ),
            codebase_urls=["https://github.com/chakki-works/seqeval"],
        )

    def _compute(self, predictions, references, mode="strict", scheme=IOB2):
        options = {"mode": mode, "scheme": scheme} if mode is not None else {}
        report = classification_report(references, predictions, output_dict=True, zero_division=0, **options)
        scores = {
            name: {
                "precision": float(v["precision"]),
                "recall": float(v["recall"]),
                "f1": float(v["f1-score"]),
                "number": int(v["support"]),
            }
            for name, v in report.items()
            if name not in ("micro avg", "macro avg", "weighted avg")
        }
        return {
            "precision": float(precision_score(references, predictions, zero_division=0, **options)),
            "recall": float(recall_score(references, predictions, zero_division=0, **options)),
            "f1": float(f1_score(references, predictions, zero_division=0, **options)),
            "accuracy": float(accuracy_score(references, predictions)),
            **scores,
        }
