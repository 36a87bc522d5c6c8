"""sacreBLEU and chrF in one `evaluate` metric, computed by the `sacrebleu` library.

Load it offline with `evaluate.load("<path>/sacrebleu_chrf")` or `hf_rnn.metrics.load_metric("sacrebleu_chrf")`.
"""

import datasets
import evaluate
from sacrebleu.metrics import BLEU, CHRF

_DESCRIPTION = """
Corpus-level sacreBLEU (Post, 2018) and chrF (Popović, 2015) of detokenized hypotheses against one or more
references per hypothesis, both from the `sacrebleu` library with its defaults (BLEU: the "13a" tokenizer,
exponential smoothing; chrF: character 6-grams, beta 2). Scores are on a 0-100 scale.
"""

_CITATION = """
@inproceedings{post-2018-call,
  title = "A Call for Clarity in Reporting {BLEU} Scores",
  author = "Post, Matt",
  booktitle = "Proceedings of the Third Conference on Machine Translation: Research Papers",
  year = "2018",
  pages = "186--191",
}
@inproceedings{popovic-2015-chrf,
  title = "chr{F}: character n-gram {F}-score for automatic {MT} evaluation",
  author = "Popovi{\'c}, Maja",
  booktitle = "Proceedings of the Tenth Workshop on Statistical Machine Translation",
  year = "2015",
  pages = "392--395",
}
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list[str]`): the system's translations, detokenized.
    references (`list[str]` or `list[list[str]]`): one reference per prediction, or the same number of
        references for every prediction.
    tokenize (`str`, optional): sacreBLEU tokenizer for BLEU; default sacrebleu's ("13a").
    lowercase (`bool`, defaults to False): lowercase before scoring (both metrics).
    chrf_word_order (`int`, defaults to 0): word n-gram order of chrF; 2 gives chrF++.

Returns:
    bleu (`float`), chrf (`float`), and BLEU's details: precisions (list of 4), bp, counts, totals, sys_len, ref_len.

Example:
    >>> metric = evaluate.load("path/to/sacrebleu_chrf")
    >>> scores = metric.compute(predictions=["the cat sat on the mat"], references=["the cat sat on the mat"])
    >>> round(scores["bleu"], 6), round(scores["chrf"], 6)
    (100.0, 100.0)
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class SacrebleuChrf(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            homepage="https://github.com/mjpost/sacrebleu",
            features=[
                datasets.Features(
                    {
                        "predictions": datasets.Value("string", id="sequence"),
                        "references": datasets.Sequence(datasets.Value("string", id="sequence"), id="references"),
                    }
                ),
                datasets.Features(
                    {
                        "predictions": datasets.Value("string", id="sequence"),
                        "references": datasets.Value("string", id="sequence"),
                    }
                ),
            ],
            codebase_urls=["https://github.com/mjpost/sacrebleu"],
            reference_urls=["https://github.com/mjpost/sacrebleu"],
        )

    def _compute(self, predictions, references, tokenize=None, lowercase=False, chrf_word_order=0):
        if references and isinstance(references[0], str):
            references = [[reference] for reference in references]
        num_references = len(references[0]) if references else 1
        if any(len(refs) != num_references for refs in references):
            raise ValueError("sacrebleu_chrf needs the same number of references for every prediction.")
        # sacrebleu takes one stream per reference position: [[first refs...], [second refs...], ...]
        streams = [[refs[i] for refs in references] for i in range(num_references)]
        bleu = BLEU(lowercase=lowercase, tokenize=tokenize).corpus_score(predictions, streams)
        chrf = CHRF(word_order=chrf_word_order, lowercase=lowercase).corpus_score(predictions, streams)
        return {
            "bleu": bleu.score,
            "chrf": chrf.score,
            "precisions": list(bleu.precisions),
            "bp": bleu.bp,
            "counts": list(bleu.counts),
            "totals": list(bleu.totals),
            "sys_len": bleu.sys_len,
            "ref_len": bleu.ref_len,
        }
