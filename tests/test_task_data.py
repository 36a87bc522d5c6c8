"""What the text tasks of scripts/train.py train on, without training: each task's `prepare` on tiny files.

Spec: a task encodes its data as transformers' own recipe does with the tokenizer the run saves (`run_ner.py`'s
`is_split_into_words=True` and `word_ids()` labels, `run_translation.py`'s `text_target` labels, which end with
</s> once), so a user who reloads the folder with `AutoTokenizer` and follows that recipe feeds the model what it
was trained on. Translation decodes, in evaluation and from the saved generation config, at most 1.5 times the
longest train target + 10 tokens (at most max_target_length), unless generation_max_length says otherwise.
"""

from __future__ import annotations

import math

import pytest
import torch
from transformers import AutoTokenizer, DataCollatorForSeq2Seq, DataCollatorForTokenClassification, GenerationConfig

from hf_rnn import train_tokenizer
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
PARALLEL = [
    ("ein Hund läuft", "a dog runs"),
    ("eine Katze schläft auf dem Sofa", "a cat sleeps on the sofa"),
    ("ein Mann isst", "a man eats"),
]
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


@pytest.fixture(scope="module")
def parallel_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("parallel")
    for name, pairs in (("train", PARALLEL * 4), ("validation", PARALLEL)):
        (root / f"{name}.de").write_text("".join(f"{source}\n" for source, _ in pairs))
        (root / f"{name}.en").write_text("".join(f"{target}\n" for _, target in pairs))
    return root


def translation_flags(root, *flags):
    files = {"train_source_file": "train.de", "train_target_file": "train.en"}
    files |= {"validation_source_file": "validation.de", "validation_target_file": "validation.en"}
    return ["--task", "translation", *(item for name, file in files.items() for item in (f"--{name}", root / file)),
            *flags]  # fmt: skip


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


def assert_ends_with_one_eos(rows: list[list[int]], eos: int) -> None:
    for ids in rows:
        assert ids[-1] == eos and ids.count(eos) == 1, ids


@pytest.mark.parametrize("kind", ["word", "char", "bpe"])
def test_translation_trains_on_text_target_labels_that_end_with_eos_once(kind, parallel_files, tmp_path):
    flags = ["--tokenizer_type", kind, "--tokenizer_vocab_size", "300", "--max_target_length", "5"]
    setup, tokenizer = prepare(tmp_path, *translation_flags(parallel_files, *flags))
    sources, targets = [source for source, _ in PARALLEL], [target for _, target in PARALLEL]
    # run_translation.py's preprocess_function, with the saved tokenizer.
    recipe = tokenizer(sources, text_target=targets, max_length=128, truncation=True)
    labels = tokenizer(text_target=targets, max_length=5, truncation=True).input_ids
    assert setup.train_dataset[:3]["input_ids"] == recipe.input_ids  # also what the pipeline encodes
    assert setup.train_dataset[:3]["labels"] == labels
    assert_ends_with_one_eos([*recipe.input_ids, *recipe["labels"], *labels], tokenizer.eos_token_id)
    assert max(map(len, labels)) == 5  # max_target_length counts the </s>
    assert tokenizer.batch_decode(recipe["labels"], skip_special_tokens=True) == targets
    # DataCollatorForSeq2Seq: the decoder reads <s> then the labels, and learns to stop after the last word.
    batch = DataCollatorForSeq2Seq(tokenizer, model=setup.model)([setup.train_dataset[i] for i in range(3)])
    assert_ends_with_one_eos([row[row != -100].tolist() for row in batch["labels"]], tokenizer.eos_token_id)
    assert batch["decoder_input_ids"][:, 0].tolist() == [setup.model.config.decoder_start_token_id] * 3


@pytest.mark.parametrize("add_eos_token", [False, True], ids=["tokenizer_without_eos", "tokenizer_with_eos"])
def test_translation_ends_a_given_tokenizers_labels_with_eos_once(add_eos_token, parallel_files, tmp_path):
    # A tokenizer saved before hf_rnn ended encodings with </s> (or any other) is made to; one that does is kept.
    given = tmp_path / "given_tokenizer"
    texts = [text for pair in PARALLEL for text in pair]
    train_tokenizer(texts, kind="word", add_eos_token=add_eos_token).save_pretrained(given)
    setup, tokenizer = prepare(tmp_path, *translation_flags(parallel_files, "--tokenizer_name", given))
    eos = tokenizer.eos_token_id
    assert_ends_with_one_eos([*setup.train_dataset["labels"], *setup.train_dataset["input_ids"]], eos)
    assert_ends_with_one_eos(tokenizer(["a dog"], text_target=["a cat"])["labels"], eos)


def test_translation_generates_up_to_a_length_derived_from_the_train_targets(parallel_files, tmp_path):
    setup, tokenizer = prepare(tmp_path, *translation_flags(parallel_files, "--tokenizer_type", "word"))
    longest = max(map(len, setup.train_dataset["labels"]))  # "a cat sleeps on the sofa </s>": 7 tokens
    expected = math.ceil(1.5 * longest) + 10 + 1  # the decoder's start token counts in max_length
    assert longest == 7 and expected < 128  # max_target_length, the old limit, stays the ceiling
    setup.model.generation_config.save_pretrained(tmp_path / "model")
    for config in (setup.model.generation_config, GenerationConfig.from_pretrained(tmp_path / "model")):
        assert config.max_length == expected and config.max_new_tokens is None
    # generate() (and the pipeline, which calls it) stops there: eos held back, it runs to the limit.
    source = tokenizer(["ein Hund läuft"], return_tensors="pt")
    with torch.no_grad():
        generated = setup.model.eval().generate(**source, suppress_tokens=[tokenizer.eos_token_id], num_beams=1)
    assert generated.shape[-1] == expected


def test_translation_generation_max_length_when_given_wins(parallel_files, tmp_path):
    flags = ["--generation_max_length", "200", "--max_target_length", "6"]
    setup, _ = prepare(tmp_path, *translation_flags(parallel_files, *flags))
    assert setup.model.generation_config.max_length == 200 and setup.model.generation_config.max_new_tokens is None
