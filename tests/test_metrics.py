"""The metrics shipped with hf_rnn load offline from their folders and compute what sacrebleu computes."""

import evaluate
import pytest
import sacrebleu

from hf_rnn.metrics import METRICS_DIR, available_metrics, load_metric

REFERENCES = ["The cat sat on the mat.", "A quick brown fox jumps over the lazy dog.", "It is raining today."]
CORRUPTED = ["The cat sat on a hat.", "A brown fox jumped over dogs.", "It rains."]


@pytest.fixture(scope="module")
def metric():
    return load_metric("sacrebleu_chrf")


def test_identical_hypotheses_score_100(metric):
    scores = metric.compute(predictions=REFERENCES, references=REFERENCES)
    assert scores["bleu"] == pytest.approx(100.0)
    assert scores["chrf"] == pytest.approx(100.0)
    assert scores["precisions"] == pytest.approx([100.0] * 4)
    assert scores["bp"] == 1.0 and scores["sys_len"] == scores["ref_len"]


def test_corrupted_hypotheses_score_lower(metric):
    scores = metric.compute(predictions=CORRUPTED, references=REFERENCES)
    assert 0 < scores["bleu"] < 50
    assert 0 < scores["chrf"] < 80


def test_scores_equal_sacrebleu_corpus_scores(metric):
    scores = metric.compute(predictions=CORRUPTED, references=REFERENCES)
    bleu = sacrebleu.corpus_bleu(CORRUPTED, [REFERENCES])
    assert scores["bleu"] == bleu.score
    assert scores["chrf"] == sacrebleu.corpus_chrf(CORRUPTED, [REFERENCES]).score
    assert scores["counts"] == bleu.counts and scores["totals"] == bleu.totals


def test_several_references_per_hypothesis_are_regrouped_into_sacrebleu_streams(metric):
    second = ["A cat sat on a hat.", "Brown foxes jump over dogs.", "It rains."]
    references = [[first, other] for first, other in zip(REFERENCES, second)]
    scores = metric.compute(predictions=CORRUPTED, references=references)
    assert scores["bleu"] == sacrebleu.corpus_bleu(CORRUPTED, [REFERENCES, second]).score
    assert scores["chrf"] == sacrebleu.corpus_chrf(CORRUPTED, [REFERENCES, second]).score
    assert scores["bleu"] > metric.compute(predictions=CORRUPTED, references=REFERENCES)["bleu"]


def test_batches_added_incrementally_give_the_corpus_score(metric):
    for prediction, reference in zip(CORRUPTED, REFERENCES):
        metric.add(predictions=prediction, references=reference)
    assert metric.compute()["bleu"] == sacrebleu.corpus_bleu(CORRUPTED, [REFERENCES]).score


def test_unknown_metric_name_raises_listing_the_shipped_ones():
    assert "sacrebleu_chrf" in available_metrics()
    with pytest.raises(ValueError, match="name='bleu'.*'sacrebleu_chrf'"):
        load_metric("bleu")


def test_metric_module_ships_inside_the_package():
    # `hf_rnn.metrics.sacrebleu_chrf` is a package, so setuptools' package discovery ships its module file.
    assert (METRICS_DIR / "sacrebleu_chrf" / "__init__.py").is_file()
    assert (METRICS_DIR / "sacrebleu_chrf" / "sacrebleu_chrf.py").is_file()


def test_metric_loads_from_its_folder_with_evaluate_offline(monkeypatch, tmp_path):
    monkeypatch.setattr(evaluate.config, "HF_EVALUATE_OFFLINE", True)
    metric = evaluate.load(str(METRICS_DIR / "sacrebleu_chrf"), cache_dir=str(tmp_path))
    assert isinstance(metric, evaluate.Metric)
    assert metric.compute(predictions=["a b c d"], references=["a b c d"])["chrf"] == pytest.approx(100.0)
