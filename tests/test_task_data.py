"""What the text tasks of scripts/train.py train on, without training: each task's `prepare` on tiny files.

Spec: a task encodes its data as transformers' own recipe does with the tokenizer the run saves (`run_ner.py`'s
`is_split_into_words=True` and `word_ids()` labels), so a user who reloads the folder with `AutoTokenizer` and
follows that recipe feeds the model what it was trained on.
"""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer, DataCollatorForTokenClassification

from hf_rnn.tasks import get_task
from hf_rnn.tasks.token_classification import read_conll
from hf_rnn.training import parse_arguments

CONLL_TRAIN = (
    "EU NNP B-ORG\nrejects VBZ O\nGerman JJ B-MISC\ncall NN O\nto TO O\nboycott VB O\nBritish JJ B-MISC\n"
    "lamb NN O\n. . O\n\nPeter NNP B-PER\nBlackburn NNP I-PER\n\n"
    "The DT O\nEuropean NNP B-ORG\nCommission NNP I-ORG\nsaid VBD O\non IN O\nThursday NNP O\nit PRP O\n"
    "disagreed VBD O\nwith IN O\nGerman JJ B-MISC\nadvice NN O\n. . O\n"
)
CONLL_VALIDATION = "Peter NNP B-PER\nrejects VBZ O\nEU NNP B-ORG\n"
TINY = ["--hidden_size", "8", "--report_to", "none"]


def prepare(tmp_path, *flags):
    """The task's setup for `flags` (train.py's), and the tokenizer as a user loads it from the saved folder."""
    argv = [str(flag) for flag in (*flags, *TINY, "--output_dir", tmp_path / "out")]
    model_args, data_args, training_args = parse_arguments(argv)
    setup = get_task(model_args.task).prepare(model_args, data_args, training_args)
    setup.tokenizer.save_pretrained(tmp_path / "tokenizer")
    return setup, AutoTokenizer.from_pretrained(tmp_path / "tokenizer")


@pytest.fixture(scope="module")
def conll_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("conll")
    (root / "train.conll").write_text(CONLL_TRAIN)
    (root / "validation.conll").write_text(CONLL_VALIDATION)
    return root


@pytest.mark.parametrize("kind", ["word", "char", "bpe"])
def test_token_classification_trains_on_what_the_recipe_gives_with_the_saved_tokenizer(kind, conll_files, tmp_path):
    setup, tokenizer = prepare(
        tmp_path,
        *("--task", "token-classification", "--tokenizer_type", kind, "--tokenizer_vocab_size", "300"),
        *("--train_file", conll_files / "train.conll", "--validation_file", conll_files / "validation.conll"),
    )
    sentences = read_conll(str(conll_files / "train.conll"), "train_file")
    label2id = setup.model.config.label2id
    # run_ner.py's tokenize_and_align_labels: each word's first token carries its tag, the others -100.
    recipe = tokenizer(sentences["tokens"], is_split_into_words=True, truncation=True, max_length=128)
    for row, tags in enumerate(sentences["ner_tags"]):
        previous, labels = None, []
        for word in recipe.word_ids(row):
            labels.append(-100 if word is None or word == previous else label2id[tags[word]])
            previous = word
        assert setup.train_dataset[row]["input_ids"] == recipe.input_ids[row]
        assert setup.train_dataset[row]["labels"] == labels
        assert tokenizer.unk_token_id not in recipe.input_ids[row]
    # The pipeline passes running text: the same tokens as the words.
    assert tokenizer(" ".join(sentences["tokens"][0])).input_ids == recipe.input_ids[0]
    batch = DataCollatorForTokenClassification(tokenizer)([setup.train_dataset[i] for i in range(3)])
    assert tokenizer.unk_token_id not in batch["input_ids"][batch["attention_mask"].bool()].tolist()
